#include "stream/sink.h"

#include <nlohmann/json.hpp>

#include "base/log.h"
#include "base/time.h"

namespace recd::stream {

namespace {
std::vector<std::pair<std::string, std::string>> DeadLetterHeaders(const SourceRecord& record, const Rejection& why) {
  return {{"recd.error", why.message},
          {"recd.error.code", std::string(Name(why.reason))},
          {"recd.source.topic", record.tp.topic},
          {"recd.source.partition", std::to_string(record.tp.partition)},
          {"recd.source.offset", std::to_string(record.offset.value)}};
}
}  // namespace

// ---------------------------------------------------------------- Kafka

Result<std::unique_ptr<KafkaOutputSink>> KafkaOutputSink::Create(const KafkaConfig& config, KafkaSinkTopics topics) {
  std::unique_ptr<KafkaOutputSink> self(new KafkaOutputSink());
  self->config_ = config;
  self->topics_ = std::move(topics);
  RECD_RETURN_IF_ERROR(self->StartPublisher());
  return self;
}

Status KafkaOutputSink::StartPublisher() {
  auto publisher = Publisher::Create(config_, [this](const Delivery& d) {
    if (auto it = unreported_.find(d.tag); it != unreported_.end() && --it->second == 0) unreported_.erase(it);
    reported_.push_back(d);
  });
  if (!publisher.ok()) return publisher.status();
  publisher_ = std::move(publisher.value());
  return Status::Ok();
}

// Both sends block at most a moment on a full queue: the pipeline loop must keep turning.
constexpr std::chrono::milliseconds kMaxProduceBlock(20);

Status KafkaOutputSink::Produce(const std::string& topic, std::string_view key, std::string_view value,
                                const std::vector<std::pair<std::string, std::string>>& headers, uint64_t tag) {
  if (!publisher_) return Status::Unavailable("the output's producer is being restarted after a fatal error");
  Status s = publisher_->Produce(topic, key, value, headers, tag, kMaxProduceBlock);
  if (s.ok()) ++unreported_[tag];
  return s;
}

Status KafkaOutputSink::PublishList(const RecommendationList& list, const ListStamp&, uint64_t tag) {
  return Produce(topics_.lists, list.user_id, EncodeRecommendationList(list), {}, tag);
}

Status KafkaOutputSink::PublishSimilar(const SimilarItemsList& list, uint64_t tag) {
  return Produce(topics_.similar_items, list.item_id, EncodeSimilarItems(list), {}, tag);
}

Status KafkaOutputSink::DeadLetter(const SourceRecord& record, const Rejection& why, uint64_t tag) {
  return Produce(topics_.dead_letters, record.key, record.payload, DeadLetterHeaders(record, why), tag);
}

void KafkaOutputSink::Restart(const std::string& reason) {
  ++restarts_;
  RECD_ERROR("the output's producer hit a fatal error (" << reason << "); replacing it (restart " << restarts_
                                                         << "): records it still held are sent again");
  // Its purged records come back as retriable failures; any it never reports are failed here.
  if (const int left = publisher_->Abandon(std::chrono::seconds(5)); left > 0) {
    RECD_WARN(left << " record(s) of the failed producer were not reported; failing them here");
  }
  publisher_.reset();
  for (const auto& [tag, count] : unreported_) {
    for (uint32_t i = 0; i < count; ++i) reported_.push_back({tag, false, true, "the producer was restarted: " + reason});
  }
  unreported_.clear();
}

void KafkaOutputSink::Poll(std::chrono::milliseconds wait, std::vector<Delivery>* out) {
  if (publisher_) {
    publisher_->Poll(wait);
    if (std::optional<std::string> fatal = publisher_->FatalError()) Restart(*fatal);
  }
  if (!publisher_) {
    if (Status s = StartPublisher(); !s.ok()) RECD_ERROR("could not restart the output's producer: " << s.ToString());
  }
  if (!publisher_) {
    brokers_reachable_ = false;
  } else if (std::optional<bool> reachable = publisher_->BrokersReachable()) {
    brokers_reachable_ = *reachable;
  }
  out->insert(out->end(), reported_.begin(), reported_.end());
  reported_.clear();
}

int KafkaOutputSink::Flush(std::chrono::milliseconds timeout, std::vector<Delivery>* out) {
  if (publisher_ && publisher_->FatalError()) Poll(std::chrono::milliseconds(0), out);  // never waits on a dead producer
  const int left = publisher_ ? publisher_->Flush(timeout) : 0;
  Poll(std::chrono::milliseconds(0), out);
  return left;
}

int KafkaOutputSink::InFlight() const { return publisher_ ? publisher_->InFlight() : 0; }

// ---------------------------------------------------------------- file

Result<std::unique_ptr<FileOutputSink>> FileOutputSink::Open(const std::string& lists_path,
                                                             const std::string& dead_letters_path,
                                                             const std::string& similar_items_path) {
  std::unique_ptr<FileOutputSink> self(new FileOutputSink());
  if (!similar_items_path.empty()) {
    self->similar_items_.open(similar_items_path, std::ios::binary | std::ios::trunc);
    if (!self->similar_items_) return Status::IoError("cannot write similar items to " + similar_items_path);
  }
  if (!lists_path.empty()) {
    self->lists_.open(lists_path, std::ios::binary | std::ios::trunc);
    if (!self->lists_) return Status::IoError("cannot write lists to " + lists_path);
  }
  if (!dead_letters_path.empty()) {
    self->dead_letters_.open(dead_letters_path, std::ios::binary | std::ios::trunc);
    if (!self->dead_letters_) return Status::IoError("cannot write dead letters to " + dead_letters_path);
  }
  return self;
}

Status FileOutputSink::PublishList(const RecommendationList& list, const ListStamp& stamp, uint64_t tag) {
  if (lists_.is_open()) lists_ << EncodeReplayedList(list, stamp.published_at, stamp.after_input.value) << '\n';
  if (lists_.bad()) return Status::IoError("writing a list failed (disk full?)");
  done_.push_back({tag, true, false, {}});
  return Status::Ok();
}

Status FileOutputSink::PublishSimilar(const SimilarItemsList& list, uint64_t tag) {
  if (similar_items_.is_open()) similar_items_ << EncodeSimilarItems(list) << '\n';
  if (similar_items_.bad()) return Status::IoError("writing similar items failed (disk full?)");
  done_.push_back({tag, true, false, {}});
  return Status::Ok();
}

Status FileOutputSink::DeadLetter(const SourceRecord& record, const Rejection& why, uint64_t tag) {
  if (dead_letters_.is_open()) {
    // One JSON object per line: the input line's offset, the code and the message.
    const nlohmann::json j = {{"offset", record.offset.value}, {"code", Name(why.reason)}, {"error", why.message}};
    dead_letters_ << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
  }
  done_.push_back({tag, true, false, {}});
  return Status::Ok();
}

void FileOutputSink::Poll(std::chrono::milliseconds, std::vector<Delivery>* out) {
  out->insert(out->end(), done_.begin(), done_.end());
  done_.clear();
}

int FileOutputSink::Flush(std::chrono::milliseconds, std::vector<Delivery>* out) {
  if (lists_.is_open()) lists_.flush();
  if (dead_letters_.is_open()) dead_letters_.flush();
  Poll(std::chrono::milliseconds(0), out);
  return 0;
}

}  // namespace recd::stream
