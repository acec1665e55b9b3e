#include "daemon/intake.h"

#include "base/log.h"

namespace recd::daemon {

namespace {
constexpr std::chrono::milliseconds kMaxBackoff(5000);
}

Intake::Intake(store::GraphStore& store, stream::EventSource& source, stream::OutputSink& sink,
               stream::EventDecoder& decoder, RewindRule rewind, const Clock& wall, PipelineStats& stats)
    : store_(store), source_(source), sink_(sink), decoder_(decoder), rewind_(rewind), wall_(wall), stats_(stats) {}

std::optional<Offset> Intake::Expected(const TopicPartition& tp) const {
  if (auto it = next_offsets_.find(tp); it != next_offsets_.end()) return it->second;
  if (auto it = rewound_.find(tp); it != rewound_.end()) return it->second;
  return store_.StoredOffset(tp);
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
  for (const auto& r : records) {
    const std::optional<Offset> expected = Expected(r.tp);
    if (expected && r.offset < *expected) {
      // Below what the store holds: a redelivery, unless the log itself went
      // backwards (recreated or truncated), which its high watermark shows.
      const std::optional<Offset> high = source_.HighWatermark(r.tp);
      if (!high || *expected <= *high) {
        stats_.skipped.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      stats_.offset_rewinds.fetch_add(1, std::memory_order_relaxed);
      const std::string what = r.tp.ToString() + ": the broker's log ends at offset " + std::to_string(high->value) +
                               " but the store has applied up to " + std::to_string(expected->value) +
                               " (the topic was recreated or truncated)";
      if (rewind_ == RewindRule::kStop) {
        return Status::Aborted(what + "; nothing was applied. To apply the log as it now is, set "
                                      "kafka.offset_rewind = \"reset\" and restart");
      }
      RECD_WARN(what << "; kafka.offset_rewind = \"reset\": applying from offset " << r.offset.value);
      rewound_[r.tp] = r.offset;
    }
    next_offsets_[r.tp] = Offset(r.offset.value + 1);
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
    RECD_WARN("dead letter for " << dl.tp.ToString() << "@" << dl.offset.value
                                 << " not delivered (" << d.error << "); retrying in " << dl.backoff.count() << " ms");
    dl.retry_at = wall_.Now() + dl.backoff;
    dl.backoff = std::min(dl.backoff * 2, kMaxBackoff);
  } else {
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
  std::vector<PartitionOffset> offsets;
  for (const auto& [tp, next] : next_offsets_) offsets.push_back({tp, next});
  auto outcome = store_.Apply(events_, offsets, rejected_);
  if (!outcome.ok()) return outcome.status();
  for (const auto& o : offsets) {
    rewound_.erase(o.tp);
    last_input_ = Offset(o.next.value - 1);
  }
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
