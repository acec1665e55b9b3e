// recd::rank — ListBlender: makes the final list. It gathers the slate, the
// ranker's list (co-occurrence or PinSage) and the candidate sources of this
// folder (open items, sequence, co-visitation, session kNN, unseen, seasonal
// and category trending, new items), and orders it:
//   - by the learnt RankingModel when one serves (SetModel), over
//     FeatureBuilder's features;
//   - else by the hand blend, weighted reciprocal rank fusion: score = sum over
//     sources of weight / (rrf_k + rank), rank 1-based, so sources on different
//     scales mix without calibration.
// The sources are registered in the constructor. Each item keeps the reasons
// of every source that proposed it.
// `max_seen_share` caps the share of items the user already touched (any type)
// in every prefix of the list, top 10 included; past the cap only when nothing
// else is left. Runs on the
// thread that owns the store.
#pragma once

#include <memory>
#include <string>

#include "model/pinsage_ranker.h"
#include "model/rank/features.h"
#include "model/rank/item_attributes.h"
#include "model/rank/new_items.h"
#include "model/rank/open_items.h"
#include "model/rank/ranking_model.h"
#include "model/rank/sequence_source.h"
#include "model/rank/session_knn.h"
#include "model/rank/slate.h"
#include "model/rank/trending_source.h"

namespace recd::rank {

// Defaults chosen on the validation slices of the evaluation matrix
// (docs/evaluation.md, "Candidate sources and the discovery trade-off").
struct BlendConfig {
  float viewed_weight = 10.0f;   // RRF weight of the open items, the ranker's list weighing 1 (0: not a source)
  float rrf_k = 60.0f;           // the fusion constant (Cormack et al. 2009's 60)
  size_t viewed_items = 20;      // open items proposed per list
  float sequence_weight = 1.0f;  // RRF weight of the sequence source (0: off, and not fed)
  size_t sequence_items = 20;    // its candidates per list
  SequenceConfig sequence;
  float covisit_weight = 1.0f;   // RRF weight of the co-visitation source (0: off, and not fed)
  size_t covisit_items = 20;     // its candidates per list
  CoVisitConfig covisit;
  float unseen_trending_weight = 0.0f;  // RRF weight of the unseen trending items (0: off)
  size_t unseen_trending_items = 20;    // its candidates per list
  float session_weight = 0.0f;          // RRF weight of session kNN (0: off, and not fed)
  size_t session_items = 20;            // its candidates per list
  SessionKnnConfig session;
  float seasonal_weight = 0.0f;         // RRF weight of the seasonal source (0: off, and not fed)
  size_t seasonal_items = 20;           // its candidates per list
  SeasonalConfig seasonal;
  float category_trending_weight = 1.0f;  // RRF weight of trending within the user's attribute values (0: off)
  size_t category_trending_items = 20;    // its candidates per list
  CategoryTrendingConfig category_trending;
  float new_items_weight = 0.0f;        // RRF weight of the new items (0: off, and not fed)
  size_t new_items_items = 20;          // its candidates per list
  NewItemsConfig new_items;
  double max_seen_share = 0.5;   // most share of touched items in any prefix of the list; 1: no cap
};

class ListBlender {
 public:
  // `diversity` (may be null): whose model.category_cap the final list keeps too,
  // by its items' categories.
  ListBlender(const store::GraphStore& store, const model::BaselineRanker& filters, BlendConfig config,
              const model::PinSageRanker* diversity = nullptr);
  // Its sources and features hold references to its members: it stays where it was made.
  ListBlender(const ListBlender&) = delete;
  ListBlender& operator=(const ListBlender&) = delete;

  // Keeps the learnt ranker's features from here on (Observe and ObserveItem feed
  // them): call it before the catalogue's ObserveItem calls.
  void EnableFeatures(FeatureConfig config);
  const FeatureBuilder* features() const { return features_.get(); }
  // The model that orders slates from now on (null: the hand blend); needs EnableFeatures.
  void SetModel(std::shared_ptr<const RankingModel> model, std::string version);
  const std::shared_ptr<const RankingModel>& model() const { return model_; }
  const std::string& model_version() const { return model_version_; }
  // Slates the model could not score (the hand blend ordered them).
  uint64_t model_failures() const { return model_failures_; }

  // Whether Observe has anything to feed (callers may skip the id lookups otherwise).
  bool learns() const {
    return sequence_ || covisit_ || session_ || seasonal_ || category_trending_ || new_items_ || features_;
  }
  // Whether anything reads the items' attributes (ObserveItem may be skipped otherwise).
  bool needs_attributes() const { return category_trending_ || new_items_ || features_; }
  // After each commit, every applied interaction in order; after the batch's ObserveItem calls.
  void Observe(const store::EdgeDelta& edge);
  // An item's attributes, at start and whenever they change; `seen` is the
  // event time it was described at (0 at start, from the catalogue).
  void ObserveItem(ItemId item, const Attributes& attributes, EpochMillis seen);
  // The store evicted these users: every per-user state goes before their ids
  // are reused. What others learnt from them (rules, popularity) stays.
  void ForgetUsers(const std::vector<UserId>& users);

  // Every candidate for `user`: the ranker's `ranked` list and each source's, with
  // per-source scores and ranks and the hand blend's score, best blend first.
  Slate Gather(UserId user, const RecommendationList& ranked) const;
  // The final list for `user` from the ranker's `ranked` list (k = ranked.k).
  RecommendationList Blend(UserId user, RecommendationList ranked) const;

  const BlendConfig& config() const { return config_; }
  // A reload (SIGHUP): each source's weight and depth, rrf_k and
  // max_seen_share from `next` (its sources' own settings are not read).
  // A source off at construction holds no state: turning it on is refused
  // (InvalidArgument naming its key, nothing changed); one turned off stays
  // fed, so turning it on again needs no restart.
  Status Reweigh(const BlendConfig& next);

 private:
  struct Weighted {
    const CandidateSource* source;
    SourceSlot slot;
    float weight;
    size_t limit;
  };
  // Orders `slate` by the model; false (slate untouched) when none serves or it fails.
  bool OrderByModel(UserId user, Slate* slate) const;
  const store::GraphStore& store_;
  BlendConfig config_;
  const model::PinSageRanker* diversity_;
  ItemAttributes attributes_;  // fed by ObserveItem when needs_attributes(); read by the sources and features below
  std::unique_ptr<OpenItemsSource> open_items_;
  std::unique_ptr<SequenceSource> sequence_;
  std::unique_ptr<CoVisitSource> covisit_;
  std::unique_ptr<UnseenTrendingSource> unseen_trending_;
  std::unique_ptr<SessionKnnSource> session_;
  std::unique_ptr<SeasonalTrendingSource> seasonal_;
  std::unique_ptr<CategoryTrendingSource> category_trending_;
  std::unique_ptr<NewItemsSource> new_items_;
  // Every source built at construction, with its weight key and where `config_` holds its weight and depth.
  struct Registered {
    const CandidateSource* source;
    SourceSlot slot;
    const char* weight_key;
    float BlendConfig::*weight;
    size_t BlendConfig::*limit;
  };
  // Rebuilds sources_ from the registered sources and config_'s weights.
  void Weigh();
  std::vector<Registered> registered_;
  std::vector<Weighted> sources_;  // those with a weight > 0
  std::unique_ptr<FeatureBuilder> features_;   // null: no learnt ranking
  std::shared_ptr<const RankingModel> model_;  // null: the hand blend orders
  std::string model_version_;
  mutable std::vector<float> rows_, scores_;   // scratch of OrderByModel
  mutable uint64_t model_failures_ = 0;
};

}  // namespace recd::rank
