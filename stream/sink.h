// recd::stream — where lists and dead letters go, behind one small interface, so
// the same pipeline publishes to Kafka (KafkaOutputSink) or to a JSONL file
// (FileOutputSink, for `recd replay`).
#pragma once

#include <chrono>
#include <cstdint>
#include <fstream>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/event.h"
#include "base/status.h"
#include "stream/codec.h"
#include "stream/kafka.h"
#include "stream/source.h"

namespace recd::stream {

// When and after what a list was made: event time, and the offset of the
// newest input record applied before it (replay writes both next to the list).
struct ListStamp {
  EpochMillis published_at = 0;
  Offset after_input;
};

// Single-threaded: every method is called from the one pipeline thread.
// Deliveries are pulled by Poll/Flush, never pushed.
class OutputSink {
 public:
  virtual ~OutputSink() = default;
  // Queue one record. Unavailable: the local queue is full, nothing was queued,
  // try again later. InvalidArgument: the record can never be sent.
  virtual Status PublishList(const RecommendationList& list, const ListStamp& stamp, uint64_t tag) = 0;
  // An item's related items (recd.similar-items), keyed by item id.
  virtual Status PublishSimilar(const SimilarItemsList& list, uint64_t tag) = 0;
  // The original bytes of `record` with headers saying why it was refused.
  virtual Status DeadLetter(const SourceRecord& record, const Rejection& why, uint64_t tag) = 0;
  // Serves delivery reports for up to `wait`, appending them to *out.
  virtual void Poll(std::chrono::milliseconds wait, std::vector<Delivery>* out) = 0;
  // Waits up to `timeout` for everything queued; returns how many are left.
  virtual int Flush(std::chrono::milliseconds timeout, std::vector<Delivery>* out) = 0;
  virtual int InFlight() const = 0;
  // How often the output replaced a producer that hit a fatal error.
  virtual uint64_t restarts() const = 0;
  // Whether the sink reaches where it writes (a broker); one in memory always does.
  virtual bool BrokersReachable() const { return true; }
};

struct KafkaSinkTopics {
  std::string lists;
  std::string dead_letters;
  std::string similar_items;
};

// Lists keyed by user id (the output contract's JSON) and dead letters keyed by
// the original key, through one idempotent Publisher.
//
// A producer that hits a fatal error (the idempotent producer's, after which it
// takes nothing more) is replaced at the next Poll: every record it still held
// is reported as a retriable failure, so the caller sends it again through the
// new producer and nothing is lost or counted as delivered. Records it had
// already handed to the broker may then appear twice on the topic; lists are
// keyed and compacted, and dead letters carry their source coordinates.
class KafkaOutputSink final : public OutputSink {
 public:
  static Result<std::unique_ptr<KafkaOutputSink>> Create(const KafkaConfig& config, KafkaSinkTopics topics);
  Status PublishList(const RecommendationList& list, const ListStamp& stamp, uint64_t tag) override;
  Status PublishSimilar(const SimilarItemsList& list, uint64_t tag) override;
  Status DeadLetter(const SourceRecord& record, const Rejection& why, uint64_t tag) override;
  void Poll(std::chrono::milliseconds wait, std::vector<Delivery>* out) override;
  int Flush(std::chrono::milliseconds timeout, std::vector<Delivery>* out) override;
  int InFlight() const override;
  uint64_t restarts() const override { return restarts_; }
  // The newest producer's word; a producer just started after a fatal error
  // has none yet, and its predecessor's stands meanwhile.
  bool BrokersReachable() const override { return brokers_reachable_; }
  // Fault injection for tests and drills: the producer hits a fatal error now.
  void InjectFatalError(const std::string& reason) { publisher_->InjectFatalError(reason); }

 private:
  KafkaOutputSink() = default;
  Status Produce(const std::string& topic, std::string_view key, std::string_view value,
                 const std::vector<std::pair<std::string, std::string>>& headers, uint64_t tag);
  Status StartPublisher();
  // Replaces a producer that hit a fatal error (see the class comment).
  void Restart(const std::string& reason);

  KafkaConfig config_;
  KafkaSinkTopics topics_;
  std::vector<Delivery> reported_;  // filled by the publisher's callback, drained by Poll
  // Records handed to the producer and not yet reported, by tag (lists of one
  // user share a tag): what a restart must report as failed if librdkafka does not.
  std::unordered_map<uint64_t, uint32_t> unreported_;
  std::unique_ptr<Publisher> publisher_;  // null only while a restart could not create one
  uint64_t restarts_ = 0;
  bool brokers_reachable_ = false;  // updated at each Poll
};

// Appends lists to a JSONL file (the output contract's JSON plus `published_at`
// in RFC 3339 and `after_input`, the input line it follows) and dead letters to
// another (their reason, code and line). Every record is delivered at once.
// An empty path discards that kind (it is still counted as delivered).
class FileOutputSink final : public OutputSink {
 public:
  static Result<std::unique_ptr<FileOutputSink>> Open(const std::string& lists_path,
                                                      const std::string& dead_letters_path,
                                                      const std::string& similar_items_path = "");
  Status PublishList(const RecommendationList& list, const ListStamp& stamp, uint64_t tag) override;
  Status PublishSimilar(const SimilarItemsList& list, uint64_t tag) override;
  Status DeadLetter(const SourceRecord& record, const Rejection& why, uint64_t tag) override;
  void Poll(std::chrono::milliseconds wait, std::vector<Delivery>* out) override;
  int Flush(std::chrono::milliseconds timeout, std::vector<Delivery>* out) override;
  int InFlight() const override { return static_cast<int>(done_.size()); }
  uint64_t restarts() const override { return 0; }

 private:
  FileOutputSink() = default;
  std::ofstream lists_, dead_letters_, similar_items_;
  std::vector<Delivery> done_;
};

}  // namespace recd::stream
