#include "model/rank/features.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_map>

#include "store/decay.h"

namespace recd::rank {
namespace {

constexpr double kDayMs = 86'400'000.0;
constexpr double kHourMs = 3'600'000.0;
constexpr std::array<double, 3> kCountHalfLifeDays = {1, 7, 30};
constexpr double kPurchaseHalfLifeDays = 7;
constexpr float kMissing = std::numeric_limits<float>::quiet_NaN();

// log2(1 + the decayed count at `now`) of an epoch-referred log2 count.
float DecayedCount(double log_count, EpochMillis now, double half_life_days) {
  if (log_count == kNoWeight) return 0;
  // Activity far newer than `now` (a late event's slate) would overflow: missing, not infinite.
  const double count = std::log2(1.0 + std::exp2(log_count - static_cast<double>(now) / (half_life_days * kDayMs)));
  return std::isfinite(count) ? static_cast<float>(count) : kMissing;
}

// Features by position; kFeatureNames names them in the same order.
enum F : size_t {
  kSourceScore0 = 0,                          // kSourceSlots scores
  kSourceRank0 = kSourceScore0 + kSourceSlots,  // kSourceSlots ranks
  kBlend = kSourceRank0 + kSourceSlots,
  kBlendRank,
  kSources,
  kCount1d,
  kCount7d,
  kCount30d,
  kPurchases7d,
  kAgeDays,
  kUserClicked,
  kUserPurchased,
  kUserRated,
  kUserEdgeWeight,
  kUserRecentEvents,
  kUserHoursSinceItem,
  kAffinityMax,
  kAffinityMean,
  kHoursSinceLastEvent,
  kSessionEvents,
  kSessionItems,
  kEnd,
};
static_assert(kEnd == kNumFeatures, "kFeatureNames and the layout disagree");
static_assert(kBlend == kBlendFeature, "kBlendFeature names another column");

}  // namespace

const std::array<const char*, kNumFeatures> kFeatureNames = {
    "score_ranker", "score_viewed", "score_sequence", "score_covisit", "score_unseen_trending", "score_session_knn",
    "score_seasonal", "score_category_trending", "score_new_items",
    "rank_ranker", "rank_viewed", "rank_sequence", "rank_covisit", "rank_unseen_trending", "rank_session_knn",
    "rank_seasonal", "rank_category_trending", "rank_new_items",
    "blend_score", "blend_rank", "sources", "item_count_1d", "item_count_7d", "item_count_30d", "item_purchases_7d",
    "item_age_days", "user_clicked", "user_purchased", "user_rated", "user_edge_weight", "user_recent_events",
    "user_hours_since_item", "attribute_affinity_max", "attribute_affinity_mean", "user_hours_since_last_event",
    "session_events", "session_items"};

void FeatureBuilder::Observe(UserId user, ItemId item, EpochMillis ts, store::TypeMask types) {
  if (item.value >= items_.size()) items_.resize(item.value + 1);
  ItemActivity& a = items_[item.value];
  for (size_t w = 0; w < kCountHalfLifeDays.size(); ++w) {
    a.log_count[w] = LogAddExp2(a.log_count[w], static_cast<double>(ts) / (kCountHalfLifeDays[w] * kDayMs));
  }
  if (types & store::TypeBit(EventType::kPurchase)) {
    a.log_purchases = LogAddExp2(a.log_purchases, static_cast<double>(ts) / (kPurchaseHalfLifeDays * kDayMs));
  }
  if (a.first_seen == 0 || ts < a.first_seen) a.first_seen = std::max<EpochMillis>(ts, 1);
  if (config_.history == 0) return;
  if (user.value >= history_.size()) history_.resize(user.value + 1);
  std::vector<Interaction>& h = history_[user.value];
  if (h.size() == config_.history) h.erase(h.begin());
  h.push_back({item.value, types, ts});
}

void FeatureBuilder::Build(UserId user, EpochMillis now, const Slate& slate, std::vector<float>* rows) const {
  const store::GraphView& view = store_.view();
  const bool known = user.value < view.num_users();
  static const std::vector<Interaction> kNone;
  const std::vector<Interaction>& history = user.value < history_.size() ? history_[user.value] : kNone;

  // Per user, once per slate: the session, and how many distinct recent items carry each attribute value.
  size_t session_events = 0;
  std::vector<uint32_t> session_items, recent_items;
  const double gap_ms = config_.session_gap_s * 1000;
  const bool in_session = !history.empty() && static_cast<double>(now - history.back().ts) <= gap_ms;
  for (size_t n = history.size(); in_session && n-- > 0;) {
    if (n + 1 < history.size() && static_cast<double>(history[n + 1].ts - history[n].ts) > gap_ms) break;
    ++session_events;
    session_items.push_back(history[n].item);
  }
  std::sort(session_items.begin(), session_items.end());
  session_items.erase(std::unique(session_items.begin(), session_items.end()), session_items.end());
  for (const Interaction& i : history) recent_items.push_back(i.item);
  std::sort(recent_items.begin(), recent_items.end());
  recent_items.erase(std::unique(recent_items.begin(), recent_items.end()), recent_items.end());
  std::unordered_map<uint32_t, uint32_t> attr_counts;  // attribute value id -> distinct recent items with it
  for (const auto& [value, items] : attributes_.Count(recent_items)) attr_counts[value] = items;
  const float hours_since_last =
      history.empty() ? kMissing : static_cast<float>(static_cast<double>(now - history.back().ts) / kHourMs);

  for (size_t position = 0; position < slate.size(); ++position) {
    const SlateEntry& e = slate[position];
    const size_t base = rows->size();
    rows->resize(base + kNumFeatures, kMissing);
    float* f = rows->data() + base;
    size_t sources = 0;
    for (size_t s = 0; s < kSourceSlots; ++s) {
      if (e.source_rank[s] == 0) continue;
      ++sources;
      f[kSourceScore0 + s] = e.source_score[s];
      f[kSourceRank0 + s] = e.source_rank[s];
    }
    f[kBlend] = e.blend;
    f[kBlendRank] = static_cast<float>(position + 1);
    f[kSources] = static_cast<float>(sources);

    const ItemActivity activity = e.item < items_.size() ? items_[e.item] : ItemActivity{};
    for (size_t w = 0; w < kCountHalfLifeDays.size(); ++w) {
      f[kCount1d + w] = DecayedCount(activity.log_count[w], now, kCountHalfLifeDays[w]);
    }
    f[kPurchases7d] = DecayedCount(activity.log_purchases, now, kPurchaseHalfLifeDays);
    if (activity.first_seen != 0) f[kAgeDays] = static_cast<float>(static_cast<double>(now - activity.first_seen) / kDayMs);

    const store::TypeMask types = known ? view.TypesOf(user, ItemId(e.item)) : 0;
    f[kUserClicked] = (types & store::TypeBit(EventType::kClick)) ? 1 : 0;
    f[kUserPurchased] = (types & store::TypeBit(EventType::kPurchase)) ? 1 : 0;
    f[kUserRated] = (types & store::TypeBit(EventType::kRating)) ? 1 : 0;
    f[kUserEdgeWeight] = 0;
    if (types != 0) {
      const store::NeighborList& items = view.ItemsOf(user);
      const auto it = std::lower_bound(items.begin(), items.end(), e.item,
                                       [](const store::Neighbor& n, uint32_t id) { return n.id < id; });
      if (it != items.end() && it->id == e.item) {
        f[kUserEdgeWeight] = static_cast<float>(std::log2(1.0 + store::WeightAt(store_.decay(), it->log_weight, now)));
      }
    }
    size_t events = 0;
    EpochMillis last = 0;
    for (const Interaction& i : history) {
      if (i.item != e.item) continue;
      ++events;
      last = i.ts;
    }
    f[kUserRecentEvents] = static_cast<float>(events);
    if (events > 0) f[kUserHoursSinceItem] = static_cast<float>(static_cast<double>(now - last) / kHourMs);

    const std::vector<uint32_t>& values = attributes_.Of(e.item);
    if (!recent_items.empty() && !values.empty()) {
      double max_share = 0, sum_share = 0;
      for (uint32_t a : values) {
        const auto it = attr_counts.find(a);
        const double share = it == attr_counts.end() ? 0 : static_cast<double>(it->second) / recent_items.size();
        max_share = std::max(max_share, share);
        sum_share += share;
      }
      f[kAffinityMax] = static_cast<float>(max_share);
      f[kAffinityMean] = static_cast<float>(sum_share / static_cast<double>(values.size()));
    }
    f[kHoursSinceLastEvent] = hours_since_last;
    f[kSessionEvents] = static_cast<float>(session_events);
    f[kSessionItems] = static_cast<float>(session_items.size());
  }
}

}  // namespace recd::rank
