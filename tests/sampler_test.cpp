// Unit tests for the PinSage sampler on small graphs with known answers.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "model/sampler.h"
#include "store/decay.h"

namespace recd::model {
namespace {

// A view from (user, item, weight) triples; weights are linear, as the store's decay gives them.
store::GraphView Graph(const std::vector<std::tuple<uint32_t, uint32_t, double>>& edges) {
  store::GraphView view;
  for (const auto& [u, i, w] : edges) view.AddInteraction(UserId(u), ItemId(i), std::log2(w));
  return view;
}

std::map<uint32_t, float> AsMap(const Neighbourhood& n) {
  std::map<uint32_t, float> m;
  for (size_t k = 0; k < n.items.size(); ++k) m[n.items[k].value] = n.importance[k];
  return m;
}

TEST(Sampler, VisitFrequenciesFollowEdgeWeights) {
  // Item 0's only user 0 links to items 1 (weight 3) and 2 (weight 1) besides item 0 (weight 4).
  // One traversal from item 0 lands on 1 with p = 3/8, on 2 with p = 1/8 (on 0 itself: not counted).
  const auto view = Graph({{0, 0, 4}, {0, 1, 3}, {0, 2, 1}});
  SamplerConfig c;
  c.walks_per_node = 40000;
  c.walk_length = 1;
  c.top_t = 5;
  auto n = AsMap(Sampler(view, c).Sample(ItemId(0)));
  ASSERT_EQ(n.size(), 2u);
  EXPECT_NEAR(n[1], 0.75, 0.01);
  EXPECT_NEAR(n[2], 0.25, 0.01);
}

// Patching the changed nodes' tables samples exactly as a sampler built afresh
// on the grown graph: new edges, a new user and a new item included.
TEST(Sampler, UpdateEqualsARebuild) {
  store::GraphView view = Graph({{0, 0, 4}, {0, 1, 3}, {1, 1, 2}, {1, 2, 1}, {2, 2, 5}, {2, 3, 1}});
  SamplerConfig c;
  c.walks_per_node = 200;
  c.top_t = 4;
  Sampler patched(view, c);
  view.AddInteraction(UserId(0), ItemId(2), std::log2(6.0));  // existing nodes, new edge
  view.AddInteraction(UserId(3), ItemId(4), std::log2(2.0));  // new user, new item
  view.AddInteraction(UserId(3), ItemId(0), std::log2(1.0));
  patched.Update(view, {0, 3}, {0, 2, 4});
  const Sampler fresh(view, c);
  ASSERT_EQ(patched.num_items(), 5u);
  for (uint32_t i = 0; i < 5; ++i) {
    const Neighbourhood a = patched.Sample(ItemId(i), 7), b = fresh.Sample(ItemId(i), 7);
    EXPECT_EQ(a.items, b.items) << "item " << i;
    EXPECT_EQ(a.importance, b.importance) << "item " << i;
  }
}

TEST(Sampler, UserChoiceFollowsEdgeWeightsToo) {
  // Item 0 has users 0 (weight 1) and 1 (weight 9). Each user's two edges weigh the same,
  // so user 0 goes on to item 1, and user 1 to item 2, half the time.
  const auto view = Graph({{0, 0, 1}, {1, 0, 9}, {0, 1, 1}, {1, 2, 9}});
  SamplerConfig c;
  c.walks_per_node = 40000;
  c.walk_length = 1;
  auto n = AsMap(Sampler(view, c).Sample(ItemId(0)));
  // P(item 1) = 0.1 * 1/2, P(item 2) = 0.9 * 1/2: importance 0.1 and 0.9.
  EXPECT_NEAR(n[1], 0.1, 0.01);
  EXPECT_NEAR(n[2], 0.9, 0.01);
}

TEST(Sampler, RestartBoundsHowFarWalksGo) {
  // A chain 0 - u0 - 1 - u1 - 2 - u2 - 3: item 3 is three traversals from item 0.
  const auto view = Graph({{0, 0, 1}, {0, 1, 1}, {1, 1, 1}, {1, 2, 1}, {2, 2, 1}, {2, 3, 1}});
  SamplerConfig c;
  c.walks_per_node = 5000;
  c.walk_length = 10;
  c.restart_probability = 1.0;  // every walk ends after one traversal
  auto near = AsMap(Sampler(view, c).Sample(ItemId(0)));
  EXPECT_EQ(near.size(), 1u);
  EXPECT_TRUE(near.count(1));
  c.restart_probability = 0.2;
  auto far = AsMap(Sampler(view, c).Sample(ItemId(0)));
  EXPECT_TRUE(far.count(3));
  EXPECT_GT(far[1], far[2]);  // nearer items are visited more
  EXPECT_GT(far[2], far[3]);
  c.walk_length = 2;  // the walk length caps the reach whatever the restart
  EXPECT_FALSE(AsMap(Sampler(view, c).Sample(ItemId(0))).count(3));
}

TEST(Sampler, KeepsTheTopTAndNormalisesImportance) {
  std::vector<std::tuple<uint32_t, uint32_t, double>> edges;
  for (uint32_t i = 0; i < 30; ++i) edges.emplace_back(0, i, 1.0 + i);
  const auto view = Graph(edges);
  SamplerConfig c;
  c.top_t = 4;
  c.walk_length = 1;
  c.walks_per_node = 20000;
  const Neighbourhood n = Sampler(view, c).Sample(ItemId(0));
  ASSERT_EQ(n.items.size(), 4u);
  float sum = 0;
  for (size_t k = 0; k < 4; ++k) {
    sum += n.importance[k];
    if (k > 0) {
      EXPECT_GE(n.importance[k - 1], n.importance[k]);
    }
  }
  EXPECT_NEAR(sum, 1.0, 1e-5);
  EXPECT_EQ(n.items[0].value, 29u);  // the heaviest edge
}

TEST(Sampler, DeterministicForASeedWhateverTheThreads) {
  std::vector<std::tuple<uint32_t, uint32_t, double>> edges;
  for (uint32_t k = 0; k < 3000; ++k) edges.emplace_back(k % 97, (k * 31) % 200, 1 + k % 5);
  const auto view = Graph(edges);
  std::vector<ItemId> items;
  for (uint32_t i = 0; i < 200; ++i) items.emplace_back(i);
  SamplerConfig c;
  c.threads = 1;
  const auto one = Sampler(view, c).SampleAll(items);
  c.threads = 4;
  const auto four = Sampler(view, c).SampleAll(items);
  c.seed = 2;
  const auto other = Sampler(view, c).SampleAll(items);
  bool any_difference = false;
  for (size_t k = 0; k < items.size(); ++k) {
    EXPECT_EQ(one[k].items, four[k].items);
    EXPECT_EQ(one[k].importance, four[k].importance);
    any_difference |= one[k].importance != other[k].importance;
  }
  EXPECT_TRUE(any_difference);
}

TEST(Sampler, ComputationGraphDeduplicatesAndIndexesNeighbours) {
  const auto view = Graph({{0, 0, 1}, {0, 1, 1}, {1, 1, 1}, {1, 2, 1}, {2, 2, 1}, {2, 3, 1}});
  SamplerConfig c;
  c.walk_length = 1;
  c.top_t = 3;
  c.layers = 2;
  const ComputationGraph g = Sampler(view, c).BuildComputationGraph({ItemId(0), ItemId(1)});
  ASSERT_EQ(g.blocks.size(), 2u);
  const Block& last = g.blocks[1];
  EXPECT_EQ(last.num_outputs, 2u);
  EXPECT_EQ(last.nodes[0], ItemId(0));
  EXPECT_EQ(last.nodes[1], ItemId(1));
  // Seeds 0 and 1 neighbour each other and 1 also neighbours 2: nodes {0, 1, 2}, no repeats.
  EXPECT_EQ(last.nodes.size(), 3u);
  const Block& first = g.blocks[0];
  EXPECT_EQ(first.num_outputs, last.nodes.size());
  for (size_t k = 0; k < first.num_outputs; ++k) EXPECT_EQ(first.nodes[k], last.nodes[k]);
  EXPECT_EQ(first.nodes.size(), 4u);  // item 3 joins, two hops out
  for (size_t k = 0; k < first.neighbour_index.size(); ++k) {
    ASSERT_LT(first.neighbour_index[k], static_cast<int64_t>(first.nodes.size()));
    if (first.neighbour_importance[k] > 0) {
      EXPECT_NE(first.nodes[first.neighbour_index[k]], first.nodes[k / c.top_t]);
    }
  }
}

}  // namespace
}  // namespace recd::model
