#include "model/rank/trending_source.h"

#include <algorithm>
#include <cmath>

namespace recd::rank {

void UnseenTrendingSource::Propose(UserId user, size_t limit, std::vector<Candidate>* out) const {
  const store::GraphView& view = store_.view();
  const std::vector<ItemId>& pool = trending_.trending();
  if (limit == 0 || pool.empty()) return;
  const bool known = user.value < view.num_users();
  const double top = view.ItemPopularity(pool.front());
  size_t added = 0;
  for (ItemId item : pool) {
    if (added == limit) break;
    if ((known && view.TypesOf(user, item) != 0) || trending_.Excluded(user, item)) continue;
    out->push_back({item.value, static_cast<float>(std::exp2(view.ItemPopularity(item) - top))});
    ++added;
  }
}

}  // namespace recd::rank

namespace recd::rank {

uint32_t SeasonalTrendingSource::WeekOfYear(EpochMillis ts) {
  const double days = std::floor(static_cast<double>(ts) / 86'400'000.0);
  const double day_of_year = days - 365.2425 * std::floor(days / 365.2425);
  return std::min<uint32_t>(kWeeks - 1, static_cast<uint32_t>(day_of_year / 7));
}

void SeasonalTrendingSource::Propose(UserId user, size_t limit, std::vector<Candidate>* out) const {
  if (limit == 0) return;
  const uint32_t week = WeekOfYear(store_.LatestEventTime());
  std::vector<std::pair<uint32_t, double>> seeds;
  for (size_t k = 0; k <= config_.weeks_ahead && k < kWeeks; ++k) seeds.emplace_back((week + k) % kWeeks, 1.0);
  std::vector<std::pair<uint32_t, double>> scored;
  weeks_.Score(seeds, &scored);
  TakeBest(scored, user, filters_, limit, out);
}

std::vector<uint32_t> HeaviestItems(const store::GraphView& view, UserId user, size_t n) {
  if (user.value >= view.num_users()) return {};
  std::vector<store::Neighbor> items(view.ItemsOf(user).begin(), view.ItemsOf(user).end());
  const size_t keep = std::min(n, items.size());
  std::partial_sort(items.begin(), items.begin() + static_cast<ptrdiff_t>(keep), items.end(),
                    [](const store::Neighbor& a, const store::Neighbor& b) {
                      return a.log_weight > b.log_weight || (a.log_weight == b.log_weight && a.id < b.id);
                    });
  std::vector<uint32_t> out;
  for (size_t k = 0; k < keep; ++k) out.push_back(items[k].id);
  return out;
}

std::vector<std::pair<uint32_t, double>> ValueShares(const ItemAttributes& attributes, const std::vector<uint32_t>& items) {
  std::vector<std::pair<uint32_t, double>> shares;
  if (items.empty()) return shares;
  for (const auto& [value, count] : attributes.Count(items)) {
    shares.emplace_back(value, static_cast<double>(count) / static_cast<double>(items.size()));
  }
  std::sort(shares.begin(), shares.end());  // deterministic order (the counts come from a hash map)
  return shares;
}

void CategoryTrendingSource::Observe(ItemId item, EpochMillis ts) {
  for (uint32_t value : attributes_.Of(item.value)) values_.Add(value, item.value, ts, 1.0);
}

void CategoryTrendingSource::Propose(UserId user, size_t limit, std::vector<Candidate>* out) const {
  if (limit == 0) return;
  const std::vector<std::pair<uint32_t, double>> seeds =
      ValueShares(attributes_, HeaviestItems(store_.view(), user, config_.seeds));
  if (seeds.empty()) return;
  std::vector<std::pair<uint32_t, double>> scored;
  values_.Score(seeds, &scored);
  TakeBest(scored, user, filters_, limit, out);
}

}  // namespace recd::rank
