#include "model/baseline_ranker.h"

#include <algorithm>
#include <cmath>

namespace recd::model {

std::vector<store::Neighbor> Heaviest(const store::NeighborList& list, size_t limit) {
  std::vector<store::Neighbor> picked;
  const size_t budget = 4 * limit;
  if (list.size() <= budget) {
    picked.assign(list.begin(), list.end());
  } else {
    picked.reserve(budget);
    const double stride = static_cast<double>(list.size()) / static_cast<double>(budget);
    for (size_t i = 0; i < budget; ++i) picked.push_back(list[static_cast<size_t>(i * stride)]);
  }
  auto heavier = [](const store::Neighbor& a, const store::Neighbor& b) {
    return a.log_weight > b.log_weight || (a.log_weight == b.log_weight && a.id < b.id);
  };
  if (picked.size() > limit) {
    std::partial_sort(picked.begin(), picked.begin() + static_cast<ptrdiff_t>(limit), picked.end(), heavier);
    picked.resize(limit);
  } else {
    std::sort(picked.begin(), picked.end(), heavier);
  }
  return picked;
}

BaselineRanker::BaselineRanker(const store::GraphStore& store, BaselineConfig config)
    : store_(store), config_(config) {}

void BaselineRanker::AddCoUserItems(UserId co_user, float weight, uint32_t skip) const {
  // All of the co-user's items (a strided sample when there are many),
  // weighted relative to the co-user's heaviest: no sort, no allocation.
  const store::NeighborList& items = store_.view().ItemsOf(co_user);
  const size_t step = std::max<size_t>(1, items.size() / config_.items_per_co_user);
  float top = items[0].log_weight;
  for (size_t n = 0; n < items.size(); n += step) top = std::max(top, items[n].log_weight);
  for (size_t n = 0; n < items.size(); n += step) {
    const store::Neighbor& j = items[n];
    if (j.id == skip) continue;
    // A contribution that underflows to 0 would leave the item untouched yet
    // listed in scratch_touched_ again: skip it.
    const float contribution = weight * std::exp2(j.log_weight - top);
    if (contribution <= 0.0f) continue;
    if (scratch_scores_[j.id] == 0.0f) scratch_touched_.push_back(j.id);
    scratch_scores_[j.id] += contribution;
  }
}

void BaselineRanker::RefreshTrending() {
  const store::GraphView& view = store_.view();
  trending_.clear();
  for (uint32_t i = 0; i < view.num_items(); ++i) {
    if (!view.UsersOf(ItemId(i)).empty() && store_.ItemAvailable(ItemId(i))) trending_.emplace_back(i);
  }
  auto more_popular = [&](ItemId a, ItemId b) {
    const double pa = view.ItemPopularity(a), pb = view.ItemPopularity(b);
    return pa > pb || (pa == pb && a < b);
  };
  const size_t keep = std::min(trending_.size(), config_.trending_pool);
  std::partial_sort(trending_.begin(), trending_.begin() + static_cast<ptrdiff_t>(keep),
                    trending_.end(), more_popular);
  trending_.resize(keep);
}

bool BaselineRanker::Excluded(UserId user, ItemId item) const {
  return (store_.view().TypesOf(user, item) & config_.exclude_types) != 0 || !store_.ItemAvailable(item);
}

RecommendationList BaselineRanker::Recommend(UserId user, EpochMillis generated_at, size_t k) const {
  if (k == 0) k = config_.k;
  const store::GraphView& view = store_.view();
  RecommendationList list;
  list.user_id = store_.ExternalId(user);
  list.k = k;
  list.model_version = kBaselineModelVersion;
  list.generated_at = generated_at;

  const store::NeighborList empty;
  const store::NeighborList& seen = user.value < view.num_users() ? view.ItemsOf(user) : empty;
  auto excluded = [&](uint32_t item) { return Excluded(user, ItemId(item)); };

  // Co-occurrence: score(j) = sum over seed items i and co-users v of
  // w(u,i) * w(v,i) * w(v,j), each weight normalised to its list's heaviest, then
  // divided by (#users of j)^degree_penalty to temper sheer popularity.
  scratch_scores_.resize(view.num_items(), 0.0f);
  const auto seeds = Heaviest(seen, config_.recent_items);
  for (const store::Neighbor& seed : seeds) {
    const float w_ui = std::exp2(seed.log_weight - seeds[0].log_weight);
    const auto co_users = Heaviest(view.UsersOf(ItemId(seed.id)), config_.co_users_per_item + 1);
    if (co_users.empty()) continue;
    const float top_vi = co_users[0].log_weight;
    for (const store::Neighbor& co : co_users) {
      if (co.id == user.value) continue;
      const float w_vi = w_ui * std::exp2(co.log_weight - top_vi);
      AddCoUserItems(UserId(co.id), w_vi, seed.id);
    }
  }
  std::vector<std::pair<float, uint32_t>> candidates;
  for (uint32_t j : scratch_touched_) {
    if (!excluded(j)) {
      const float score =
          scratch_scores_[j] / std::pow(static_cast<float>(view.UsersOf(ItemId(j)).size()), config_.degree_penalty);
      candidates.emplace_back(score, j);
    }
    scratch_scores_[j] = 0.0f;
  }
  scratch_touched_.clear();
  const size_t take = std::min<size_t>(candidates.size(), k);
  std::partial_sort(candidates.begin(), candidates.begin() + static_cast<ptrdiff_t>(take), candidates.end(),
                    [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
  std::vector<uint32_t> listed;
  for (size_t n = 0; n < take; ++n) {
    list.items.push_back({store_.ExternalId(ItemId(candidates[n].second)), candidates[n].first, {Reason::kCoOccurrence}});
    listed.push_back(candidates[n].second);
  }

  if (!list.items.empty()) {
    list.source = ListSource::kPersonalized;
  } else {
    list.source = seen.empty() ? ListSource::kColdStart : ListSource::kTrending;
  }
  // Fill from trending, scored below every personalised item.
  if (list.items.size() < k && !trending_.empty()) {
    const float ceiling = list.items.empty() ? 1.0f : list.items.back().score * 0.5f;
    const double top = view.ItemPopularity(trending_.front());
    for (ItemId t : trending_) {
      if (list.items.size() >= k) break;
      if (excluded(t.value) || std::find(listed.begin(), listed.end(), t.value) != listed.end()) {
        continue;
      }
      list.items.push_back({store_.ExternalId(t), ceiling * static_cast<float>(std::exp2(view.ItemPopularity(t) - top)),
                            {Reason::kTrending}});
    }
  }
  return list;
}

std::vector<std::pair<ItemId, float>> BaselineRanker::RelatedItems(ItemId item, size_t limit,
                                                                   const std::function<bool(ItemId)>& keep) const {
  const store::GraphView& view = store_.view();
  std::vector<std::pair<ItemId, float>> related;
  if (item.value >= view.num_items() || limit == 0) return related;
  scratch_scores_.resize(view.num_items(), 0.0f);
  const auto co_users = Heaviest(view.UsersOf(item), config_.co_users_per_item * 4);
  for (const store::Neighbor& co : co_users) {
    const float w_vi = std::exp2(co.log_weight - co_users[0].log_weight);
    AddCoUserItems(UserId(co.id), w_vi, item.value);
  }
  std::vector<std::pair<float, uint32_t>> candidates;
  for (uint32_t j : scratch_touched_) {
    if (keep(ItemId(j))) {
      candidates.emplace_back(scratch_scores_[j] / std::sqrt(static_cast<float>(view.UsersOf(ItemId(j)).size())), j);
    }
    scratch_scores_[j] = 0.0f;
  }
  scratch_touched_.clear();
  const size_t take = std::min(candidates.size(), limit);
  std::partial_sort(candidates.begin(), candidates.begin() + static_cast<ptrdiff_t>(take), candidates.end(),
                    [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
  for (size_t n = 0; n < take; ++n) related.emplace_back(ItemId(candidates[n].second), candidates[n].first);
  return related;
}

}  // namespace recd::model
