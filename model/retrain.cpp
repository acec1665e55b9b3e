#include "model/retrain.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/log.h"
#include "base/time.h"
#include "model/registry.h"

namespace recd::model {

namespace {

constexpr double kDayMs = 86'400'000.0;
constexpr double kYearDays = 365.2425;

std::string Days(int64_t ms) {
  std::ostringstream os;
  os.precision(3);
  os << static_cast<double>(ms) / kDayMs << " days";
  return os.str();
}

// A uniform draw in [0, 1) fixed by its inputs (splitmix64).
double Draw(uint64_t a, uint64_t b, uint64_t c, uint64_t seed) {
  uint64_t x = seed ^ (a * 0x9E3779B97F4A7C15ULL) ^ (b * 0xC2B2AE3D27D4EB4FULL) ^ (c * 0x165667B19E3779F9ULL);
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  x ^= x >> 31;
  return static_cast<double>(x >> 11) * 0x1.0p-53;
}

}  // namespace

std::string RetrainTrigger::Check(EpochMillis now, uint64_t events, double window_hr, uint64_t positives,
                                  bool demanded) {
  if (first_seen_ == 0) first_seen_ = now;
  if (level_ < 0 && positives >= positives_at_swap_ + config_.drift_min_positives && positives_at_swap_ > 0) {
    level_ = window_hr;  // the level the new model holds once its lists are being scored
  }
  if (demanded) return "on demand";
  const EpochMillis since = last_training_ ? last_training_ : first_seen_;
  if (config_.interval_ms > 0 && now - since >= config_.interval_ms) {
    return "interval: " + Days(now - since) + " of event time since " +
           (last_training_ ? "the last training" : "the first event");
  }
  const bool gap_passed = last_training_ == 0 || now - last_training_ >= config_.min_gap_ms;
  if (!gap_passed) return "";
  if (config_.every_events > 0 && events - events_at_training_ >= config_.every_events) {
    return "event count: " + std::to_string(events - events_at_training_) + " events since the last training";
  }
  if (config_.drift_fraction > 0 && level_ > 0 && window_hr < level_ * (1 - config_.drift_fraction)) {
    std::ostringstream os;
    os << "drift: window HR@10 " << window_hr << " is below " << (1 - config_.drift_fraction) << " x its level "
       << level_ << " after the last swap";
    return os.str();
  }
  return "";
}

void RetrainTrigger::OnTrainingStarted(EpochMillis now, uint64_t events) {
  last_training_ = now;
  events_at_training_ = events;
}

void RetrainTrigger::OnSwap(uint64_t positives) {
  positives_at_swap_ = std::max<uint64_t>(positives, 1);
  level_ = -1;
}

std::vector<TimedInteraction> SelectTrainingInteractions(const std::vector<TimedInteraction>& all, EpochMillis now,
                                                         const RetrainConfig& config, uint64_t seed,
                                                         WindowStats* stats) {
  WindowStats local;
  std::vector<TimedInteraction> kept;
  for (const TimedInteraction& x : all) {
    const double age = std::max(0.0, static_cast<double>(now - x.ts) / kDayMs);
    double recent = 0, seasonal = 0;
    if (age <= config.window_days) recent = config.half_life_days > 0 ? std::exp2(-age / config.half_life_days) : 1.0;
    if (config.seasonal_weight > 0) {
      // `offset` > 0: the event came that many days before today's date k years ago.
      for (int k = 1; k * kYearDays <= age + config.seasonal_after_days; ++k) {
        const double offset = age - k * kYearDays;
        if (offset <= config.seasonal_before_days && offset >= -config.seasonal_after_days) {
          seasonal = config.seasonal_weight;
          break;
        }
      }
    }
    const double keep = std::max(recent, seasonal);
    if (keep <= 0 || Draw(x.user, x.item, static_cast<uint64_t>(x.ts), seed) >= keep) {
      ++local.dropped;
      continue;
    }
    ++(seasonal > recent ? local.seasonal : local.recent);
    kept.push_back(x);
  }
  if (stats) *stats = local;
  return kept;
}

Result<RetrainOutcome> RetrainOnce(const TrainingSet& set, const RetrainRequest& request, const RetrainConfig& config) {
  const auto t0 = std::chrono::steady_clock::now();
  RetrainOutcome out;
  out.trigger = request.trigger;
  out.now = request.now;
  const std::vector<TimedInteraction> selected =
      SelectTrainingInteractions(set.interactions, request.now, config, static_cast<uint64_t>(request.now), &out.window);
  out.interactions = selected.size();

  // The active model: the warm start's weights and recipe, and the yardstick.
  std::optional<TrainedModel> active;
  if (!request.active_version.empty()) {
    auto loaded = LoadModel(request.model_root + "/" + request.active_version, request.device);
    if (!loaded.ok()) {
      RECD_WARN("retrain: the active model " << request.active_version << " does not load (" << loaded.status().ToString()
                                             << "); the candidate trains from scratch and is compared with nothing");
    } else {
      active = std::move(*loaded);
    }
  }
  const bool warm = config.warm_start && active.has_value();
  PinSageRecipe recipe = warm ? active->recipe : config.recipe;
  recipe.training = config.recipe.training;  // the retraining's own budget either way
  recipe.training.cancel = request.cancel;
  recipe.pairs.validation_fraction = config.validation_fraction;
  if (config.pair_window_ms > 0) recipe.pairs.window_ms = config.pair_window_ms;
  recipe.device = request.device;
  TrainStart start;
  if (warm) {
    start.attribute_fields = active->attribute_fields;
    start.init_weights = request.model_root + "/" + request.active_version + "/model.pt";
  }

  // Newest pairs: the older half stops training early, the newer half decides promotion.
  PositivePairs pairs = MakePositivePairs(selected, recipe.pairs);
  if (pairs.train.empty()) {
    return Status::InvalidArgument("retrain: no training pairs in the window (" + std::to_string(selected.size()) +
                                      " interactions selected of " + std::to_string(set.interactions.size()) +
                                      "); widen retrain.window_days or wait for more events");
  }
  const size_t half = pairs.validation.size() / 2;
  std::vector<std::pair<ItemId, ItemId>> promotion(pairs.validation.begin() + static_cast<ptrdiff_t>(half),
                                                   pairs.validation.end());
  pairs.validation.resize(half);

  auto candidate = TrainPinSage(set, recipe, pairs, start);
  if (!candidate.ok()) return candidate.status();
  out.candidate_hr = PairHitRate(candidate->embeddings, candidate->dim(), promotion);
  if (active) {
    const Sampler sampler(set.graph, active->recipe.sampler);
    auto embeddings = active->net->EmbedAll(sampler, EncodeFeaturesFor(*active, set), 8192, request.cancel);
    if (!embeddings.ok()) return embeddings.status();
    out.active_hr = PairHitRate(*embeddings, active->dim(), promotion);
  }

  std::ostringstream why;
  if (!active) {
    out.promoted = true;
    why << "promoted: no active model";
  } else if (promotion.empty()) {
    why << "kept: no newest pairs to compare on";
  } else if (out.candidate_hr >= out.active_hr * (1 + config.promote_margin) && out.candidate_hr > 0) {
    out.promoted = true;
    why << "promoted: HR@10 " << out.candidate_hr << " >= " << out.active_hr << " x " << (1 + config.promote_margin)
        << " (active " << request.active_version << ")";
  } else {
    why << "kept on disk, not promoted: HR@10 " << out.candidate_hr << " < " << out.active_hr << " x "
        << (1 + config.promote_margin) << " (active " << request.active_version << ")";
  }
  out.decision = why.str();

  EpochMillis oldest = request.now;
  for (const TimedInteraction& x : selected) oldest = std::min(oldest, x.ts);
  const nlohmann::json lineage = {
      {"parent", request.active_version},
      {"trigger", request.trigger},
      {"warm_start", warm},
      {"snapshot_event_time", FormatRfc3339(request.now)},
      {"window",
       {{"from", FormatRfc3339(oldest)}, {"until", FormatRfc3339(request.now)}, {"half_life_days", config.half_life_days},
        {"window_days", config.window_days}, {"seasonal_weight", config.seasonal_weight},
        {"seasonal_before_days", config.seasonal_before_days}, {"seasonal_after_days", config.seasonal_after_days}}},
      {"interactions",
       {{"snapshot", set.interactions.size()}, {"recent", out.window.recent}, {"seasonal", out.window.seasonal}}},
      {"pairs", {{"train", pairs.train.size()}, {"early_stopping", pairs.validation.size()}, {"promotion", promotion.size()}}}};
  // The last point a stop can cancel at: from here the version is written and
  // LATEST may move, which a crash at any instant leaves consistent.
  if (request.cancel && request.cancel->load()) return Status::Aborted("retraining cancelled before its version was written");
  auto dir = WriteModelVersion(request.model_root, *candidate, "retrain of the daemon's store", /*make_latest=*/false,
                               lineage.dump());
  if (!dir.ok()) return dir.status();
  out.version = candidate->version;
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const nlohmann::json decision = {{"promoted", out.promoted},
                                   {"decision", out.decision},
                                   {"candidate_hr@10", out.candidate_hr},
                                   {"active_hr@10", out.active_hr},
                                   {"active_version", request.active_version},
                                   {"promotion_pairs", promotion.size()},
                                   {"training_seconds", out.seconds}};
  // LATEST moves before the decision is written: a crash between leaves an
  // active version without decision.json, never a "promoted" one LATEST skipped.
  if (out.promoted) RECD_RETURN_IF_ERROR(ActivateVersion(request.model_root, out.version));
  RECD_RETURN_IF_ERROR(WriteDecision(request.model_root, out.version, decision.dump(2)));
  const std::vector<std::string> removed =
      PruneVersions(request.model_root, config.keep_versions, {out.version, request.active_version});
  for (const std::string& v : removed) RECD_INFO("retrain: removed old model version " << v);
  return out;
}

Retrainer::Retrainer(RetrainConfig config, int nice)
    : config_(std::move(config)),
      thread_("retrain", nice, [this](std::pair<RetrainRequest, SnapshotLoader>& job, const std::atomic<bool>& cancel) {
        job.first.cancel = &cancel;
        auto set = job.second();
        if (cancel.load()) return Result<RetrainOutcome>(Status::Aborted("retraining cancelled while reading its snapshot"));
        return set.ok() ? RetrainOnce(*set, job.first, config_) : Result<RetrainOutcome>(set.status());
      }) {}

}  // namespace recd::model
