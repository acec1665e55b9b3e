#include "daemon/intake.h"

#include <set>

#include "base/log.h"

namespace recd::daemon {

namespace {
constexpr std::chrono::milliseconds kMaxBackoff(5000);
constexpr std::chrono::milliseconds kFirstStoreBackoff(100);
}

Intake::Intake(store::GraphStore& store, stream::EventSource& source, stream::OutputSink& sink,
               stream::EventDecoder& decoder, RewindRule rewind, const Clock& wall, PipelineStats& stats)
    : store_(store), source_(source), sink_(sink), decoder_(decoder), rewind_(rewind), wall_(wall), stats_(stats) {}

std::optional<Offset> Intake::Expected(const TopicPartition& tp) const {
  if (auto it = next_offsets_.find(tp); it != next_offsets_.end()) return it->second.next;
  return store_.StoredOffset(tp);
}

Status Intake::Rewind(const TopicPartition& tp, Offset from) {
  // Committed at once, not held in memory: a rebalance re-assigns the partition
  // at the store's offset, and must not land back on the old log's position.
  auto committed = store_.Apply({}, {{tp, from, 0}}, 0);
  return committed.ok() ? Status::Ok() : committed.status();
}

Result<Intake::Verdict> Intake::BelowExpected(const stream::SourceRecord& r, Offset expected) {
  // The record just before the stored offset is read again at every start: its
  // hash tells the log recd applied from one recreated under the same name.
  const std::optional<PartitionOffset> stored = store_.StoredPosition(r.tp);
  if (stored && stored->last_record_hash != 0 && r.offset.value == stored->next.value - 1) {
    if (stream::RecordHash(r.key, r.payload) == stored->last_record_hash) return Verdict::kRedelivery;
    stats_.offset_rewinds.fetch_add(1, std::memory_order_relaxed);
    const std::string what = r.tp.ToString() + ": the record at offset " + std::to_string(r.offset.value) +
                             " is not the one recd applied there (the topic was recreated, or another log took its name)";
    if (rewind_ == RewindRule::kStop) {
      return Status::Aborted(what + "; nothing was applied. To apply the new log from its start, set "
                                    "kafka.offset_rewind = \"reset\" and restart");
    }
    RECD_WARN(what << "; kafka.offset_rewind = \"reset\": applying the new log from its start");
    RECD_RETURN_IF_ERROR(Rewind(r.tp, Offset(0)));
    RECD_RETURN_IF_ERROR(source_.SeekToStart(r.tp));
    return Verdict::kReread;
  }
  // Otherwise a redelivery, unless the log itself went backwards (recreated
  // shorter, or truncated), which its high watermark shows.
  const std::optional<Offset> high = source_.HighWatermark(r.tp);
  if (!high || expected <= *high) return Verdict::kRedelivery;
  stats_.offset_rewinds.fetch_add(1, std::memory_order_relaxed);
  const std::string what = r.tp.ToString() + ": the broker's log ends at offset " + std::to_string(high->value) +
                           " but the store has applied up to " + std::to_string(expected.value) +
                           " (the topic was recreated or truncated)";
  if (rewind_ == RewindRule::kStop) {
    return Status::Aborted(what + "; nothing was applied. To apply the log as it now is, set "
                                  "kafka.offset_rewind = \"reset\" and restart");
  }
  RECD_WARN(what << "; kafka.offset_rewind = \"reset\": applying from offset " << r.offset.value);
  RECD_RETURN_IF_ERROR(Rewind(r.tp, r.offset));
  return Verdict::kApply;
}

Status Intake::CheckGap(const stream::SourceRecord& r, Offset expected,
                        std::map<TopicPartition, std::optional<Offset>>* log_starts) {
  // Gaps are normal (transaction markers, compaction) unless retention deleted
  // records recd never applied: then the log now starts above where recd stopped.
  auto cached = log_starts->find(r.tp);
  if (cached == log_starts->end()) cached = log_starts->emplace(r.tp, source_.LogStart(r.tp)).first;
  const std::optional<Offset>& start = cached->second;
  // A record below the log start was fetched before retention moved it: no
  // proof of a loss.
  if (!start || *start <= expected || r.offset < *start) return Status::Ok();
  const int64_t lost = r.offset.value - expected.value;
  const std::string what = r.tp.ToString() + ": offsets " + std::to_string(expected.value) + " to " +
                           std::to_string(r.offset.value - 1) + " (up to " + std::to_string(lost) +
                           " records) were deleted by retention before recd applied them; the log now starts at " +
                           std::to_string(start->value);
  if (rewind_ == RewindRule::kStop) {
    return Status::Aborted(what + ". Nothing was applied. To accept the loss and go on, set kafka.offset_rewind = "
                                  "\"reset\" and restart; to avoid it, keep the events topic's retention.ms longer "
                                  "than recd can be down");
  }
  stats_.records_lost_to_retention.fetch_add(static_cast<uint64_t>(lost), std::memory_order_relaxed);
  RECD_WARN(what << "; kafka.offset_rewind = \"reset\": going on (counted in recd_records_lost_to_retention_total)");
  return Status::Ok();
}

Status Intake::Stage(const std::vector<stream::SourceRecord>& records) {
  RECD_CHECK(!staged_, "Stage called with a batch still staged");
  events_.resize(records.size());
  next_offsets_.clear();
  dead_letters_.clear();
  unsettled_ = 0;
  rejected_ = 0;
  size_t n_events = 0;
  stream::Rejection rejection;
  std::set<TopicPartition> reread;  // sought back to their start: their later records here are stale
  std::map<TopicPartition, std::optional<Offset>> log_starts;  // asked once per partition per batch
  std::map<TopicPartition, const stream::SourceRecord*> newest;  // hashed once, at the end
  for (const auto& r : records) {
    if (reread.count(r.tp)) continue;
    const std::optional<Offset> expected = Expected(r.tp);
    if (expected && r.offset < *expected) {
      auto verdict = BelowExpected(r, *expected);
      if (!verdict.ok()) return verdict.status();
      if (*verdict != Verdict::kRedelivery && next_offsets_.count(r.tp)) {
        // A rebalance inside one poll: records of the old position are already
        // staged, and committing them past the rewind would apply them twice.
        // The store holds the rewound offset now; a restart reads from there.
        return Status::Unavailable(r.tp.ToString() + " was rewound with records of it already in the batch; "
                                                       "restart to read it from the stored offset");
      }
      if (*verdict == Verdict::kApply) log_starts.erase(r.tp);  // rewound: the old log's start is stale
      if (*verdict == Verdict::kRedelivery) {
        stats_.skipped.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      if (*verdict == Verdict::kReread) {
        reread.insert(r.tp);
        continue;
      }
    } else if (expected && *expected < r.offset) {
      RECD_RETURN_IF_ERROR(CheckGap(r, *expected, &log_starts));
    }
    next_offsets_[r.tp] = {r.tp, Offset(r.offset.value + 1), 0};
    newest[r.tp] = &r;
    if (decoder_.Decode(r.payload, &events_[n_events], &rejection)) {
      ++n_events;
      continue;
    }
    ++rejected_;
    RECD_DEBUG("rejected " << r.tp.ToString() << "@" << r.offset.value << ": " << rejection.message);
    DeadLetter dl;
    dl.tp = r.tp;
    dl.offset = r.offset;
    dl.key.assign(r.key);
    dl.payload.assign(r.payload);
    dl.why = rejection;
    dead_letters_.push_back(std::move(dl));
  }
  events_.resize(n_events);
  for (const auto& [tp, record] : newest) {
    next_offsets_[tp].last_record_hash = stream::RecordHash(record->key, record->payload);
  }
  stats_.messages.fetch_add(records.size(), std::memory_order_relaxed);
  unsettled_ = dead_letters_.size();
  for (size_t i = 0; i < dead_letters_.size(); ++i) Send(i);
  staged_ = !next_offsets_.empty();
  return Status::Ok();
}

void Intake::Send(size_t index) {
  DeadLetter& dl = dead_letters_[index];
  const Status s = sink_.DeadLetter(dl.record(), dl.why, kDeadLetterTag | index);
  if (s.ok()) {
    dl.in_flight = true;
    return;
  }
  if (s.code() == Status::Code::kUnavailable) {  // output backed up: try again later
    dl.retry_at = wall_.Now() + dl.backoff;
    dl.backoff = std::min(dl.backoff * 2, kMaxBackoff);
    return;
  }
  Lost(dl, s.message());
  --unsettled_;
  dl.retry_at = Clock::TimePoint::max();
}

void Intake::Lost(const DeadLetter& dl, const std::string& why) {
  // Bad input must never stop recd: the record's coordinates go to the log instead.
  stats_.dead_letters_lost.fetch_add(1, std::memory_order_relaxed);
  RECD_ERROR("could not dead-letter " << dl.tp.ToString() << "@" << dl.offset.value << " ("
                                      << stream::Name(dl.why.reason) << ": " << dl.why.message << "): " << why
                                      << "; the record is skipped and counted in recd_dead_letters_lost_total");
}

void Intake::OnDeadLetterDelivery(const stream::Delivery& d) {
  const size_t index = static_cast<size_t>(d.tag & ~kDeadLetterTag);
  if (!staged_ || index >= dead_letters_.size() || !dead_letters_[index].in_flight) return;
  DeadLetter& dl = dead_letters_[index];
  dl.in_flight = false;
  if (d.ok) {
    --unsettled_;
    dl.retry_at = Clock::TimePoint::max();
  } else if (d.retriable) {
    stats_.delivery_failures.fetch_add(1, std::memory_order_relaxed);
    RECD_WARN("dead letter for " << dl.tp.ToString() << "@" << dl.offset.value
                                 << " not delivered (" << d.error << "); retrying in " << dl.backoff.count() << " ms");
    dl.retry_at = wall_.Now() + dl.backoff;
    dl.backoff = std::min(dl.backoff * 2, kMaxBackoff);
  } else {
    stats_.delivery_failures.fetch_add(1, std::memory_order_relaxed);
    Lost(dl, d.error);
    --unsettled_;
    dl.retry_at = Clock::TimePoint::max();
  }
}

Result<std::optional<store::ApplyOutcome>> Intake::TryCommit() {
  RECD_CHECK(staged_, "TryCommit without a staged batch");
  if (unsettled_ > 0) {
    const Clock::TimePoint now = wall_.Now();
    for (size_t i = 0; i < dead_letters_.size(); ++i) {
      const DeadLetter& dl = dead_letters_[i];
      if (!dl.in_flight && dl.retry_at != Clock::TimePoint::max() && dl.retry_at <= now) Send(i);
    }
    if (unsettled_ > 0) return std::optional<store::ApplyOutcome>();
  }
  const Clock::TimePoint now = wall_.Now();
  if (now < store_retry_at_) return std::optional<store::ApplyOutcome>();
  std::vector<PartitionOffset> offsets;
  for (const auto& [tp, position] : next_offsets_) offsets.push_back(position);
  auto outcome = store_.Apply(events_, offsets, rejected_);
  if (!outcome.ok()) {
    if (outcome.status().code() != Status::Code::kUnavailable) return outcome.status();
    // The store refused the write for want of disk space and kept nothing:
    // hold the batch, read no further, and try again after a backoff.
    stats_.store_write_failures.fetch_add(1, std::memory_order_relaxed);
    int64_t healthy = 0;
    if (stats_.store_unwritable_since_ms.compare_exchange_strong(healthy, SteadyNowMillis(), std::memory_order_relaxed)) {
      RECD_ERROR(outcome.status().ToString() << "; intake holds its batch and retries, with backoff up to "
                                             << kMaxBackoff.count() / 1000 << " s; /readyz answers 503 meanwhile");
    }
    store_retry_at_ = now + store_backoff_;
    store_backoff_ = std::min(store_backoff_ * 2, kMaxBackoff);
    return std::optional<store::ApplyOutcome>();
  }
  if (const int64_t since = stats_.store_unwritable_since_ms.exchange(0, std::memory_order_relaxed); since != 0) {
    RECD_INFO("the store takes writes again after " << (SteadyNowMillis() - since) / 1000 << " s; intake goes on");
  }
  store_backoff_ = kFirstStoreBackoff;
  for (const auto& o : offsets) last_input_ = Offset(o.next.value - 1);
  stats_.applied.fetch_add(outcome->applied, std::memory_order_relaxed);
  stats_.duplicates.fetch_add(outcome->duplicates, std::memory_order_relaxed);
  stats_.rejected.fetch_add(rejected_, std::memory_order_relaxed);
  stats_.batches.fetch_add(1, std::memory_order_relaxed);
  source_.Committed(offsets);
  staged_ = false;
  dead_letters_.clear();
  return std::optional<store::ApplyOutcome>(std::move(outcome.value()));
}

void Intake::Abandon() {
  staged_ = false;
  dead_letters_.clear();
  unsettled_ = 0;
}

}  // namespace recd::daemon
