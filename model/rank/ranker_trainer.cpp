#include "model/rank/ranker_trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string_view>

#include "base/log.h"

namespace recd::rank {

void SampleBuffer::Add(SampleGroup group) {
  if (max_groups_ == 0) return;
  if (groups_.size() == max_groups_) groups_.pop_front();
  groups_.push_back(std::make_shared<const SampleGroup>(std::move(group)));
  ++added_;
}

namespace {

constexpr char kSamplesFile[] = "samples.bin";
constexpr char kSamplesMagic[8] = {'R', 'E', 'C', 'D', 'S', 'M', 'P', '1'};

// The feature layout a samples file was written under: its names, hashed.
uint64_t LayoutHash() {
  std::string names;
  for (const char* n : kFeatureNames) names.append(n).push_back('\n');
  return Fnv1a64(names);
}

// Appends the bytes of `v` to a file being written, hashing them on the way.
class HashedWriter {
 public:
  explicit HashedWriter(RankerFileWriter& out) : out_(out) {}
  template <typename T>
  Status Put(const T& v) {
    return Write(&v, sizeof v);
  }
  Status Write(const void* data, size_t size) {
    hash_ = Fnv1a64(std::string_view(static_cast<const char*>(data), size), hash_);
    return out_.Append(data, size);
  }
  uint64_t hash() const { return hash_; }

 private:
  RankerFileWriter& out_;
  uint64_t hash_ = kFnvOffset;
};

// Reads a T at `*at` when `bytes` holds one there.
template <typename T>
bool Get(std::string_view bytes, size_t* at, T* v) {
  if (bytes.size() - *at < sizeof(T)) return false;
  std::memcpy(v, bytes.data() + *at, sizeof(T));
  *at += sizeof(T);
  return true;
}

}  // namespace

// Layout (this machine's byte order): magic, u32 features, u64 layout hash,
// u64 groups; per group i64 ts, u32 taken, f32 weight, u32 rows, rows x
// features f32; then u64 FNV-1a of everything before it.
Status SaveRankerSamples(const std::string& root, const std::vector<std::shared_ptr<const SampleGroup>>& groups) {
  auto file = RankerFileWriter::Open(root, kSamplesFile);
  if (!file.ok()) return file.status();
  HashedWriter out(**file);
  RECD_RETURN_IF_ERROR(out.Write(kSamplesMagic, sizeof kSamplesMagic));
  RECD_RETURN_IF_ERROR(out.Put(static_cast<uint32_t>(kNumFeatures)));
  RECD_RETURN_IF_ERROR(out.Put(LayoutHash()));
  RECD_RETURN_IF_ERROR(out.Put(static_cast<uint64_t>(groups.size())));
  for (const auto& g : groups) {
    RECD_RETURN_IF_ERROR(out.Put(static_cast<int64_t>(g->ts)));
    RECD_RETURN_IF_ERROR(out.Put(g->taken));
    RECD_RETURN_IF_ERROR(out.Put(g->weight));
    RECD_RETURN_IF_ERROR(out.Put(static_cast<uint32_t>(g->rows.size() / kNumFeatures)));
    RECD_RETURN_IF_ERROR(out.Write(g->rows.data(), g->rows.size() * sizeof(float)));
  }
  const uint64_t checksum = out.hash();
  RECD_RETURN_IF_ERROR((*file)->Append(&checksum, sizeof checksum));
  return (*file)->Commit();
}

Result<std::vector<SampleGroup>> LoadRankerSamples(const std::string& root) {
  const std::string path = root + "/" + kSamplesFile;
  std::error_code missing;
  if (!std::filesystem::exists(path, missing) && !missing) return Status::NotFound("no " + path);
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IoError("cannot read " + path + ": " + std::strerror(errno));
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return ParseRankerSamples(bytes, path);
}

Result<std::vector<SampleGroup>> ParseRankerSamples(std::string_view bytes, const std::string& path) {
  auto refused = [&](const std::string& why) { return Status::Corruption(path + " refused: " + why); };
  uint64_t checksum = 0;
  if (bytes.size() < sizeof checksum) return refused("truncated");
  const std::string_view body(bytes.data(), bytes.size() - sizeof checksum);
  std::memcpy(&checksum, bytes.data() + body.size(), sizeof checksum);
  if (Fnv1a64(body) != checksum) return refused("its checksum does not match (a torn or corrupt file)");
  if (body.substr(0, sizeof kSamplesMagic) != std::string_view(kSamplesMagic, sizeof kSamplesMagic)) {
    return refused("not a samples file");
  }
  size_t at = sizeof kSamplesMagic;
  uint32_t features = 0;
  uint64_t layout = 0, count = 0;
  if (!Get(body, &at, &features) || !Get(body, &at, &layout) || !Get(body, &at, &count)) return refused("truncated header");
  if (features != kNumFeatures || layout != LayoutHash()) {
    return refused("written under another feature layout (" + std::to_string(features) + " features); this build has " +
                   std::to_string(kNumFeatures));
  }
  std::vector<SampleGroup> groups;
  for (uint64_t n = 0; n < count; ++n) {
    SampleGroup g;
    int64_t ts = 0;
    uint32_t rows = 0;
    if (!Get(body, &at, &ts) || !Get(body, &at, &g.taken) || !Get(body, &at, &g.weight) || !Get(body, &at, &rows) ||
        (body.size() - at) / (sizeof(float) * kNumFeatures) < rows || g.taken >= rows || !std::isfinite(g.weight) ||
        g.weight < 0) {
      return refused("group " + std::to_string(n) + " is malformed");
    }
    g.ts = ts;
    g.rows.resize(static_cast<size_t>(rows) * kNumFeatures);
    std::memcpy(g.rows.data(), body.data() + at, g.rows.size() * sizeof(float));
    at += g.rows.size() * sizeof(float);
    groups.push_back(std::move(g));
  }
  if (at != body.size()) return refused("trailing bytes after the last group");
  return groups;
}

namespace {

// The rows of `group` training keeps: the item taken, and `negatives` others,
// half the first by hand-blend order (slates are gathered in that order: the
// hard negatives) and half spread evenly over the rest. 0: every row.
std::vector<size_t> TrainingRows(const SampleGroup& group, size_t negatives) {
  const size_t rows = group.rows.size() / kNumFeatures;
  std::vector<size_t> keep;
  if (negatives == 0 || rows <= negatives + 1) {
    for (size_t r = 0; r < rows; ++r) keep.push_back(r);
    return keep;
  }
  const size_t hard = negatives / 2, spread = negatives - hard;
  std::vector<size_t> others;
  for (size_t r = 0; r < rows; ++r) {
    if (r != group.taken) others.push_back(r);
  }
  for (size_t n = 0; n < hard; ++n) keep.push_back(others[n]);
  const size_t rest = others.size() - hard;
  for (size_t n = 0; n < spread; ++n) keep.push_back(others[hard + n * rest / spread]);
  keep.push_back(group.taken);
  std::sort(keep.begin(), keep.end());
  return keep;
}

// `groups` as ranking data (`negatives` as TrainingRows); weights decay with age at `now`.
RankingData ToData(const std::vector<const SampleGroup*>& groups, EpochMillis now, double half_life_days,
                   size_t negatives) {
  RankingData data;
  data.num_features = kNumFeatures;
  for (const SampleGroup* group : groups) {
    const std::vector<size_t> rows = TrainingRows(*group, negatives);
    for (size_t r : rows) {
      const auto row = group->rows.begin() + static_cast<ptrdiff_t>(r * kNumFeatures);
      data.rows.insert(data.rows.end(), row, row + kNumFeatures);
      data.labels.push_back(r == group->taken ? 1.0f : 0.0f);
    }
    data.groups.push_back(static_cast<uint32_t>(rows.size()));
    const double age_days = static_cast<double>(std::max<EpochMillis>(0, now - group->ts)) / 86'400'000.0;
    data.weights.push_back(group->weight *
                           (half_life_days > 0 ? static_cast<float>(std::exp2(-age_days / half_life_days)) : 1.0f));
  }
  return data;
}

Result<double> ModelHitRate(const RankingModel& model, const RankingData& data) {
  std::vector<float> scores;
  RECD_RETURN_IF_ERROR(model.Predict(data.rows.data(), data.num_rows(), &scores));
  return GroupHitRate(data, scores, 0, data.groups.size());
}

}  // namespace

static Result<RankerOutcome> TrainRankerOrThrow(const RankerJob& job, const RankerModelConfig& config,
                                                const std::atomic<bool>* cancel);

Result<RankerOutcome> TrainRanker(const RankerJob& job, const RankerModelConfig& config,
                                  const std::atomic<bool>* cancel) {
  if (job.keep_samples) {
    // Before training: a failed or cancelled training still keeps its slates.
    if (Status kept = SaveRankerSamples(config.dir, job.groups); !kept.ok()) {
      RECD_WARN("ranker: the labelled slates were not kept; a restart starts with an empty buffer: " << kept.ToString());
    }
  }
  try {
    return TrainRankerOrThrow(job, config, cancel);
  } catch (const std::exception& e) {
    return Status::Internal(std::string("ranker training: ") + e.what());
  }
}

static Result<RankerOutcome> TrainRankerOrThrow(const RankerJob& job, const RankerModelConfig& config,
                                                const std::atomic<bool>* cancel) {
  const auto start = std::chrono::steady_clock::now();
  const size_t total = job.groups.size();
  const size_t validation = static_cast<size_t>(std::ceil(static_cast<double>(total) * config.validation_fraction));
  if (total < config.min_groups || validation == 0 || validation >= total) {
    return Status::InvalidArgument("ranker training needs at least " + std::to_string(config.min_groups) +
                                   " labelled slates and a validation share that leaves both parts non-empty (have " +
                                   std::to_string(total) + ")");
  }
  const size_t split = total - validation;
  std::vector<const SampleGroup*> train_groups, held_out_groups;
  for (size_t g = 0; g < total; ++g) {
    // Held out: the newest share, less what the active model trained on (it would score them unfairly well).
    if (g < split) {
      train_groups.push_back(job.groups[g].get());
    } else if (job.groups[g]->ts > job.active_trained_until) {
      held_out_groups.push_back(job.groups[g].get());
    }
  }
  const RankingData train = ToData(train_groups, job.now, config.half_life_days, config.train_negatives);
  const RankingData held_out = ToData(held_out_groups, job.now, 0, 0);
  auto model = RankingModel::Train(train, config.params, cancel);  // freed on this thread
  if (!model.ok()) return model.status();

  RankerManifest manifest;
  manifest.parent = job.active_version.empty() ? "blend" : job.active_version;
  manifest.trigger = job.trigger;
  manifest.snapshot_event_time = job.now;
  manifest.trained_until = job.groups[split - 1]->ts;
  manifest.train_groups = split;
  manifest.validation_groups = held_out_groups.size();
  auto candidate_hr = ModelHitRate(**model, held_out);
  if (!candidate_hr.ok()) return candidate_hr.status();
  manifest.candidate_hr = *candidate_hr;
  if (!job.active_version.empty()) {
    auto active = LoadRankerVersion(config.dir, job.active_version);  // a booster of this thread's own
    if (!active.ok()) return active.status();
    auto active_hr = ModelHitRate(**active, held_out);
    if (!active_hr.ok()) return active_hr.status();
    manifest.active_hr = *active_hr;
  } else {
    // The hand blend orders by its fused score, one of the features.
    std::vector<float> blend(held_out.num_rows());
    for (size_t r = 0; r < blend.size(); ++r) blend[r] = held_out.rows[r * kNumFeatures + kBlendFeature];
    manifest.active_hr = GroupHitRate(held_out, blend, 0, held_out.groups.size());
  }
  const double bar = manifest.active_hr * (1.0 + config.promote_margin);
  // Fewer held-out slates than this decide nothing (a ranker trained just before has seen the rest).
  const size_t enough = std::max<size_t>(10, validation / 4);
  manifest.promoted = held_out_groups.size() >= enough && manifest.candidate_hr > 0 && manifest.candidate_hr >= bar;
  std::ostringstream decision;
  decision << (manifest.promoted ? "promoted" : "kept " + manifest.parent) << ": HR@10 " << manifest.candidate_hr
           << " vs " << manifest.parent << " " << manifest.active_hr << " on the newest " << held_out_groups.size()
           << " labelled slates (needs >= " << bar;
  if (held_out_groups.size() < enough) decision << ", and at least " << enough << " slates newer than its training";
  decision << ")";
  manifest.decision = decision.str();
  manifest.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  auto bytes = (*model)->Serialize();
  if (!bytes.ok()) return bytes.status();
  auto version = WriteRankerVersion(config.dir, *bytes, manifest);
  if (!version.ok()) return version.status();
  manifest.version = *version;
  auto served = RankingModel::Deserialize(*bytes, kNumFeatures);  // the copy the pipeline thread will own
  if (!served.ok()) return served.status();
  return RankerOutcome{manifest, *served};
}

RankerTrainer::RankerTrainer(RankerModelConfig config)
    : config_(std::move(config)),
      thread_("ranker", config_.thread_nice,
              [this](RankerJob& job, const std::atomic<bool>& cancel) { return TrainRanker(job, config_, &cancel); }) {}

}  // namespace recd::rank
