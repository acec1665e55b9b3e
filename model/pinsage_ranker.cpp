#include "model/pinsage_ranker.h"

#include <algorithm>
#include <cmath>
#include <mutex>

#include "model/training_set.h"

namespace recd::model {

namespace {

constexpr int64_t kCategoryBuckets = int64_t{1} << 31;

}  // namespace

PinSageRanker::PinSageRanker(const store::GraphStore& store, const BaselineRanker& fallback, PinSageRankerConfig config)
    : store_(store), fallback_(fallback), config_(std::move(config)), keeps_categories_(config_.category_cap > 0) {}

void PinSageRanker::ObserveEvent(UserId user, ItemId item, EpochMillis ts) {
  if (user.value >= last_event_.size()) {
    last_event_.resize(user.value + 1024, 0);
    last_gap_.resize(user.value + 1024, -1);
    recent_.resize(user.value + 1024);
  }
  std::vector<uint32_t>& recent = recent_[user.value];
  recent.erase(std::remove(recent.begin(), recent.end(), item.value), recent.end());
  recent.insert(recent.begin(), item.value);
  if (recent.size() > fallback_.config().recent_items) recent.pop_back();
  EpochMillis& last = last_event_[user.value];
  if (last != 0) last_gap_[user.value] = std::max<int64_t>(0, ts - last);
  last = std::max(last, ts);
}

void PinSageRanker::ForgetUser(UserId user) {
  if (user.value >= last_event_.size()) return;
  std::vector<uint32_t>().swap(recent_[user.value]);
  last_event_[user.value] = 0;
  last_gap_[user.value] = -1;
}

Status PinSageRanker::SetMixture(const BlendWeights& session, const BlendWeights& returning, size_t category_cap) {
  if (category_cap > 0 && !keeps_categories_) {
    return Status::InvalidArgument("model.category_cap was 0 at start, so the items' categories were not kept; "
                                   "restart recd to turn the cap on");
  }
  config_.session = session;
  config_.returning = returning;
  config_.category_cap = category_cap;
  return Status::Ok();
}

void PinSageRanker::ObserveItem(ItemId item, const Attributes& attributes) {
  if (!keeps_categories_) return;
  if (item.value >= category_.size()) category_.resize(item.value + 1024, 0);
  for (const auto& [key, value] : attributes) {
    if (key != config_.diversity_field) continue;
    const std::string token = value.is_number ? std::to_string(value.number) : value.text;
    category_[item.value] = 1 + static_cast<uint32_t>(HashBucket(token, kCategoryBuckets));
  }
}

std::vector<UserId> PinSageRanker::UsersActiveSince(EpochMillis since) const {
  std::vector<UserId> out;
  for (size_t u = 0; u < last_event_.size(); ++u) {
    if (last_event_[u] != 0 && last_event_[u] >= since) out.emplace_back(static_cast<uint32_t>(u));
  }
  return out;
}

RecommendationList PinSageRanker::Recommend(UserId user, EpochMillis generated_at, const LiveModel* model,
                                            size_t k) const {
  const store::GraphView& view = store_.view();
  if (!model || user.value >= view.num_users() || view.ItemsOf(user).empty()) {
    return fallback_.Recommend(user, generated_at, k);
  }
  const BaselineConfig& base = fallback_.config();
  if (k == 0) k = base.k;
  std::shared_lock<std::shared_mutex> lock(model->mu);
  const size_t dim = model->dim, embedded_items = model->num_items();

  // The user's seeds: their latest items, the n-th most recent weighing
  // recency_decay^n (or, not seen since start, their heaviest edges by weight).
  std::vector<uint32_t> seeds;
  std::vector<float> seed_weight;
  if (user.value < recent_.size() && !recent_[user.value].empty()) {
    seeds = recent_[user.value];
    for (size_t s = 0; s < seeds.size(); ++s) seed_weight.push_back(std::pow(config_.recency_decay, static_cast<float>(s)));
  } else {
    const std::vector<store::Neighbor> heaviest = Heaviest(view.ItemsOf(user), base.recent_items);
    for (const store::Neighbor& n : heaviest) {
      seeds.push_back(n.id);
      seed_weight.push_back(std::exp2(n.log_weight - heaviest[0].log_weight));
    }
  }
  float total = 0;
  for (float w : seed_weight) total += w;
  std::vector<float> profile(dim, 0.0f);
  mass_.resize(view.num_items());
  auto touch = [&](uint32_t j) {
    if (mass_[j].related == 0.0f && mass_[j].walked == 0.0f) touched_.push_back(j);
  };
  for (size_t s = 0; s < seeds.size(); ++s) {
    const uint32_t r = seeds[s];
    const float w = seed_weight[s] / total;
    if (r >= embedded_items || !model->embedded[r]) continue;
    const float* e = model->row(r);
    for (size_t d = 0; d < dim; ++d) profile[d] += w * e[d];
    for (const ItemScore& n : model->related[r]) {
      if (n.item >= mass_.size() || n.score <= 0) continue;
      touch(n.item);
      mass_[n.item].related += w * n.score;
    }
    for (const ItemScore& n : model->walked[r]) {
      if (n.item >= mass_.size()) continue;
      touch(n.item);
      mass_[n.item].walked += w * n.score;
    }
  }
  if (touched_.empty()) {
    // None of the user's items is embedded yet (all newer than the last refresh
    // tick): co-occurrence on the live graph serves this list.
    lock.unlock();
    return fallback_.Recommend(user, generated_at, k);
  }
  float norm = 0;
  for (float x : profile) norm += x * x;
  norm = norm > 0 ? 1.0f / std::sqrt(norm) : 0.0f;

  const int64_t gap = user.value < last_gap_.size() ? last_gap_[user.value] : -1;
  const BlendWeights& a = gap >= 0 && gap <= config_.session_gap_ms ? config_.session : config_.returning;
  const std::vector<ItemId>& trending = fallback_.trending();
  const double top_popularity = trending.empty() ? 0.0 : view.ItemPopularity(trending.front());
  struct Scored {
    float first;      // score
    uint32_t second;  // item
    ReasonSet reasons;
  };
  std::vector<Scored> scored;
  scored.reserve(touched_.size() + config_.trending_candidates);
  auto reasons_of = [&](uint32_t j) {
    ReasonSet r;
    if (mass_[j].related > 0) r.Add(Reason::kRelated);
    if (mass_[j].walked > 0) r.Add(Reason::kWalked);
    return r;
  };
  const float top = static_cast<float>(top_popularity);
  auto score = [&](uint32_t j) {
    float s = a.related * mass_[j].related;
    if (mass_[j].walked > 0) {
      float w = mass_[j].walked;
      if (config_.walk_degree_penalty > 0) {
        w /= std::pow(static_cast<float>(std::max<size_t>(1, view.UsersOf(ItemId(j)).size())), config_.walk_degree_penalty);
      }
      s += a.walked * w;
    }
    if (a.profile != 0 && norm > 0 && j < embedded_items && model->embedded[j]) {
      const float* e = model->row(j);
      float dot = 0;
      for (size_t d = 0; d < dim; ++d) dot += profile[d] * e[d];
      s += a.profile * dot * norm;
    }
    if (a.trending != 0) s += a.trending * std::exp2(static_cast<float>(view.ItemPopularity(ItemId(j))) - top);
    return s;
  };
  for (uint32_t j : touched_) {
    if (!fallback_.Excluded(user, ItemId(j))) scored.push_back({score(j), j, reasons_of(j)});
  }
  for (size_t n = 0; n < std::min(config_.trending_candidates, trending.size()); ++n) {
    const uint32_t j = trending[n].value;
    if (mass_[j].related == 0.0f && mass_[j].walked == 0.0f && !fallback_.Excluded(user, trending[n])) {
      scored.push_back({score(j), j, ReasonSet{Reason::kTrending}});
    }
  }
  for (uint32_t j : touched_) mass_[j] = {};
  touched_.clear();

  auto better = [](const auto& x, const auto& y) { return x.first > y.first || (x.first == y.first && x.second < y.second); };
  RecommendationList list;
  list.user_id = store_.ExternalId(user);
  list.k = k;
  list.model_version = "pinsage-" + model->version;
  list.generated_at = generated_at;
  list.source = ListSource::kPersonalized;
  // Under a category cap, look deeper than k so capped-out items can be replaced.
  const size_t depth = std::min(scored.size(), config_.category_cap > 0 ? k * 4 : k);
  std::partial_sort(scored.begin(), scored.begin() + static_cast<ptrdiff_t>(depth), scored.end(), better);
  std::vector<std::pair<uint32_t, size_t>> per_category;  // (category, items listed): at most k entries
  std::vector<size_t> capped_out;
  auto over_cap = [&](uint32_t j) {
    if (config_.category_cap == 0 || j >= category_.size() || category_[j] == 0) return false;
    auto it = std::find_if(per_category.begin(), per_category.end(), [&](const auto& c) { return c.first == category_[j]; });
    if (it == per_category.end()) it = per_category.insert(per_category.end(), {category_[j], 0});
    return ++it->second > config_.category_cap;
  };
  for (size_t n = 0; n < depth && list.items.size() < k; ++n) {
    const uint32_t j = scored[n].second;
    if (over_cap(j)) {
      capped_out.push_back(n);
      continue;
    }
    list.items.push_back({store_.ExternalId(ItemId(j)), scored[n].first, scored[n].reasons});
  }
  // Too few categories to fill the list under the cap: the best capped-out items fill it.
  for (size_t n : capped_out) {
    if (list.items.size() >= k) break;
    list.items.push_back({store_.ExternalId(ItemId(scored[n].second)), scored[n].first, scored[n].reasons});
  }
  return list;
}

}  // namespace recd::model
