// recd::daemon — the daemon's configuration: every key of config/recd.toml, its
// default, and strict loading (unknown keys and wrong types are errors that name
// the key, the line and the fix).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "daemon/admin.h"
#include "model/baseline_ranker.h"
#include "model/pinsage_ranker.h"
#include "model/rank/list_blend.h"
#include "model/rank/ranker_trainer.h"
#include "model/refresher.h"
#include "model/retrain.h"
#include "model/eval/prequential.h"
#include "store/graph_store.h"
#include "stream/codec.h"
#include "stream/kafka.h"

namespace recd::daemon {

// What to do when a partition's log is behind the store's offset for it (the
// topic was recreated or truncated): kStop fails the pipeline with a message
// saying how to proceed; kReset applies the log from where it now is.
enum class RewindRule { kStop, kReset };

struct KafkaSection {
  std::string brokers = "127.0.0.1:9092";
  bool embedded = false;
  int embedded_brokers = 1;
  std::string embedded_bootstrap_file;
  std::string group_id = "recd";
  std::string group_instance_id;  // static membership: a restart rejoins without a rebalance
  std::string client_id = "recd";
  std::string events_topic = "recd.events";
  std::string dlq_topic = "recd.events.dlq";
  std::string recommendations_topic = "recd.recommendations";
  std::string similar_items_topic = "recd.similar-items";
  bool create_topics = true;
  int events_partitions = 4;
  int replication = 1;
  std::string start_from = "earliest";
  RewindRule offset_rewind = RewindRule::kStop;
  // [kafka.client] passthrough for every client recd makes (consumer, producer,
  // topic creation): security.protocol, sasl.*, ssl.* belong here.
  stream::KafkaProperties client;
  stream::KafkaProperties consumer;  // [kafka.consumer] passthrough
  stream::KafkaProperties producer;  // [kafka.producer] passthrough
  // Accept passthrough properties that break recd's delivery guarantees
  // (acks, idempotence, a finite delivery timeout, auto.offset.reset, ...).
  bool allow_unsafe = false;

  // What each client gets: [kafka.client], then its own table (later wins).
  stream::KafkaProperties ConsumerProperties() const { return Joined(client, consumer); }
  stream::KafkaProperties ProducerProperties() const { return Joined(client, producer); }

 private:
  static stream::KafkaProperties Joined(stream::KafkaProperties a, const stream::KafkaProperties& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  }
};

struct PipelineSection {
  size_t batch_max_events = 10000;
  int batch_max_wait_ms = 50;
  int publish_interval_ms = 500;
  double rank_share = 0.25;  // most of the loop time ranking may take while there is a backlog
  int rank_slice_ms = 100;   // longest ranking stretch between two polls
  int shutdown_timeout_ms = 10000;
  size_t max_in_flight = 50000;  // output records in flight at which intake pauses (resumes at half)
  int stats_interval_ms = 10000;
};

// [model]: the PinSage model the daemon serves (model.dir empty: none, the
// co-occurrence ranker serves), its refresher and its ranker.
struct ModelSection {
  model::RefresherConfig refresher;  // dir, device, state_dir, refresh and reload settings
  model::PinSageRankerConfig ranker;
  size_t similar_items_k = 20;       // related items per recd.similar-items record (0: not published)
};

// [retrain]: seasonal retraining inside the daemon (docs/architecture.md, "Retraining").
struct RetrainSection {
  model::RetrainConfig retrain;
  int thread_nice = 15;  // the training thread's nice value: intake and refresh win a contended core
};

// One key's effective value, as TOML, and where it came from (--print-config).
struct ConfigSetting {
  std::string section;  // "pipeline", "kafka.client"
  std::string key;
  std::string value;
  std::string origin;  // "default", "recd.toml:12", "environment variable RECD_…", "--set …"
};

struct Config {
  KafkaSection kafka;
  stream::DecoderLimits decoder;
  store::StoreOptions store;
  model::BaselineConfig ranker;
  rank::BlendConfig blend;  // [ranker] too: the candidate sources of model/rank/ and the seen-share cap
  rank::RankerModelConfig ranker_model;  // [ranker] model_*: the learnt ranking model
  ModelSection model;
  RetrainSection retrain;
  eval::PrequentialConfig eval;
  PipelineSection pipeline;
  std::string log_level = "info";
  AdminOptions admin;            // [admin]: listen ("" = off), threads, deadlines, limits
  std::string admin_token_file;  // bearer token of the POST endpoints; "" = they are refused
  std::vector<ConfigSetting> settings;  // every key, in binding order (secrets hidden)
};

// Environment variables RECD_<SECTION>__<KEY>=value, name-sorted.
using Environment = std::vector<std::pair<std::string, std::string>>;
// This process's RECD_*__* variables (RECD_CONFIG and other names without "__" are not keys).
Environment RecdEnvironment();

// Loads `path` (may be empty: defaults only), then this process's environment
// (RECD_<SECTION>__<KEY>; RECD_KAFKA__CLIENT__SASL_PASSWORD sets the
// [kafka.client] property sasl.password), then `overrides`, each
// "section.key=value" with a TOML value (bare strings are accepted); later
// wins. Validates ranges. The message of a failure names the key, where it came
// from (file:line, variable or --set), the fix, and a near key for a typo.
Result<Config> LoadConfig(const std::string& path, const std::vector<std::string>& overrides);
// The same from the file's text; `path` names it in messages ("" with no file).
Result<Config> ParseConfig(std::string_view text, const std::string& path, const std::vector<std::string>& overrides,
                           const Environment& env = {});
// The effective configuration as TOML, each value commented with its origin.
std::string PrintConfig(const Config& config);

// A key whose value differs between the running configuration and a reload.
struct ConfigChange {
  std::string name;      // "ranker.k"
  std::string from, to;  // TOML values ("(unset)" where the key is absent)
  std::string origin;    // where `to` came from
  bool live = false;     // SIGHUP applies it; otherwise it needs a restart
};
// The keys a running recd applies on SIGHUP (docs/operations.md lists them):
// the log level, k, the publish interval, the blend weights and depths, the
// filters, the category cap and the retraining interval.
bool IsLiveKey(const std::string& name);
// What differs from `running` to `next` (ConfigSetting lists), in `next`'s order.
std::vector<ConfigChange> ChangedSettings(const std::vector<ConfigSetting>& running,
                                          const std::vector<ConfigSetting>& next);

}  // namespace recd::daemon
