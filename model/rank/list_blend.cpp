#include "model/rank/list_blend.h"

#include <algorithm>
#include <cmath>

namespace recd::rank {

ListBlender::ListBlender(const store::GraphStore& store, const model::BaselineRanker& filters, BlendConfig config,
                         const model::PinSageRanker* diversity)
    : store_(store), config_(config), diversity_(diversity) {
  // The registry of sources: each with its weight and list depth; weight 0 leaves it out.
  if (config_.viewed_weight > 0) {
    open_items_ = std::make_unique<OpenItemsSource>(store, filters);
    sources_.push_back({open_items_.get(), config_.viewed_weight, config_.viewed_items});
  }
  if (config_.sequence_weight > 0) {
    sequence_ = std::make_unique<SequenceSource>(filters, config_.sequence);
    sources_.push_back({sequence_.get(), config_.sequence_weight, config_.sequence_items});
  }
  if (config_.covisit_weight > 0) {
    covisit_ = std::make_unique<CoVisitSource>(store, filters, config_.covisit);
    sources_.push_back({covisit_.get(), config_.covisit_weight, config_.covisit_items});
  }
  if (config_.unseen_trending_weight > 0) {
    unseen_trending_ = std::make_unique<UnseenTrendingSource>(store, filters);
    sources_.push_back({unseen_trending_.get(), config_.unseen_trending_weight, config_.unseen_trending_items});
  }
}

void ListBlender::Observe(UserId user, ItemId item, EpochMillis ts) {
  if (sequence_) sequence_->Observe(user, item, ts);
  if (covisit_) covisit_->Observe(user, item, ts);
}

RecommendationList ListBlender::Blend(UserId user, RecommendationList ranked) const {
  const bool fuse = !sources_.empty();
  const size_t category_cap = diversity_ ? diversity_->config().category_cap : 0;
  const bool cap = config_.max_seen_share < 1.0 || category_cap > 0;
  if (!fuse && !cap) return ranked;
  const store::GraphView& view = store_.view();
  struct Fused {
    std::string item_id;
    uint32_t item;
    float score;
    ReasonSet reasons;
  };
  std::vector<Fused> fused;
  for (size_t r = 0; r < ranked.items.size(); ++r) {
    const auto id = store_.FindItem(ranked.items[r].item_id);
    if (!id) continue;
    fused.push_back({ranked.items[r].item_id, id->value, 1.0f / (config_.rrf_k + r + 1),
                     ranked.items[r].reasons});
  }
  std::vector<Candidate> proposed;
  for (const Weighted& w : sources_) {
    proposed.clear();
    w.source->Propose(user, w.limit, &proposed);
    for (size_t r = 0; r < proposed.size(); ++r) {
      const float add = w.weight / (config_.rrf_k + r + 1);
      const uint32_t item = proposed[r].item;
      auto it = std::find_if(fused.begin(), fused.end(), [&](const Fused& f) { return f.item == item; });
      if (it == fused.end()) {
        fused.push_back({store_.ExternalId(ItemId(item)), item, add, ReasonSet{w.source->reason()}});
      } else {
        it->score += add;
        it->reasons.Add(w.source->reason());
      }
    }
  }
  std::stable_sort(fused.begin(), fused.end(), [](const Fused& a, const Fused& b) { return a.score > b.score; });
  if (category_cap > 0) {
    // model.category_cap: items past their category's cap move behind all others, in order.
    std::vector<std::pair<uint32_t, size_t>> per_category;  // (category, items so far)
    std::vector<Fused> within, past;
    for (Fused& f : fused) {
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
  std::vector<const Fused*> chosen, capped;  // capped: touched items waiting for a place, best first
  size_t seen = 0, next_capped = 0;
  auto seen_allowed = [&] {
    return static_cast<double>(seen + 1) <= std::ceil(config_.max_seen_share * static_cast<double>(chosen.size() + 1) - 1e-9);
  };
  for (const Fused& f : fused) {
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
  for (const Fused* f : chosen) out.items.push_back({f->item_id, f->score, f->reasons});
  if (!out.items.empty() && out.source != ListSource::kPersonalized &&
      std::any_of(out.items.begin(), out.items.end(),
                  [](const ScoredItem& i) { return i.reasons.HasOtherThan(Reason::kTrending); })) {
    out.source = ListSource::kPersonalized;
  }
  return out;
}

}  // namespace recd::rank
