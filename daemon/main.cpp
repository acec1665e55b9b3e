// recd — the streaming recommender daemon. Thin: parse flags, load config, start
// the embedded cluster when asked, create topics, make the pipeline, start the
// admin endpoint and run the pipeline on this thread. A service thread
// (Boost.Asio) turns SIGTERM/SIGINT into an orderly stop (a second one exits at
// once; one while starting exits at once too) and tells systemd where we are
// (daemon/service_notifier.h). `recd replay` drives the same pipeline from a
// file on event time (daemon/replay.h).
#include <CLI/CLI.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <atomic>
#include <thread>

#include "base/log.h"
#include "daemon/admin.h"
#include "daemon/config.h"
#include "daemon/pipeline.h"
#include "daemon/replay.h"
#include "daemon/service_notifier.h"
#include "daemon/signals.h"
#include "stream/kafka.h"

namespace {

constexpr int kExitFailure = 1;
constexpr int kExitBadConfig = 78;  // EX_CONFIG (sysexits.h); the unit's ExecStartPre check relies on it

}  // namespace

int main(int argc, char** argv) {
  using namespace recd;
  CLI::App app{"recd: streaming recommender daemon (Kafka -> RocksDB graph -> top-K lists -> Kafka)"};
  std::string config_path;
  std::vector<std::string> overrides;
  bool check_only = false;
  bool print_config = false;
  app.add_option("-c,--config", config_path, "TOML config file (see config/recd.toml)");
  app.add_option("-s,--set", overrides, "override one key: section.key=value (repeatable)");
  app.add_flag("--check-config", check_only, "validate the configuration and exit (78 when it is bad)");
  app.add_flag("--print-config", print_config,
               "print the effective configuration as TOML, each value's origin beside it, and exit");
  app.footer("Configuration precedence: defaults < the -c file < environment variables RECD_<SECTION>__<KEY> "
             "(e.g. RECD_PIPELINE__SHUTDOWN_TIMEOUT_MS=5000; RECD_KAFKA__CLIENT__SASL_PASSWORD sets the "
             "[kafka.client] property sasl.password) < --set. A bad configuration exits with 78 (EX_CONFIG).");
  daemon::ReplayOptions replay;
  CLI::App* replay_cmd = app.add_subcommand(
      "replay", "drive the pipeline from a JSONL events file on event time (no Kafka); write every list it "
                "would publish and its prequential quality");
  replay_cmd->add_option("--events", replay.events, "JSONL events (recgen -o, recreplay -o)")->required();
  replay_cmd->add_option("--lists-out", replay.lists_out, "write every list (output JSON + published_at) here");
  replay_cmd->add_option("--similar-out", replay.similar_out, "write every similar-items record here");
  replay_cmd->add_option("--metrics-out", replay.metrics_out, "prequential HR@10 / NDCG@10 per window, as CSV (and retrain/swap moments in <file>.models.csv)");
  replay_cmd->add_option("--plot", replay.plot, "draw HR@10 over event time as PNG, retrain and swap moments marked (gnuplot; needs --metrics-out)");
  replay_cmd->add_option("--store", replay.store_dir, "store directory (default: a fresh temporary one)");
  replay_cmd->add_option("--window-hours", replay.window_hours, "event-time window of the CSV")->capture_default_str();
  replay_cmd->add_option("-c,--config", config_path, "TOML config file (see config/recd.toml)");
  replay_cmd->add_option("-s,--set", overrides, "override one key: section.key=value (repeatable)");
  CLI11_PARSE(app, argc, argv);

  auto loaded = daemon::LoadConfig(config_path, overrides);
  if (!loaded.ok()) {
    std::fprintf(stderr, "recd: %s\n", loaded.status().message().c_str());
    return kExitBadConfig;
  }
  const daemon::Config& config = loaded.value();
  if (print_config) {
    std::fputs(daemon::PrintConfig(config).c_str(), stdout);
    return 0;
  }
  std::string admin_token;
  if (!config.admin_token_file.empty()) {
    auto token = daemon::ReadTokenFile(config.admin_token_file);
    if (!token.ok()) {
      std::fprintf(stderr, "recd: bad configuration:\n  %s\n", token.status().message().c_str());
      return kExitBadConfig;
    }
    admin_token = std::move(*token);
  }
  if (check_only) {
    std::printf("recd: configuration OK\n");
    return 0;
  }
  log::Level level = log::Level::kInfo;
  log::ParseLevel(config.log_level, &level);
  log::SetLevel(level);

  if (*replay_cmd) {
    if (Status s = daemon::RunReplay(config, replay); !s.ok()) {
      RECD_ERROR("replay: " << s.ToString());
      return s.code() == Status::Code::kInvalidArgument ? kExitBadConfig : kExitFailure;
    }
    return 0;
  }

  // The service thread: signals and systemd's notifications, from the first
  // startup phase on; the pipeline runs on this thread once it is made.
  boost::asio::io_context io;
  auto keep_running = boost::asio::make_work_guard(io);
  daemon::ServiceNotifier notifier(io);
  std::atomic<daemon::Pipeline*> running{nullptr};
  // Dropped once the pipeline has returned: a signal during the teardown then
  // takes its default action (exit at once) instead of going unheard.
  std::optional<daemon::StopSignals> signals;
  signals.emplace(
      io,
      [&](int signo) {
        daemon::Pipeline* pipeline = running.load();
        if (pipeline == nullptr) {
          // Nothing runs yet that an orderly stop would finish: the store is
          // crash-safe, and a model loading is loaded again at the next start.
          RECD_INFO("signal " << signo << " while starting: exiting");
          log::Flush();
          std::_Exit(0);
        }
        RECD_INFO("signal " << signo << ": stopping intake (send it again to exit at once)");
        notifier.Stopping();
        pipeline->RequestStop();
      },
      [&](int signo) {
        // State is crash-safe (kill -9 loses nothing); lists not yet acknowledged
        // stay pending in the store and are published at the next start.
        RECD_WARN("signal " << signo << " again: exiting now without waiting for the orderly stop");
        log::Flush();
        std::_Exit(kExitFailure);
      });
  // SIGHUP: the file, the environment and --set read again; the pipeline
  // applies the keys that can change live and names the rest.
  std::optional<daemon::HangupSignal> hangup;
  hangup.emplace(io, [&] {
    daemon::Pipeline* pipeline = running.load();
    if (pipeline == nullptr) {
      RECD_WARN("SIGHUP while starting: ignored; send it again once recd runs");
      return;
    }
    auto reloaded = daemon::LoadConfig(config_path, overrides);
    if (!reloaded.ok()) {
      RECD_ERROR("reload refused, the running configuration stays: " << reloaded.status().message());
      return;
    }
    RECD_INFO("SIGHUP: configuration read again" << (config_path.empty() ? "" : " from " + config_path));
    pipeline->Reload(std::move(reloaded.value()));
  });
  std::thread service([&io] { io.run(); });
  // Stopped and joined before the pipeline its timer reads goes away, and on
  // every early return.
  struct ServiceThread {
    boost::asio::io_context& io;
    std::thread& thread;
    void Stop() {
      io.stop();
      if (thread.joinable()) thread.join();
    }
    ~ServiceThread() { Stop(); }
  } service_thread{io, service};

  std::unique_ptr<stream::EmbeddedCluster> embedded;
  std::string brokers = config.kafka.brokers;
  const std::vector<std::pair<std::string, int>> topics = {
      {config.kafka.events_topic, config.kafka.events_partitions},
      {config.kafka.dlq_topic, 1},
      {config.kafka.recommendations_topic, config.kafka.events_partitions},
      {config.kafka.similar_items_topic, config.kafka.events_partitions}};
  if (config.kafka.embedded) {
    notifier.SetPhase("starting the embedded Kafka cluster");
    auto started = stream::EmbeddedCluster::Start(config.kafka.embedded_brokers);
    if (!started.ok()) {
      RECD_ERROR(started.status().ToString());
      return kExitFailure;
    }
    embedded = std::move(started.value());
    for (const auto& [name, partitions] : topics) {
      if (Status s = embedded->CreateTopic(name, partitions); !s.ok()) {
        RECD_ERROR(s.ToString());
        return kExitFailure;
      }
    }
    brokers = embedded->bootstrap_servers();
    RECD_INFO("embedded Kafka cluster (librdkafka mock) listening on " << brokers);
    if (!config.kafka.embedded_bootstrap_file.empty()) {
      std::ofstream(config.kafka.embedded_bootstrap_file) << brokers << "\n";
    }
  } else if (config.kafka.create_topics) {
    notifier.SetPhase("creating the topics on " + brokers);
    std::vector<stream::TopicSpec> specs;
    for (const auto& [name, partitions] : topics) {
      specs.push_back({name, partitions, config.kafka.replication, {}});
    }
    // Latest list per user, and latest related items per item, win.
    specs[specs.size() - 2].configs = {{"cleanup.policy", "compact"}};
    specs.back().configs = {{"cleanup.policy", "compact"}};
    if (Status s = stream::EnsureTopics({brokers, config.kafka.client_id, config.kafka.client}, specs,
                                        std::chrono::seconds(30));
        !s.ok()) {
      RECD_ERROR(s.ToString());
      return kExitFailure;
    }
  }

  auto created = daemon::Pipeline::Create(config, brokers, [&notifier](const std::string& phase) { notifier.SetPhase(phase); });
  if (!created.ok()) {
    RECD_ERROR("cannot start: " << created.status().ToString());
    return created.status().code() == Status::Code::kInvalidArgument ? kExitBadConfig : kExitFailure;
  }
  std::unique_ptr<daemon::Pipeline> pipeline = std::move(created.value());

  std::unique_ptr<daemon::AdminServer> admin;
  if (!config.admin.listen.empty()) {
    daemon::AdminControl control;
    control.token = admin_token;
    daemon::Pipeline* p = pipeline.get();
    control.models = [p] { return p->ModelsJson(); };
    control.shelf = &pipeline->shelf();
    control.submit = [p](daemon::AdminCommand command) { return p->Submit(std::move(command)); };
    control.status = [&config] {
      return nlohmann::json{{"version", RECD_VERSION},
                            {"events_topic", config.kafka.events_topic},
                            {"recommendations_topic", config.kafka.recommendations_topic},
                            {"group_id", config.kafka.group_id},
                            {"model_dir", config.model.refresher.model_root}}
          .dump();
    };
    auto started = daemon::AdminServer::Start(config.admin, pipeline->stats(), std::move(control));
    if (!started.ok()) {
      RECD_ERROR("cannot start: " << started.status().ToString());
      return kExitFailure;
    }
    admin = std::move(started.value());
  }

  running.store(pipeline.get());
  notifier.Running(&pipeline->stats());
  RECD_INFO("recd running: events from " << config.kafka.events_topic << ", lists to "
                                         << config.kafka.recommendations_topic);
  const Status result = pipeline->Run();
  service_thread.Stop();
  hangup.reset();
  signals.reset();
  if (!result.ok()) {
    RECD_ERROR("stopped on error: " << result.ToString());
    return kExitFailure;
  }
  RECD_INFO("stopped cleanly");
  return 0;
}
