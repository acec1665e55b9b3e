#include "model/ann_index.h"

#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <cmath>
#include <mutex>
#include <shared_mutex>

namespace recd::model {

struct AnnIndex::Impl {
  explicit Impl(size_t dim) : space(dim) {}
  hnswlib::InnerProductSpace space;
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> hnsw;
  mutable std::shared_mutex mutex;
};

AnnIndex::AnnIndex(size_t dim, AnnConfig config) : dim_(dim), config_(config), impl_(std::make_unique<Impl>(dim)) {}
AnnIndex::~AnnIndex() = default;

Result<std::unique_ptr<AnnIndex>> AnnIndex::Create(size_t dim, AnnConfig config) {
  if (dim == 0) return Status::InvalidArgument("ANN index dimension must be > 0");
  std::unique_ptr<AnnIndex> self(new AnnIndex(dim, config));
  try {
    self->impl_->hnsw = std::make_unique<hnswlib::HierarchicalNSW<float>>(
        &self->impl_->space, std::max<size_t>(1, config.initial_capacity), config.m, config.ef_construction, config.seed);
  } catch (const std::exception& e) {
    return Status::Internal(std::string("creating the ANN index: ") + e.what());
  }
  self->impl_->hnsw->setEf(config.ef_search);
  return self;
}

Result<std::unique_ptr<AnnIndex>> AnnIndex::Load(const std::string& path, size_t dim, AnnConfig config) {
  std::unique_ptr<AnnIndex> self(new AnnIndex(dim, config));
  try {
    self->impl_->hnsw = std::make_unique<hnswlib::HierarchicalNSW<float>>(&self->impl_->space, path);
  } catch (const std::exception& e) {
    return Status::IoError("loading the ANN index from " + path + ": " + e.what());
  }
  // hnswlib takes the vector size from the space it is given, not the file; the
  // file's layout (label after vector) still tells the size it was written with.
  const auto& h = *self->impl_->hnsw;
  const size_t saved_bytes = h.label_offset_ - h.offsetData_;
  if (saved_bytes != dim * sizeof(float)) {
    return Status::InvalidArgument("ANN index at " + path + " holds " + std::to_string(saved_bytes / sizeof(float)) +
                                   "-dimensional vectors, expected " + std::to_string(dim));
  }
  self->impl_->hnsw->setEf(config.ef_search);
  return self;
}

Status AnnIndex::Upsert(ItemId item, const std::vector<float>& vector) {
  if (vector.size() != dim_) {
    return Status::InvalidArgument("vector for item " + std::to_string(item.value) + " has " +
                                   std::to_string(vector.size()) + " dimensions, the index " + std::to_string(dim_));
  }
  // hnswlib's graph search misbehaves on NaN distances: never let one in.
  for (size_t d = 0; d < vector.size(); ++d) {
    if (!std::isfinite(vector[d])) {
      return Status::InvalidArgument("vector for item " + std::to_string(item.value) + " has a non-finite value at " +
                                     std::to_string(d));
    }
  }
  std::unique_lock lock(impl_->mutex);
  auto& h = *impl_->hnsw;
  try {
    if (h.cur_element_count >= h.max_elements_ && !h.label_lookup_.count(item.value)) {
      h.resizeIndex(std::max<size_t>(2 * h.max_elements_, 1));
    }
    const auto known = h.label_lookup_.find(item.value);
    if (known == h.label_lookup_.end()) {
      h.addPoint(vector.data(), item.value);
    } else {
      // What addPoint does for a known label, with our neighbour-repair share.
      if (h.isMarkedDeleted(known->second)) h.unmarkDelete(item.value);
      h.updatePoint(vector.data(), known->second, config_.update_neighbour_probability);
    }
  } catch (const std::exception& e) {
    return Status::Internal("ANN insert of item " + std::to_string(item.value) + ": " + e.what());
  }
  return Status::Ok();
}

Status AnnIndex::Remove(ItemId item) {
  std::unique_lock lock(impl_->mutex);
  try {
    impl_->hnsw->markDelete(item.value);
  } catch (const std::exception& e) {
    return Status::NotFound("ANN remove of item " + std::to_string(item.value) + ": " + e.what());
  }
  return Status::Ok();
}

Result<std::vector<std::pair<ItemId, float>>> AnnIndex::Search(const std::vector<float>& query, size_t k) const {
  if (query.size() != dim_) {
    return Status::InvalidArgument("query has " + std::to_string(query.size()) + " dimensions, the index " +
                                   std::to_string(dim_));
  }
  std::shared_lock lock(impl_->mutex);
  std::vector<std::pair<ItemId, float>> out;
  try {
    auto found = impl_->hnsw->searchKnn(query.data(), k);
    out.resize(found.size());
    for (size_t n = found.size(); n-- > 0;) {  // the queue pops the farthest first
      out[n] = {ItemId(static_cast<uint32_t>(found.top().second)), 1.0f - found.top().first};
      found.pop();
    }
  } catch (const std::exception& e) {
    return Status::Internal(std::string("ANN search: ") + e.what());
  }
  return out;
}

Status AnnIndex::Save(const std::string& path) const {
  std::unique_lock lock(impl_->mutex);
  try {
    impl_->hnsw->saveIndex(path);
  } catch (const std::exception& e) {
    return Status::IoError("saving the ANN index to " + path + ": " + e.what());
  }
  return Status::Ok();
}

size_t AnnIndex::size() const {
  std::shared_lock lock(impl_->mutex);
  return impl_->hnsw->cur_element_count;
}

}  // namespace recd::model
