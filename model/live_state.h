// recd::model — the refresher's live state file (<version>.state): what a
// restart needs to serve a model without re-embedding the catalogue. Read here,
// apart from the refresher, so that a fuzzer can reach it without LibTorch.
//
// Layout (native endianness, written and read by the same build):
//   kLiveStateMagic, dim u64, n u64,
//   n x { embedded u8, hood length u64, hood ids (ItemId), hood importances (float),
//         related length u64, related (ItemScore) },
//   n x dim embeddings (float),
//   trailer: the .ann index's FNV-1a-64, then the FNV-1a-64 of everything before it.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "model/live_model.h"
#include "model/sampler.h"

namespace recd::model {

// 2: a checksum trailer and the hash of the .ann file the state was written with.
inline constexpr char kLiveStateMagic[] = "recd-live-state-2";

struct LiveStateFile {
  std::vector<uint8_t> embedded;                // per item: 1 when its vector is current
  std::vector<Neighbourhood> hoods;             // per item
  std::vector<std::vector<ItemScore>> related;  // per item
  std::vector<float> embeddings;                // items x dim
  uint64_t ann_hash = 0;                        // of the .ann index written with it
};

// Parses a state file written for a model of `dim` and a catalogue of
// `catalogue_size` items. Refuses (Corruption, with the reason) a torn or
// corrupt file, one of another model or a larger catalogue, and any item id
// beyond the catalogue (ids index arrays at once).
Result<LiveStateFile> ParseLiveState(std::string_view bytes, uint64_t dim, size_t catalogue_size);

}  // namespace recd::model
