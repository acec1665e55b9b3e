// Writes the binary seeds of the fuzz harnesses into DIR/<target>/: valid
// records and state files made by this build's own writers, so that the seeds
// follow the formats as they change (scripts/fuzz.sh runs it before fuzzing).
// Each seed starts with the harness's selector bytes (see the harnesses).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>

#include "model/live_state.h"
#include "model/rank/ranker_trainer.h"
#include "store/records.h"

namespace {

namespace r = recd::store::records;

void Write(const std::string& dir, const std::string& name, const std::string& bytes) {
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/" + name, std::ios::binary) << bytes;
}

std::string U64(uint64_t v) { return std::string(reinterpret_cast<const char*>(&v), sizeof v); }

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_seeds DIR\n");
    return 2;
  }
  const std::string root = argv[1];

  // fuzz_records: selector byte (0 edge, 1 attributes, 2 stamped, 3 counters), then the value.
  const std::string records = root + "/fuzz_records";
  recd::store::EdgeRecord edge;
  edge.counts = {3, 1, 1};
  edge.log_weight = 1.5;
  edge.first_ts = 1000;
  edge.last_ts = edge.last_rating_ts = 2000;
  edge.last_rating = 4;
  Write(records, "edge", std::string(1, '\0') + r::EncodeEdge(edge));
  r::TimedAttributes attrs = {{"available", {5, {false, 0, "yes"}}}, {"category", {4, {false, 0, "coats"}}},
                              {"price", {3, {true, 59.9, ""}}}};
  Write(records, "attributes", std::string(1, '\1') + r::EncodeAttributes(attrs));
  Write(records, "stamped", std::string(1, '\2') + r::EncodeStamped(1234, std::string(16, 'x')));
  recd::store::Counters counters;
  counters.applied = {10, 2, 3, 4, 5};
  counters.batches = 7;
  Write(records, "counters", std::string(1, '\3') + r::EncodeCounters(counters));

  // fuzz_state_files: selector (even: live state, odd: samples), dimension byte,
  // catalogue byte, then the file without its checksum (the harness appends it).
  const std::string states = root + "/fuzz_state_files";
  const uint64_t dim = 4, items = 3;
  std::string state(recd::model::kLiveStateMagic, sizeof recd::model::kLiveStateMagic);
  state += U64(dim) + U64(items);
  for (uint32_t i = 0; i < items; ++i) {
    state.push_back(1);
    const recd::ItemId hood[] = {recd::ItemId((i + 1) % items)};
    const float importance[] = {1.0f};
    state += U64(1) + std::string(reinterpret_cast<const char*>(hood), sizeof hood) +
             std::string(reinterpret_cast<const char*>(importance), sizeof importance);
    const recd::model::ItemScore related[] = {{(i + 2) % static_cast<uint32_t>(items), 0.5f}};
    state += U64(1) + std::string(reinterpret_cast<const char*>(related), sizeof related);
  }
  const std::vector<float> embeddings(items * dim, 0.25f);
  state += std::string(reinterpret_cast<const char*>(embeddings.data()), embeddings.size() * sizeof(float));
  state += U64(0x1234);  // the .ann hash
  Write(states, "live_state", std::string{'\0', static_cast<char>(dim - 1), static_cast<char>(items)} + state);

  const std::string tmp = std::filesystem::temp_directory_path() / "recd-fuzz-seeds";
  std::filesystem::create_directories(tmp);
  auto group = std::make_shared<recd::rank::SampleGroup>();
  group->ts = 1000;
  group->rows.assign(2 * recd::rank::kNumFeatures, 0.5f);
  group->taken = 1;
  if (recd::Status s = recd::rank::SaveRankerSamples(tmp, {group}); !s.ok()) {
    std::fprintf(stderr, "fuzz_seeds: %s\n", s.ToString().c_str());
    return 1;
  }
  std::ifstream in(tmp + "/samples.bin", std::ios::binary);
  std::string samples((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::filesystem::remove_all(tmp);
  samples.resize(samples.size() - sizeof(uint64_t));  // the checksum, appended by the harness
  Write(states, "samples", std::string{'\1', '\0', '\0'} + samples);
  return 0;
}
