// recd::rank — the trending sources:
//   - UnseenTrendingSource: the most popular items now (the ranker's trending
//     pool, under the store's decay) that the user has never touched: a shop's
//     "best sellers you have not seen", the discovery widget that wins where
//     tastes follow the season;
//   - SeasonalTrendingSource: the most interacted-with items of this calendar
//     window, this year and earlier ones, and of the weeks just ahead of it:
//     last winter's coats as this winter starts;
//   - CategoryTrendingSource: what is trending within the attribute values
//     (category, colour, any attribute) of the user's heaviest items.
// The last two learn per event (RuleTable: decayed, `max_items` per calendar
// week or attribute value), in memory, empty at each start. Single-threaded,
// on the thread that owns the store.
#pragma once

#include "model/baseline_ranker.h"
#include "model/rank/candidate_source.h"
#include "model/rank/item_attributes.h"
#include "model/rank/rule_table.h"

namespace recd::rank {

class UnseenTrendingSource : public CandidateSource {
 public:
  UnseenTrendingSource(const store::GraphStore& store, const model::BaselineRanker& trending)
      : store_(store), trending_(trending) {}
  Reason reason() const override { return Reason::kTrending; }
  void Propose(UserId user, size_t limit, std::vector<Candidate>* out) const override;

 private:
  const store::GraphStore& store_;
  const model::BaselineRanker& trending_;  // its pool (refreshed per turn) and its filters
};

struct SeasonalConfig {
  size_t weeks_ahead = 2;       // the calendar weeks after this one that propose too
  size_t max_items = 200;       // items kept per calendar week (the heaviest)
  double half_life_days = 365;  // a year-old interaction weighs half of one today
};

// Interactions are counted by calendar week: the day of the solar year (days
// since the epoch modulo 365.2425) over 7, 53 weeks, the last one short.
class SeasonalTrendingSource : public CandidateSource {
 public:
  static constexpr uint32_t kWeeks = 53;
  static uint32_t WeekOfYear(EpochMillis ts);

  SeasonalTrendingSource(const store::GraphStore& store, const model::BaselineRanker& filters, SeasonalConfig config)
      : store_(store), filters_(filters), config_(config), weeks_(config.max_items, config.half_life_days) {}
  Reason reason() const override { return Reason::kSeasonal; }
  void Observe(ItemId item, EpochMillis ts) { weeks_.Add(WeekOfYear(ts), item.value, ts, 1.0); }
  // At the store's newest event time: this week and `weeks_ahead` after it, summed.
  void Propose(UserId user, size_t limit, std::vector<Candidate>* out) const override;

 private:
  const store::GraphStore& store_;
  const model::BaselineRanker& filters_;
  SeasonalConfig config_;
  RuleTable weeks_;  // calendar week -> item
};

struct CategoryTrendingConfig {
  size_t seeds = 10;           // the user's heaviest items whose attribute values propose
  size_t max_items = 200;      // items kept per attribute value (the heaviest)
  double half_life_days = 7;   // a week-old interaction weighs half of one today
};

// A user's attribute values weigh by the share of their seed items that carry
// them; an item's score sums, over those values, share x its decayed count
// there (relative to the heaviest). An interaction counts under the item's
// values at the time it is observed.
class CategoryTrendingSource : public CandidateSource {
 public:
  CategoryTrendingSource(const store::GraphStore& store, const model::BaselineRanker& filters,
                         const ItemAttributes& attributes, CategoryTrendingConfig config)
      : store_(store), filters_(filters), attributes_(attributes), config_(config),
        values_(config.max_items, config.half_life_days) {}
  Reason reason() const override { return Reason::kTrending; }
  void Observe(ItemId item, EpochMillis ts);
  void Propose(UserId user, size_t limit, std::vector<Candidate>* out) const override;

 private:
  const store::GraphStore& store_;
  const model::BaselineRanker& filters_;
  const ItemAttributes& attributes_;
  CategoryTrendingConfig config_;
  RuleTable values_;  // attribute value -> item
};

// The user's `n` heaviest items (by decayed edge weight; ties: the lower id).
std::vector<uint32_t> HeaviestItems(const store::GraphView& view, UserId user, size_t n);
// (value, share of `items` that carry it) for every value of `items`.
std::vector<std::pair<uint32_t, double>> ValueShares(const ItemAttributes& attributes, const std::vector<uint32_t>& items);

}  // namespace recd::rank
