#include "model/live_state.h"

#include <cstring>

#include "base/hash.h"

namespace recd::model {

Result<LiveStateFile> ParseLiveState(std::string_view bytes, uint64_t dim, size_t catalogue_size) {
  uint64_t body_hash = 0;
  if (bytes.size() >= 16) std::memcpy(&body_hash, bytes.data() + bytes.size() - 8, 8);
  if (bytes.size() < 16 || Fnv1a64(bytes.substr(0, bytes.size() - 8)) != body_hash) {
    return Status::Corruption("is torn or corrupt (its checksum does not match)");
  }
  LiveStateFile state;
  std::memcpy(&state.ann_hash, bytes.data() + bytes.size() - 16, 8);
  const size_t body_end = bytes.size() - 16;
  size_t pos = 0;
  auto get = [&](void* p, uint64_t n) {
    if (n > body_end - pos) return false;
    if (n > 0) std::memcpy(p, bytes.data() + pos, n);
    pos += n;
    return true;
  };
  auto get_u64 = [&](uint64_t* v) { return get(v, sizeof *v); };
  char magic[sizeof kLiveStateMagic];
  uint64_t file_dim = 0, n = 0;
  if (!get(magic, sizeof magic) || std::memcmp(magic, kLiveStateMagic, sizeof magic) != 0 || !get_u64(&file_dim) ||
      !get_u64(&n) || file_dim != dim || n > catalogue_size) {
    return Status::Corruption("does not match this model and store (another format, dimension or a larger catalogue)");
  }
  // Every length is bounded by the catalogue before anything is allocated.
  state.embedded.resize(n);
  state.hoods.resize(n);
  state.related.resize(n);
  const auto items = static_cast<uint32_t>(catalogue_size);
  auto refused = [] { return Status::Corruption("holds an item id beyond the catalogue or has the wrong length"); };
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t len = 0;
    if (!get(&state.embedded[i], 1) || !get_u64(&len) || len > catalogue_size) return refused();
    Neighbourhood& hood = state.hoods[i];
    hood.items.resize(len);
    hood.importance.resize(len);
    if (!get(hood.items.data(), len * sizeof(ItemId)) || !get(hood.importance.data(), len * sizeof(float)) ||
        !get_u64(&len) || len > catalogue_size) {
      return refused();
    }
    state.related[i].resize(len);
    if (!get(state.related[i].data(), len * sizeof(ItemScore))) return refused();
    for (ItemId id : hood.items) {
      if (id.value >= items) return refused();
    }
    for (const ItemScore& r : state.related[i]) {
      if (r.item >= items) return refused();
    }
  }
  if (dim > 0 && n > (body_end - pos) / sizeof(float) / dim) return refused();
  state.embeddings.resize(n * dim);
  if (!get(state.embeddings.data(), state.embeddings.size() * sizeof(float)) || pos != body_end) return refused();
  return state;
}

}  // namespace recd::model
