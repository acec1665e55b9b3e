// recd::daemon — Intake: one batch of input records into the store. It filters
// redeliveries by offset (and notices a log that was replaced, went backwards
// or lost records to retention), decodes,
// dead-letters what is bad and applies the rest with the offsets in ONE store
// batch. A batch with dead letters commits only once the output holds them, so
// no reject is lost; a dead letter that can never be delivered is logged with
// its coordinates and counted, never fatal. Nothing here blocks: the pipeline
// calls TryCommit every turn until it succeeds. Single-threaded.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "daemon/config.h"
#include "daemon/stats.h"
#include "store/graph_store.h"
#include "stream/codec.h"
#include "stream/sink.h"
#include "stream/source.h"

namespace recd::daemon {

// Delivery tags: dead letters carry the top bit, lists carry the user's dense id.
inline constexpr uint64_t kDeadLetterTag = uint64_t(1) << 63;

class Intake {
 public:
  Intake(store::GraphStore& store, stream::EventSource& source, stream::OutputSink& sink,
         stream::EventDecoder& decoder, RewindRule rewind, const Clock& wall, PipelineStats& stats);

  // Takes one polled batch: offset filter, decode, dead letters out. Fails only
  // when a partition went backwards under RewindRule::kStop. Requires !staged().
  Status Stage(const std::vector<stream::SourceRecord>& records);
  bool staged() const { return staged_; }
  // The staged batch's valid events, in input order (scored before they apply).
  const std::vector<Event>& events() const { return events_; }

  // Commits the staged batch once every dead letter is settled; nullopt while
  // some are still on their way, or while the store refuses writes (a full
  // disk: the batch is held and retried with backoff, and reading stops).
  // Call again next turn. Other store errors are fatal.
  Result<std::optional<store::ApplyOutcome>> TryCommit();
  // The outcome of a dead letter (a delivery whose tag has kDeadLetterTag).
  void OnDeadLetterDelivery(const stream::Delivery& d);
  // Drops the staged batch uncommitted (shutdown): it is read again after a restart.
  void Abandon();
  // The offset of the newest record of the last committed batch.
  Offset last_input() const { return last_input_; }

 private:
  // A rejected record, copied: the source's views do not outlive its next Poll.
  struct DeadLetter {
    TopicPartition tp;
    Offset offset;
    std::string key, payload;
    stream::Rejection why;
    bool in_flight = false;
    Clock::TimePoint retry_at;
    std::chrono::milliseconds backoff{100};
    stream::SourceRecord record() const { return {tp, offset, key, payload}; }
  };
  // The offset below which `tp`'s records are redeliveries (nullopt: take all).
  std::optional<Offset> Expected(const TopicPartition& tp) const;
  // A record below Expected: a redelivery, or a sign that the log was replaced
  // (recreated, truncated); then RewindRule decides: stop (an error), apply
  // from here, or re-read the partition from its start.
  enum class Verdict { kRedelivery, kApply, kReread };
  Result<Verdict> BelowExpected(const stream::SourceRecord& r, Offset expected);
  // A record above Expected: fails or counts a gap that retention made.
  Status CheckGap(const stream::SourceRecord& r, Offset expected,
                  std::map<TopicPartition, std::optional<Offset>>* log_starts);
  // Commits `tp`'s offset as `from` (hash unknown) before reading from there.
  Status Rewind(const TopicPartition& tp, Offset from);
  void Send(size_t index);
  void Lost(const DeadLetter& dl, const std::string& why);

  store::GraphStore& store_;
  stream::EventSource& source_;
  stream::OutputSink& sink_;
  stream::EventDecoder& decoder_;
  RewindRule rewind_;
  const Clock& wall_;
  PipelineStats& stats_;

  bool staged_ = false;
  std::vector<Event> events_;
  std::map<TopicPartition, PartitionOffset> next_offsets_;  // this batch's, per partition
  std::vector<DeadLetter> dead_letters_;
  size_t unsettled_ = 0;
  uint64_t rejected_ = 0;
  Offset last_input_{-1};
  // After a store write refused for want of space: when to try again, and the next wait (doubling to kMaxBackoff).
  Clock::TimePoint store_retry_at_{};
  std::chrono::milliseconds store_backoff_{100};
};

}  // namespace recd::daemon
