#include "model/refresher.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>

#include "base/hash.h"
#include "base/log.h"
#include "model/live_state.h"
#include "model/sampler.h"
#include "model/trained_model.h"

namespace recd::model {

namespace {

using Clock = std::chrono::steady_clock;

// FNV-1a of a whole file; nullopt when it cannot be read.
std::optional<uint64_t> FileHash(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  uint64_t hash = kFnvOffset;
  std::vector<char> buffer(1 << 20);
  while (in.read(buffer.data(), static_cast<std::streamsize>(buffer.size())) || in.gcount() > 0) {
    hash = Fnv1a64(std::string_view(buffer.data(), static_cast<size_t>(in.gcount())), hash);
    if (in.eof()) break;
  }
  if (in.bad()) return std::nullopt;
  return hash;
}

}  // namespace

// The active version's network and what incremental inference caches per item.
class Refresher::Runtime {
 public:
  TrainedModel model;
  NodeFeatures features;                    // per store item
  std::vector<Neighbourhood> hoods;         // per item: the walk neighbourhood (`walked` long, most visited first)
  std::vector<std::vector<float>> layers;   // layers[l]: items x hidden, the input of convolution l
  std::vector<std::vector<uint32_t>> holders;  // per item: items whose model neighbourhood held it when sampled
  std::unordered_set<std::string> trained;  // the items the model was trained on (their id rows learnt something)
  std::unique_ptr<AnnIndex> ann;
  std::unique_ptr<Sampler> sampler;         // over the replica; rebuilt when the graph changed
  size_t items = 0;

  size_t hidden() const { return static_cast<size_t>(model.recipe.model.hidden_dim); }
  size_t top_t() const { return model.recipe.sampler.top_t; }
  size_t fields() const { return model.attribute_fields.size(); }
  size_t content_dim() const { return static_cast<size_t>(model.recipe.model.content_dim); }

  // Grows every per-item array to `n` items.
  void Resize(size_t n) {
    if (n <= items) return;
    features.id_bucket.resize(n, 0);
    features.attributes.resize(n * fields(), 0);
    features.content.resize(n * content_dim(), 0.0f);
    hoods.resize(n);
    holders.resize(n);
    for (auto& l : layers) l.resize(n * hidden(), 0.0f);
    items = n;
  }
  void Encode(const ItemDescription& d) {
    Resize(d.item.value + 1);
    NodeFeatures row;
    const auto& m = model.recipe.model;
    AppendItemFeatures(d.external_id, d.attributes, d.content, model.attribute_fields, m.id_buckets,
                       m.attribute_buckets, content_dim(), &row);
    const size_t i = d.item.value;
    // An item the model never saw has an id row that learnt nothing: all such
    // items share one row, so that their attributes and content place them.
    features.id_bucket[i] = trained.count(d.external_id) ? row.id_bucket[0] : UnseenItemBucket(m.id_buckets);
    std::copy(row.attributes.begin(), row.attributes.end(), features.attributes.begin() + static_cast<ptrdiff_t>(i * fields()));
    std::copy(row.content.begin(), row.content.end(), features.content.begin() + static_cast<ptrdiff_t>(i * content_dim()));
  }
  // Whether `item`'s model neighbourhood (the first top_t of its walk
  // neighbourhood) holds `n`, and with what weight.
  float WeightIn(uint32_t item, uint32_t n) const {
    const Neighbourhood& h = hoods[item];
    const size_t t = std::min(top_t(), h.items.size());
    float total = 0, w = 0;
    for (size_t k = 0; k < t; ++k) {
      total += h.importance[k];
      if (h.items[k].value == n) w = h.importance[k];
    }
    return total > 0 ? w / total : 0.0f;
  }
};

// Recomputes the cached layer rows of `items` from their features and the
// cached rows of their neighbourhoods, layer by layer over the whole set, so
// that with every item included this is exactly layer-wise inference over the
// catalogue (PinSage::EmbedAll). With `output`, also their final embeddings.
// A raised `cancel`, checked between batches, ends it with Aborted.
static Status ComputeLayers(Refresher::Runtime& rt, const std::vector<uint32_t>& items, size_t batch_rows,
                            std::vector<float>* output, const std::atomic<bool>& cancel) {
  const Status cancelled = Status::Aborted("embedding cancelled by the stop");
  const size_t h = rt.hidden(), t = rt.top_t(), dim = rt.model.dim();
  const size_t num_layers = output ? rt.layers.size() : rt.layers.size() - 1;
  if (output) output->assign(items.size() * dim, 0.0f);
  // Layer by layer over the whole set, so that with every item dirty this is
  // exactly layer-wise inference over the catalogue (PinSage::EmbedAll).
  for (size_t begin = 0; begin < items.size(); begin += batch_rows) {
    if (cancel.load()) return cancelled;
    const std::vector<ItemId> batch(items.begin() + static_cast<ptrdiff_t>(begin),
                                    items.begin() + static_cast<ptrdiff_t>(std::min(items.size(), begin + batch_rows)));
    auto rows = rt.model.net->InputRows(GatherFeatures(rt.features, batch, rt.fields(), rt.content_dim()));
    if (!rows.ok()) return rows.status();
    for (size_t k = 0; k < batch.size(); ++k) {
      std::copy_n(rows->begin() + static_cast<ptrdiff_t>(k * h), h, rt.layers[0].begin() + static_cast<ptrdiff_t>(batch[k].value * h));
    }
  }
  for (size_t l = 0; l < num_layers; ++l) {
    for (size_t begin = 0; begin < items.size(); begin += batch_rows) {
      if (cancel.load()) return cancelled;
      const size_t n = std::min(items.size(), begin + batch_rows) - begin;
      std::vector<float> self(n * h), neighbours(n * t * h, 0.0f), importance(n * t, 0.0f);
      for (size_t k = 0; k < n; ++k) {
        const uint32_t i = items[begin + k];
        std::copy_n(rt.layers[l].begin() + static_cast<ptrdiff_t>(i * h), h, self.begin() + static_cast<ptrdiff_t>(k * h));
        const Neighbourhood& hood = rt.hoods[i];
        const size_t slots = std::min(t, hood.items.size());
        float total = 0;
        for (size_t s = 0; s < slots; ++s) total += hood.importance[s];
        for (size_t s = 0; s < slots; ++s) {
          const uint32_t j = hood.items[s].value;
          std::copy_n(rt.layers[l].begin() + static_cast<ptrdiff_t>(j * h), h,
                      neighbours.begin() + static_cast<ptrdiff_t>((k * t + s) * h));
          importance[k * t + s] = hood.importance[s] / total;
        }
      }
      auto next = rt.model.net->ConvRows(l, self, neighbours, importance, t);
      if (!next.ok()) return next.status();
      if (l + 1 < rt.layers.size()) {
        for (size_t k = 0; k < n; ++k) {
          std::copy_n(next->begin() + static_cast<ptrdiff_t>(k * h), h,
                      rt.layers[l + 1].begin() + static_cast<ptrdiff_t>(items[begin + k] * h));
        }
        continue;
      }
      auto out = rt.model.net->OutputRows(*next);
      if (!out.ok()) return out.status();
      std::copy(out->begin(), out->end(), output->begin() + static_cast<ptrdiff_t>(begin * dim));
    }
  }
  return Status::Ok();
}

Refresher::Refresher(RefresherConfig config, store::GraphView replica, std::vector<ItemDescription> catalogue)
    : config_(std::move(config)), replica_(std::move(replica)), catalogue_(std::move(catalogue)),
      last_snapshot_(Clock::now()) {}

Refresher::~Refresher() {
  Stop();
  if (runtime_) {
    if (Status s = Snapshot(); !s.ok()) RECD_WARN("refresher: " << s.ToString());
  }
}

Result<std::unique_ptr<Refresher>> Refresher::Create(RefresherConfig config, store::GraphView replica,
                                                     std::vector<ItemDescription> catalogue) {
  if (config.batch == 0 || config.budget == 0) return Status::InvalidArgument("model.refresh_batch and model.refresh_budget must be >= 1");
  if (config.cpu_threads > 0) PinSage::SetCpuThreads(config.cpu_threads);
  std::unique_ptr<Refresher> r(new Refresher(std::move(config), std::move(replica), std::move(catalogue)));
  if (!r->config_.state_dir.empty()) mkdir(r->config_.state_dir.c_str(), 0755);
  if (!r->config_.model_root.empty()) {
    if (Status s = r->MaybeReload(/*force=*/true); !s.ok()) RECD_WARN("refresher: " << s.ToString());
  }
  return r;
}

void Refresher::Submit(GraphChange change) {
  {
    std::lock_guard<std::mutex> lock(inbox_mu_);
    inbox_.push_back(std::move(change));
  }
  wake_.notify_one();
}

std::shared_ptr<const LiveModel> Refresher::Current() const {
  std::lock_guard<std::mutex> lock(current_mu_);
  return current_;
}

std::vector<uint32_t> Refresher::TakeChangedItems() {
  std::lock_guard<std::mutex> lock(inbox_mu_);
  std::vector<uint32_t> out(changed_.begin(), changed_.end());
  changed_.clear();
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<ItemId> Refresher::DirtyItems() const {
  std::vector<ItemId> out;
  for (size_t k = dirty_head_; k < dirty_.size(); ++k) out.emplace_back(dirty_[k]);
  return out;
}

void Refresher::MarkDirty(uint32_t item) {
  if (item >= is_dirty_.size()) is_dirty_.resize(item + 1024, 0);
  if (is_dirty_[item]) return;
  is_dirty_[item] = 1;
  dirty_.push_back(item);
}

void Refresher::ApplySubmitted() {
  std::vector<GraphChange> changes;
  {
    std::lock_guard<std::mutex> lock(inbox_mu_);
    changes.swap(inbox_);
  }
  for (GraphChange& c : changes) {
    if (c.num_users > 0) replica_.EnsureUser(UserId(static_cast<uint32_t>(c.num_users - 1)));
    if (c.num_items > 0) replica_.EnsureItem(ItemId(static_cast<uint32_t>(c.num_items - 1)));
    if (!c.evicted_users.empty()) {
      // Their items lost a user: those neighbourhoods changed (rule 1).
      for (UserId u : c.evicted_users) {
        if (u.value >= replica_.num_users()) continue;
        for (const store::Neighbor& n : replica_.ItemsOf(u)) {
          changed_nodes_.push_back(n.id);
          if (runtime_) MarkDirty(n.id);
        }
        changed_users_.push_back(u.value);
      }
      replica_.RemoveUsers(c.evicted_users);
    }
    for (const store::EdgeDelta& d : c.edges) {
      replica_.AddInteraction(d.user, d.item, d.log_weight, d.types);
      changed_users_.push_back(d.user.value);
      changed_nodes_.push_back(d.item.value);
    }
    if (catalogue_.size() < c.num_items) {
      const size_t old = catalogue_.size();
      catalogue_.resize(c.num_items);
      for (size_t i = old; i < c.num_items; ++i) catalogue_[i].item = ItemId(static_cast<uint32_t>(i));
    }
    for (ItemDescription& d : c.items) {
      const uint32_t id = d.item.value;
      if (id >= catalogue_.size()) catalogue_.resize(id + 1);
      catalogue_[id] = std::move(d);
      if (!runtime_) continue;
      runtime_->Encode(catalogue_[id]);
      MarkDirty(id);  // rule 2
    }
    if (!runtime_) continue;
    runtime_->Resize(catalogue_.size());
    for (ItemId t : c.touched) {
      MarkDirty(t.value);  // rule 1
      // Rule 3: the items whose neighbourhood holds t, heaviest first. Holder
      // lists are appended to when sampled; entries whose neighbourhood has
      // moved on since are dropped here.
      auto& holders = runtime_->holders[t.value];
      std::vector<std::pair<float, uint32_t>> ranked;
      size_t kept = 0;
      for (uint32_t x : holders) {
        const float w = runtime_->WeightIn(x, t.value);
        if (w <= 0) continue;
        holders[kept++] = x;
        ranked.emplace_back(w, x);
      }
      holders.resize(kept);
      const size_t take = std::min(config_.fanout, ranked.size());
      std::partial_sort(ranked.begin(), ranked.begin() + static_cast<ptrdiff_t>(take), ranked.end(),
                        [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
      for (size_t k = 0; k < take; ++k) MarkDirty(ranked[k].second);
    }
  }
}

Status Refresher::RefreshItems(Runtime& rt, LiveModel& live, const std::vector<uint32_t>& items, uint64_t round) {
  if (items.empty()) return Status::Ok();
  rt.Resize(catalogue_.size());
  if (!rt.sampler) {
    SamplerConfig sc = rt.model.recipe.sampler;
    sc.threads = 1;
    rt.sampler = std::make_unique<Sampler>(replica_, sc);
  } else if (!changed_users_.empty()) {
    for (auto* v : {&changed_users_, &changed_nodes_}) {
      std::sort(v->begin(), v->end());
      v->erase(std::unique(v->begin(), v->end()), v->end());
    }
    rt.sampler->Update(replica_, changed_users_, changed_nodes_);
  }
  changed_users_.clear();
  changed_nodes_.clear();
  const uint32_t walks = config_.walks ? config_.walks : rt.model.recipe.sampler.walks_per_node;
  const uint32_t keep = static_cast<uint32_t>(std::max(config_.walked, rt.top_t()));
  const size_t t = rt.top_t(), dim = live.dim;
  const size_t sampled_items = rt.sampler->num_items();
  constexpr size_t kCheckEvery = 256;  // items between two looks at the stop flag
  const Status cancelled = Status::Aborted("embedding cancelled by the stop");
  for (size_t n = 0; n < items.size(); ++n) {
    if (n % kCheckEvery == 0 && stop_.load()) return cancelled;
    const uint32_t i = items[n];
    rt.hoods[i] = i < sampled_items ? rt.sampler->SampleRanked(ItemId(i), round, walks, keep) : Neighbourhood{};
    const Neighbourhood& hood = rt.hoods[i];
    for (size_t k = 0; k < std::min(t, hood.items.size()); ++k) {
      auto& list = rt.holders[hood.items[k].value];
      if (std::find(list.begin(), list.end(), i) == list.end()) list.push_back(i);
    }
  }
  std::vector<float> output;
  RECD_RETURN_IF_ERROR(ComputeLayers(rt, items, config_.batch, &output, stop_));
  // The index first (it has its own lock), then every item's related list.
  std::vector<std::vector<ItemScore>> related(items.size());
  for (size_t k = 0; k < items.size(); ++k) {
    if (k % kCheckEvery == 0 && stop_.load()) return cancelled;
    const std::vector<float> v(output.begin() + static_cast<ptrdiff_t>(k * dim), output.begin() + static_cast<ptrdiff_t>((k + 1) * dim));
    RECD_RETURN_IF_ERROR(rt.ann->Upsert(ItemId(items[k]), v));
  }
  for (size_t k = 0; k < items.size(); ++k) {
    if (k % kCheckEvery == 0 && stop_.load()) return cancelled;
    const std::vector<float> v(output.begin() + static_cast<ptrdiff_t>(k * dim), output.begin() + static_cast<ptrdiff_t>((k + 1) * dim));
    auto found = rt.ann->Search(v, config_.related + 1);
    if (!found.ok()) return found.status();
    for (const auto& [id, score] : *found) {
      if (id.value != items[k] && related[k].size() < config_.related) related[k].push_back({id.value, score});
    }
  }
  {
    std::unique_lock<std::shared_mutex> lock(live.mu);
    const size_t n = catalogue_.size();
    if (live.embedded.size() < n) {
      live.embedded.resize(n, 0);
      live.embeddings.resize(n * dim, 0.0f);
      live.related.resize(n);
      live.walked.resize(n);
    }
    // Each re-embedded item also enters the related lists of its own nearest
    // items where it now beats their weakest entry: a new item is found from
    // the items like it before those are re-embedded themselves.
    for (size_t k = 0; k < items.size(); ++k) {
      for (const ItemScore& r : related[k]) {
        if (r.item >= n) continue;
        auto& theirs = live.related[r.item];
        theirs.erase(std::remove_if(theirs.begin(), theirs.end(), [&](const ItemScore& x) { return x.item == items[k]; }),
                     theirs.end());
        if (theirs.size() >= config_.related && theirs.back().score >= r.score) continue;
        const ItemScore entry{items[k], r.score};
        theirs.insert(std::upper_bound(theirs.begin(), theirs.end(), entry,
                                       [](const ItemScore& a, const ItemScore& b) { return a.score > b.score; }),
                      entry);
        if (theirs.size() > config_.related) theirs.pop_back();
      }
    }
    for (size_t k = 0; k < items.size(); ++k) {
      const uint32_t i = items[k];
      std::copy_n(output.begin() + static_cast<ptrdiff_t>(k * dim), dim, live.embeddings.begin() + static_cast<ptrdiff_t>(i * dim));
      live.embedded[i] = 1;
      live.related[i] = std::move(related[k]);
      const Neighbourhood& hood = rt.hoods[i];
      live.walked[i].clear();
      for (size_t s = 0; s < hood.items.size(); ++s) live.walked[i].push_back({hood.items[s].value, hood.importance[s]});
    }
  }
  {
    std::lock_guard<std::mutex> lock(inbox_mu_);
    changed_.insert(items.begin(), items.end());
  }
  stats_.items_refreshed.fetch_add(items.size(), std::memory_order_relaxed);
  return Status::Ok();
}

Status Refresher::MaybeReload(bool force) {
  const auto now = Clock::now();
  if (!force && now - last_reload_check_ < config_.reload_interval) return Status::Ok();
  last_reload_check_ = now;
  const std::string latest = LatestVersion(config_.model_root);
  if (latest.empty()) return Status::Ok();  // nothing trained yet: the co-occurrence ranker serves
  if ((runtime_ && runtime_->model.version == latest) || latest == refused_version_) return Status::Ok();

  auto loaded = LoadModel(config_.model_root + "/" + latest, config_.device);
  if (!loaded.ok()) {
    refused_version_ = latest;
    stats_.model_load_failures.fetch_add(1, std::memory_order_relaxed);
    return Status::Corruption("model " + latest + " in " + config_.model_root + " refused (" +
                                              loaded.status().message() + "); " +
                                              (runtime_ ? runtime_->model.version + " keeps serving" : "the co-occurrence ranker keeps serving") +
                                              ". Retrain, or point LATEST at a complete version.");
  }
  const auto started = Clock::now();
  auto rt = std::make_unique<Runtime>();
  rt->model = std::move(*loaded);
  rt->model.embeddings.clear();  // the trained catalogue's rows: the live ones are recomputed on this graph
  rt->model.embeddings.shrink_to_fit();
  rt->model.ann.reset();
  rt->trained.insert(rt->model.item_ids.begin(), rt->model.item_ids.end());
  rt->layers.assign(rt->model.recipe.model.layers, {});
  rt->Resize(catalogue_.size());
  for (const ItemDescription& d : catalogue_) rt->Encode(d);
  auto index = AnnIndex::Create(rt->model.dim(), LiveAnnConfig());
  if (!index.ok()) return index.status();
  rt->ann = std::move(*index);
  auto live = std::make_shared<LiveModel>();
  live->version = latest;
  live->dim = rt->model.dim();
  // Items the persisted state of this version covers come back without
  // sampling; the rest are embedded now.
  std::vector<uint32_t> missing = LoadState(*rt, *live);
  if (Status s = RefreshItems(*rt, *live, missing, /*round=*/0); !s.ok()) {
    // A stop mid-way refuses nothing: the version loads again at the next start.
    if (s.code() == Status::Code::kAborted) return Status::Aborted("loading model " + latest + ": " + s.message());
    refused_version_ = latest;
    stats_.model_load_failures.fetch_add(1, std::memory_order_relaxed);
    return Status::Internal("model " + latest + " refused: embedding the catalogue failed: " + s.message());
  }
  // Everything is fresh under the new version.
  dirty_.clear();
  dirty_head_ = 0;
  std::fill(is_dirty_.begin(), is_dirty_.end(), 0);
  runtime_ = std::move(rt);
  {
    std::lock_guard<std::mutex> lock(current_mu_);
    current_ = std::move(live);
  }
  stats_.model_loads.fetch_add(1, std::memory_order_relaxed);
  RECD_INFO("model " << latest << " active: " << missing.size() << " of " << catalogue_.size() << " items embedded on "
                     << runtime_->model.net->device() << " in "
                     << std::chrono::duration<double>(Clock::now() - started).count() << " s");
  return Status::Ok();
}

AnnConfig Refresher::LiveAnnConfig() const {
  AnnConfig ann;
  ann.m = config_.ann_m;
  ann.ef_construction = config_.ann_ef_construction;
  ann.ef_search = config_.ann_ef_search;
  ann.update_neighbour_probability = config_.ann_update_probability;
  ann.initial_capacity = std::max<size_t>(1024, catalogue_.size());
  return ann;
}

std::vector<uint32_t> Refresher::LoadState(Runtime& rt, LiveModel& live) {
  std::vector<uint32_t> all(catalogue_.size());
  for (uint32_t i = 0; i < all.size(); ++i) all[i] = i;
  if (config_.state_dir.empty()) return all;
  const std::string path = config_.state_dir + "/" + live.version + ".state";
  std::string bytes;
  {
    std::ifstream file(path, std::ios::binary);
    if (!file) return all;
    bytes.assign(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
  }
  auto parsed = ParseLiveState(bytes, live.dim, catalogue_.size());
  if (!parsed.ok()) {
    RECD_WARN(path << " " << parsed.status().message() << ": re-embedding every item");
    return all;
  }
  LiveStateFile& state = *parsed;
  const uint64_t n = state.embedded.size();
  const uint64_t dim = live.dim;
  if (FileHash(path + ".ann") != state.ann_hash) {
    RECD_WARN(path << ".ann is not the index written with " << path << ": re-embedding every item");
    return all;
  }
  auto index = AnnIndex::Load(path + ".ann", dim, LiveAnnConfig());
  if (!index.ok()) {
    RECD_WARN(path << " is unreadable (" << index.status().ToString() << "): re-embedding every item");
    return all;
  }
  rt.ann = std::move(*index);
  std::vector<uint32_t> covered, missing;
  for (uint32_t i = 0; i < catalogue_.size(); ++i) (i < n && state.embedded[i] ? covered : missing).push_back(i);
  for (uint32_t i : covered) {
    rt.hoods[i] = std::move(state.hoods[i]);
    for (size_t k = 0; k < std::min(rt.top_t(), rt.hoods[i].items.size()); ++k) rt.holders[rt.hoods[i].items[k].value].push_back(i);
  }
  if (Status s = ComputeLayers(rt, covered, config_.batch, nullptr, stop_); !s.ok()) {
    if (s.code() == Status::Code::kAborted) return all;  // stopping: RefreshItems gives up at once too
    RECD_WARN("recomputing cached layers from " << path << " failed (" << s.ToString() << "): re-embedding every item");
    return all;
  }
  std::unique_lock<std::shared_mutex> lock(live.mu);
  live.embedded.assign(catalogue_.size(), 0);
  live.embeddings.assign(catalogue_.size() * dim, 0.0f);
  live.related.assign(catalogue_.size(), {});
  live.walked.assign(catalogue_.size(), {});
  for (uint32_t i : covered) {
    live.embedded[i] = 1;
    std::copy_n(state.embeddings.begin() + static_cast<ptrdiff_t>(i * dim), dim, live.embeddings.begin() + static_cast<ptrdiff_t>(i * dim));
    live.related[i] = std::move(state.related[i]);
    for (size_t k = 0; k < rt.hoods[i].items.size(); ++k) live.walked[i].push_back({rt.hoods[i].items[k].value, rt.hoods[i].importance[k]});
  }
  RECD_INFO("model " << live.version << ": " << covered.size() << " items' embeddings restored from " << path);
  return missing;
}

Result<size_t> Refresher::Tick(bool force_reload) {
  ApplySubmitted();
  if (!config_.model_root.empty()) {
    if (Status s = MaybeReload(force_reload); s.code() == Status::Code::kAborted) {
      RECD_INFO("refresher: " << s.message());
      return size_t{0};
    } else if (!s.ok()) {
      RECD_ERROR("refresher: " << s.ToString());
    }
  }
  stats_.ticks.fetch_add(1, std::memory_order_relaxed);
  std::shared_ptr<LiveModel> live;
  {
    std::lock_guard<std::mutex> lock(current_mu_);
    live = current_;
  }
  if (!runtime_ || !live || dirty_head_ == dirty_.size()) {
    stats_.dirty.store(dirty_.size() - dirty_head_, std::memory_order_relaxed);
    return size_t{0};
  }
  const size_t take = std::min(config_.budget, dirty_.size() - dirty_head_);
  std::vector<uint32_t> items(dirty_.begin() + static_cast<ptrdiff_t>(dirty_head_),
                              dirty_.begin() + static_cast<ptrdiff_t>(dirty_head_ + take));
  dirty_head_ += take;
  for (uint32_t i : items) is_dirty_[i] = 0;
  if (dirty_head_ == dirty_.size()) {
    dirty_.clear();
    dirty_head_ = 0;
  } else if (dirty_head_ > dirty_.size() / 2) {
    dirty_.erase(dirty_.begin(), dirty_.begin() + static_cast<ptrdiff_t>(dirty_head_));
    dirty_head_ = 0;
  }
  stats_.dirty.store(dirty_.size() - dirty_head_, std::memory_order_relaxed);
  RECD_RETURN_IF_ERROR(RefreshItems(*runtime_, *live, items, round_++));
  if (!config_.state_dir.empty() && Clock::now() - last_snapshot_ >= config_.snapshot_interval) {
    if (Status s = Snapshot(); !s.ok()) RECD_WARN("refresher: " << s.ToString());
  }
  return items.size();
}

void Refresher::Loop() {
  // Linux schedules threads one by one: lowering this thread's priority leaves
  // the pipeline thread the CPU whenever both want it.
  if (config_.thread_nice != 0 &&
      setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), config_.thread_nice) != 0) {
    RECD_WARN("refresher: could not set its thread's nice value to " << config_.thread_nice);
  }
  while (!stop_.load()) {
    auto refreshed = Tick();
    if (!refreshed.ok() && refreshed.status().code() == Status::Code::kAborted) {
      RECD_INFO("refresher: " << refreshed.status().message());
    } else if (!refreshed.ok()) {
      RECD_ERROR("refresher: " << refreshed.status().ToString());
    }
    if (refreshed.ok() && *refreshed > 0 && stats_.dirty.load() > 0) continue;  // more waiting: go on
    std::unique_lock<std::mutex> lock(inbox_mu_);
    wake_.wait_for(lock, config_.interval, [&] { return stop_.load(); });
  }
}

void Refresher::Start() {
  if (thread_.joinable()) return;
  stop_.store(false);
  thread_ = std::thread([this] { Loop(); });
}

void Refresher::Stop() {
  {
    std::lock_guard<std::mutex> lock(inbox_mu_);
    stop_.store(true);
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Status Refresher::Snapshot() {
  last_snapshot_ = Clock::now();
  if (config_.state_dir.empty() || !runtime_) return Status::Ok();
  const std::shared_ptr<const LiveModel> live = Current();
  if (!live) return Status::Ok();
  const std::string path = config_.state_dir + "/" + live->version + ".state";
  const std::string tmp = path + ".tmp";
  // The index first: the state records its hash, so a crash between the two
  // renames leaves a pair that LoadState refuses rather than mixes.
  RECD_RETURN_IF_ERROR(runtime_->ann->Save(path + ".ann.tmp"));
  const std::optional<uint64_t> ann_hash = FileHash(path + ".ann.tmp");
  if (!ann_hash) return Status::IoError("cannot read back " + path + ".ann.tmp");
  {
    std::string body;
    auto put = [&](const void* p, size_t n) { body.append(static_cast<const char*>(p), n); };
    auto put_u64 = [&](uint64_t v) { put(&v, sizeof v); };
    put(kLiveStateMagic, sizeof kLiveStateMagic);
    std::shared_lock<std::shared_mutex> lock(live->mu);
    const uint64_t n = live->embedded.size();
    put_u64(live->dim);
    put_u64(n);
    for (uint64_t i = 0; i < n; ++i) {
      put(&live->embedded[i], 1);
      const Neighbourhood& hood = i < runtime_->hoods.size() ? runtime_->hoods[i] : Neighbourhood{};
      put_u64(hood.items.size());
      put(hood.items.data(), hood.items.size() * sizeof(ItemId));
      put(hood.importance.data(), hood.importance.size() * sizeof(float));
      put_u64(live->related[i].size());
      put(live->related[i].data(), live->related[i].size() * sizeof(ItemScore));
    }
    put(live->embeddings.data(), live->embeddings.size() * sizeof(float));
    lock.unlock();
    put_u64(*ann_hash);
    put_u64(Fnv1a64(body));
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(body.data(), static_cast<std::streamsize>(body.size()));
    out.close();
    if (!out) return Status::IoError("cannot write " + tmp);
  }
  if (std::rename((path + ".ann.tmp").c_str(), (path + ".ann").c_str()) != 0 ||
      std::rename(tmp.c_str(), path.c_str()) != 0) {
    return Status::IoError("cannot rename the live state into " + path);
  }
  RemoveStaleStates(live->version);
  return Status::Ok();
}

void Refresher::RemoveStaleStates(const std::string& serving) {
  // State of versions pruned from the registry (or of a registry moved away)
  // is never read again. Only where the model root is a registry to ask.
  if (!std::filesystem::is_directory(config_.model_root)) return;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(config_.state_dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    const size_t dot = name.find(".state");
    if (dot == std::string::npos) continue;
    const std::string version = name.substr(0, dot);
    if (version == serving || std::filesystem::is_directory(config_.model_root + "/" + version)) continue;
    std::error_code ignored;
    if (std::filesystem::remove(it->path(), ignored)) RECD_INFO("refresher: removed " << name << " (its model version is gone)");
  }
}

}  // namespace recd::model
