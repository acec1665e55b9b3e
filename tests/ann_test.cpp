// ANN index against an exact (brute-force) oracle on seeded data.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>

#include "model/ann_index.h"
#include "tests/test_util.h"

namespace recd::model {
namespace {

std::vector<std::vector<float>> UnitVectors(size_t n, size_t dim, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<std::vector<float>> out(n, std::vector<float>(dim));
  for (auto& v : out) {
    float norm = 0;
    for (auto& x : v) {
      x = normal(rng);
      norm += x * x;
    }
    for (auto& x : v) x /= std::sqrt(norm);
  }
  return out;
}

std::vector<uint32_t> BruteForce(const std::vector<std::vector<float>>& items, const std::vector<float>& q, size_t k,
                                 const std::set<uint32_t>& removed = {}) {
  std::vector<std::pair<float, uint32_t>> scored;
  for (uint32_t i = 0; i < items.size(); ++i) {
    if (removed.count(i)) continue;
    float dot = 0;
    for (size_t d = 0; d < q.size(); ++d) dot += items[i][d] * q[d];
    scored.emplace_back(-dot, i);
  }
  std::partial_sort(scored.begin(), scored.begin() + static_cast<ptrdiff_t>(k), scored.end());
  std::vector<uint32_t> ids;
  for (size_t n = 0; n < k; ++n) ids.push_back(scored[n].second);
  return ids;
}

double Recall(const AnnIndex& index, const std::vector<std::vector<float>>& items,
              const std::vector<std::vector<float>>& queries, size_t k, const std::set<uint32_t>& removed = {}) {
  size_t hits = 0;
  for (const auto& q : queries) {
    auto found = index.Search(q, k);
    EXPECT_TRUE(found.ok());
    const auto truth = BruteForce(items, q, k, removed);
    const std::set<uint32_t> want(truth.begin(), truth.end());
    for (const auto& [id, score] : *found) hits += want.count(id.value);
  }
  return static_cast<double>(hits) / static_cast<double>(queries.size() * k);
}

TEST(AnnIndex, RecallAt10AgainstBruteForceGrowingFromSmall) {
  const auto items = UnitVectors(5000, 32, 1);
  const auto queries = UnitVectors(200, 32, 2);
  AnnConfig config;
  config.initial_capacity = 16;  // exercises resizing
  auto index = AnnIndex::Create(32, config);
  ASSERT_TRUE(index.ok());
  for (uint32_t i = 0; i < items.size(); ++i) ASSERT_TRUE((*index)->Upsert(ItemId(i), items[i]).ok());
  EXPECT_EQ((*index)->size(), items.size());
  EXPECT_GE(Recall(**index, items, queries, 10), 0.95);
  // Scores are inner products, best first.
  auto top = (*index)->Search(queries[0], 10);
  ASSERT_TRUE(top.ok());
  for (size_t n = 1; n < top->size(); ++n) EXPECT_GE((*top)[n - 1].second, (*top)[n].second);
}

TEST(AnnIndex, UpdatesAndRemovalsAreVisibleAndSurviveSaveLoad) {
  auto items = UnitVectors(2000, 16, 3);
  auto index = AnnIndex::Create(16);
  ASSERT_TRUE(index.ok());
  for (uint32_t i = 0; i < items.size(); ++i) ASSERT_TRUE((*index)->Upsert(ItemId(i), items[i]).ok());
  // Move item 7 onto a query direction: it must come first.
  const auto query = UnitVectors(1, 16, 4)[0];
  items[7] = query;
  ASSERT_TRUE((*index)->Upsert(ItemId(7), query).ok());
  auto top = (*index)->Search(query, 1);
  ASSERT_TRUE(top.ok());
  EXPECT_EQ((*top)[0].first, ItemId(7));
  EXPECT_NEAR((*top)[0].second, 1.0f, 1e-5);
  ASSERT_TRUE((*index)->Remove(ItemId(7)).ok());
  top = (*index)->Search(query, 5);
  for (const auto& [id, s] : *top) EXPECT_NE(id, ItemId(7));

  testing::TempDir dir;
  ASSERT_TRUE((*index)->Save(dir.sub("ann.bin")).ok());
  auto loaded = AnnIndex::Load(dir.sub("ann.bin"), 16);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  const auto queries = UnitVectors(50, 16, 5);
  for (const auto& q : queries) {
    auto a = (*index)->Search(q, 10), b = (*loaded)->Search(q, 10);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(a->size(), b->size());
    for (size_t n = 0; n < a->size(); ++n) EXPECT_EQ((*a)[n].first, (*b)[n].first);
  }
  EXPECT_GE(Recall(**loaded, items, queries, 10, {7}), 0.95);
}

TEST(AnnIndex, RejectsWrongDimensionsWithAClearMessage) {
  auto index = AnnIndex::Create(8);
  ASSERT_TRUE(index.ok());
  const Status s = (*index)->Upsert(ItemId(1), std::vector<float>(9, 0.1f));
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find("has 9 dimensions, the index 8"), std::string::npos);
  std::vector<float> nan(8, 0.5f);
  nan[3] = std::nanf("");
  const Status not_finite = (*index)->Upsert(ItemId(2), nan);
  EXPECT_EQ(not_finite.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(not_finite.message().find("non-finite value at 3"), std::string::npos);
  testing::TempDir dir;
  ASSERT_TRUE((*index)->Save(dir.sub("a")).ok());
  auto wrong = AnnIndex::Load(dir.sub("a"), 4);
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find("8-dimensional vectors, expected 4"), std::string::npos);
}

}  // namespace
}  // namespace recd::model
