#include "model/rank/new_items.h"

#include <algorithm>
#include <unordered_map>

#include "base/status.h"
#include "model/rank/trending_source.h"

namespace recd::rank {

NewItemsSource::NewItemsSource(const store::GraphStore& store, const model::BaselineRanker& filters,
                               const ItemAttributes& attributes, NewItemsConfig config)
    : store_(store), filters_(filters), attributes_(attributes), config_(config),
      next_new_id_(static_cast<uint32_t>(store.view().num_items())) {
  RECD_CHECK(config_.max_age_days > 0 && config_.pool > 0, "new items need an age limit and a pool");
}

void NewItemsSource::Observe(ItemId item, EpochMillis ts) {
  // Every id up to `item` appeared by now (ids are given in order of arrival).
  for (; next_new_id_ <= item.value; ++next_new_id_) {
    pool_.push_back({next_new_id_, ts});
    if (pool_.size() > config_.pool) pool_.pop_front();
  }
}

void NewItemsSource::Propose(UserId user, size_t limit, std::vector<Candidate>* out) const {
  if (limit == 0 || pool_.empty()) return;
  const store::GraphView& view = store_.view();
  const EpochMillis now = store_.LatestEventTime();
  const double max_age_ms = config_.max_age_days * 86'400'000.0;
  std::unordered_map<uint32_t, double> shares;
  for (const auto& [value, share] : ValueShares(attributes_, HeaviestItems(view, user, config_.seeds))) shares[value] = share;
  std::vector<std::pair<uint32_t, double>> scored;
  for (auto it = pool_.rbegin(); it != pool_.rend(); ++it) {
    const double age_ms = static_cast<double>(now - it->ts);
    if (age_ms > max_age_ms) continue;  // arrival order is not event-time order: a late event's item may be old
    // Not in this view yet (described ahead of the store's view), or no longer untouched.
    if (it->item >= view.num_items() || view.UsersOf(ItemId(it->item)).size() > config_.max_users) continue;
    double affinity = 0;
    const std::vector<uint32_t>& values = attributes_.Of(it->item);
    for (uint32_t v : values) {
      const auto s = shares.find(v);
      if (s != shares.end()) affinity += s->second;
    }
    if (!values.empty()) affinity /= static_cast<double>(values.size());
    const double freshness = 0.01 * (1.0 - std::max(0.0, age_ms) / max_age_ms) * 0.99;
    scored.emplace_back(it->item, affinity + freshness);
  }
  TakeBest(scored, user, filters_, limit, out);
}

}  // namespace recd::rank
