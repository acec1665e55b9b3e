#include "model/rank/list_blend.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "base/log.h"

namespace recd::rank {

ListBlender::ListBlender(const store::GraphStore& store, const model::BaselineRanker& filters, BlendConfig config,
                         const model::PinSageRanker* diversity)
    : store_(store), config_(config), diversity_(diversity) {
  // The registry of sources: each with its weight and list depth; weight 0 leaves it out.
  if (config_.viewed_weight > 0) {
    open_items_ = std::make_unique<OpenItemsSource>(store, filters);
    registered_.push_back({open_items_.get(), SourceSlot::kViewed, "ranker.viewed_weight", &BlendConfig::viewed_weight,
                           &BlendConfig::viewed_items});
  }
  if (config_.sequence_weight > 0) {
    sequence_ = std::make_unique<SequenceSource>(filters, config_.sequence);
    registered_.push_back({sequence_.get(), SourceSlot::kSequence, "ranker.sequence_weight", &BlendConfig::sequence_weight,
                           &BlendConfig::sequence_items});
  }
  if (config_.covisit_weight > 0) {
    covisit_ = std::make_unique<CoVisitSource>(store, filters, config_.covisit);
    registered_.push_back({covisit_.get(), SourceSlot::kCoVisit, "ranker.covisit_weight", &BlendConfig::covisit_weight,
                           &BlendConfig::covisit_items});
  }
  if (config_.unseen_trending_weight > 0) {
    unseen_trending_ = std::make_unique<UnseenTrendingSource>(store, filters);
    registered_.push_back({unseen_trending_.get(), SourceSlot::kUnseenTrending, "ranker.unseen_trending_weight", &BlendConfig::unseen_trending_weight,
                           &BlendConfig::unseen_trending_items});
  }
  if (config_.session_weight > 0) {
    session_ = std::make_unique<SessionKnnSource>(filters, config_.session);
    registered_.push_back({session_.get(), SourceSlot::kSessionKnn, "ranker.session_weight", &BlendConfig::session_weight,
                           &BlendConfig::session_items});
  }
  if (config_.seasonal_weight > 0) {
    seasonal_ = std::make_unique<SeasonalTrendingSource>(store, filters, config_.seasonal);
    registered_.push_back({seasonal_.get(), SourceSlot::kSeasonal, "ranker.seasonal_weight", &BlendConfig::seasonal_weight,
                           &BlendConfig::seasonal_items});
  }
  if (config_.category_trending_weight > 0) {
    category_trending_ = std::make_unique<CategoryTrendingSource>(store, filters, attributes_, config_.category_trending);
    registered_.push_back({category_trending_.get(), SourceSlot::kCategoryTrending, "ranker.category_trending_weight", &BlendConfig::category_trending_weight,
                           &BlendConfig::category_trending_items});
  }
  if (config_.new_items_weight > 0) {
    new_items_ = std::make_unique<NewItemsSource>(store, filters, attributes_, config_.new_items);
    registered_.push_back({new_items_.get(), SourceSlot::kNewItems, "ranker.new_items_weight", &BlendConfig::new_items_weight,
                           &BlendConfig::new_items_items});
  }
  Weigh();
}

void ListBlender::Weigh() {
  sources_.clear();
  for (const Registered& r : registered_) {
    if (config_.*r.weight > 0) sources_.push_back({r.source, r.slot, config_.*r.weight, config_.*r.limit});
  }
}

Status ListBlender::Reweigh(const BlendConfig& next) {
  // Every source's weight key, built or not: one not built cannot be turned on.
  const std::pair<const char*, float BlendConfig::*> all[] = {
      {"ranker.viewed_weight", &BlendConfig::viewed_weight},
      {"ranker.sequence_weight", &BlendConfig::sequence_weight},
      {"ranker.covisit_weight", &BlendConfig::covisit_weight},
      {"ranker.unseen_trending_weight", &BlendConfig::unseen_trending_weight},
      {"ranker.session_weight", &BlendConfig::session_weight},
      {"ranker.seasonal_weight", &BlendConfig::seasonal_weight},
      {"ranker.category_trending_weight", &BlendConfig::category_trending_weight},
      {"ranker.new_items_weight", &BlendConfig::new_items_weight}};
  for (const auto& [key, weight] : all) {
    if (next.*weight <= 0) continue;
    const std::string name = key;
    const bool built = std::any_of(registered_.begin(), registered_.end(),
                                   [&name](const Registered& r) { return name == r.weight_key; });
    if (!built) {
      return Status::InvalidArgument(name + " was 0 at start, so its source was not built and holds no state; "
                                            "restart recd to turn it on");
    }
  }
  for (const Registered& r : registered_) {
    config_.*r.weight = next.*r.weight;
    config_.*r.limit = next.*r.limit;
  }
  config_.rrf_k = next.rrf_k;
  config_.max_seen_share = next.max_seen_share;
  Weigh();
  return Status::Ok();
}

void ListBlender::EnableFeatures(FeatureConfig config) {
  features_ = std::make_unique<FeatureBuilder>(store_, attributes_, config);
}

void ListBlender::SetModel(std::shared_ptr<const RankingModel> model, std::string version) {
  RECD_CHECK(!model || features_, "a learnt ranker needs EnableFeatures first");
  model_ = std::move(model);
  model_version_ = model_ ? std::move(version) : std::string();
}

void ListBlender::Observe(const store::EdgeDelta& edge) {
  if (sequence_) sequence_->Observe(edge.user, edge.item, edge.ts);
  if (covisit_) covisit_->Observe(edge.user, edge.item, edge.ts);
  if (session_) session_->Observe(edge.user, edge.item, edge.ts);
  if (seasonal_) seasonal_->Observe(edge.item, edge.ts);
  if (category_trending_) category_trending_->Observe(edge.item, edge.ts);
  if (new_items_) new_items_->Observe(edge.item, edge.ts);
  if (features_) features_->Observe(edge.user, edge.item, edge.ts, edge.types);
}

void ListBlender::ObserveItem(ItemId item, const Attributes& attributes, EpochMillis seen) {
  if (!needs_attributes()) return;
  attributes_.Set(item, attributes);
  if (new_items_ && seen != 0) new_items_->Observe(item, seen);
}

Slate ListBlender::Gather(UserId user, const RecommendationList& ranked) const {
  Slate slate;
  const auto ranker = static_cast<size_t>(SourceSlot::kRanker);
  for (size_t r = 0; r < ranked.items.size(); ++r) {
    const auto id = store_.FindItem(ranked.items[r].item_id);
    if (!id) continue;
    SlateEntry e;
    e.item_id = ranked.items[r].item_id;
    e.item = id->value;
    e.blend = 1.0f / (config_.rrf_k + r + 1);
    e.reasons = ranked.items[r].reasons;
    e.source_score[ranker] = ranked.items[r].score;
    e.source_rank[ranker] = static_cast<uint16_t>(std::min<size_t>(r + 1, UINT16_MAX));
    slate.push_back(std::move(e));
  }
  std::vector<Candidate> proposed;
  for (const Weighted& w : sources_) {
    proposed.clear();
    w.source->Propose(user, w.limit, &proposed);
    const auto slot = static_cast<size_t>(w.slot);
    for (size_t r = 0; r < proposed.size(); ++r) {
      const uint32_t item = proposed[r].item;
      auto it = std::find_if(slate.begin(), slate.end(), [&](const SlateEntry& e) { return e.item == item; });
      if (it == slate.end()) {
        SlateEntry e;
        e.item_id = store_.ExternalId(ItemId(item));
        e.item = item;
        it = slate.insert(slate.end(), std::move(e));
      }
      it->blend += w.weight / (config_.rrf_k + r + 1);
      it->reasons.Add(w.source->reason());
      it->source_score[slot] = proposed[r].score;
      it->source_rank[slot] = static_cast<uint16_t>(std::min<size_t>(r + 1, UINT16_MAX));
    }
  }
  std::stable_sort(slate.begin(), slate.end(), [](const SlateEntry& a, const SlateEntry& b) { return a.blend > b.blend; });
  return slate;
}

bool ListBlender::OrderByModel(UserId user, Slate* slate) const {
  if (!model_ || slate->empty()) return false;
  rows_.clear();
  features_->Build(user, store_.LatestEventTime(), *slate, &rows_);
  if (!model_->Predict(rows_.data(), slate->size(), &scores_).ok()) {
    ++model_failures_;
    return false;
  }
  std::vector<size_t> order(slate->size());
  for (size_t n = 0; n < order.size(); ++n) order[n] = n;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores_[a] > scores_[b]; });
  Slate sorted;
  sorted.reserve(slate->size());
  for (size_t n : order) {
    sorted.push_back(std::move((*slate)[n]));
    sorted.back().blend = scores_[n];  // the list's score: the model's
  }
  *slate = std::move(sorted);
  return true;
}

void ListBlender::ForgetUsers(const std::vector<UserId>& users) {
  for (UserId u : users) {
    if (sequence_) sequence_->ForgetUser(u);
    if (covisit_) covisit_->ForgetUser(u);
    if (session_) session_->ForgetUser(u);
    if (features_) features_->ForgetUser(u);
  }
}

RecommendationList ListBlender::Blend(UserId user, RecommendationList ranked) const {
  const bool fuse = !sources_.empty() || model_;
  const size_t category_cap = diversity_ ? diversity_->config().category_cap : 0;
  const bool cap = config_.max_seen_share < 1.0 || category_cap > 0;
  if (!fuse && !cap) return ranked;
  const store::GraphView& view = store_.view();
  Slate fused = Gather(user, ranked);
  const bool learnt = OrderByModel(user, &fused);
  if (category_cap > 0) {
    // model.category_cap: items past their category's cap move behind all others, in order.
    std::vector<std::pair<uint32_t, size_t>> per_category;  // (category, items so far)
    std::vector<SlateEntry> within, past;
    for (SlateEntry& f : fused) {
      const uint32_t c = diversity_->CategoryOf(ItemId(f.item));
      auto it = std::find_if(per_category.begin(), per_category.end(), [&](const auto& p) { return p.first == c; });
      if (c != 0 && it == per_category.end()) it = per_category.insert(per_category.end(), {c, 0});
      (c == 0 || ++it->second <= category_cap ? within : past).push_back(std::move(f));
    }
    within.insert(within.end(), std::make_move_iterator(past.begin()), std::make_move_iterator(past.end()));
    fused = std::move(within);
  }
  const size_t k = ranked.k;
  // The cap holds for every prefix of the list: the n-th place may go to a
  // touched item only while touched items stay within ceil(share x n), so a
  // share of 0.25 puts them at places 1, 5, 9, ... of the list and of its top
  // 10. Touched items left over fill the end when nothing else is left.
  const bool known = user.value < view.num_users();
  std::vector<const SlateEntry*> chosen, capped;  // capped: touched items waiting for a place, best first
  size_t seen = 0, next_capped = 0;
  auto seen_allowed = [&] {
    return static_cast<double>(seen + 1) <= std::ceil(config_.max_seen_share * static_cast<double>(chosen.size() + 1) - 1e-9);
  };
  for (const SlateEntry& f : fused) {
    // A waiting touched item outranks `f`: it goes first as soon as the cap allows.
    while (chosen.size() < k && next_capped < capped.size() && seen_allowed()) {
      chosen.push_back(capped[next_capped++]);
      ++seen;
    }
    if (chosen.size() == k) break;
    const bool touched = known && view.TypesOf(user, ItemId(f.item)) != 0;
    if (touched && !seen_allowed()) {
      capped.push_back(&f);
      continue;
    }
    seen += touched;
    chosen.push_back(&f);
  }
  while (chosen.size() < k && next_capped < capped.size()) chosen.push_back(capped[next_capped++]);  // nothing else left
  RecommendationList out = std::move(ranked);
  out.items.clear();
  for (const SlateEntry* f : chosen) out.items.push_back({f->item_id, f->blend, f->reasons});
  if (learnt) out.model_version += "+ranker-" + model_version_;
  // Personalised once any item comes from the user's own signals: not only
  // from what is popular (trending, seasonal) or new.
  const ReasonSet impersonal{Reason::kTrending, Reason::kSeasonal, Reason::kNew};
  auto personal = [&](const ScoredItem& i) {
    const std::vector<Reason> reasons = i.reasons.list();
    return std::any_of(reasons.begin(), reasons.end(), [&](Reason r) { return !impersonal.Has(r); });
  };
  if (!out.items.empty() && out.source != ListSource::kPersonalized && std::any_of(out.items.begin(), out.items.end(), personal)) {
    out.source = ListSource::kPersonalized;
  }
  return out;
}

}  // namespace recd::rank
