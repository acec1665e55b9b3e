// libFuzzer: any bytes as the two files recd reads back at a restart: the
// refresher's live state (<version>.state) and the ranker's labelled slates
// (samples.bin). Both end in an FNV-1a-64 checksum, which the harness appends
// so that the fuzzer reaches the parsers behind it (a bad checksum is refused
// first, and is tested in the unit tests). The first byte picks the file, the
// next two the model's dimension and the catalogue's size.
#include <cstdint>
#include <cstring>
#include <string>

#include "base/hash.h"
#include "model/live_state.h"
#include "model/rank/ranker_trainer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  std::string bytes(reinterpret_cast<const char*>(data) + 3, size - 3);
  const uint64_t checksum = recd::Fnv1a64(bytes);
  bytes.append(reinterpret_cast<const char*>(&checksum), sizeof checksum);
  if (data[0] % 2 == 0) {
    const uint64_t dim = 1 + data[1] % 16;
    const size_t catalogue = data[2];
    auto state = recd::model::ParseLiveState(bytes, dim, catalogue);
    if (state.ok()) {
      if (state->embedded.size() > catalogue || state->embeddings.size() != state->embedded.size() * dim) __builtin_trap();
      for (const auto& hood : state->hoods) {
        for (recd::ItemId id : hood.items) {
          if (id.value >= catalogue) __builtin_trap();
        }
      }
    } else if (state.status().message().empty()) {
      __builtin_trap();
    }
  } else {
    auto groups = recd::rank::ParseRankerSamples(bytes, "samples.bin");
    if (groups.ok()) {
      for (const auto& g : *groups) {
        if (g.rows.size() % recd::rank::kNumFeatures != 0 || g.taken >= g.rows.size() / recd::rank::kNumFeatures) {
          __builtin_trap();
        }
      }
    }
  }
  return 0;
}
