// Test fixture base: a GraphStore in a temporary directory the fixture owns
// (closed before the directory goes), and applying events to it.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "store/graph_store.h"
#include "tests/test_util.h"

namespace recd::testing {

class StoreFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    store::StoreOptions o;
    o.path = dir_.sub("store");
    o.sync_writes = false;
    auto s = store::GraphStore::Open(o);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s.value());
  }
  void Apply(const std::vector<Event>& events) {
    auto r = store_->Apply(events, {}, 0);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  TempDir dir_;
  std::unique_ptr<store::GraphStore> store_;
};

}  // namespace recd::testing
