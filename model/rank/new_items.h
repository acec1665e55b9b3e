// recd::rank — NewItemsSource: an exploration prior for items too new to have
// interactions. An item is new for `max_age_days` of event time after it
// appears this run, while it has at most `max_users` users. It appears with its
// first interaction (at that event's time) or with the batch that first
// describes it (its attributes or content vector; at the batch's newest event
// time), whichever comes first. A user's new items are placed by their attributes: an
// item's score is the mean, over its attribute values, of the share of the
// user's `seeds` heaviest items that carry the value, plus a freshness term
// under 0.01 that orders the rest by age. Items that were in the store when
// the source started are never new (the pool refills from the stream), and
// only the newest `pool` items are kept. Single-threaded, on the thread that
// owns the store.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>

#include "model/baseline_ranker.h"
#include "model/rank/candidate_source.h"
#include "model/rank/item_attributes.h"

namespace recd::rank {

struct NewItemsConfig {
  double max_age_days = 14;  // new this long after it appears
  size_t max_users = 5;      // and while at most this many users have touched it
  size_t pool = 1000;        // the newest items kept
  size_t seeds = 10;         // the user's heaviest items whose attribute values place new ones
};

class NewItemsSource : public CandidateSource {
 public:
  // Items already in `store` are not new.
  NewItemsSource(const store::GraphStore& store, const model::BaselineRanker& filters, const ItemAttributes& attributes,
                 NewItemsConfig config);
  Reason reason() const override { return Reason::kNew; }
  // `item` was seen at `ts` (an interaction or its metadata); the first sight of
  // each item above the store's ids at start makes it new.
  void Observe(ItemId item, EpochMillis ts);
  void Propose(UserId user, size_t limit, std::vector<Candidate>* out) const override;

 private:
  struct Arrival {
    uint32_t item;
    EpochMillis ts;
  };
  const store::GraphStore& store_;
  const model::BaselineRanker& filters_;
  const ItemAttributes& attributes_;
  NewItemsConfig config_;
  uint32_t next_new_id_;       // ids below it were seen (or there at start); dense ids grow by arrival
  std::deque<Arrival> pool_;   // oldest first, at most config_.pool
};

}  // namespace recd::rank
