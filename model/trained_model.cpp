#include "model/trained_model.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "base/time.h"

namespace recd::model {
namespace {

using nlohmann::json;

json ToJson(const PinSageRecipe& r, const std::vector<std::string>& fields) {
  const auto& m = r.model;
  const auto& s = r.sampler;
  const auto& p = r.pairs;
  const auto& t = r.training;
  return {{"model", {{"id_buckets", m.id_buckets}, {"id_dim", m.id_dim}, {"attribute_fields", m.attribute_fields},
                     {"attribute_buckets", m.attribute_buckets}, {"attribute_dim", m.attribute_dim},
                     {"content_dim", m.content_dim}, {"hidden_dim", m.hidden_dim}, {"output_dim", m.output_dim},
                     {"layers", m.layers}, {"seed", m.seed}}},
          {"sampler", {{"walks_per_node", s.walks_per_node}, {"walk_length", s.walk_length},
                       {"restart_probability", s.restart_probability}, {"top_t", s.top_t}, {"layers", s.layers},
                       {"seed", s.seed}}},
          {"pairs", {{"window_ms", p.window_ms}, {"next_items", p.next_items}, {"validation_fraction", p.validation_fraction}}},
          {"training", {{"epochs", t.epochs}, {"batch_size", t.batch_size}, {"random_negatives", t.random_negatives},
                        {"max_hard_negatives", t.max_hard_negatives}, {"hard_walks", t.hard_walks},
                        {"hard_rank_begin", t.hard_rank_begin}, {"hard_rank_end", t.hard_rank_end},
                        {"margin", t.margin}, {"learning_rate", t.learning_rate}, {"patience", t.patience},
                        {"max_batches_per_epoch", t.max_batches_per_epoch}, {"seed", t.seed}}},
          {"attribute_fields", fields}};
}

void FromJson(const json& j, PinSageRecipe* r, std::vector<std::string>* fields) {
  const auto& m = j.at("model");
  r->model.id_buckets = m.at("id_buckets");
  r->model.id_dim = m.at("id_dim");
  r->model.attribute_fields = m.at("attribute_fields");
  r->model.attribute_buckets = m.at("attribute_buckets");
  r->model.attribute_dim = m.at("attribute_dim");
  r->model.content_dim = m.at("content_dim");
  r->model.hidden_dim = m.at("hidden_dim");
  r->model.output_dim = m.at("output_dim");
  r->model.layers = m.at("layers");
  r->model.seed = m.at("seed");
  const auto& s = j.at("sampler");
  r->sampler.walks_per_node = s.at("walks_per_node");
  r->sampler.walk_length = s.at("walk_length");
  r->sampler.restart_probability = s.at("restart_probability");
  r->sampler.top_t = s.at("top_t");
  r->sampler.layers = s.at("layers");
  r->sampler.seed = s.at("seed");
  const auto& p = j.at("pairs");
  r->pairs.window_ms = p.at("window_ms");
  r->pairs.next_items = p.at("next_items");
  r->pairs.validation_fraction = p.at("validation_fraction");
  const auto& t = j.at("training");
  r->training.epochs = t.at("epochs");
  r->training.batch_size = t.at("batch_size");
  r->training.random_negatives = t.at("random_negatives");
  r->training.max_hard_negatives = t.at("max_hard_negatives");
  r->training.hard_walks = t.at("hard_walks");
  r->training.hard_rank_begin = t.at("hard_rank_begin");
  r->training.hard_rank_end = t.at("hard_rank_end");
  r->training.margin = t.at("margin");
  r->training.learning_rate = t.at("learning_rate");
  r->training.patience = t.at("patience");
  r->training.max_batches_per_epoch = t.at("max_batches_per_epoch");
  r->training.seed = t.at("seed");
  *fields = j.at("attribute_fields").get<std::vector<std::string>>();
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
  if (set.item_ids.empty()) return Status::InvalidArgument("no items to train on");
  TrainedModel out;
  out.attribute_fields = AttributeFields(set);
  recipe.model.attribute_fields = static_cast<int64_t>(out.attribute_fields.size());
  recipe.model.content_dim = static_cast<int64_t>(ContentDim(set));
  recipe.model.layers = recipe.sampler.layers;
  const NodeFeatures features = EncodeFeatures(set, out.attribute_fields, recipe.model.id_buckets,
                                               recipe.model.attribute_buckets, static_cast<size_t>(recipe.model.content_dim));
  const Sampler sampler(set.graph, recipe.sampler);
  auto net = PinSage::Create(recipe.model, recipe.device);
  if (!net.ok()) return net.status();
  out.net = std::move(*net);
  auto report = Train(*out.net, sampler, features, MakePositivePairs(set.interactions, recipe.pairs), recipe.training, on_epoch);
  if (!report.ok()) return report.status();
  out.report = std::move(*report);
  auto embeddings = out.net->EmbedAll(sampler, features);
  if (!embeddings.ok()) return embeddings.status();
  out.embeddings = std::move(*embeddings);
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

Result<std::string> WriteModelVersion(const std::string& root, TrainedModel& model, const std::string& source) {
  if (!IsDir(root) && mkdir(root.c_str(), 0755) != 0) return Status::IoError("cannot create model directory " + root);
  auto number = NextVersion(root);
  if (!number.ok()) return number.status();
  char name[16];
  std::snprintf(name, sizeof name, "v%04d", *number);
  const std::string final_dir = root + "/" + name;
  const std::string tmp = root + "/.tmp-" + name + "-" + std::to_string(getpid());
  if (mkdir(tmp.c_str(), 0755) != 0) return Status::IoError("cannot create " + tmp);
  json manifest = ToJson(model.recipe, model.attribute_fields);
  manifest["version"] = name;
  manifest["items"] = model.item_ids.size();
  manifest["source"] = source;
  manifest["created_at"] = FormatRfc3339(WallClockMillis());
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
  if (std::rename(tmp.c_str(), final_dir.c_str()) != 0) return Status::IoError("cannot rename " + tmp + " to " + final_dir);
  RECD_RETURN_IF_ERROR(WriteFile(root + "/LATEST.tmp", std::string(name) + "\n"));
  if (std::rename((root + "/LATEST.tmp").c_str(), (root + "/LATEST").c_str()) != 0) {
    return Status::IoError("cannot update " + root + "/LATEST");
  }
  model.version = name;
  return final_dir;
}

Result<TrainedModel> LoadModel(const std::string& path, const std::string& device) {
  std::string dir = path;
  if (auto latest = ReadFile(path + "/LATEST"); latest.ok()) {
    std::string name = *latest;
    while (!name.empty() && (name.back() == '\n' || name.back() == ' ')) name.pop_back();
    dir = path + "/" + name;
  }
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
