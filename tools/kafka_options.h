// recd tools — librdkafka properties from the command line (-X key=value, as
// kcat takes them), for every Kafka client a tool makes: SASL and TLS settings
// such as security.protocol, sasl.mechanism, sasl.username, sasl.password.
#pragma once

#include <string>

#include "CLI/CLI.hpp"
#include "stream/kafka.h"

namespace recd::tools {

inline void AddKafkaPropertyOption(CLI::App& app, stream::KafkaProperties* properties) {
  app.add_option_function<std::vector<std::string>>(
         "-X,--property",
         [properties](const std::vector<std::string>& pairs) {
           for (const std::string& pair : pairs) {
             const size_t eq = pair.find('=');
             properties->emplace_back(pair.substr(0, eq), pair.substr(eq + 1));
           }
         },
         "a librdkafka property for every Kafka client, key=value (repeatable), e.g. -X security.protocol=SASL_PLAINTEXT")
      ->check([](const std::string& pair) {
        const size_t eq = pair.find('=');
        return eq == std::string::npos || eq == 0 ? "expected key=value, e.g. sasl.username=recd" : std::string();
      });
}

}  // namespace recd::tools
