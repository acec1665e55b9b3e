// Unit tests for daemon/config: defaults, overrides and precise errors.
#include <gtest/gtest.h>

#include <fstream>

#include "daemon/config.h"
#include "tests/test_util.h"

namespace recd::daemon {
namespace {

class ConfigTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& text) {
    const std::string path = dir_.sub("recd.toml");
    std::ofstream(path) << text;
    return path;
  }
  testing::TempDir dir_;
};

TEST_F(ConfigTest, ShippedConfigLoadsWithItsDocumentedDefaults) {
  auto c = LoadConfig(RECD_SOURCE_DIR "/config/recd.toml", {});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->kafka.events_topic, "recd.events");
  EXPECT_EQ(c->store.path, "/var/lib/recd/store");
  EXPECT_DOUBLE_EQ(c->store.decay.half_life_ms, 14.0 * 86'400'000);
  EXPECT_EQ(c->ranker.k, 20u);
  EXPECT_TRUE(c->store.sync_writes);
}

TEST_F(ConfigTest, OverridesWinAndBareStringsAreAccepted) {
  auto c = LoadConfig(Write("[store]\npath = \"/a\"\n"),
                      {"store.path=/tmp/x y", "kafka.embedded=true", "ranker.k=7", "kafka.brokers=h:1"});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->store.path, "/tmp/x y");
  EXPECT_TRUE(c->kafka.embedded);
  EXPECT_EQ(c->ranker.k, 7u);
  EXPECT_EQ(c->kafka.brokers, "h:1");
}

TEST_F(ConfigTest, UnknownKeysWrongTypesAndBadValuesNameTheKeyAndLine) {
  auto c = LoadConfig(Write("[store]\nhalf_life = 3\n\n[ranker]\nk = \"ten\"\n[kafka]\nstart_from = \"middle\"\n[nope]\n"), {});
  ASSERT_FALSE(c.ok());
  const std::string& m = c.status().message();
  EXPECT_NE(m.find("unknown key store.half_life at " + dir_.sub("recd.toml") + ":2"), std::string::npos) << m;
  EXPECT_NE(m.find("half_life_days"), std::string::npos) << m;
  EXPECT_NE(m.find("ranker.k at " + dir_.sub("recd.toml") + ":5 must be an integer"), std::string::npos) << m;
  EXPECT_NE(m.find("kafka.start_from"), std::string::npos) << m;
  EXPECT_NE(m.find("unknown section [nope]"), std::string::npos) << m;
}

TEST_F(ConfigTest, SyntaxErrorsGiveFileLineAndColumn) {
  auto c = LoadConfig(Write("[store]\npath = \n"), {});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find(dir_.sub("recd.toml") + ":2:"), std::string::npos) << c.status().message();
}

TEST_F(ConfigTest, RangeChecks) {
  auto c = LoadConfig("", {"store.half_life_days=0", "stream.rating_min=5", "stream.rating_max=1"});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("store.half_life_days"), std::string::npos);
  EXPECT_NE(c.status().message().find("rating_min must be below"), std::string::npos);
}

}  // namespace
}  // namespace recd::daemon
