#include "model/rank/list_blend.h"

#include <algorithm>
#include <cmath>

namespace recd::rank {

RecommendationList ListBlender::Blend(UserId user, RecommendationList ranked) const {
  const bool fuse = config_.viewed_weight > 0;
  const bool cap = config_.max_seen_share < 1.0;
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
  if (fuse) {
    std::vector<Candidate> open;
    open_items_.Propose(user, config_.viewed_items, &open);
    for (size_t r = 0; r < open.size(); ++r) {
      const float add = config_.viewed_weight / (config_.rrf_k + r + 1);
      auto it = std::find_if(fused.begin(), fused.end(), [&](const Fused& f) { return f.item == open[r].item; });
      if (it == fused.end()) {
        fused.push_back({store_.ExternalId(ItemId(open[r].item)), open[r].item, add, ReasonSet{Reason::kViewed}});
      } else {
        it->score += add;
        it->reasons.Add(Reason::kViewed);
      }
    }
  }
  std::stable_sort(fused.begin(), fused.end(), [](const Fused& a, const Fused& b) { return a.score > b.score; });
  const size_t k = ranked.k;
  // The cap: at most floor(share x k) touched items, unless nothing else is left.
  const size_t seen_allowed = static_cast<size_t>(std::floor(config_.max_seen_share * static_cast<double>(k) + 1e-9));
  const bool known = user.value < view.num_users();
  std::vector<const Fused*> chosen, over_cap;
  size_t seen = 0;
  for (const Fused& f : fused) {
    if (chosen.size() == k) break;
    const bool touched = known && view.TypesOf(user, ItemId(f.item)) != 0;
    if (touched && seen >= seen_allowed) {
      over_cap.push_back(&f);
      continue;
    }
    seen += touched;
    chosen.push_back(&f);
  }
  for (const Fused* f : over_cap) {
    if (chosen.size() == k) break;
    chosen.push_back(f);
  }
  RecommendationList out = std::move(ranked);
  out.items.clear();
  for (const Fused* f : chosen) out.items.push_back({f->item_id, f->score, f->reasons});
  if (!out.items.empty() && out.source != ListSource::kPersonalized &&
      std::any_of(out.items.begin(), out.items.end(), [](const ScoredItem& i) { return i.reasons.Has(Reason::kViewed); })) {
    out.source = ListSource::kPersonalized;
  }
  return out;
}

}  // namespace recd::rank
