// recd::stream — Kafka adapters: the event consumer (manual offsets, cooperative-sticky),
// the idempotent publisher, topic creation and the embedded (librdkafka mock) cluster.
// RdKafka error codes are translated to recd::Status here and nowhere else.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/ids.h"
#include "base/status.h"
#include "stream/source.h"

struct rd_kafka_queue_s;  // librdkafka's C queue (rdkafka.h), for EventConsumer::Wake

namespace RdKafka {
class Message;
class KafkaConsumer;
class Producer;
}  // namespace RdKafka
struct rd_kafka_mock_cluster_s;
struct rd_kafka_s;

namespace recd::stream {

using KafkaProperties = std::vector<std::pair<std::string, std::string>>;

class ClientEvents;  // kafka.cpp: a client's log, errors and broker states

struct KafkaConfig {
  std::string brokers;            // bootstrap.servers
  std::string client_id = "recd";
  KafkaProperties extra;          // passed through to librdkafka as-is (operator overrides)
};

struct TopicSpec {
  std::string name;
  int partitions = 1;
  int replication = 1;
  KafkaProperties configs;        // e.g. {"cleanup.policy","compact"}
};

// Creates the topics that do not exist yet; existing ones are left as they are.
Status EnsureTopics(const KafkaConfig& config, const std::vector<TopicSpec>& topics,
                    std::chrono::milliseconds timeout);

// One consumed record; owns the librdkafka message it views.
class ConsumedMessage {
 public:
  explicit ConsumedMessage(std::unique_ptr<RdKafka::Message> message);
  ~ConsumedMessage();
  ConsumedMessage(ConsumedMessage&&) noexcept;
  ConsumedMessage& operator=(ConsumedMessage&&) noexcept;

  const std::string& topic() const { return topic_; }
  int32_t partition() const;
  int64_t offset() const;
  std::string_view key() const;
  std::string_view payload() const;
  // Headers as (name, value) pairs, copied out of the message.
  std::vector<std::pair<std::string, std::string>> headers() const;

 private:
  std::unique_ptr<RdKafka::Message> message_;
  std::string topic_;
};

// Where to start reading a partition, from what is stored with the state;
// nullopt when nothing is stored (then ConsumerConfig::start_from decides).
using StoredOffsetLookup = std::function<std::optional<Offset>(const TopicPartition& tp)>;

struct ConsumerConfig {
  KafkaConfig kafka;
  std::string group_id = "recd";
  std::string group_instance_id;  // empty: dynamic membership
  std::vector<std::string> topics;
  // Where to start a partition that has no stored offset: "earliest" or "latest".
  std::string start_from = "earliest";
};

// The Kafka event source. Consumes with manual offsets: nothing is committed
// automatically; on every assignment each partition is positioned at the offset
// the store holds for it. Single-threaded: call every method from the one
// pipeline thread.
class EventConsumer final : public EventSource {
 public:
  static Result<std::unique_ptr<EventConsumer>> Create(const ConsumerConfig& config,
                                                       StoredOffsetLookup stored_offsets);
  ~EventConsumer() override;

  // Transient errors are logged and counted. A fatal client error (a fenced
  // static member, say) replaces the consumer with a new one that rejoins the
  // group and is positioned at the store's offsets again: the records of the
  // failed poll are dropped, to be read again, and nothing is lost. Only a new
  // consumer that cannot be made returns a non-OK status.
  Status Poll(size_t max_records, std::chrono::milliseconds max_wait, std::vector<SourceRecord>* out) override;
  bool AtEnd() const override { return false; }
  // The cached high watermark from the last fetch; when none is cached, asks the
  // broker (bounded by one second).
  std::optional<Offset> HighWatermark(const TopicPartition& tp) override;
  // The cached log start from the last fetch; when none is cached, asks the broker.
  std::optional<Offset> LogStart(const TopicPartition& tp) override;
  Status SeekToStart(const TopicPartition& tp) override;
  // Pauses / resumes fetching every assigned partition; Poll keeps serving the group.
  void Pause() override;
  void Resume() override;
  // Tells the group coordinator how far we are (for lag dashboards only: the
  // source of truth is the store). Asynchronous, best-effort.
  void Committed(const std::vector<PartitionOffset>& next_offsets) override;
  size_t AssignedPartitions() const override;
  std::optional<uint64_t> Lag() override;
  // Any thread: yields the consumer queue a Poll waits on.
  void Wake() override;
  // Leaves the group cleanly. Idempotent.
  void Close() override;

  // Errors librdkafka reported and retries on its own.
  uint64_t transient_errors() const;
  uint64_t restarts() const override { return restarts_; }

 private:
  class Rebalancer;
  EventConsumer(ConsumerConfig config, StoredOffsetLookup stored_offsets);
  // Makes the client and subscribes (at creation, and after a fatal error).
  Status Connect();
  void ReleaseWakeQueue();
  std::optional<Offset> Watermark(const TopicPartition& tp, bool log_start);
  const ConsumerConfig config_;
  const StoredOffsetLookup stored_offsets_;
  uint64_t restarts_ = 0;
  static constexpr auto kRestartWindow = std::chrono::minutes(10);
  static constexpr size_t kMaxRestartsInWindow = 5;
  std::deque<std::chrono::steady_clock::time_point> recent_restarts_;
  std::unique_ptr<Rebalancer> rebalancer_;  // outlives consumer_ (declared first)
  std::unique_ptr<ClientEvents> events_;    // outlives consumer_
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  // consumer_'s queue, for Wake from other threads; replaced with consumer_ under wake_mu_.
  std::mutex wake_mu_;
  ::rd_kafka_queue_s* wake_queue_ = nullptr;
  std::vector<ConsumedMessage> held_;       // what the last Poll's views point into
  uint64_t transient_errors_ = 0;
  bool paused_ = false;
  bool closed_ = false;
};

// Outcome of one produced record, delivered on the thread that calls Poll/Flush.
struct Delivery {
  uint64_t tag;            // as given to Produce
  bool ok;
  // A failure that is not the record's own, so sending it again may work: an
  // outage, a producer restarted after a fatal error, a missing topic or ACL.
  // false when the record itself was refused (too large, invalid) or its topic
  // is missing or not allowed: sending it again would fail the same way.
  bool retriable = false;
  std::string error;       // empty when ok
};
using DeliveryHandler = std::function<void(const Delivery&)>;

// Idempotent producer, keys hashed with murmur2 like Java clients, so a key's
// partition is the same whichever client wrote it. Never drops a record on its
// own: message.timeout.ms is 0 (infinite) unless the operator overrides it.
class Publisher {
 public:
  static Result<std::unique_ptr<Publisher>> Create(const KafkaConfig& config,
                                                   DeliveryHandler on_delivery);
  ~Publisher();

  // Enqueues one record. When the local queue is full it serves deliveries and
  // retries for at most `max_block`, then returns Unavailable (nothing queued;
  // try again later). Unavailable also when the producer cannot take records
  // now (a fatal error). A record that can never be sent (too large, its topic
  // missing or not allowed) returns InvalidArgument.
  Status Produce(const std::string& topic, std::string_view key, std::string_view value,
                 const std::vector<std::pair<std::string, std::string>>& headers, uint64_t tag,
                 std::chrono::milliseconds max_block = std::chrono::seconds(60));
  // Serves delivery reports for up to `wait`.
  void Poll(std::chrono::milliseconds wait = std::chrono::milliseconds(0));
  // Waits up to `timeout` for everything queued to be delivered; returns how many are left.
  int Flush(std::chrono::milliseconds timeout);
  int InFlight() const;
  // The fatal error that made this producer unusable (the idempotent producer
  // raises one when it can no longer keep its ordering guarantee); nullopt
  // while it works. A fatal producer must be replaced: see Abandon.
  std::optional<std::string> FatalError() const;
  // Fails every record still queued or in flight (their delivery reports say
  // ERR__PURGE_*, retriable) and serves those reports for up to `timeout`;
  // returns how many were left unreported.
  int Abandon(std::chrono::milliseconds timeout);
  // Fault injection for tests and drills: raises a fatal error as the
  // idempotent producer would (librdkafka's rd_kafka_test_fatal_error).
  void InjectFatalError(const std::string& reason);
  // Whether the producer holds a connection to any broker, as of its last
  // statistics (every second); nullopt until the first.
  std::optional<bool> BrokersReachable() const;

 private:
  class DeliveryReporter;
  Publisher() = default;
  std::unique_ptr<DeliveryReporter> reporter_;  // outlives producer_
  std::unique_ptr<ClientEvents> events_;        // outlives producer_
  std::unique_ptr<RdKafka::Producer> producer_;
};

// An in-process Kafka cluster (librdkafka's mock) listening on 127.0.0.1, for the
// demo and for fault-injection tests. It lives as long as this object.
class EmbeddedCluster {
 public:
  static Result<std::unique_ptr<EmbeddedCluster>> Start(int brokers);
  ~EmbeddedCluster();
  Status CreateTopic(const std::string& name, int partitions);
  const std::string& bootstrap_servers() const { return bootstrap_servers_; }
  // For fault injection (rd_kafka_mock_* functions of <librdkafka/rdkafka_mock.h>).
  rd_kafka_mock_cluster_s* mock() const { return mock_; }

 private:
  EmbeddedCluster() = default;
  rd_kafka_s* owner_ = nullptr;  // the handle that hosts the mock cluster
  rd_kafka_mock_cluster_s* mock_ = nullptr;
  std::string bootstrap_servers_;
};

}  // namespace recd::stream
