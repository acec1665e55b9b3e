#include "model/training_set.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "store/graph_store.h"

namespace recd::model {

int64_t HashBucket(const std::string& text, int64_t buckets) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : text) h = (h ^ c) * 1099511628211ULL;
  return static_cast<int64_t>(h % static_cast<uint64_t>(buckets));
}

uint32_t TrainingSetBuilder::Item(const std::string& external) {
  auto [it, added] = items_.try_emplace(external, static_cast<uint32_t>(set_.item_ids.size()));
  if (added) {
    set_.item_ids.push_back(external);
    set_.item_attributes.emplace_back();
    set_.item_content.emplace_back();
    set_.graph.EnsureItem(ItemId(it->second));
  }
  return it->second;
}

uint32_t TrainingSetBuilder::User(const std::string& external) {
  auto [it, added] = users_.try_emplace(external, static_cast<uint32_t>(set_.user_ids.size()));
  if (added) {
    set_.user_ids.push_back(external);
    set_.graph.EnsureUser(UserId(it->second));
  }
  return it->second;
}

void TrainingSetBuilder::Add(const Event& e) {
  if (e.type == EventType::kItem) {
    const uint32_t item = Item(e.item_id);
    set_.item_attributes[item] = e.attributes;
    if (!e.embedding.empty()) set_.item_content[item] = e.embedding;
    return;
  }
  if (!IsInteraction(e.type)) return;
  const uint32_t user = User(e.user_id), item = Item(e.item_id);
  const double w = store::EpochLogWeight(decay_, store::TypeWeight(decay_, e.type, e.rating), e.ts);
  if (w != store::kNoWeight) set_.graph.AddInteraction(UserId(user), ItemId(item), w);
  set_.interactions.push_back({user, item, e.ts});
}

TrainingSet TrainingSetBuilder::Finish() && {
  set_.graph.Compact();
  return std::move(set_);
}

Result<TrainingSet> TrainingSetFromStore(const store::GraphStore& store) {
  TrainingSet set;
  set.graph = store.view();
  const size_t items = set.graph.num_items(), users = set.graph.num_users();
  for (uint32_t i = 0; i < items; ++i) {
    const ItemId item(i);
    set.item_ids.push_back(store.ExternalId(item));
    auto attrs = store.GetAttributes(EventType::kItem, set.item_ids.back());
    if (!attrs.ok()) return attrs.status();
    set.item_attributes.push_back(std::move(*attrs));
    auto content = store.GetItemEmbedding(item);
    if (!content.ok()) return content.status();
    set.item_content.push_back(std::move(*content));
  }
  for (uint32_t u = 0; u < users; ++u) set.user_ids.push_back(store.ExternalId(UserId(u)));
  RECD_RETURN_IF_ERROR(store.ForEachEdge([&](UserId user, ItemId item, const store::EdgeRecord& e) {
    // The edge's first and last event: what a user did a season ago stays
    // visible (to seasonal recall) after they came back to the item.
    if (e.first_ts != 0 && e.first_ts != e.last_ts) set.interactions.push_back({user.value, item.value, e.first_ts});
    set.interactions.push_back({user.value, item.value, e.last_ts});
  }));
  return set;
}

PositivePairs MakePositivePairs(const std::vector<TimedInteraction>& interactions, const PairConfig& config) {
  std::vector<TimedInteraction> sorted = interactions;
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
    return a.user < b.user || (a.user == b.user && a.ts < b.ts);
  });
  struct Timed {
    EpochMillis ts;
    ItemId query, positive;
  };
  std::vector<Timed> pairs;
  for (size_t k = 0; k < sorted.size(); ++k) {
    for (size_t m = 1; m <= config.next_items && k + m < sorted.size(); ++m) {
      const auto& a = sorted[k];
      const auto& b = sorted[k + m];
      if (b.user != a.user || b.ts - a.ts > config.window_ms) break;
      if (a.item != b.item) pairs.push_back({b.ts, ItemId(a.item), ItemId(b.item)});
    }
  }
  std::stable_sort(pairs.begin(), pairs.end(), [](const Timed& a, const Timed& b) { return a.ts < b.ts; });
  const size_t held_out = static_cast<size_t>(config.validation_fraction * static_cast<double>(pairs.size()));
  PositivePairs out;
  for (size_t k = 0; k < pairs.size(); ++k) {
    (k + held_out < pairs.size() ? out.train : out.validation).emplace_back(pairs[k].query, pairs[k].positive);
  }
  return out;
}

std::vector<std::string> AttributeFields(const TrainingSet& set, double min_share, size_t max_fields) {
  std::map<std::string, size_t> seen;
  for (const Attributes& attrs : set.item_attributes) {
    for (const auto& [key, value] : attrs) ++seen[key];
  }
  std::vector<std::pair<size_t, std::string>> ranked;
  const double items = static_cast<double>(std::max<size_t>(1, set.item_ids.size()));
  for (const auto& [key, count] : seen) {
    if (static_cast<double>(count) / items >= min_share) ranked.emplace_back(count, key);
  }
  std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
  if (ranked.size() > max_fields) ranked.resize(max_fields);
  std::vector<std::string> fields;
  for (auto& r : ranked) fields.push_back(std::move(r.second));
  std::sort(fields.begin(), fields.end());
  return fields;
}

size_t ContentDim(const TrainingSet& set) {
  std::map<size_t, size_t> items_by_width;
  for (const auto& c : set.item_content) {
    if (!c.empty()) ++items_by_width[c.size()];
  }
  size_t dim = 0, most = 0;
  for (const auto& [width, items] : items_by_width) {  // ascending: a tie keeps the narrower
    if (items > most) {
      dim = width;
      most = items;
    }
  }
  return dim;
}

namespace {

std::string ValueToken(const AttributeValue& v) {
  if (!v.is_number) return v.text;
  if (!std::isfinite(v.number)) return "#nan";
  const double bucket = std::floor(2 * std::log2(1 + std::fabs(v.number)));
  return std::string(v.number < 0 ? "#-" : "#") + std::to_string(static_cast<int64_t>(bucket));
}

}  // namespace

void AppendItemFeatures(const std::string& external_id, const Attributes& attributes, const std::vector<float>& content,
                        const std::vector<std::string>& fields, int64_t id_buckets, int64_t attribute_buckets,
                        size_t content_dim, NodeFeatures* out) {
  out->id_bucket.push_back(HashBucket(external_id, id_buckets));
  for (const std::string& field : fields) {
    std::string token = field + "=";
    for (const auto& [key, value] : attributes) {
      if (key == field) {
        token += ValueToken(value);
        break;
      }
    }
    out->attributes.push_back(HashBucket(token, attribute_buckets));
  }
  // A vector of another width than the model's is ignored (zeros), never cut or padded.
  if (content.size() == content_dim) {
    out->content.insert(out->content.end(), content.begin(), content.end());
  } else {
    out->content.resize(out->content.size() + content_dim, 0.0f);
  }
}

NodeFeatures EncodeFeatures(const TrainingSet& set, const std::vector<std::string>& fields, int64_t id_buckets,
                            int64_t attribute_buckets, size_t content_dim) {
  const size_t n = set.item_ids.size();
  NodeFeatures f;
  f.id_bucket.reserve(n);
  f.attributes.reserve(n * fields.size());
  f.content.reserve(n * content_dim);
  for (size_t i = 0; i < n; ++i) {
    AppendItemFeatures(set.item_ids[i], set.item_attributes[i], set.item_content[i], fields, id_buckets,
                       attribute_buckets, content_dim, &f);
  }
  return f;
}

NodeFeatures GatherFeatures(const NodeFeatures& all, const std::vector<ItemId>& nodes, size_t fields, size_t content_dim) {
  NodeFeatures f;
  f.id_bucket.reserve(nodes.size());
  f.attributes.reserve(nodes.size() * fields);
  f.content.reserve(nodes.size() * content_dim);
  for (const ItemId& n : nodes) {
    f.id_bucket.push_back(all.id_bucket[n.value]);
    const auto a = all.attributes.begin() + static_cast<ptrdiff_t>(n.value * fields);
    f.attributes.insert(f.attributes.end(), a, a + static_cast<ptrdiff_t>(fields));
    const auto c = all.content.begin() + static_cast<ptrdiff_t>(n.value * content_dim);
    f.content.insert(f.content.end(), c, c + static_cast<ptrdiff_t>(content_dim));
  }
  return f;
}

}  // namespace recd::model
