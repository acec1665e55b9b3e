// Integration tests: the whole pipeline (consumer -> store -> ranker -> publisher)
// against librdkafka's embedded mock cluster, with injected faults. Counts must
// stay exact: nothing lost, nothing applied twice.
#include <gtest/gtest.h>

#include <future>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <librdkafka/rdkafkacpp.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "daemon/pipeline.h"
#include "model/rank/ranker_registry.h"
#include "stream/codec.h"
#include "stream/kafka.h"
#include "tests/test_util.h"

namespace recd {
namespace {

using namespace std::chrono_literals;

// Kafka protocol API keys (rdkafka_mock.h takes raw keys).
constexpr int16_t kApiProduce = 0;
constexpr int16_t kApiHeartbeat = 12;
constexpr int16_t kApiFetch = 1;

constexpr EpochMillis kT0 = 1769860800000;

struct Record {
  int32_t partition;
  int64_t offset;
  std::string key, value;
  std::map<std::string, std::string> headers;
};

// Reads a whole topic from the beginning until it has been quiet for `idle`.
std::vector<Record> ReadTopic(const std::string& brokers, const std::string& topic, std::chrono::milliseconds idle = 1500ms) {
  std::string err;
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  static int n = 0;
  conf->set("bootstrap.servers", brokers, err);
  conf->set("group.id", "reader-" + std::to_string(++n), err);
  conf->set("auto.offset.reset", "earliest", err);
  conf->set("enable.auto.commit", "false", err);
  std::unique_ptr<RdKafka::KafkaConsumer> c(RdKafka::KafkaConsumer::create(conf.get(), err));
  c->subscribe({topic});
  std::vector<Record> out;
  auto last = std::chrono::steady_clock::now();
  const auto give_up = last + 60s;
  while (std::chrono::steady_clock::now() < give_up) {
    std::unique_ptr<RdKafka::Message> m(c->consume(100));
    if (m->err() == RdKafka::ERR_NO_ERROR) {
      Record r{m->partition(), m->offset(), m->key() ? *m->key() : "",
               std::string(static_cast<const char*>(m->payload()), m->len()), {}};
      if (auto* h = m->headers()) {
        for (const auto& x : h->get_all()) r.headers[x.key()] = std::string(static_cast<const char*>(x.value()), x.value_size());
      }
      out.push_back(std::move(r));
      last = std::chrono::steady_clock::now();
    } else if (std::chrono::steady_clock::now() - last > idle && !out.empty()) {
      break;
    } else if (std::chrono::steady_clock::now() - last > 5 * idle) {
      break;
    }
  }
  c->close();
  return out;
}

class PipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cluster = stream::EmbeddedCluster::Start(1);
    ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
    cluster_ = std::move(cluster.value());
    config_.kafka.embedded = true;
    config_.store.path = dir_.sub("store");
    config_.store.sync_writes = false;
    config_.pipeline.batch_max_wait_ms = 20;
    config_.pipeline.shutdown_timeout_ms = 5000;
    config_.kafka.consumer = {{"session.timeout.ms", "6000"}, {"heartbeat.interval.ms", "500"}};
    for (const auto& [t, p] : std::vector<std::pair<std::string, int>>{
             {config_.kafka.events_topic, 4}, {config_.kafka.dlq_topic, 1}, {config_.kafka.recommendations_topic, 4}}) {
      ASSERT_TRUE(cluster_->CreateTopic(t, p).ok());
    }
    auto producer = stream::Publisher::Create({cluster_->bootstrap_servers(), "test-producer", {}},
                                              [this](const stream::Delivery& d) { if (!d.ok) ++produce_failures_; });
    ASSERT_TRUE(producer.ok());
    producer_ = std::move(producer.value());
  }

  void Start() { Start(cluster_->bootstrap_servers()); }
  void Start(const std::string& brokers) {
    auto p = daemon::Pipeline::Create(config_, brokers);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    pipeline_ = std::move(p.value());
    exited_ = false;
    thread_ = std::thread([this] {
      run_status_ = pipeline_->Run();
      exited_ = true;
    });
  }
  void Stop() {
    pipeline_->RequestStop();
    thread_.join();
    EXPECT_TRUE(run_status_.ok()) << run_status_.ToString();
    pipeline_.reset();
  }
  // The pull API's shelf holds exactly each user's newest list on the topic.
  // Call after Run() returned, before the pipeline is reset, in a test with one
  // incarnation (a restart starts the shelf empty).
  void ExpectShelfHoldsTheNewestLists() {
    std::map<std::string, std::string> newest;
    for (const auto& r : ReadTopic(cluster_->bootstrap_servers(), config_.kafka.recommendations_topic)) {
      newest[r.key] = r.value;
    }
    size_t shelved_users = 0;
    for (const auto& [user, value] : newest) {
      const auto shelved = pipeline_->shelf().Get(user);
      EXPECT_NE(shelved, nullptr) << user << " has a list on the topic but none on the shelf";
      if (!shelved) continue;
      EXPECT_TRUE(shelved->published) << user;
      ++shelved_users;
      EXPECT_EQ(stream::EncodeRecommendationList(shelved->list), value) << user;
      EXPECT_EQ(shelved->categories.size(), shelved->list.items.size());
    }
    EXPECT_EQ(shelved_users, pipeline_->shelf().size());
    EXPECT_EQ(shelved_users, newest.size());
  }
  // Waits for Run() to return on its own (a fatal error); false on timeout.
  bool WaitExit(std::chrono::seconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
      if (exited_) {
        thread_.join();
        pipeline_.reset();
        return true;
      }
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }
  // Waits until the running pipeline has consumed `messages` records in total.
  void WaitConsumed(uint64_t messages, std::chrono::seconds timeout = 60s) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
      const auto& s = pipeline_->stats();
      if (s.applied + s.duplicates + s.rejected >= messages) return;
      std::this_thread::sleep_for(20ms);
    }
    const auto& s = pipeline_->stats();
    FAIL() << "consumed " << s.applied + s.duplicates + s.rejected << " of " << messages;
  }

  // Produces `n` clicks/purchases/ratings for users u0..u{users-1}; returns expected per-type counts.
  void ProduceInteractions(int first, int n, int users) {
    for (int k = first; k < first + n; ++k) {
      Event e = testing::Interaction(static_cast<EventType>(k % 3), "u" + std::to_string(k % users),
                                     "i" + std::to_string((k * 7) % 50), kT0 + k, "ev-" + std::to_string(k), 1 + k % 5);
      ASSERT_TRUE(producer_->Produce(config_.kafka.events_topic, e.user_id, stream::EncodeEvent(e), {}, 0).ok());
      ++expected_[k % 3];
    }
    ASSERT_EQ(producer_->Flush(30s), 0);
  }
  void ProduceRaw(const std::string& key, const std::string& value) {
    ASSERT_TRUE(producer_->Produce(config_.kafka.events_topic, key, value, {}, 0).ok());
    ASSERT_EQ(producer_->Flush(30s), 0);
  }

  // Opens the (stopped) store and checks the counts are exactly what was produced.
  void ExpectExactCounts(uint64_t rejected, uint64_t duplicates) {
    store::StoreOptions o = config_.store;
    o.read_only = true;
    auto store = store::GraphStore::Open(o);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    for (size_t t = 0; t < 3; ++t) EXPECT_EQ((*store)->counters().applied[t], expected_[t]) << "type " << t;
    EXPECT_EQ((*store)->counters().rejected, rejected);
    EXPECT_EQ((*store)->counters().duplicates, duplicates);
    auto totals = (*store)->SumEdges();
    ASSERT_TRUE(totals.ok());
    for (size_t t = 0; t < 3; ++t) {
      EXPECT_EQ(totals->user_item[t], expected_[t]);
      EXPECT_EQ(totals->item_user[t], expected_[t]);
    }
  }

  // The same topics on a new cluster (a topic "recreated" under the same
  // name, with the same store), and a producer for it.
  Result<std::unique_ptr<stream::EmbeddedCluster>> Recreate(std::unique_ptr<stream::Publisher>* producer) {
    auto cluster = stream::EmbeddedCluster::Start(1);
    if (!cluster.ok()) return cluster.status();
    for (const auto& [t, p] : std::vector<std::pair<std::string, int>>{
             {config_.kafka.events_topic, 4}, {config_.kafka.dlq_topic, 1}, {config_.kafka.recommendations_topic, 4}}) {
      RECD_RETURN_IF_ERROR((*cluster)->CreateTopic(t, p));
    }
    auto publisher = stream::Publisher::Create({(*cluster)->bootstrap_servers(), "test-producer-2", {}}, nullptr);
    if (!publisher.ok()) return publisher.status();
    *producer = std::move(publisher.value());
    return cluster;
  }

  std::set<std::string> UsersWithLists() {
    std::set<std::string> users;
    for (const auto& r : ReadTopic(cluster_->bootstrap_servers(), config_.kafka.recommendations_topic)) {
      auto j = nlohmann::json::parse(r.value);
      EXPECT_EQ(j["user_id"], r.key);
      EXPECT_LE(j["items"].size(), j["k"].get<size_t>());
      users.insert(r.key);
    }
    return users;
  }

  testing::TempDir dir_;
  std::unique_ptr<stream::EmbeddedCluster> cluster_;
  std::unique_ptr<stream::Publisher> producer_;
  daemon::Config config_;
  std::unique_ptr<daemon::Pipeline> pipeline_;
  std::thread thread_;
  Status run_status_;
  std::array<uint64_t, 3> expected_{};
  std::atomic<int> produce_failures_{0};
  std::atomic<bool> exited_{false};
};

TEST_F(PipelineTest, AppliesExactlyDeadLettersBadInputAndPublishesEveryUser) {
  Start();
  ProduceInteractions(0, 3000, 200);
  ProduceRaw("u1", "{not json");
  ProduceRaw("u2", R"({"type":"rating","user_id":"u2","item_id":"i1","ts":1769860800000,"rating":11})");
  // Re-send two events with the same event ids: they must be dropped.
  ProduceRaw("u3", stream::EncodeEvent(testing::Interaction(EventType::kClick, "u3", "i21", kT0 + 3, "ev-3")));
  ProduceRaw("u4", stream::EncodeEvent(testing::Interaction(EventType::kPurchase, "u4", "i28", kT0 + 4, "ev-4")));
  WaitConsumed(3004);
  pipeline_->RequestStop();
  thread_.join();
  ASSERT_TRUE(run_status_.ok()) << run_status_.ToString();
  ExpectShelfHoldsTheNewestLists();
  pipeline_.reset();
  ExpectExactCounts(2, 2);

  const auto dlq = ReadTopic(cluster_->bootstrap_servers(), config_.kafka.dlq_topic);
  ASSERT_EQ(dlq.size(), 2u);
  std::set<std::string> codes;
  for (const auto& r : dlq) {
    codes.insert(r.headers.at("recd.error.code"));
    EXPECT_FALSE(r.headers.at("recd.error").empty());
    EXPECT_EQ(r.headers.at("recd.source.topic"), config_.kafka.events_topic);
    EXPECT_TRUE(r.headers.count("recd.source.partition"));
    EXPECT_TRUE(r.headers.count("recd.source.offset"));
  }
  EXPECT_EQ(codes, (std::set<std::string>{"bad_json", "rating_out_of_range"}));
  EXPECT_EQ(dlq[0].value == "{not json" || dlq[1].value == "{not json", true);
  EXPECT_EQ(UsersWithLists().size(), 200u);
}

// The learnt ranker in the live daemon: the version LATEST names orders the
// lists from the start (restored), an operator's activation of a corrupt
// version is refused while the active one keeps serving, labelled slates train
// a candidate in the background (recorded in the registry, kept by the margin),
// GET /v1/models lists the rankers, and a restart serves the same version.
TEST_F(PipelineTest, TheLearntRankerIsRestoredTrainsInTheBackgroundAndRefusesACorruptVersion) {
  const std::string root = dir_.sub("rankers");
  {
    rank::RankingData data;
    data.num_features = rank::kNumFeatures;
    for (int g = 0; g < 20; ++g) {
      for (int r = 0; r < 10; ++r) {
        for (size_t f = 0; f < rank::kNumFeatures; ++f) data.rows.push_back(static_cast<float>((g * 31 + r * 7 + f) % 11));
        data.labels.push_back(r == g % 10 ? 1.0f : 0.0f);
      }
      data.groups.push_back(10);
      data.weights.push_back(1.0f);
    }
    rank::RankingParams params;
    params.rounds = 5;
    auto model = rank::RankingModel::Train(data, params);
    ASSERT_TRUE(model.ok()) << model.status().ToString();
    const std::string bytes = *(*model)->Serialize();
    ASSERT_TRUE(rank::WriteRankerVersion(root, bytes, {}).ok());
    ASSERT_TRUE(rank::WriteRankerVersion(root, bytes, {}).ok());
    ASSERT_TRUE(rank::ActivateRankerVersion(root, "r0001").ok());
    std::ofstream(root + "/r0002/model.json", std::ios::app) << " ";  // no longer matches its checksum
  }
  config_.ranker_model.enabled = true;
  config_.ranker_model.dir = root;
  config_.ranker_model.min_groups = 30;
  config_.ranker_model.train_every = 30;
  config_.ranker_model.interval_ms = 0;
  // Never promoted, so r0001 keeps serving: the newest 1% of a few hundred
  // slates is under the 10 a decision needs. (A margin alone is not enough: it
  // multiplies the active ranker's HR@10, which can be 0 on a few slates.)
  config_.ranker_model.validation_fraction = 0.01;
  config_.ranker_model.keep_versions = 100;   // the corrupt r0002 stays to be refused, however many trainings run
  config_.ranker_model.params.rounds = 5;
  Start();
  EXPECT_EQ(pipeline_->stats().ranker_active.load(), 1u) << "r0001 restored at start";
  // Shoppers view items, and buy every third one they viewed just before: each
  // purchase labels the slate its buyer held (the item is among their open items).
  int produced = 0;
  for (int step = 0; step < 30; ++step) {
    for (int u = 0; u < 30; ++u) {
      const std::string user = "u" + std::to_string(u);
      const EpochMillis ts = kT0 + (step * 30 + u) * 1000;
      ProduceRaw(user, stream::EncodeEvent(testing::Interaction(EventType::kClick, user, "i" + std::to_string((u + step) % 40), ts)));
      ++produced;
      if (step % 3 == 2) {
        ProduceRaw(user, stream::EncodeEvent(testing::Interaction(EventType::kPurchase, user,
                                                                  "i" + std::to_string((u + step - 1) % 40), ts + 1)));
        ++produced;
      }
    }
  }
  WaitConsumed(produced);
  // An activation through the pipeline's command queue, as POST .../activate sends it.
  auto activate = [&](const std::string& version) {
    auto answered = std::make_shared<std::promise<Status>>();
    std::future<Status> answer = answered->get_future();
    EXPECT_TRUE(pipeline_->Submit(daemon::ActivateCommand{version, [answered](Result<std::optional<std::string>> r) {
                                    answered->set_value(r.ok() ? Status::Ok() : r.status());
                                  }}).ok());
    EXPECT_EQ(answer.wait_for(30s), std::future_status::ready);
    return answer.get();
  };
  const Status refused = activate("r0002");
  EXPECT_FALSE(refused.ok());
  EXPECT_NE(refused.message().find("checksum"), std::string::npos) << refused.ToString();
  EXPECT_FALSE(activate("r0042").ok());
  const auto until = std::chrono::steady_clock::now() + 60s;
  while (pipeline_->stats().ranker_trainings.load() == 0 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_GE(pipeline_->stats().ranker_trainings.load(), 1u);
  EXPECT_GT(pipeline_->stats().ranker_samples.load(), 30u);
  EXPECT_EQ(pipeline_->stats().ranker_promotions.load(), 0u);
  auto models = pipeline_->ModelsJson();
  ASSERT_TRUE(models.ok()) << models.status().ToString();
  const auto listed = nlohmann::json::parse(*models);
  ASSERT_GE(listed.size(), 3u) << *models;
  EXPECT_EQ(listed[0]["version"], "r0001");
  EXPECT_EQ(listed[0]["kind"], "ranker");
  EXPECT_TRUE(listed[0]["active"].get<bool>());
  EXPECT_EQ(listed[2]["version"], "r0003");
  EXPECT_EQ(listed[2]["parent"], "r0001");
  EXPECT_FALSE(listed[2]["promoted"].get<bool>());
  const uint64_t buffered = pipeline_->stats().ranker_buffered.load();
  EXPECT_GT(buffered, 30u);
  Stop();
  size_t learnt = 0;
  const auto lists = ReadTopic(cluster_->bootstrap_servers(), config_.kafka.recommendations_topic);
  for (const Record& r : lists) learnt += r.value.find("+ranker-r0001") != std::string::npos;
  EXPECT_EQ(learnt, lists.size()) << "every list ordered by r0001";
  EXPECT_GT(lists.size(), 0u);

  Start();
  EXPECT_EQ(pipeline_->stats().ranker_active.load(), 1u) << "restored after a restart";
  EXPECT_EQ(pipeline_->stats().ranker_buffered.load(), buffered) << "the labelled slates kept at the stop";
  Stop();
}

TEST_F(PipelineTest, ResumesFromStoredOffsetsAfterARestart) {
  Start();
  ProduceInteractions(0, 1000, 50);
  WaitConsumed(1000);
  Stop();
  ProduceInteractions(1000, 1000, 50);  // produced while recd is down
  Start();
  WaitConsumed(1000);
  std::this_thread::sleep_for(300ms);  // anything re-applied would show up here
  Stop();
  ExpectExactCounts(0, 0);
}

TEST_F(PipelineTest, SurvivesProduceAndFetchErrors) {
  Start();
  // Retriable errors on the brokers' produce (lists, DLQ) and fetch paths.
  rd_kafka_mock_push_request_errors(cluster_->mock(), kApiFetch, 6, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                                    RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                                    RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                                    RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION);
  ProduceInteractions(0, 2000, 100);
  rd_kafka_mock_push_request_errors(cluster_->mock(), kApiProduce, 4, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
                                    RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                                    RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS);
  ProduceRaw("u9", "[]");
  ProduceInteractions(2000, 1000, 100);
  WaitConsumed(3001);
  Stop();
  ExpectExactCounts(1, 0);
  EXPECT_EQ(ReadTopic(cluster_->bootstrap_servers(), config_.kafka.dlq_topic).size(), 1u);
  EXPECT_EQ(UsersWithLists().size(), 100u);
}

TEST_F(PipelineTest, KeepsGoingWhenTheBrokerGoesDownAndComesBack) {
  Start();
  ProduceInteractions(0, 1500, 80);
  WaitConsumed(1500);
  rd_kafka_mock_broker_set_down(cluster_->mock(), 1);
  std::this_thread::sleep_for(1500ms);  // recd polls against a dead broker
  rd_kafka_mock_broker_set_up(cluster_->mock(), 1);
  ProduceInteractions(1500, 1500, 80);
  WaitConsumed(3000, 90s);
  Stop();
  ExpectExactCounts(0, 0);
  EXPECT_EQ(UsersWithLists().size(), 80u);
}

// Issue 17: a fatal consumer error used to end recd (for systemd to restart).
// Here the group coordinator fences this static member, as it did after a real
// broker restart. The consumer is replaced in place, rejoins the group and
// reads on from the store's offsets: nothing lost, nothing counted twice.
TEST_F(PipelineTest, AFatalConsumerErrorReplacesTheConsumerAndNothingIsLost) {
  config_.kafka.group_instance_id = "recd-fenced";
  ProduceInteractions(0, 1000, 50);
  Start();
  WaitConsumed(1000);
  rd_kafka_mock_push_request_errors(cluster_->mock(), kApiHeartbeat, 1, RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID);
  const auto until = std::chrono::steady_clock::now() + 30s;
  while (pipeline_->stats().input_restarts.load() == 0 && std::chrono::steady_clock::now() < until && !exited_) {
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_FALSE(exited_) << "the pipeline stopped: " << run_status_.ToString();
  EXPECT_EQ(pipeline_->stats().input_restarts.load(), 1u) << "the fenced consumer was not replaced";
  ProduceInteractions(1000, 1000, 50);
  WaitConsumed(2000, 90s);
  Stop();
  ExpectExactCounts(0, 0);
  EXPECT_EQ(UsersWithLists().size(), 50u);
}

// Fault hole 3: a reject the dead-letter topic can never take (here: larger
// than the producer's message.max.bytes) is logged with its coordinates and
// counted; intake goes on. It used to stop the pipeline (a crash loop).
TEST_F(PipelineTest, ARejectTheDeadLetterTopicCannotTakeIsCountedAndIntakeGoesOn) {
  config_.kafka.producer = {{"message.max.bytes", "2000"}};
  Start();
  ProduceInteractions(0, 300, 30);
  ProduceRaw("u1", "{" + std::string(5000, 'x'));  // bad JSON, too large to dead-letter
  ProduceRaw("u2", "{oops");                       // bad JSON, dead-lettered normally
  ProduceInteractions(300, 300, 30);
  WaitConsumed(602);
  EXPECT_EQ(pipeline_->stats().dead_letters_lost.load(), 1u);
  Stop();
  ExpectExactCounts(2, 0);
  const auto dlq = ReadTopic(cluster_->bootstrap_servers(), config_.kafka.dlq_topic);
  ASSERT_EQ(dlq.size(), 1u);
  EXPECT_EQ(dlq[0].value, "{oops");
}

// Issue 17, rule 2: a produce error that is not the record's own fault used to
// count dead letters as lost and drop lists, and the idempotent producer's fatal
// error left the output dead while intake went on. Now such records are sent
// again (through a new producer after a fatal error): every reject reaches the
// dead-letter topic before its batch commits and every user gets a list.
class OutputFaultTest : public PipelineTest, public ::testing::WithParamInterface<rd_kafka_resp_err_t> {};

TEST_P(OutputFaultTest, RecordsTheProducerFailedAreSentAgainAndNothingIsLost) {
  const bool fatal = GetParam() == RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
  ProduceInteractions(0, 1200, 60);
  for (int k = 0; k < 5; ++k) ProduceRaw("bad" + std::to_string(k), "{broken " + std::to_string(k));
  // The test's own producer is done: the next produce request is recd's.
  rd_kafka_mock_push_request_errors(cluster_->mock(), kApiProduce, 1, GetParam());
  Start();
  WaitConsumed(1205);
  const auto until = std::chrono::steady_clock::now() + 60s;
  while (pipeline_->stats().lists_delivered.load() < 60 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_GE(pipeline_->stats().delivery_failures.load(), 1u) << "the injected error should have failed a delivery";
  EXPECT_EQ(pipeline_->stats().output_restarts.load(), fatal ? 1u : 0u);
  EXPECT_EQ(pipeline_->stats().dead_letters_lost.load(), 0u);
  EXPECT_EQ(pipeline_->stats().output_failing_since_ms.load(), 0) << "deliveries succeed again";
  Stop();
  ExpectExactCounts(5, 0);
  std::set<std::string> dead;
  for (const auto& r : ReadTopic(cluster_->bootstrap_servers(), config_.kafka.dlq_topic)) dead.insert(r.value);
  EXPECT_EQ(dead.size(), 5u) << "each reject at least once (a resend after a failure may repeat one)";
  EXPECT_EQ(UsersWithLists().size(), 60u);
}

INSTANTIATE_TEST_SUITE_P(ProduceErrors, OutputFaultTest,
                         ::testing::Values(RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH,             // fails the batch
                                           RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER),  // fatal
                         [](const auto& info) {
                           return info.param == RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER ? "Fatal" : "Permanent";
                         });

// Fault hole 2: a partition whose log went backwards (topic recreated) is not
// silently skipped as redeliveries: the default rule stops with a message, and
// "reset" applies the new log.
TEST_F(PipelineTest, ALogThatWentBackwardsStopsOrIsReappliedByRule) {
  Start();
  ProduceInteractions(0, 800, 40);
  WaitConsumed(800);
  Stop();
  // The "recreated" topic: a new cluster, the same store, fewer records per partition.
  std::unique_ptr<stream::Publisher> producer;
  auto recreated = Recreate(&producer);
  ASSERT_TRUE(recreated.ok());
  for (int k = 0; k < 100; ++k) {
    Event e = testing::Interaction(EventType::kClick, "v" + std::to_string(k % 10), "i" + std::to_string(k % 20),
                                   kT0 + 10'000 + k, "new-" + std::to_string(k));
    ASSERT_TRUE(producer->Produce(config_.kafka.events_topic, e.user_id, stream::EncodeEvent(e), {}, 0).ok());
  }
  ASSERT_EQ(producer->Flush(30s), 0);

  Start((*recreated)->bootstrap_servers());
  ASSERT_TRUE(WaitExit(60s)) << "the pipeline should stop on a log that went backwards";
  EXPECT_EQ(run_status_.code(), Status::Code::kAborted) << run_status_.ToString();
  EXPECT_NE(run_status_.message().find("recreated or truncated"), std::string::npos) << run_status_.ToString();
  EXPECT_NE(run_status_.message().find("kafka.offset_rewind = \"reset\""), std::string::npos);
  ExpectExactCounts(0, 0);  // nothing of the new log was applied

  config_.kafka.offset_rewind = daemon::RewindRule::kReset;
  Start((*recreated)->bootstrap_servers());
  WaitConsumed(100);
  EXPECT_GE(pipeline_->stats().offset_rewinds.load(), 4u) << "one per partition at least";
  Stop();
  expected_[0] += 100;
  ExpectExactCounts(0, 0);
}

// Issue 17, rule 1: a topic recreated with a log LONGER than the stored offset
// used to be read from the stored offset on, silently mixing two logs. The
// record before the stored offset is read again at start and its hash compared.
TEST_F(PipelineTest, ARecreatedLongerLogIsNoticedAndStopsOrIsReadFromItsStart) {
  Start();
  ProduceInteractions(0, 400, 40);
  WaitConsumed(400);
  Stop();
  std::unique_ptr<stream::Publisher> producer;
  auto recreated = Recreate(&producer);
  ASSERT_TRUE(recreated.ok());
  // Twice as many records per partition as before: every stored offset is inside the new log.
  constexpr int kNew = 1200;
  for (int k = 0; k < kNew; ++k) {
    Event e = testing::Interaction(EventType::kPurchase, "w" + std::to_string(k % 30), "i" + std::to_string(k % 25),
                                   kT0 + 20'000 + k, "second-" + std::to_string(k));
    ASSERT_TRUE(producer->Produce(config_.kafka.events_topic, e.user_id, stream::EncodeEvent(e), {}, 0).ok());
  }
  ASSERT_EQ(producer->Flush(30s), 0);

  Start((*recreated)->bootstrap_servers());
  ASSERT_TRUE(WaitExit(60s)) << "the pipeline should stop on a log that is not the one it applied";
  EXPECT_EQ(run_status_.code(), Status::Code::kAborted) << run_status_.ToString();
  EXPECT_NE(run_status_.message().find("is not the one recd applied there"), std::string::npos) << run_status_.ToString();
  ExpectExactCounts(0, 0);  // nothing of the new log was applied

  config_.kafka.offset_rewind = daemon::RewindRule::kReset;
  Start((*recreated)->bootstrap_servers());
  WaitConsumed(kNew);
  EXPECT_GE(pipeline_->stats().offset_rewinds.load(), 4u) << "one per partition";
  Stop();
  expected_[1] += kNew;
  ExpectExactCounts(0, 0);  // all of the new log, from its start, once

  // A plain restart on the same log is not a rewind: the hash matches.
  config_.kafka.offset_rewind = daemon::RewindRule::kStop;
  Start((*recreated)->bootstrap_servers());
  std::this_thread::sleep_for(3s);
  EXPECT_FALSE(exited_.load()) << run_status_.ToString();
  EXPECT_EQ(pipeline_->stats().offset_rewinds.load(), 0u);
  Stop();
  ExpectExactCounts(0, 0);
}

// Fault hole 5: users whose lists were never acknowledged join the due queue at
// start; they used to be ranked all at once before the first heartbeat.
TEST_F(PipelineTest, PendingUsersAtStartJoinTheQueueInsteadOfBlockingTheFirstTurn) {
  constexpr int kUsers = 20000;
  {
    auto store = store::GraphStore::Open(config_.store);
    ASSERT_TRUE(store.ok());
    std::vector<Event> events;
    for (int u = 0; u < kUsers; ++u) {
      events.push_back(testing::Interaction(EventType::kClick, "p" + std::to_string(u), "i" + std::to_string(u % 300), kT0 + u));
    }
    ASSERT_TRUE((*store)->Apply(events, {}, 0).ok());
    ASSERT_EQ((*store)->PendingUsers().size(), static_cast<size_t>(kUsers));
  }
  config_.pipeline.rank_slice_ms = 5;
  Start();
  while (pipeline_->stats().heartbeat.load() < 2) std::this_thread::sleep_for(1ms);
  EXPECT_LT(pipeline_->stats().lists_published.load(), static_cast<uint64_t>(kUsers))
      << "the loop turned only after every pending list was ranked";
  const auto until = std::chrono::steady_clock::now() + 60s;
  while (pipeline_->stats().lists_delivered.load() < kUsers && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(pipeline_->stats().lists_delivered.load(), static_cast<uint64_t>(kUsers));
  Stop();
  auto store = store::GraphStore::Open(config_.store);
  ASSERT_TRUE(store.ok());
  EXPECT_TRUE((*store)->PendingUsers().empty()) << "every delivered list cleared its mark";
}

// Fault hole 4: with the output down and message.timeout.ms=0 a full producer
// queue used to block the loop forever, past SIGTERM and the watchdog. Now
// intake pauses with nothing lost, the heartbeat goes on, a stop is honoured
// within pipeline.shutdown_timeout_ms, and everything arrives once it is back.
TEST(OutputDownTest, IntakePausesHeartbeatGoesOnAndStopIsPrompt) {
  auto cluster = stream::EmbeddedCluster::Start(2);
  ASSERT_TRUE(cluster.ok());
  rd_kafka_mock_cluster_s* mock = (*cluster)->mock();
  daemon::Config config;
  testing::TempDir dir;
  config.store.path = dir.sub("store");
  config.store.sync_writes = false;
  config.pipeline.batch_max_wait_ms = 20;
  config.pipeline.batch_max_events = 50;
  config.pipeline.max_in_flight = 20;
  config.pipeline.shutdown_timeout_ms = 1000;
  config.kafka.consumer = {{"session.timeout.ms", "6000"}, {"heartbeat.interval.ms", "500"}};
  config.kafka.producer = {{"queue.buffering.max.messages", "40"}};
  // Input, dead letters and the group on broker 1; the lists' partitions on broker 2.
  for (const auto& [t, p] : std::vector<std::pair<std::string, int>>{
           {config.kafka.events_topic, 2}, {config.kafka.dlq_topic, 1}, {config.kafka.recommendations_topic, 2}}) {
    ASSERT_TRUE((*cluster)->CreateTopic(t, p).ok());
    for (int partition = 0; partition < p; ++partition) {
      rd_kafka_mock_partition_set_leader(mock, t.c_str(), partition, t == config.kafka.recommendations_topic ? 2 : 1);
    }
  }
  rd_kafka_mock_coordinator_set(mock, "group", config.kafka.group_id.c_str(), 1);
  rd_kafka_mock_broker_set_down(mock, 2);

  auto producer = stream::Publisher::Create({(*cluster)->bootstrap_servers(), "test-producer", {}}, nullptr);
  ASSERT_TRUE(producer.ok());
  constexpr int kEvents = 2000, kUsers = 400;
  for (int k = 0; k < kEvents; ++k) {
    Event e = testing::Interaction(EventType::kClick, "u" + std::to_string(k % kUsers), "i" + std::to_string(k % 90), kT0 + k);
    ASSERT_TRUE((*producer)->Produce(config.kafka.events_topic, e.user_id, stream::EncodeEvent(e), {}, 0).ok());
  }
  ASSERT_EQ((*producer)->Flush(30s), 0);

  uint64_t applied_before = 0;  // by earlier runs (stats count one run)
  auto run = [&](std::chrono::seconds budget, bool expect_paused) {
    auto p = daemon::Pipeline::Create(config, (*cluster)->bootstrap_servers());
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    std::unique_ptr<daemon::Pipeline> pipeline = std::move(p.value());
    Status status;
    std::thread t([&] { status = pipeline->Run(); });
    const auto until = std::chrono::steady_clock::now() + budget;
    while (std::chrono::steady_clock::now() < until &&
           !(expect_paused ? pipeline->stats().intake_paused.load() == 1
                           : applied_before + pipeline->stats().applied.load() == kEvents &&
                                 pipeline->stats().lists_due.load() == 0 &&
                                 pipeline->stats().lists_delivered.load() >= kUsers)) {
      std::this_thread::sleep_for(20ms);
    }
    if (expect_paused) {
      EXPECT_EQ(pipeline->stats().intake_paused.load(), 1u) << "intake never paused";
      const uint64_t beat = pipeline->stats().heartbeat.load();
      std::this_thread::sleep_for(500ms);
      EXPECT_GT(pipeline->stats().heartbeat.load(), beat) << "the loop must keep turning while the output is down";
      EXPECT_LT(pipeline->stats().applied.load(), static_cast<uint64_t>(kEvents)) << "intake should have paused";
    }
    const auto stop_at = std::chrono::steady_clock::now();
    pipeline->RequestStop();
    t.join();
    const auto took = std::chrono::steady_clock::now() - stop_at;
    EXPECT_TRUE(status.ok()) << status.ToString();
    EXPECT_LT(took, std::chrono::milliseconds(config.pipeline.shutdown_timeout_ms) + 3s) << "stop was not prompt";
    applied_before += pipeline->stats().applied.load();
  };
  run(30s, /*expect_paused=*/true);
  rd_kafka_mock_broker_set_up(mock, 2);
  run(60s, /*expect_paused=*/false);

  store::StoreOptions o = config.store;
  o.read_only = true;
  auto store = store::GraphStore::Open(o);
  ASSERT_TRUE(store.ok());
  EXPECT_EQ((*store)->counters().applied[0], static_cast<uint64_t>(kEvents)) << "nothing lost, nothing twice";
  EXPECT_TRUE((*store)->PendingUsers().empty());
  std::set<std::string> users;
  for (const auto& r : ReadTopic((*cluster)->bootstrap_servers(), config.kafka.recommendations_topic)) users.insert(r.key);
  EXPECT_EQ(users.size(), static_cast<size_t>(kUsers));
}

}  // namespace
}  // namespace recd
