#include "model/trained_model.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <unordered_set>

#include "base/durable_file.h"
#include "base/text.h"
#include "base/time.h"

namespace recd::model {

using nlohmann::json;

// Field lists for nlohmann's (de)serialisers: model.json holds every setting by name.
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(PinSageConfig, id_buckets, id_dim, attribute_fields, attribute_buckets,
                                   attribute_dim, content_dim, hidden_dim, output_dim, layers, seed)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(SamplerConfig, walks_per_node, walk_length, restart_probability, top_t, layers,
                                   threads, seed)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(PairConfig, window_ms, next_items, validation_fraction)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(TrainingConfig, epochs, batch_size, random_negatives, max_hard_negatives,
                                   hard_walks, hard_rank_begin, hard_rank_end, margin, learning_rate, patience,
                                   max_batches_per_epoch, max_validation_pairs, producer_threads, prefetch_batches,
                                   seed)

namespace {

json ToJson(const PinSageRecipe& r, const std::vector<std::string>& fields) {
  return {{"model", r.model}, {"sampler", r.sampler}, {"pairs", r.pairs}, {"training", r.training},
          {"attribute_fields", fields}};
}

void FromJson(const json& j, PinSageRecipe* r, std::vector<std::string>* fields) {
  j.at("model").get_to(r->model);
  j.at("sampler").get_to(r->sampler);
  j.at("pairs").get_to(r->pairs);
  j.at("training").get_to(r->training);
  j.at("attribute_fields").get_to(*fields);
}

json ToJson(const TrainingReport& report) {
  json epochs = json::array();
  for (const auto& e : report.epochs) {
    epochs.push_back({{"epoch", e.epoch}, {"batches", e.batches}, {"pairs", e.pairs}, {"hard_negatives", e.hard_negatives},
                      {"loss", e.loss}, {"validation_hr@10", e.validation_hr_at_10}, {"seconds", e.seconds},
                      {"device_wait_seconds", e.device_wait_seconds}, {"sampling_seconds", e.sampling_seconds}});
  }
  return {{"best_epoch", report.best_epoch}, {"best_validation_hr@10", report.best_validation_hr_at_10},
          {"stopped_early", report.stopped_early}, {"epochs", epochs}};
}

bool IsDir(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

Status WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) return Status::IoError("cannot write " + path);
  return Status::Ok();
}

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot read " + path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The next free version number under root (v0001, v0002, ...).
Result<int> NextVersion(const std::string& root) {
  DIR* d = opendir(root.c_str());
  if (!d) return Status::IoError("cannot list " + root);
  int highest = 0;
  while (dirent* e = readdir(d)) {
    int n = 0;
    if (std::sscanf(e->d_name, "v%d", &n) == 1 && std::string(e->d_name).size() == 5) highest = std::max(highest, n);
  }
  closedir(d);
  return highest + 1;
}

}  // namespace

Result<TrainedModel> TrainPinSage(const TrainingSet& set, PinSageRecipe recipe,
                                  const std::function<void(const EpochReport&)>& on_epoch) {
  return TrainPinSage(set, recipe, MakePositivePairs(set.interactions, recipe.pairs), TrainStart{}, on_epoch);
}

Result<TrainedModel> TrainPinSage(const TrainingSet& set, PinSageRecipe recipe, const PositivePairs& pairs,
                                  const TrainStart& start, const std::function<void(const EpochReport&)>& on_epoch) {
  if (set.item_ids.empty()) return Status::InvalidArgument("no items to train on");
  TrainedModel out;
  out.attribute_fields = start.attribute_fields.empty() ? AttributeFields(set) : start.attribute_fields;
  recipe.model.attribute_fields = static_cast<int64_t>(out.attribute_fields.size());
  if (start.init_weights.empty()) recipe.model.content_dim = static_cast<int64_t>(ContentDim(set));
  recipe.model.layers = recipe.sampler.layers;
  const NodeFeatures features = EncodeFeatures(set, out.attribute_fields, recipe.model.id_buckets,
                                               recipe.model.attribute_buckets, static_cast<size_t>(recipe.model.content_dim));
  const Sampler sampler(set.graph, recipe.sampler);
  auto net = PinSage::Create(recipe.model, recipe.device);
  if (!net.ok()) return net.status();
  out.net = std::move(*net);
  if (!start.init_weights.empty()) RECD_RETURN_IF_ERROR(out.net->Load(start.init_weights));
  auto report = Train(*out.net, sampler, features, pairs, recipe.training, on_epoch);
  if (!report.ok()) return report.status();
  out.report = std::move(*report);
  out.embeddings = std::move(out.report.embeddings);  // training embedded the catalogue already
  AnnConfig ann_config;
  ann_config.initial_capacity = std::max<size_t>(1024, set.item_ids.size());
  auto ann = AnnIndex::Create(static_cast<size_t>(recipe.model.output_dim), ann_config);
  if (!ann.ok()) return ann.status();
  out.ann = std::move(*ann);
  const size_t dim = static_cast<size_t>(recipe.model.output_dim);
  for (size_t i = 0; i < set.item_ids.size(); ++i) {
    std::vector<float> v(out.embeddings.begin() + static_cast<ptrdiff_t>(i * dim),
                         out.embeddings.begin() + static_cast<ptrdiff_t>((i + 1) * dim));
    RECD_RETURN_IF_ERROR(out.ann->Upsert(ItemId(static_cast<uint32_t>(i)), v));
  }
  out.item_ids = set.item_ids;
  out.recipe = recipe;
  return out;
}

int64_t UnseenItemBucket(int64_t id_buckets) { return HashBucket("\x01recd:unseen-item", id_buckets); }

NodeFeatures EncodeFeaturesFor(const TrainedModel& model, const TrainingSet& set) {
  const PinSageConfig& m = model.recipe.model;
  NodeFeatures f = EncodeFeatures(set, model.attribute_fields, m.id_buckets, m.attribute_buckets,
                                  static_cast<size_t>(m.content_dim));
  const std::unordered_set<std::string> trained(model.item_ids.begin(), model.item_ids.end());
  for (size_t i = 0; i < set.item_ids.size(); ++i) {
    if (!trained.count(set.item_ids[i])) f.id_bucket[i] = UnseenItemBucket(m.id_buckets);
  }
  return f;
}

Status WriteLatest(const std::string& root, const std::string& version) {
  return ReplaceFileDurably(root + "/LATEST", version + "\n");
}

Result<std::string> WriteModelVersion(const std::string& root, TrainedModel& model, const std::string& source,
                                      bool make_latest, const std::string& lineage_json) {
  if (!IsDir(root) && mkdir(root.c_str(), 0755) != 0) return Status::IoError("cannot create model directory " + root);
  auto number = NextVersion(root);
  if (!number.ok()) return number.status();
  char name[16];
  std::snprintf(name, sizeof name, "v%04d", *number);
  const std::string final_dir = root + "/" + name;
  // Not the pid alone: where pids repeat (pid 1 in a container) a killed
  // writer's directory would block or be mistaken for a live one's.
  const std::string tmp = root + "/.tmp-" + name + "-" + UniqueSuffix();
  if (mkdir(tmp.c_str(), 0755) != 0) return Status::IoError("cannot create " + tmp);
  json manifest = ToJson(model.recipe, model.attribute_fields);
  manifest["version"] = name;
  manifest["items"] = model.item_ids.size();
  manifest["source"] = source;
  manifest["created_at"] = FormatRfc3339(WallClockMillis());
  if (!lineage_json.empty()) {
    try {
      manifest["lineage"] = json::parse(lineage_json);
    } catch (const json::exception& e) {
      return Status::InvalidArgument(std::string("lineage is not JSON: ") + e.what());
    }
  }
  RECD_RETURN_IF_ERROR(model.net->Save(tmp + "/model.pt"));
  RECD_RETURN_IF_ERROR(WriteFile(tmp + "/model.json", manifest.dump(2) + "\n"));
  RECD_RETURN_IF_ERROR(WriteFile(tmp + "/metrics.json", ToJson(model.report).dump(2) + "\n"));
  std::string ids;
  for (const auto& id : model.item_ids) ids += id + "\n";
  RECD_RETURN_IF_ERROR(WriteFile(tmp + "/items.txt", ids));
  RECD_RETURN_IF_ERROR(WriteFile(tmp + "/embeddings.f32",
                                 std::string(reinterpret_cast<const char*>(model.embeddings.data()),
                                             model.embeddings.size() * sizeof(float))));
  RECD_RETURN_IF_ERROR(model.ann->Save(tmp + "/ann.hnsw"));
  // Every file on disk before the name appears, and the name before LATEST can point at it.
  RECD_RETURN_IF_ERROR(SyncTree(tmp));
  if (std::rename(tmp.c_str(), final_dir.c_str()) != 0) return Status::IoError("cannot rename " + tmp + " to " + final_dir);
  SyncDir(root);
  model.version = name;
  if (make_latest) RECD_RETURN_IF_ERROR(WriteLatest(root, name));
  return final_dir;
}

std::string LatestVersion(const std::string& root) {
  auto latest = ReadFile(root + "/LATEST");
  if (!latest.ok()) return "";
  return TrimSpace(*latest);
}

Result<TrainedModel> LoadModel(const std::string& path, const std::string& device) {
  std::string dir = path;
  if (const std::string latest = LatestVersion(path); !latest.empty()) dir = path + "/" + latest;
  TrainedModel m;
  auto manifest_text = ReadFile(dir + "/model.json");
  if (!manifest_text.ok()) return Status::NotFound(dir + " is neither a model version nor a model root (no model.json or LATEST)");
  try {
    const json manifest = json::parse(*manifest_text);
    FromJson(manifest, &m.recipe, &m.attribute_fields);
    m.version = manifest.at("version");
  } catch (const json::exception& e) {
    return Status::InvalidArgument(dir + "/model.json: " + e.what());
  }
  m.recipe.device = device;
  auto net = PinSage::Create(m.recipe.model, device);
  if (!net.ok()) return net.status();
  m.net = std::move(*net);
  RECD_RETURN_IF_ERROR(m.net->Load(dir + "/model.pt"));
  auto ids = ReadFile(dir + "/items.txt");
  if (!ids.ok()) return ids.status();
  for (size_t start = 0; start < ids->size();) {
    const size_t end = ids->find('\n', start);
    m.item_ids.push_back(ids->substr(start, end - start));
    start = end == std::string::npos ? ids->size() : end + 1;
  }
  auto raw = ReadFile(dir + "/embeddings.f32");
  if (!raw.ok()) return raw.status();
  if (raw->size() != m.item_ids.size() * m.dim() * sizeof(float)) {
    return Status::InvalidArgument(dir + "/embeddings.f32 holds " + std::to_string(raw->size()) + " bytes, expected " +
                                   std::to_string(m.item_ids.size()) + " items x " + std::to_string(m.dim()) + " floats");
  }
  m.embeddings.resize(m.item_ids.size() * m.dim());
  std::memcpy(m.embeddings.data(), raw->data(), raw->size());
  AnnConfig ann_config;
  ann_config.initial_capacity = std::max<size_t>(1024, m.item_ids.size());
  auto ann = AnnIndex::Load(dir + "/ann.hnsw", m.dim(), ann_config);
  if (!ann.ok()) return ann.status();
  m.ann = std::move(*ann);
  return m;
}

}  // namespace recd::model
