// recd tools — where generated or imported events go: a JSONL file (or stdout)
// and/or a Kafka topic (keyed by user id, murmur2-partitioned like Java clients),
// optionally paced to a rate.
#pragma once

#include <chrono>
#include <cstdint>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"
#include "CLI/CLI.hpp"
#include "stream/kafka.h"
#include "tools/kafka_options.h"

namespace recd::tools {

struct SinkOptions {
  std::string output;   // JSONL path; "-" for stdout; empty for none
  std::string brokers;  // Kafka bootstrap servers; empty for none
  std::string topic = "recd.events";
  double rate = 0;      // events per second; 0 = as fast as possible
  stream::KafkaProperties kafka_properties;  // -X: SASL, TLS, ...
  int flush_timeout_s = 60;  // how long Close waits for the broker to take everything
};

// Adds -o/--output, -b/--brokers and -t/--topic to a tool's command line.
inline void AddSinkOptions(CLI::App& app, SinkOptions* options) {
  app.add_option("-o,--output", options->output, "JSONL output path, or - for stdout");
  app.add_option("-b,--brokers", options->brokers, "produce to this Kafka cluster");
  app.add_option("-t,--topic", options->topic, "topic to produce to");
  AddKafkaPropertyOption(app, &options->kafka_properties);
  app.add_option("--flush-timeout-s", options->flush_timeout_s,
                 "at the end, wait this long for the broker to take every record (an outage may last)")
      ->capture_default_str();
}

class EventSink {
 public:
  static Result<std::unique_ptr<EventSink>> Open(const SinkOptions& options);
  ~EventSink();
  // `paced` records count against the rate; others (a catalogue load) go at once.
  Status Emit(std::string_view key, std::string_view value, bool paced = true);
  // Flushes; fails when any record could not be delivered.
  Status Close();
  uint64_t emitted() const { return emitted_; }

 private:
  EventSink() = default;
  SinkOptions options_;
  std::ofstream file_;
  std::ostream* out_ = nullptr;
  std::unique_ptr<stream::Publisher> publisher_;
  uint64_t emitted_ = 0;
  uint64_t paced_ = 0;
  uint64_t failed_ = 0;
  std::string first_error_;
  std::chrono::steady_clock::time_point start_;  // of the first paced record
};

}  // namespace recd::tools
