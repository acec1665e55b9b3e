#include "stream/kafka.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <librdkafka/rdkafkacpp.h>

#include <cstring>

#include "base/log.h"

namespace recd::stream {
namespace {

// Applies properties to a librdkafka C++ configuration, naming the bad one on failure.
Status SetAll(RdKafka::Conf* conf, const KafkaProperties& props) {
  std::string err;
  for (const auto& [key, value] : props) {
    if (conf->set(key, value, err) != RdKafka::Conf::CONF_OK) {
      return Status::InvalidArgument("kafka property " + key + "=" + value + ": " + err);
    }
  }
  return Status::Ok();
}

KafkaProperties BaseProperties(const KafkaConfig& config) {
  return {{"bootstrap.servers", config.brokers}, {"client.id", config.client_id}};
}

// True when librdkafka's statistics (JSON) show any broker connection UP. A
// scan, not a parse: the JSON repeats every partition. Only broker objects
// carry "state" in capitals (the group's is "up", partitions' "fetch_state").
bool AnyBrokerUp(const std::string& stats_json) { return stats_json.find("\"state\":\"UP\"") != std::string::npos; }

}  // namespace

// One librdkafka client's events: its log lines (from librdkafka's threads) and
// errors go to recd's log; its statistics, where asked for (every second),
// say whether it holds a connection to any broker. All but the log lines are
// served on the thread that polls the client, which alone reads the state.
class ClientEvents : public RdKafka::EventCb {
 public:
  explicit ClientEvents(std::string client) : client_(std::move(client)) {}

  void event_cb(RdKafka::Event& e) override {
    switch (e.type()) {
      case RdKafka::Event::EVENT_STATS:
        reachable_ = AnyBrokerUp(e.str());
        break;
      case RdKafka::Event::EVENT_ERROR:
        if (e.err() == RdKafka::ERR__ALL_BROKERS_DOWN) reachable_ = false;
        if (e.err() == RdKafka::ERR__AUTHENTICATION) {
          ++errors_;
          RECD_ERROR(client_ << ": the broker refused the credentials: " << e.str()
                             << "; check sasl.username and sasl.password under [kafka.client] (retrying)");
        } else if (e.err() == RdKafka::ERR__SSL) {
          ++errors_;
          RECD_ERROR(client_ << ": the TLS handshake failed: " << e.str()
                             << "; check ssl.ca.location under [kafka.client] (retrying)");
        } else if (e.fatal()) {
          RECD_ERROR(client_ << ": fatal: " << RdKafka::err2str(e.err()) << ": " << e.str());
        } else {
          ++errors_;
          RECD_WARN(client_ << ": " << RdKafka::err2str(e.err()) << ": " << e.str() << " (librdkafka retries on its own)");
        }
        break;
      case RdKafka::Event::EVENT_LOG:
        if (e.severity() <= RdKafka::Event::EVENT_SEVERITY_ERROR) {
          RECD_ERROR(client_ << ": " << e.fac() << ": " << e.str());
        } else if (e.severity() == RdKafka::Event::EVENT_SEVERITY_WARNING) {
          RECD_WARN(client_ << ": " << e.fac() << ": " << e.str());
        } else if (e.severity() == RdKafka::Event::EVENT_SEVERITY_DEBUG) {
          RECD_DEBUG(client_ << ": " << e.fac() << ": " << e.str());  // only with a `debug` property
        } else {
          RECD_INFO(client_ << ": " << e.fac() << ": " << e.str());
        }
        break;
      default:
        break;
    }
  }

  // nullopt until the first statistics or "all brokers down".
  std::optional<bool> reachable() const { return reachable_; }
  uint64_t errors() const { return errors_; }

 private:
  const std::string client_;
  std::optional<bool> reachable_;
  uint64_t errors_ = 0;
};

namespace {

// Hands a client's events to `events`, with statistics every second if asked.
Status ListenTo(RdKafka::Conf* conf, ClientEvents* events, bool statistics) {
  std::string err;
  if (conf->set("event_cb", events, err) != RdKafka::Conf::CONF_OK) return Status::Internal("event_cb: " + err);
  return SetAll(conf, {{"statistics.interval.ms", statistics ? "1000" : "0"}});
}

class TopicPartitions {  // owns a vector of RdKafka::TopicPartition*
 public:
  ~TopicPartitions() { RdKafka::TopicPartition::destroy(v); }
  std::vector<RdKafka::TopicPartition*> v;
};

// Only the record's own faults (and a topic that is missing or refused: an
// operator's fix, not one retry away) are final; anything else may pass when
// sent again, after an outage or a producer restart. A final failure of a
// reject is logged and counted rather than stopping intake.
bool RefusesTheRecord(RdKafka::ErrorCode err) {
  switch (err) {
    case RdKafka::ERR_MSG_SIZE_TOO_LARGE:
    case RdKafka::ERR_INVALID_MSG:
    case RdKafka::ERR_INVALID_MSG_SIZE:
    case RdKafka::ERR_RECORD_LIST_TOO_LARGE:
    case RdKafka::ERR_INVALID_RECORD:
    case RdKafka::ERR_INVALID_TIMESTAMP:
    case RdKafka::ERR__INVALID_ARG:
    case RdKafka::ERR__UNKNOWN_TOPIC:
    case RdKafka::ERR__UNKNOWN_PARTITION:
    case RdKafka::ERR_UNKNOWN_TOPIC_OR_PART:
    case RdKafka::ERR_TOPIC_AUTHORIZATION_FAILED:
      return true;
    default:
      return false;
  }
}

}  // namespace

// ---------------------------------------------------------------- topics

Status EnsureTopics(const KafkaConfig& config, const std::vector<TopicSpec>& topics,
                    std::chrono::milliseconds timeout) {
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  KafkaProperties props = BaseProperties(config);
  props.insert(props.end(), config.extra.begin(), config.extra.end());
  for (const auto& [k, v] : props) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return Status::InvalidArgument("kafka property " + k + ": " + errstr);
    }
  }
  // Credentials the broker refuses, or a TLS handshake that fails (the broker's
  // certificate not signed by the CA given), never get better by waiting: the
  // first such error ends the wait.
  std::pair<int, std::string> refusal{0, ""};
  rd_kafka_conf_set_opaque(conf, &refusal);
  rd_kafka_conf_set_error_cb(conf, [](rd_kafka_t*, int err, const char* reason, void* opaque) {
    auto* first = static_cast<std::pair<int, std::string>*>(opaque);
    // A TLS error ends the wait only when the certificate was refused; a
    // transport error (a broker restarting mid-handshake) is waited out.
    const bool refused_certificate = err == RD_KAFKA_RESP_ERR__SSL && reason != nullptr &&
                                     (std::strstr(reason, "certificate verify failed") != nullptr ||
                                      std::strstr(reason, "could not be verified") != nullptr);
    if ((err == RD_KAFKA_RESP_ERR__AUTHENTICATION || refused_certificate) && first->first == 0) *first = {err, reason};
  });
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    return Status::InvalidArgument(std::string("kafka admin client: ") + errstr);
  }
  std::vector<rd_kafka_NewTopic_t*> specs;
  for (const auto& t : topics) {
    rd_kafka_NewTopic_t* nt =
        rd_kafka_NewTopic_new(t.name.c_str(), t.partitions, t.replication, errstr, sizeof errstr);
    if (!nt) {
      for (auto* s : specs) rd_kafka_NewTopic_destroy(s);
      rd_kafka_destroy(rk);
      return Status::InvalidArgument("topic " + t.name + ": " + errstr);
    }
    for (const auto& [k, v] : t.configs) rd_kafka_NewTopic_set_config(nt, k.c_str(), v.c_str());
    specs.push_back(nt);
  }
  rd_kafka_AdminOptions_t* options = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
  rd_kafka_AdminOptions_set_operation_timeout(options, static_cast<int>(timeout.count()), errstr,
                                              sizeof errstr);
  rd_kafka_queue_t* queue = rd_kafka_queue_new(rk);
  rd_kafka_CreateTopics(rk, specs.data(), specs.size(), options, queue);
  Status status;
  rd_kafka_event_t* ev = nullptr;
  const auto deadline = std::chrono::steady_clock::now() + timeout + std::chrono::seconds(5);
  while (!ev && refusal.first == 0 && std::chrono::steady_clock::now() < deadline) {
    ev = rd_kafka_queue_poll(queue, 200);
    rd_kafka_poll(rk, 0);  // serves the error callback
  }
  if (refusal.first == RD_KAFKA_RESP_ERR__AUTHENTICATION) {
    status = Status::InvalidArgument("kafka at " + config.brokers + " refused recd's credentials: " + refusal.second +
                                      "; check sasl.username and sasl.password (and sasl.mechanism) under [kafka.client]");
  } else if (refusal.first == RD_KAFKA_RESP_ERR__SSL) {
    status = Status::InvalidArgument("the TLS handshake with kafka at " + config.brokers + " failed: " + refusal.second +
                                      "; check ssl.ca.location under [kafka.client] (the CA that signed the broker's "
                                      "certificate), that the certificate names the host in kafka.brokers, and "
                                      "ssl.certificate.location/ssl.key.location where the broker asks for a client certificate");
  } else if (!ev) {
    status = Status::TimedOut("creating topics: no answer from " + config.brokers + " within " +
                              std::to_string(timeout.count()) + " ms; is the broker up?");
  } else if (rd_kafka_event_error(ev)) {
    status = Status::Unavailable(std::string("creating topics on ") + config.brokers + ": " +
                                 rd_kafka_event_error_string(ev));
  } else {
    size_t n = 0;
    const rd_kafka_topic_result_t** results =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
    for (size_t i = 0; i < n && status.ok(); ++i) {
      const rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[i]);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        RECD_INFO("created topic " << rd_kafka_topic_result_name(results[i]));
      } else if (err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        const char* msg = rd_kafka_topic_result_error_string(results[i]);
        status = Status::Unavailable(std::string("creating topic ") +
                                     rd_kafka_topic_result_name(results[i]) + ": " +
                                     (msg ? msg : rd_kafka_err2str(err)));
      }
    }
  }
  if (ev) rd_kafka_event_destroy(ev);
  rd_kafka_queue_destroy(queue);
  rd_kafka_AdminOptions_destroy(options);
  for (auto* s : specs) rd_kafka_NewTopic_destroy(s);
  rd_kafka_destroy(rk);
  return status;
}

// ---------------------------------------------------------------- messages

ConsumedMessage::ConsumedMessage(std::unique_ptr<RdKafka::Message> message)
    : message_(std::move(message)), topic_(message_->topic_name()) {}
ConsumedMessage::~ConsumedMessage() = default;
ConsumedMessage::ConsumedMessage(ConsumedMessage&&) noexcept = default;
ConsumedMessage& ConsumedMessage::operator=(ConsumedMessage&&) noexcept = default;
int32_t ConsumedMessage::partition() const { return message_->partition(); }
int64_t ConsumedMessage::offset() const { return message_->offset(); }
std::string_view ConsumedMessage::key() const {
  const std::string* k = message_->key();
  return k ? std::string_view(*k) : std::string_view();
}
std::string_view ConsumedMessage::payload() const {
  return {static_cast<const char*>(message_->payload()), message_->len()};
}
std::vector<std::pair<std::string, std::string>> ConsumedMessage::headers() const {
  std::vector<std::pair<std::string, std::string>> out;
  RdKafka::Headers* h = message_->headers();
  if (!h) return out;
  for (const auto& header : h->get_all()) {
    out.emplace_back(header.key(), std::string(static_cast<const char*>(header.value()),
                                               header.value_size()));
  }
  return out;
}

// ---------------------------------------------------------------- consumer

class EventConsumer::Rebalancer : public RdKafka::RebalanceCb {
 public:
  Rebalancer(StoredOffsetLookup lookup, int64_t default_offset)
      : lookup_(std::move(lookup)), default_offset_(default_offset) {}

  void rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& partitions) override {
    const bool cooperative = consumer->rebalance_protocol() == "COOPERATIVE";
    if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
      for (auto* tp : partitions) {
        const auto stored = lookup_({tp->topic(), tp->partition()});
        tp->set_offset(stored ? stored->value : default_offset_);
        RECD_INFO("assigned " << tp->topic() << "[" << tp->partition() << "] at "
                              << (stored ? "offset " + std::to_string(stored->value) + " (from the store)"
                                         : std::string("the configured start (no stored offset)")));
      }
      if (cooperative) {
        if (RdKafka::Error* e = consumer->incremental_assign(partitions)) {
          RECD_ERROR("incremental_assign failed: " << e->str());
          delete e;
        }
      } else {
        consumer->assign(partitions);
      }
      assigned_ += partitions.size();
    } else if (err == RdKafka::ERR__REVOKE_PARTITIONS) {
      RECD_INFO("revoked " << partitions.size() << " partition(s)");
      if (cooperative) {
        if (RdKafka::Error* e = consumer->incremental_unassign(partitions)) {
          RECD_ERROR("incremental_unassign failed: " << e->str());
          delete e;
        }
        assigned_ -= std::min(assigned_, partitions.size());
      } else {
        consumer->unassign();
        assigned_ = 0;
      }
    } else {
      RECD_ERROR("rebalance error: " << RdKafka::err2str(err));
      consumer->unassign();
      assigned_ = 0;
    }
  }
  size_t assigned() const { return assigned_; }

 private:
  StoredOffsetLookup lookup_;
  int64_t default_offset_;
  size_t assigned_ = 0;
};

EventConsumer::EventConsumer(ConsumerConfig config, StoredOffsetLookup stored_offsets)
    : config_(std::move(config)), stored_offsets_(std::move(stored_offsets)) {}

Result<std::unique_ptr<EventConsumer>> EventConsumer::Create(const ConsumerConfig& config,
                                                             StoredOffsetLookup stored_offsets) {
  if (config.start_from != "earliest" && config.start_from != "latest") {
    return Status::InvalidArgument("kafka.start_from is \"" + config.start_from +
                                   "\"; use \"earliest\" or \"latest\"");
  }
  std::unique_ptr<EventConsumer> self(new EventConsumer(config, std::move(stored_offsets)));
  RECD_RETURN_IF_ERROR(self->Connect());
  return self;
}

Status EventConsumer::Connect() {
  held_.clear();  // every message goes before its client
  ReleaseWakeQueue();
  if (consumer_) consumer_->close();  // a fatal error's: leaves what it still can
  consumer_.reset();
  paused_ = false;
  rebalancer_ = std::make_unique<Rebalancer>(
      stored_offsets_, config_.start_from == "earliest" ? RdKafka::Topic::OFFSET_BEGINNING : RdKafka::Topic::OFFSET_END);
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  KafkaProperties props = BaseProperties(config_.kafka);
  props.insert(props.end(), {{"group.id", config_.group_id},
                             {"enable.auto.commit", "false"},
                             {"enable.auto.offset.store", "false"},
                             {"partition.assignment.strategy", "cooperative-sticky"},
                             // Only a stored offset out of range resets; start_from is the
                             // Rebalancer's default. Reset to the log start, never the end:
                             // Intake then sees any gap retention made and reports it.
                             {"auto.offset.reset", "earliest"},
                             {"enable.partition.eof", "false"}});
  if (!config_.group_instance_id.empty()) props.emplace_back("group.instance.id", config_.group_instance_id);
  props.insert(props.end(), config_.kafka.extra.begin(), config_.kafka.extra.end());
  RECD_RETURN_IF_ERROR(SetAll(conf.get(), props));
  events_ = std::make_unique<ClientEvents>("kafka consumer");
  // No statistics: while a batch waits for its dead letters the consumer is not
  // polled, and they would pile up in its queue. The producer reports them.
  RECD_RETURN_IF_ERROR(ListenTo(conf.get(), events_.get(), /*statistics=*/false));
  std::string err;
  if (conf->set("rebalance_cb", rebalancer_.get(), err) != RdKafka::Conf::CONF_OK) {
    return Status::Internal("rebalance_cb: " + err);
  }
  consumer_.reset(RdKafka::KafkaConsumer::create(conf.get(), err));
  if (!consumer_) return Status::InvalidArgument("kafka consumer: " + err);
  {
    std::lock_guard<std::mutex> lock(wake_mu_);
    wake_queue_ = rd_kafka_queue_get_consumer(consumer_->c_ptr());
  }
  if (RdKafka::ErrorCode e = consumer_->subscribe(config_.topics); e != RdKafka::ERR_NO_ERROR) {
    return Status::InvalidArgument("subscribe: " + RdKafka::err2str(e));
  }
  return Status::Ok();
}

EventConsumer::~EventConsumer() {
  Close();
  ReleaseWakeQueue();
}

void EventConsumer::ReleaseWakeQueue() {
  std::lock_guard<std::mutex> lock(wake_mu_);
  if (wake_queue_) rd_kafka_queue_destroy(wake_queue_);
  wake_queue_ = nullptr;
}

void EventConsumer::Wake() {
  std::lock_guard<std::mutex> lock(wake_mu_);
  if (wake_queue_) rd_kafka_queue_yield(wake_queue_);
}

uint64_t EventConsumer::transient_errors() const { return transient_errors_ + events_->errors(); }

Status EventConsumer::Poll(size_t max_records, std::chrono::milliseconds max_wait, std::vector<SourceRecord>* out) {
  held_.clear();
  int wait_ms = static_cast<int>(max_wait.count());
  std::string fatal;
  for (size_t n = 0; n < max_records; ++n) {
    std::unique_ptr<RdKafka::Message> m(consumer_->consume(wait_ms));
    wait_ms = 0;
    if (m->err() == RdKafka::ERR_NO_ERROR) {
      held_.emplace_back(std::move(m));
      continue;
    }
    if (m->err() == RdKafka::ERR__FATAL) {
      std::string reason;
      consumer_->fatal_error(reason);
      fatal = reason.empty() ? m->errstr() : reason;
    } else if (m->err() != RdKafka::ERR__TIMED_OUT && m->err() != RdKafka::ERR__PARTITION_EOF) {
      ++transient_errors_;
      RECD_WARN("kafka consumer: " << m->errstr() << " (librdkafka retries on its own)");
    }
    break;
  }
  // With an event callback, a fatal error may come only through it.
  if (std::string reason; fatal.empty() && consumer_->fatal_error(reason) != RdKafka::ERR_NO_ERROR) fatal = reason;
  if (!fatal.empty()) {
    // Another member with our group.instance.id fences us as we fence it, for
    // ever: give up (systemd restarts recd, slowly) after a few replacements.
    const auto now = std::chrono::steady_clock::now();
    while (!recent_restarts_.empty() && now - recent_restarts_.front() > kRestartWindow) recent_restarts_.pop_front();
    if (recent_restarts_.size() >= kMaxRestartsInWindow) {
      return Status::Unavailable("kafka consumer: fatal error (" + fatal + ") after " +
                                 std::to_string(recent_restarts_.size()) +
                                 " replacements within 10 minutes; if it says fenced, another instance uses "
                                 "group.instance.id \"" + config_.group_instance_id +
                                 "\": give each instance its own kafka.group_instance_id");
    }
    recent_restarts_.push_back(now);
    // Nothing of this poll is applied: the new consumer reads it again from the store's offsets.
    ++restarts_;
    RECD_ERROR("kafka consumer: fatal error (" << fatal << "); replacing the consumer (restart " << restarts_
                                               << "): it rejoins the group and reads on from the store's offsets");
    return Connect();
  }
  // held_ no longer grows: the views stay valid until the next Poll.
  for (const ConsumedMessage& m : held_) {
    out->push_back({{m.topic(), m.partition()}, Offset(m.offset()), m.key(), m.payload()});
  }
  return Status::Ok();
}

// The cached watermark from the last fetch where one is known, else the
// broker's (bounded by one second); nullopt when neither answers.
std::optional<Offset> EventConsumer::Watermark(const TopicPartition& tp, bool log_start) {
  int64_t low = -1, high = -1;
  auto pick = [&]() -> std::optional<Offset> {
    const int64_t v = log_start ? low : high;
    return v >= 0 ? std::optional<Offset>(Offset(v)) : std::nullopt;
  };
  if (consumer_->get_watermark_offsets(tp.topic, tp.partition, &low, &high) == RdKafka::ERR_NO_ERROR && pick()) {
    return pick();
  }
  if (consumer_->query_watermark_offsets(tp.topic, tp.partition, &low, &high, 1000) == RdKafka::ERR_NO_ERROR) {
    return pick();
  }
  return std::nullopt;
}

std::optional<Offset> EventConsumer::HighWatermark(const TopicPartition& tp) { return Watermark(tp, false); }
std::optional<Offset> EventConsumer::LogStart(const TopicPartition& tp) { return Watermark(tp, true); }

Status EventConsumer::SeekToStart(const TopicPartition& tp) {
  std::unique_ptr<RdKafka::TopicPartition> start(
      RdKafka::TopicPartition::create(tp.topic, tp.partition, RdKafka::Topic::OFFSET_BEGINNING));
  // Messages fetched from the old position are discarded by librdkafka.
  if (RdKafka::ErrorCode e = consumer_->seek(*start, 5000); e != RdKafka::ERR_NO_ERROR) {
    return Status::Unavailable("seeking " + tp.ToString() + " to its start: " + RdKafka::err2str(e));
  }
  return Status::Ok();
}

void EventConsumer::Pause() {
  if (paused_ || closed_) return;
  TopicPartitions tps;
  consumer_->assignment(tps.v);
  consumer_->pause(tps.v);
  paused_ = true;
}

void EventConsumer::Resume() {
  if (!paused_ || closed_) return;
  TopicPartitions tps;
  consumer_->assignment(tps.v);
  consumer_->resume(tps.v);
  paused_ = false;
}

void EventConsumer::Committed(const std::vector<PartitionOffset>& next_offsets) {
  if (next_offsets.empty() || closed_) return;
  TopicPartitions tps;
  for (const auto& o : next_offsets) {
    tps.v.push_back(RdKafka::TopicPartition::create(o.tp.topic, o.tp.partition, o.next.value));
  }
  consumer_->commitAsync(tps.v);
}

size_t EventConsumer::AssignedPartitions() const { return rebalancer_->assigned(); }

std::optional<uint64_t> EventConsumer::Lag() {
  if (closed_ || !consumer_) return std::nullopt;
  TopicPartitions tps;
  if (consumer_->assignment(tps.v) != RdKafka::ERR_NO_ERROR || tps.v.empty()) return std::nullopt;
  if (consumer_->position(tps.v) != RdKafka::ERR_NO_ERROR) return std::nullopt;
  std::optional<uint64_t> lag;
  for (const RdKafka::TopicPartition* tp : tps.v) {
    int64_t low = -1, high = -1;
    // The position is the next offset Poll hands out; negative while none is known.
    if (tp->offset() < 0 ||
        consumer_->get_watermark_offsets(tp->topic(), tp->partition(), &low, &high) != RdKafka::ERR_NO_ERROR || high < 0) {
      continue;
    }
    lag = lag.value_or(0) + static_cast<uint64_t>(std::max<int64_t>(0, high - tp->offset()));
  }
  return lag;
}

void EventConsumer::Close() {
  if (closed_ || !consumer_) return;
  closed_ = true;
  held_.clear();
  ReleaseWakeQueue();  // librdkafka: a queue handle goes before the consumer's close
  consumer_->close();
}

// ---------------------------------------------------------------- publisher

class Publisher::DeliveryReporter : public RdKafka::DeliveryReportCb {
 public:
  explicit DeliveryReporter(DeliveryHandler handler) : handler_(std::move(handler)) {}
  void dr_cb(RdKafka::Message& m) override {
    if (!handler_) return;
    const bool ok = m.err() == RdKafka::ERR_NO_ERROR;
    Delivery d{reinterpret_cast<uint64_t>(m.msg_opaque()), ok, !ok && !RefusesTheRecord(m.err()), ok ? std::string() : m.errstr()};
    handler_(d);
  }

 private:
  DeliveryHandler handler_;
};

Result<std::unique_ptr<Publisher>> Publisher::Create(const KafkaConfig& config,
                                                     DeliveryHandler on_delivery) {
  std::unique_ptr<Publisher> self(new Publisher());
  self->reporter_ = std::make_unique<DeliveryReporter>(std::move(on_delivery));
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  KafkaProperties props = BaseProperties(config);
  props.insert(props.end(), {{"enable.idempotence", "true"},
                             {"partitioner", "murmur2_random"},
                             {"linger.ms", "5"},
                             {"compression.type", "lz4"},
                             {"message.timeout.ms", "0"}});
  props.insert(props.end(), config.extra.begin(), config.extra.end());
  RECD_RETURN_IF_ERROR(SetAll(conf.get(), props));
  self->events_ = std::make_unique<ClientEvents>("kafka producer");
  RECD_RETURN_IF_ERROR(ListenTo(conf.get(), self->events_.get(), /*statistics=*/true));
  std::string err;
  if (conf->set("dr_cb", self->reporter_.get(), err) != RdKafka::Conf::CONF_OK) {
    return Status::Internal("dr_cb: " + err);
  }
  self->producer_.reset(RdKafka::Producer::create(conf.get(), err));
  if (!self->producer_) return Status::InvalidArgument("kafka producer: " + err);
  return self;
}

std::optional<bool> Publisher::BrokersReachable() const { return events_->reachable(); }

Publisher::~Publisher() {
  if (producer_ && producer_->outq_len() > 0) {
    RECD_WARN("publisher closed with " << producer_->outq_len() << " record(s) undelivered");
  }
}

Status Publisher::Produce(const std::string& topic, std::string_view key, std::string_view value,
                          const std::vector<std::pair<std::string, std::string>>& headers, uint64_t tag,
                          std::chrono::milliseconds max_block) {
  const auto give_up = std::chrono::steady_clock::now() + max_block;
  for (;;) {
    RdKafka::Headers* h = nullptr;
    if (!headers.empty()) {
      h = RdKafka::Headers::create();
      for (const auto& [name, v] : headers) h->add(name, v.data(), v.size());
    }
    const RdKafka::ErrorCode err = producer_->produce(
        topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
        const_cast<char*>(value.data()), value.size(), key.data(), key.size(), 0, h,
        reinterpret_cast<void*>(tag));
    if (err == RdKafka::ERR_NO_ERROR) return Status::Ok();
    delete h;  // ownership passes to librdkafka only on success
    if (RefusesTheRecord(err)) {
      return Status::InvalidArgument("producing to " + topic + ": " + RdKafka::err2str(err));
    }
    if (err == RdKafka::ERR__FATAL) {
      return Status::Unavailable("producing to " + topic + ": the producer hit a fatal error (" +
                                 FatalError().value_or("unknown") + ")");
    }
    if (err != RdKafka::ERR__QUEUE_FULL) {
      return Status::Unavailable("producing to " + topic + ": " + RdKafka::err2str(err));
    }
    if (std::chrono::steady_clock::now() >= give_up) {
      return Status::Unavailable("producing to " + topic + ": the local queue is full (is the broker down?)");
    }
    producer_->poll(std::min<int>(10, static_cast<int>(max_block.count())));  // serve deliveries, then retry
  }
}

void Publisher::Poll(std::chrono::milliseconds wait) { producer_->poll(static_cast<int>(wait.count())); }

int Publisher::Flush(std::chrono::milliseconds timeout) {
  producer_->flush(static_cast<int>(timeout.count()));
  return producer_->outq_len();
}

int Publisher::InFlight() const { return producer_->outq_len(); }

std::optional<std::string> Publisher::FatalError() const {
  std::string reason;
  if (producer_->fatal_error(reason) == RdKafka::ERR_NO_ERROR) return std::nullopt;
  return reason;
}

int Publisher::Abandon(std::chrono::milliseconds timeout) {
  producer_->purge(RdKafka::Producer::PURGE_QUEUE | RdKafka::Producer::PURGE_INFLIGHT);
  const auto give_up = std::chrono::steady_clock::now() + timeout;
  while (producer_->outq_len() > 0 && std::chrono::steady_clock::now() < give_up) producer_->poll(10);
  return producer_->outq_len();
}

void Publisher::InjectFatalError(const std::string& reason) {
  rd_kafka_test_fatal_error(producer_->c_ptr(), RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER, reason.c_str());
}

// ---------------------------------------------------------------- embedded cluster

Result<std::unique_ptr<EmbeddedCluster>> EmbeddedCluster::Start(int brokers) {
  std::unique_ptr<EmbeddedCluster> self(new EmbeddedCluster());
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  // The hosting handle never connects anywhere; keep it from warning that it has no brokers.
  rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr);
  self->owner_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (!self->owner_) {
    rd_kafka_conf_destroy(conf);
    return Status::Internal(std::string("embedded cluster handle: ") + errstr);
  }
  self->mock_ = rd_kafka_mock_cluster_new(self->owner_, brokers);
  if (!self->mock_) return Status::Internal("could not start the embedded (mock) Kafka cluster");
  self->bootstrap_servers_ = rd_kafka_mock_cluster_bootstraps(self->mock_);
  return self;
}

EmbeddedCluster::~EmbeddedCluster() {
  if (mock_) rd_kafka_mock_cluster_destroy(mock_);
  if (owner_) rd_kafka_destroy(owner_);
}

Status EmbeddedCluster::CreateTopic(const std::string& name, int partitions) {
  const rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(mock_, name.c_str(), partitions, 1);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
    return Status::Internal("embedded topic " + name + ": " + rd_kafka_err2str(err));
  }
  return Status::Ok();
}

}  // namespace recd::stream
