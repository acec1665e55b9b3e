#include "daemon/config.h"

#include <algorithm>
#include <cctype>
#include <unistd.h>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>

#include "base/log.h"

#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <toml++/toml.h>

namespace recd::daemon {
namespace {

std::string Where(const toml::node& n, const std::string& origin) {
  const auto& src = n.source();
  if (src.begin.line == 0) return origin;
  return origin + ":" + std::to_string(src.begin.line);
}

// A TOML basic string: quoted, with '"', '\' and control bytes escaped (a
// PEM from the environment has newlines).
std::string QuoteToml(const std::string& v) {
  std::string q = "\"";
  for (char ch : v) {
    const auto byte = static_cast<unsigned char>(ch);
    if (byte < 0x20 || byte == 0x7f) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", byte);
      q += escaped;
      continue;
    }
    if (ch == '"' || ch == '\\') q.push_back('\\');
    q.push_back(ch);
  }
  q.push_back('"');
  return q;
}

// [kafka.client], [kafka.consumer], [kafka.producer]: free-form librdkafka properties.
bool IsPropertyTable(const std::string& table) {
  return table == "client" || table == "consumer" || table == "producer";
}

// librdkafka properties whose values are credentials: --print-config hides them.
bool IsSecretProperty(const std::string& key) {
  for (const char* marker : {"password", "secret", "pem", "ssl.key", "jaas", "oauthbearer.config", "token"}) {
    if (key.find(marker) != std::string::npos) return true;
  }
  return false;
}

// A value as TOML writes it (--print-config).
template <typename T>
std::string Render(const T& v) {
  if constexpr (std::is_same_v<T, bool>) {
    return v ? "true" : "false";
  } else if constexpr (std::is_same_v<T, std::string>) {
    std::ostringstream os;
    os << toml::value<std::string>(v);  // quoted and escaped
    return os.str();
  } else if constexpr (std::is_floating_point_v<T>) {
    std::ostringstream os;
    os << toml::value<double>(static_cast<double>(v));
    return os.str();
  } else {
    return std::to_string(v);
  }
}

size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// " (did you mean X?)" for the closest known name within a third of its length.
std::string DidYouMean(const std::string& given, const std::set<std::string>& known) {
  std::string best;
  size_t best_distance = std::numeric_limits<size_t>::max();
  for (const std::string& k : known) {
    const size_t d = EditDistance(given, k);
    if (d < best_distance) {
      best_distance = d;
      best = k;
    }
  }
  if (best.empty() || best_distance > std::max<size_t>(2, best.size() / 3)) return "";
  return " (did you mean " + best + "?)";
}

// Binds typed config fields to TOML keys and collects every problem it finds.
class Binder {
 public:
  // `origins`: where keys set outside the file came from ("environment
  // variable RECD_…", "--set …"), by dotted name.
  Binder(const toml::table& root, std::string origin, std::map<std::string, std::string> origins)
      : root_(root), origin_(std::move(origin)), origins_(std::move(origins)) {}

  // Where `name`'s value came from, for messages.
  std::string WhereOf(const std::string& name, const toml::node& n) const {
    if (auto it = origins_.find(name); it != origins_.end()) return it->second;
    // A section that only an override created: the override that named it.
    if (auto it = origins_.lower_bound(name + "."); it != origins_.end() && it->first.rfind(name + ".", 0) == 0) {
      return it->second;
    }
    return Where(n, origin_);
  }

  template <typename T, typename Check>
  void Bind(const std::string& section, const std::string& key, T* dst, Check check, const char* expect) {
    known_[section].insert(key);
    const std::string name = section + "." + key;
    const toml::table* tbl = Section(section);
    const toml::node* n = tbl ? tbl->get(key) : nullptr;
    if (!n) {
      settings_.push_back({section, key, Render(*dst), "default"});
      return;
    }
    // Recorded before the checks: a failed key is reported, not printed.
    struct Record {
      Binder& b;
      const std::string& section;
      const std::string& key;
      const toml::node& n;
      T* dst;
      ~Record() { b.settings_.push_back({section, key, Render(*dst), b.WhereOf(section + "." + key, n)}); }
    } record{*this, section, key, *n, dst};
    std::optional<T> v;
    bool out_of_range = false;  // a number of the right kind that T cannot hold
    if constexpr (std::is_same_v<T, bool>) {
      v = n->value_exact<bool>();
    } else if constexpr (std::is_same_v<T, std::string>) {
      v = n->value_exact<std::string>();
    } else if constexpr (std::is_floating_point_v<T>) {
      if (auto d = n->value<double>(); d && (n->is_floating_point() || n->is_integer())) {
        const T cast = static_cast<T>(*d);
        if (std::isfinite(cast)) v = cast; else out_of_range = true;  // inf, nan, or beyond float
      }
    } else if (auto i = n->value_exact<int64_t>()) {
      using Limits = std::numeric_limits<T>;
      const bool fits = std::is_signed_v<T>
                            ? *i >= static_cast<int64_t>(Limits::min()) && *i <= static_cast<int64_t>(Limits::max())
                            : *i >= 0 && static_cast<uint64_t>(*i) <= static_cast<uint64_t>(Limits::max());
      if (fits) v = static_cast<T>(*i); else out_of_range = true;  // e.g. a negative count
    }
    if (out_of_range) {
      Error(name + " at " + WhereOf(name, *n) + " is out of range: it must be " + expect +
            " (finite, and not negative where a count is meant)");
      return;
    }
    if (!v) {
      Error(name + " at " + WhereOf(name, *n) + " must be " + expect);
      return;
    }
    if (std::string why = check(*v); !why.empty()) {
      Error(name + " at " + WhereOf(name, *n) + ": " + why);
      return;
    }
    *dst = *v;
  }

  // A table of free-form librdkafka properties.
  void BindProperties(const std::string& section, stream::KafkaProperties* dst) {
    known_[section];
    const toml::table* tbl = Section(section);
    if (!tbl) return;
    for (const auto& [k, node] : *tbl) {
      const std::string name = section + "." + std::string(k.str());
      std::string value;
      if (auto s = node.value_exact<std::string>()) value = *s;
      else if (auto i = node.value_exact<int64_t>()) value = std::to_string(*i);
      else if (auto b = node.value_exact<bool>()) value = *b ? "true" : "false";
      else if (auto d = node.value_exact<double>()) value = std::to_string(*d);
      else {
        Error(name + " at " + WhereOf(name, node) + " must be a string, number or boolean (it is passed to librdkafka as-is)");
        continue;
      }
      const bool secret = IsSecretProperty(std::string(k.str()));
      settings_.push_back({section, std::string(k.str()), secret ? "\"(hidden)\"" : Render(value), WhereOf(name, node)});
      dst->emplace_back(std::string(k.str()), value);
    }
  }

  // Reports keys and sections that nothing bound.
  void CheckUnknown() {
    for (const auto& [key, node] : root_) {
      const std::string section(key.str());
      if (!known_.count(section)) {
        Error("unknown section [" + section + "] at " + WhereOf(section, node) + DidYouMean(section, SectionNames()) +
              "; known sections: " + KnownSections());
        continue;
      }
      const toml::table* tbl = node.as_table();
      if (!tbl) {
        Error(section + " at " + WhereOf(section, node) + " must be a table ([" + section + "])");
        continue;
      }
      for (const auto& [sub, subnode] : *tbl) {
        const std::string name = section + "." + std::string(sub.str());
        if (known_[section].count(std::string(sub.str())) || known_.count(name)) continue;
        std::string keys;
        for (const auto& k : known_[section]) keys += (keys.empty() ? "" : ", ") + k;
        Error("unknown key " + name + " at " + WhereOf(name, subnode) + DidYouMean(std::string(sub.str()), known_[section]) +
              "; [" + section + "] knows: " + keys + " (see config/recd.toml)");
      }
    }
  }

  const std::vector<std::string>& errors() const { return errors_; }
  std::vector<ConfigSetting> TakeSettings() { return std::move(settings_); }
  // Registers a key bound by hand (not through Bind).
  void Known(const std::string& section, const std::string& key) { known_[section].insert(key); }
  // Records a hand-bound key's effective value (--print-config).
  void Note(ConfigSetting setting) { settings_.push_back(std::move(setting)); }
  void Error(std::string e) { errors_.push_back(std::move(e)); }

 private:
  const toml::table* Section(const std::string& dotted) const {
    const toml::node* n = root_.at_path(dotted).node();
    return n ? n->as_table() : nullptr;
  }
  std::set<std::string> SectionNames() const {
    std::set<std::string> names;
    for (const auto& [k, v] : known_) names.insert(k);
    return names;
  }
  std::string KnownSections() const {
    std::string s;
    for (const auto& [k, v] : known_) {
      if (k.find('.') == std::string::npos) s += (s.empty() ? "" : ", ") + k;
    }
    return s;
  }

  const toml::table& root_;
  std::string origin_;
  std::map<std::string, std::string> origins_;
  std::map<std::string, std::set<std::string>> known_;
  std::vector<std::string> errors_;
  std::vector<ConfigSetting> settings_;
};

auto Positive = [](auto v) { return v > 0 ? std::string() : std::string("must be > 0"); };
auto NonNegative = [](auto v) { return v >= 0 ? std::string() : std::string("must be >= 0"); };
// Half-lives under an hour: the epoch-referred log weights (ts / half-life) lose
// precision, and tiny ones overflow to infinity.
auto AtLeastAnHour = [](double days) { return days >= 1.0 / 24 ? std::string() : std::string("must be >= 0.042 (an hour)"); };
auto NonEmpty = [](const std::string& v) { return v.empty() ? std::string("must not be empty") : std::string(); };
auto Any = [](const auto&) { return std::string(); };
auto UnitInterval = [](float v) { return v >= 0 && v <= 1 ? std::string() : std::string("must be in [0, 1]"); };

// ranker.exclude: an array of interaction type names.
void BindExclude(Binder& b, const toml::table& root, store::TypeMask* dst) {
  b.Known("ranker", "exclude");
  const toml::node* n = root.at_path("ranker.exclude").node();
  auto note = [&](const std::string& origin_of_value) {
    std::string names;
    for (EventType t : {EventType::kClick, EventType::kPurchase, EventType::kRating}) {
      if (*dst & store::TypeBit(t)) names += std::string(names.empty() ? "" : ", ") + "\"" + std::string(Name(t)) + "\"";
    }
    b.Note({"ranker", "exclude", "[" + names + "]", origin_of_value});
  };
  if (!n) return note("default");
  const toml::array* arr = n->as_array();
  const std::string where = "ranker.exclude at " + b.WhereOf("ranker.exclude", *n);
  if (!arr) {
    b.Error(where + " must be an array of event types, e.g. [\"purchase\", \"rating\"] (or [] to list everything)");
    return;
  }
  store::TypeMask mask = 0;
  for (const auto& el : *arr) {
    const auto name = el.value_exact<std::string>();
    bool found = false;
    for (EventType t : {EventType::kClick, EventType::kPurchase, EventType::kRating}) {
      if (name && *name == Name(t)) {
        mask |= store::TypeBit(t);
        found = true;
      }
    }
    if (!found) {
      b.Error(where + ": \"" + (name ? *name : std::string("?")) +
              "\" is not an interaction type; use click, purchase or rating");
      return;
    }
  }
  *dst = mask;
  note(b.WhereOf("ranker.exclude", *n));
}

// Passthrough librdkafka properties recd sets itself, or relies on, checked
// against what the operator put under [kafka.consumer] / [kafka.producer].
struct ClientPropertyRule {
  const char* section;  // "kafka.consumer" or "kafka.producer"
  const char* key;
  // Where recd owns the property: the config key to use instead, or why it
  // cannot change at all. Refused even with kafka.allow_unsafe.
  const char* owned_by;
  // Otherwise: values that keep recd's guarantees, and what breaks without them.
  std::function<bool(const std::string&)> safe;
  const char* breaks;
};

// librdkafka reads enum and boolean values without regard to case.
std::string Lower(std::string v) {
  for (char& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return v;
}
bool IsZero(const std::string& v) { return v == "0"; }
bool IsAllAcks(const std::string& v) { return Lower(v) == "all" || v == "-1"; }
bool IsTrue(const std::string& v) { return Lower(v) == "true" || Lower(v) == "t" || v == "1"; }
bool IsEarliest(const std::string& v) { return Lower(v) == "earliest" || Lower(v) == "smallest" || Lower(v) == "beginning"; }
bool IsUnlimitedRetries(const std::string& v) { return v == "2147483647"; }  // idempotence's own default

// What breaks, shared by the aliases librdkafka has for one setting.
constexpr const char* kLosesAcknowledged =
    "a broker failure could lose lists and dead letters that recd has counted as delivered";
constexpr const char* kTimesOutInOutage =
    "during a broker outage longer than the timeout every queued list and dead letter fails at once and is sent "
    "again out of its order (0, the default, waits the outage out)";
constexpr const char* kRetriesRunOut =
    "a record that runs out of retries during an outage fails, and is sent again out of its order";

const std::vector<ClientPropertyRule>& ClientPropertyRules() {
  static const std::vector<ClientPropertyRule> rules = {
      {"kafka.consumer", "bootstrap.servers", "kafka.brokers", nullptr, nullptr},
      {"kafka.producer", "bootstrap.servers", "kafka.brokers", nullptr, nullptr},
      {"kafka.consumer", "metadata.broker.list", "kafka.brokers", nullptr, nullptr},
      {"kafka.producer", "metadata.broker.list", "kafka.brokers", nullptr, nullptr},
      {"kafka.consumer", "client.id", "kafka.client_id", nullptr, nullptr},
      {"kafka.producer", "client.id", "kafka.client_id", nullptr, nullptr},
      {"kafka.producer", "statistics.interval.ms", "nothing: recd's readiness (/readyz) reads them every second",
       nullptr, nullptr},
      {"kafka.consumer", "group.id", "kafka.group_id", nullptr, nullptr},
      {"kafka.consumer", "group.instance.id", "kafka.group_instance_id", nullptr, nullptr},
      {"kafka.consumer", "enable.auto.commit",
       "nothing: the store commits offsets with the state they produced, in one batch", nullptr, nullptr},
      {"kafka.consumer", "enable.auto.offset.store", "nothing: offsets live in recd's store", nullptr, nullptr},
      {"kafka.consumer", "enable.partition.eof", "nothing: recd polls past the end of a partition", nullptr, nullptr},
      {"kafka.producer", "delivery.report.only.error",
       "nothing: recd clears a user's pending list only when its delivery is reported", nullptr, nullptr},
      {"kafka.producer", "transactional.id", "nothing: recd's producer is idempotent, not transactional", nullptr,
       nullptr},
      {"kafka.producer", "partitioner",
       "nothing: lists are keyed by user id and placed by murmur2, as Java clients place them", nullptr, nullptr},
      {"kafka.consumer", "auto.offset.reset", nullptr, IsEarliest,
       "an out-of-range offset would skip to the end, and records deleted before recd applied them go unnoticed "
       "(kafka.start_from sets where a new partition starts)"},
      {"kafka.consumer", "isolation.level", nullptr, [](const std::string& v) { return Lower(v) == "read_committed"; },
       "events of aborted producer transactions would be applied"},
      {"kafka.producer", "acks", nullptr, IsAllAcks, kLosesAcknowledged},
      {"kafka.producer", "request.required.acks", nullptr, IsAllAcks, kLosesAcknowledged},
      {"kafka.producer", "enable.idempotence", nullptr, IsTrue,
       "retries could duplicate or reorder records, and an older list could overwrite a newer one on the compacted "
       "topic"},
      {"kafka.producer", "message.timeout.ms", nullptr, IsZero, kTimesOutInOutage},
      {"kafka.producer", "delivery.timeout.ms", nullptr, IsZero, kTimesOutInOutage},
      {"kafka.producer", "retries", nullptr, IsUnlimitedRetries, kRetriesRunOut},
      {"kafka.producer", "message.send.max.retries", nullptr, IsUnlimitedRetries, kRetriesRunOut},
  };
  return rules;
}

// Refuses passthrough properties that collide with recd's own keys, and (unless
// kafka.allow_unsafe) those that break its delivery guarantees. [kafka.client]
// reaches the consumer and the producer alike, so both sets of rules apply to it.
void CheckClientProperties(Binder& b, const toml::table& root, const KafkaSection& k) {
  for (const auto& [section, props] :
       {std::pair<std::string, const stream::KafkaProperties*>{"kafka.client", &k.client},
        std::pair<std::string, const stream::KafkaProperties*>{"kafka.consumer", &k.consumer},
        std::pair<std::string, const stream::KafkaProperties*>{"kafka.producer", &k.producer}}) {
    const std::string table = section.substr(section.find('.') + 1);
    for (const auto& [key, value] : *props) {
      for (const ClientPropertyRule& rule : ClientPropertyRules()) {
        if ((section != rule.section && section != "kafka.client") || key != rule.key) continue;
        const toml::node* n = root["kafka"][table][key].node();
        const std::string name = "[" + section + "] \"" + key + "\" = \"" + value + "\"" +
                                 (n ? " at " + b.WhereOf(section + "." + key, *n) : std::string());
        if (rule.owned_by) {
          const std::string fix = std::string(rule.owned_by);
          if (fix.rfind("kafka.", 0) == 0) {
            b.Error(name + ": recd sets this itself; use " + fix + " instead");
          } else {
            b.Error(name + ": recd sets this itself and needs its own value (" + fix + "); remove it");
          }
        } else if (!rule.safe(value) && !k.allow_unsafe) {
          b.Error(name + " breaks recd's guarantees: " + rule.breaks +
                  ". Remove it, or set kafka.allow_unsafe = true to accept that");
        }
        break;  // one verdict per key, though [kafka.client] matches two rules for some
      }
    }
  }
}

void MergeInto(toml::table& dst, const toml::table& src) {
  for (const auto& [k, v] : src) {
    if (v.is_table() && dst.get(k) && dst.get(k)->is_table()) {
      MergeInto(*dst.get(k)->as_table(), *v.as_table());
    } else {
      dst.insert_or_assign(k, v);
    }
  }
}

}  // namespace

Environment RecdEnvironment() {
  Environment env;
  for (char** e = environ; e && *e; ++e) {
    const std::string entry(*e);
    const size_t eq = entry.find('=');
    if (eq == std::string::npos) continue;
    const std::string name = entry.substr(0, eq);
    // Only RECD_<SECTION>__<KEY>: RECD_CONFIG and other single-underscore names are not config keys.
    if (name.rfind("RECD_", 0) == 0 && name.find("__") != std::string::npos) env.emplace_back(name, entry.substr(eq + 1));
  }
  std::sort(env.begin(), env.end());
  return env;
}

Result<std::string> EnvironmentKey(const std::string& variable) {
  std::vector<std::string> parts;
  const std::string rest = variable.substr(5);  // after RECD_
  for (size_t start = 0;;) {
    const size_t sep = rest.find("__", start);
    parts.push_back(rest.substr(start, sep == std::string::npos ? std::string::npos : sep - start));
    if (sep == std::string::npos) break;
    start = sep + 2;
  }
  for (std::string& part : parts) {
    for (char& ch : part) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  }
  if (parts.size() == 3 && parts[0] == "kafka" && IsPropertyTable(parts[1])) {
    if (parts[2].empty()) return Status::InvalidArgument("environment variable " + variable + " names no property");
    // librdkafka's property names use dots: RECD_KAFKA__CLIENT__SASL_PASSWORD is sasl.password.
    std::replace(parts[2].begin(), parts[2].end(), '_', '.');
    return "kafka." + parts[1] + ".\"" + parts[2] + "\"";
  }
  if (parts.size() == 2 && parts[0] == "kafka" && IsPropertyTable(parts[1])) {
    return Status::InvalidArgument("environment variable " + variable + " names the table [kafka." + parts[1] +
                                   "]: set one property, e.g. RECD_KAFKA__" + variable.substr(12) +
                                   "__SASL_PASSWORD");
  }
  if (parts.size() != 2 || parts[0].empty() || parts[1].empty()) {
    return Status::InvalidArgument("environment variable " + variable +
                                   ": expected RECD_<SECTION>__<KEY> (e.g. RECD_PIPELINE__SHUTDOWN_TIMEOUT_MS) or "
                                   "RECD_KAFKA__CLIENT__<PROPERTY> (e.g. RECD_KAFKA__CLIENT__SASL_PASSWORD)");
  }
  return parts[0] + "." + parts[1];
}

Result<Config> LoadConfig(const std::string& path, const std::vector<std::string>& overrides) {
  if (path.empty()) return ParseConfig("", "", overrides, RecdEnvironment());
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return Status::InvalidArgument(path + ": cannot read the config file (" + std::strerror(errno) +
                                   "); pass an existing file with -c, or none for the defaults");
  }
  const std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  return ParseConfig(text, path, overrides, RecdEnvironment());
}

Result<Config> ParseConfig(std::string_view text, const std::string& path, const std::vector<std::string>& overrides,
                           const Environment& env) {
  toml::table root;
  try {
    if (!text.empty()) root = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    std::ostringstream os;
    os << path << ":" << e.source().begin.line << ":" << e.source().begin.column << ": "
       << e.description() << " (the file must be TOML; see config/recd.toml)";
    return Status::InvalidArgument(os.str());
  }
  // Precedence: defaults < file < environment < --set; each later one merged over.
  std::map<std::string, std::string> origins;  // dotted key -> where it was set, outside the file
  // `raw`: the value is a string as given (client properties from the
  // environment: a password "1e5" stays "1e5").
  auto apply = [&](const std::string& key, const std::string& value, const std::string& origin, bool raw) -> Status {
    toml::table t;
    try {
      t = toml::parse(key + " = " + (raw ? QuoteToml(value) : value));
    } catch (const toml::parse_error&) {
      try {
        if (raw) throw;  // no second reading of a raw value
        t = toml::parse(key + " = " + QuoteToml(value));  // a bare word or path: take it as a string
      } catch (const toml::parse_error& e) {
        return Status::InvalidArgument(origin + ": " + std::string(e.description()));
      }
    }
    std::string dotted = key;
    dotted.erase(std::remove(dotted.begin(), dotted.end(), '"'), dotted.end());
    origins[dotted] = origin;
    MergeInto(root, t);
    return Status::Ok();
  };
  for (const auto& [variable, value] : env) {
    auto key = EnvironmentKey(variable);
    if (!key.ok()) return key.status();
    const bool property = key->find('"') != std::string::npos;  // kafka.<table>."<property>"
    RECD_RETURN_IF_ERROR(apply(*key, value, "environment variable " + variable, property));
  }
  for (const std::string& o : overrides) {
    const size_t eq = o.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Status::InvalidArgument("--set " + o + ": expected section.key=value, e.g. store.path=/tmp/recd");
    }
    // The origin names the key only: a --set value may be a secret.
    RECD_RETURN_IF_ERROR(apply(o.substr(0, eq), o.substr(eq + 1), "--set " + o.substr(0, eq), false));
  }

  Config c;
  Binder b(root, path.empty() ? "--set" : path, std::move(origins));
  auto& k = c.kafka;
  b.Bind("kafka", "brokers", &k.brokers, NonEmpty, "a string like \"host1:9092,host2:9092\"");
  b.Bind("kafka", "embedded", &k.embedded, Any, "true or false");
  b.Bind("kafka", "embedded_brokers", &k.embedded_brokers, Positive, "an integer");
  b.Bind("kafka", "embedded_bootstrap_file", &k.embedded_bootstrap_file, Any, "a path");
  b.Bind("kafka", "group_id", &k.group_id, NonEmpty, "a string");
  b.Bind("kafka", "group_instance_id", &k.group_instance_id, Any, "a string unique to this instance");
  b.Bind("kafka", "client_id", &k.client_id, NonEmpty, "a string");
  b.Bind("kafka", "events_topic", &k.events_topic, NonEmpty, "a topic name");
  b.Bind("kafka", "dlq_topic", &k.dlq_topic, NonEmpty, "a topic name");
  b.Bind("kafka", "recommendations_topic", &k.recommendations_topic, NonEmpty, "a topic name");
  b.Bind("kafka", "similar_items_topic", &k.similar_items_topic, NonEmpty, "a topic name");
  b.Bind("kafka", "create_topics", &k.create_topics, Any, "true or false");
  b.Bind("kafka", "events_partitions", &k.events_partitions, Positive, "an integer");
  b.Bind("kafka", "replication", &k.replication, Positive, "an integer");
  b.Bind("kafka", "start_from", &k.start_from,
         [](const std::string& v) {
           return v == "earliest" || v == "latest" ? std::string() : "must be \"earliest\" or \"latest\"";
         },
         "a string");
  std::string rewind = "stop";
  b.Bind("kafka", "offset_rewind", &rewind,
         [](const std::string& v) {
           return v == "stop" || v == "reset" ? std::string() : "must be \"stop\" or \"reset\"";
         },
         "a string");
  k.offset_rewind = rewind == "reset" ? RewindRule::kReset : RewindRule::kStop;
  b.BindProperties("kafka.client", &k.client);
  b.BindProperties("kafka.consumer", &k.consumer);
  b.BindProperties("kafka.producer", &k.producer);
  b.Bind("kafka", "allow_unsafe", &k.allow_unsafe, Any, "true or false");
  CheckClientProperties(b, root, k);

  auto& d = c.decoder;
  b.Bind("stream", "max_event_bytes", &d.max_event_bytes, Positive, "an integer (bytes)");
  b.Bind("stream", "max_id_bytes", &d.max_id_bytes, Positive, "an integer (bytes)");
  b.Bind("stream", "rating_min", &d.rating_min, Any, "a number");
  b.Bind("stream", "rating_max", &d.rating_max, Any, "a number");
  int64_t skew_s = d.max_future_skew_ms / 1000;
  b.Bind("stream", "max_future_skew_s", &skew_s, NonNegative, "an integer (seconds; 0 = no check)");
  d.max_future_skew_ms = skew_s * 1000;

  auto& s = c.store;
  double half_life_days = s.decay.half_life_ms / 86'400'000.0;
  b.Bind("store", "path", &s.path, NonEmpty, "a directory path");
  b.Bind("store", "half_life_days", &half_life_days, Positive, "a number of days");
  b.Bind("store", "click_weight", &s.decay.click_weight, NonNegative, "a number");
  b.Bind("store", "purchase_weight", &s.decay.purchase_weight, NonNegative, "a number");
  b.Bind("store", "rating_weight", &s.decay.rating_weight, NonNegative, "a number");
  int64_t dedup_window = static_cast<int64_t>(s.dedup_window);
  b.Bind("store", "dedup_window", &dedup_window,
         [](int64_t v) { return v >= 0 ? std::string() : std::string("must be >= 0 (0 turns dedup off)"); },
         "an integer (event ids; 0 turns dedup off)");
  s.dedup_window = static_cast<size_t>(dedup_window);
  b.Bind("store", "sync_writes", &s.sync_writes, Any, "true or false");
  b.Bind("store", "max_attribute_names", &s.max_attribute_names,
         [](size_t v) { return v >= 64 ? std::string() : std::string("must be >= 64 (one event may carry 64)"); },
         "an integer");
  b.Bind("store", "memtable_budget_mb", &s.memtable_budget_mb,
         [](size_t v) { return v == 0 || v >= 64 ? std::string() : std::string("must be 0 (no budget) or >= 64"); },
         "an integer (MiB)");
  b.Bind("store", "max_users", &s.max_users, Any, "an integer (0 = no cap)");
  double user_idle_days = static_cast<double>(s.user_idle_ms) / 86'400'000.0;
  b.Bind("store", "user_idle_days", &user_idle_days, NonNegative, "a number of days of event time (0 = never)");
  s.user_idle_ms = static_cast<EpochMillis>(user_idle_days * 86'400'000.0);
  s.decay.half_life_ms = half_life_days * 86'400'000.0;
  if (s.path.empty()) s.path = "/var/lib/recd/store";

  auto& r = c.ranker;
  b.Bind("ranker", "k", &r.k, Positive, "an integer");
  b.Bind("ranker", "recent_items", &r.recent_items, Positive, "an integer");
  b.Bind("ranker", "co_users_per_item", &r.co_users_per_item, Positive, "an integer");
  b.Bind("ranker", "items_per_co_user", &r.items_per_co_user, Positive, "an integer");
  b.Bind("ranker", "trending_pool", &r.trending_pool, Positive, "an integer");
  b.Bind("ranker", "degree_penalty", &r.degree_penalty, UnitInterval, "a number");
  auto& bl = c.blend;
  b.Bind("ranker", "viewed_weight", &bl.viewed_weight, NonNegative, "a number (0: open items are not a source)");
  b.Bind("ranker", "viewed_items", &bl.viewed_items, Positive, "an integer");
  b.Bind("ranker", "sequence_weight", &bl.sequence_weight, NonNegative, "a number (0: the sequence source is off)");
  b.Bind("ranker", "sequence_items", &bl.sequence_items, Positive, "an integer");
  b.Bind("ranker", "sequence_window", &bl.sequence.window, Positive, "an integer");
  b.Bind("ranker", "sequence_seeds", &bl.sequence.seeds, Positive, "an integer");
  b.Bind("ranker", "sequence_max_successors", &bl.sequence.max_successors, Positive, "an integer");
  b.Bind("ranker", "sequence_half_life_days", &bl.sequence.half_life_days, Positive, "a number of days");
  b.Bind("ranker", "covisit_weight", &bl.covisit_weight, NonNegative, "a number (0: the co-visitation source is off)");
  b.Bind("ranker", "covisit_items", &bl.covisit_items, Positive, "an integer");
  b.Bind("ranker", "covisit_window", &bl.covisit.window, Positive, "an integer");
  b.Bind("ranker", "covisit_seeds", &bl.covisit.seeds, Positive, "an integer");
  b.Bind("ranker", "covisit_max_neighbours", &bl.covisit.max_neighbours, Positive, "an integer");
  b.Bind("ranker", "covisit_half_life_days", &bl.covisit.half_life_days, Positive, "a number of days");
  b.Bind("ranker", "covisit_degree_penalty", &bl.covisit.degree_penalty, UnitInterval, "a number in [0, 1]");
  b.Bind("ranker", "unseen_trending_weight", &bl.unseen_trending_weight, NonNegative, "a number (0: off)");
  b.Bind("ranker", "unseen_trending_items", &bl.unseen_trending_items, Positive, "an integer");
  b.Bind("ranker", "session_weight", &bl.session_weight, NonNegative, "a number (0: session kNN is off)");
  b.Bind("ranker", "session_items", &bl.session_items, Positive, "an integer");
  b.Bind("ranker", "session_gap_s", &bl.session.session_gap_s, Positive, "a number of seconds");
  b.Bind("ranker", "session_length", &bl.session.session_items, Positive, "an integer (items per session)");
  b.Bind("ranker", "session_max_sessions", &bl.session.max_sessions, Positive, "an integer");
  b.Bind("ranker", "session_per_item", &bl.session.sessions_per_item, Positive, "an integer");
  b.Bind("ranker", "session_neighbours", &bl.session.neighbours, Positive, "an integer");
  b.Bind("ranker", "seasonal_weight", &bl.seasonal_weight, NonNegative, "a number (0: the seasonal source is off)");
  b.Bind("ranker", "seasonal_items", &bl.seasonal_items, Positive, "an integer");
  b.Bind("ranker", "seasonal_weeks_ahead", &bl.seasonal.weeks_ahead,
         [](size_t v) { return v <= 51 ? std::string() : std::string("must be <= 51 (52 would be every week: plain popularity)"); },
         "an integer of weeks");
  b.Bind("ranker", "seasonal_max_items", &bl.seasonal.max_items, Positive, "an integer");
  b.Bind("ranker", "seasonal_half_life_days", &bl.seasonal.half_life_days, AtLeastAnHour, "a number of days");
  b.Bind("ranker", "category_trending_weight", &bl.category_trending_weight, NonNegative,
         "a number (0: trending within the user's attribute values is off)");
  b.Bind("ranker", "category_trending_items", &bl.category_trending_items, Positive, "an integer");
  b.Bind("ranker", "category_trending_seeds", &bl.category_trending.seeds, Positive, "an integer");
  b.Bind("ranker", "category_trending_max_items", &bl.category_trending.max_items, Positive, "an integer");
  b.Bind("ranker", "category_trending_half_life_days", &bl.category_trending.half_life_days, AtLeastAnHour, "a number of days");
  b.Bind("ranker", "new_items_weight", &bl.new_items_weight, NonNegative, "a number (0: the new items source is off)");
  b.Bind("ranker", "new_items_items", &bl.new_items_items, Positive, "an integer");
  b.Bind("ranker", "new_items_max_age_days", &bl.new_items.max_age_days, Positive, "a number of days");
  b.Bind("ranker", "new_items_max_users", &bl.new_items.max_users, Any, "an integer");
  b.Bind("ranker", "new_items_pool", &bl.new_items.pool, Positive, "an integer");
  b.Bind("ranker", "new_items_seeds", &bl.new_items.seeds, Positive, "an integer");
  b.Bind("ranker", "rrf_k", &bl.rrf_k, Positive, "a number");
  b.Bind("ranker", "max_seen_share", &bl.max_seen_share, UnitInterval, "a number in [0, 1] (1: no cap)");

  BindExclude(b, root, &r.exclude_types);

  auto& m = c.model;
  auto& rf = m.refresher;
  b.Bind("model", "dir", &rf.model_root, Any, "a directory holding LATEST (rectrain -o), or \"\" for none");
  b.Bind("model", "device", &rf.device,
         [](const std::string& v) {
           const bool cuda = v == "cuda" || (v.rfind("cuda:", 0) == 0 && v.size() > 5 &&
                                             v.find_first_not_of("0123456789", 5) == std::string::npos);
           return v == "auto" || v == "cpu" || cuda ? std::string() : "must be auto, cpu, cuda or cuda:N";
         },
         "a string");
  b.Bind("model", "state_dir", &rf.state_dir, Any, "a directory (\"\": <store.path>-live)");
  auto bind_ms = [&](const char* key, std::chrono::milliseconds* dst) {
    int64_t ms = dst->count();
    b.Bind("model", key, &ms, Positive, "an integer (ms)");
    *dst = std::chrono::milliseconds(ms);
  };
  bind_ms("refresh_interval_ms", &rf.interval);
  bind_ms("reload_interval_ms", &rf.reload_interval);
  bind_ms("snapshot_interval_ms", &rf.snapshot_interval);
  b.Bind("model", "refresh_budget", &rf.budget, Positive, "an integer (items per tick)");
  b.Bind("model", "refresh_batch", &rf.batch, Positive, "an integer (rows per forward pass)");
  b.Bind("model", "refresh_fanout", &rf.fanout, NonNegative, "an integer (items per touched item)");
  b.Bind("model", "related", &rf.related, Positive, "an integer (ANN neighbours kept per item)");
  b.Bind("model", "walked", &rf.walked, Positive, "an integer (walk neighbours kept per item)");
  b.Bind("model", "walks", &rf.walks, NonNegative, "an integer (0: the model's own)");
  b.Bind("model", "ann_m", &rf.ann_m, Positive, "an integer");
  b.Bind("model", "ann_ef_construction", &rf.ann_ef_construction, Positive, "an integer");
  b.Bind("model", "ann_ef_search", &rf.ann_ef_search, Positive, "an integer");
  b.Bind("model", "ann_update_probability", &rf.ann_update_probability, UnitInterval, "a number");
  b.Bind("model", "cpu_threads", &rf.cpu_threads, NonNegative, "an integer (0: LibTorch's default)");
  b.Bind("model", "thread_nice", &rf.thread_nice,
         [](int v) { return v >= 0 && v <= 19 ? std::string() : std::string("must be in 0..19"); }, "an integer");
  b.Bind("model", "similar_items_k", &m.similar_items_k, NonNegative, "an integer (0: not published)");
  auto& pr = m.ranker;
  for (auto [prefix, w] : {std::pair<std::string, model::BlendWeights*>{"session_", &pr.session}, {"returning_", &pr.returning}}) {
    b.Bind("model", prefix + "related", &w->related, NonNegative, "a number");
    b.Bind("model", prefix + "walked", &w->walked, NonNegative, "a number");
    b.Bind("model", prefix + "profile", &w->profile, NonNegative, "a number");
    b.Bind("model", prefix + "trending", &w->trending, NonNegative, "a number");
  }
  int64_t session_gap_s = pr.session_gap_ms / 1000;
  b.Bind("model", "session_gap_s", &session_gap_s, NonNegative, "an integer (seconds)");
  pr.session_gap_ms = session_gap_s * 1000;
  b.Bind("model", "walk_degree_penalty", &pr.walk_degree_penalty, UnitInterval, "a number");
  b.Bind("model", "recency_decay", &pr.recency_decay,
         [](float v) { return v > 0 && v <= 1 ? std::string() : std::string("must be in (0, 1]"); }, "a number");
  b.Bind("model", "trending_candidates", &pr.trending_candidates, NonNegative, "an integer");
  b.Bind("model", "diversity_field", &pr.diversity_field, NonEmpty, "an item attribute name");
  b.Bind("model", "category_cap", &pr.category_cap, NonNegative, "an integer (0: no cap)");
  if (rf.state_dir.empty()) rf.state_dir = s.path + "-live";

  // The learnt ranking model ([ranker] model_*; model/rank/ranker_trainer.h).
  auto& lr = c.ranker_model;
  b.Bind("ranker", "model", &lr.enabled, Any, "true or false");
  b.Bind("ranker", "model_dir", &lr.dir, Any, "a directory (\"\": <store.path>-ranker)");
  std::string labels = "positives";
  b.Bind("ranker", "model_labels", &labels,
         [](const std::string& v) {
           return v == "positives" || v == "discovery" || v == "both"
                      ? std::string()
                      : std::string("must be \"positives\", \"discovery\" or \"both\"");
         },
         "a string");
  lr.labels = labels == "discovery" ? rank::RankerLabels::kDiscovery
              : labels == "both"    ? rank::RankerLabels::kBoth
                                    : rank::RankerLabels::kPositives;
  b.Bind("ranker", "model_positive_weight", &lr.positive_weight, Positive,
         "a number (a positive's slate against a discovery's, with model_labels = \"both\")");
  b.Bind("ranker", "model_max_groups", &lr.max_groups, Positive, "an integer (labelled slates kept)");
  b.Bind("ranker", "model_min_groups", &lr.min_groups, Positive, "an integer (labelled slates)");
  b.Bind("ranker", "model_train_every", &lr.train_every, NonNegative, "an integer (new labelled slates; 0 = off)");
  double ranker_interval_days = static_cast<double>(lr.interval_ms) / 86'400'000.0;
  b.Bind("ranker", "model_interval_days", &ranker_interval_days, NonNegative, "a number (days of event time; 0 = off)");
  lr.interval_ms = static_cast<int64_t>(ranker_interval_days * 86'400'000.0);
  b.Bind("ranker", "model_half_life_days", &lr.half_life_days, NonNegative, "a number (days; 0 = no decay)");
  b.Bind("ranker", "model_validation_fraction", &lr.validation_fraction,
         [](double v) { return v > 0 && v < 1 ? std::string() : std::string("must be in (0, 1)"); }, "a number");
  b.Bind("ranker", "model_train_negatives", &lr.train_negatives, NonNegative, "an integer (0 = every candidate)");
  b.Bind("ranker", "model_promote_margin", &lr.promote_margin,
         [](double v) { return v > -1 ? std::string() : std::string("must be > -1"); }, "a number (relative)");
  b.Bind("ranker", "model_keep_versions", &lr.keep_versions, Positive, "an integer");
  b.Bind("ranker", "model_objective", &lr.params.objective,
         [](const std::string& v) {
           return v == "rank:pairwise" || v == "rank:ndcg" || v == "binary:logistic"
                      ? std::string()
                      : std::string("must be \"rank:pairwise\", \"rank:ndcg\" or \"binary:logistic\"");
         },
         "a string");
  b.Bind("ranker", "model_pair_samples", &lr.params.pair_samples, Positive, "an integer (pairs per labelled item per round)");
  b.Bind("ranker", "model_rounds", &lr.params.rounds, Positive, "an integer (boosting rounds)");
  b.Bind("ranker", "model_max_depth", &lr.params.max_depth, Positive, "an integer");
  b.Bind("ranker", "model_eta", &lr.params.eta, Positive, "a number (learning rate)");
  b.Bind("ranker", "model_subsample", &lr.params.subsample,
         [](double v) { return v > 0 && v <= 1 ? std::string() : std::string("must be in (0, 1]"); }, "a number");
  b.Bind("ranker", "model_threads", &lr.params.threads, Positive, "an integer (training threads)");
  b.Bind("ranker", "model_thread_nice", &lr.thread_nice,
         [](int v) { return v >= 0 && v <= 19 ? std::string() : std::string("must be in 0..19"); }, "an integer");
  b.Bind("ranker", "model_history", &lr.features.history, Positive, "an integer (interactions kept per user)");
  b.Bind("ranker", "model_session_gap_s", &lr.features.session_gap_s, Positive, "a number (seconds)");
  if (lr.max_groups < lr.min_groups) {
    b.Error("ranker.model_max_groups (" + std::to_string(lr.max_groups) + ") is below ranker.model_min_groups (" +
            std::to_string(lr.min_groups) + "): no training could ever start; raise model_max_groups");
  }
  if (std::ceil(static_cast<double>(lr.max_groups) * lr.validation_fraction) >= static_cast<double>(lr.max_groups)) {
    b.Error("ranker.model_validation_fraction leaves no slate of ranker.model_max_groups to train on; lower it");
  }
  if (static_cast<double>(lr.max_groups) * lr.validation_fraction < 10) {
    b.Error("ranker.model_max_groups x ranker.model_validation_fraction is below 10 held-out slates: no candidate "
            "could ever be promoted; raise either");
  }

  auto& rt = c.retrain.retrain;
  auto days_key = [&](const char* key, int64_t* ms, const char* what) {
    double days = static_cast<double>(*ms) / 86'400'000.0;
    b.Bind("retrain", key, &days, NonNegative, what);
    *ms = static_cast<int64_t>(days * 86'400'000.0);
  };
  auto fraction = [](double v) { return v >= 0 && v < 1 ? std::string() : std::string("must be in [0, 1)"); };
  b.Bind("retrain", "enabled", &rt.enabled, Any, "true or false");
  days_key("interval_days", &rt.interval_ms, "a number (days of event time; 0 = off)");
  b.Bind("retrain", "every_events", &rt.every_events, NonNegative, "an integer (0 = off)");
  b.Bind("retrain", "drift_fraction", &rt.drift_fraction, fraction, "a number (0 = off)");
  b.Bind("retrain", "drift_min_positives", &rt.drift_min_positives, Positive, "an integer (positives)");
  days_key("min_gap_days", &rt.min_gap_ms, "a number (days of event time)");
  b.Bind("retrain", "half_life_days", &rt.half_life_days, NonNegative, "a number (0 = no decay in the window)");
  b.Bind("retrain", "window_days", &rt.window_days, Positive, "a number (days)");
  b.Bind("retrain", "seasonal_weight", &rt.seasonal_weight,
         [](double v) { return v >= 0 && v <= 1 ? std::string() : std::string("must be in [0, 1]"); },
         "a number (0 = no seasonal recall)");
  b.Bind("retrain", "seasonal_before_days", &rt.seasonal_before_days, NonNegative, "a number (days)");
  b.Bind("retrain", "seasonal_after_days", &rt.seasonal_after_days, NonNegative, "a number (days)");
  b.Bind("retrain", "validation_fraction", &rt.validation_fraction,
         [](double v) { return v > 0 && v < 1 ? std::string() : std::string("must be in (0, 1)"); }, "a number");
  b.Bind("retrain", "warm_start", &rt.warm_start, Any, "true or false");
  double pair_window_hours = static_cast<double>(rt.pair_window_ms) / 3'600'000.0;
  b.Bind("retrain", "pair_window_hours", &pair_window_hours, NonNegative, "a number (0 = the model's own)");
  rt.pair_window_ms = static_cast<int64_t>(pair_window_hours * 3'600'000.0);
  auto& tr = rt.recipe.training;
  b.Bind("retrain", "epochs", &tr.epochs, Positive, "an integer");
  b.Bind("retrain", "max_batches_per_epoch", &tr.max_batches_per_epoch, NonNegative, "an integer (0 = every pair)");
  b.Bind("retrain", "batch_size", &tr.batch_size, Positive, "an integer (pairs)");
  b.Bind("retrain", "learning_rate", &tr.learning_rate, Positive, "a number");
  b.Bind("retrain", "promote_margin", &rt.promote_margin,
         [](double v) { return v > -1 ? std::string() : std::string("must be > -1"); }, "a number (relative)");
  b.Bind("retrain", "keep_versions", &rt.keep_versions, Positive, "an integer");
  b.Bind("retrain", "republish_per_second", &rt.republish_per_second, Positive, "a number (lists per second)");
  days_key("republish_active_days", &rt.republish_active_ms, "a number (days of event time)");
  b.Bind("retrain", "thread_nice", &c.retrain.thread_nice,
         [](int v) { return v >= 0 && v <= 19 ? std::string() : std::string("must be in 0..19"); }, "an integer");
  if (rt.enabled && rf.model_root.empty()) {
    b.Error("retrain.enabled needs model.dir: set model.dir to the directory the daemon keeps its model versions in");
  }

  auto& ev = c.eval;
  b.Bind("eval", "positive_rating", &ev.positive_rating, Any, "a number (ratings at or above it are positives)");
  b.Bind("eval", "window", &ev.window, Positive, "an integer (positives)");

  auto& p = c.pipeline;
  b.Bind("pipeline", "batch_max_events", &p.batch_max_events, Positive, "an integer");
  b.Bind("pipeline", "batch_max_wait_ms", &p.batch_max_wait_ms, Positive, "an integer (ms)");
  b.Bind("pipeline", "publish_interval_ms", &p.publish_interval_ms, NonNegative, "an integer (ms)");
  b.Bind("pipeline", "rank_share", &p.rank_share,
         [](double v) { return v > 0 && v < 1 ? std::string() : std::string("must be in (0, 1)"); }, "a number");
  b.Bind("pipeline", "rank_slice_ms", &p.rank_slice_ms, Positive, "an integer (ms)");
  b.Bind("pipeline", "shutdown_timeout_ms", &p.shutdown_timeout_ms, Positive, "an integer (ms)");
  b.Bind("pipeline", "max_in_flight", &p.max_in_flight, Positive, "an integer (records)");
  b.Bind("pipeline", "stats_interval_ms", &p.stats_interval_ms, Positive, "an integer (ms)");

  b.Bind("daemon", "log_level", &c.log_level,
         [](const std::string& v) {
           log::Level l;
           return log::ParseLevel(v, &l) ? std::string() : "must be debug, info, warn, error or critical";
         },
         "a string");
  auto& a = c.admin;
  b.Bind("admin", "listen", &a.listen, Any, "\"host:port\" or \"\" to turn it off");
  b.Bind("admin", "threads", &a.threads, [](int v) { return v >= 1 && v <= 64 ? std::string() : std::string("must be in 1..64"); },
         "an integer (threads)");
  b.Bind("admin", "read_timeout_ms", &a.read_timeout_ms, Positive, "an integer (ms)");
  b.Bind("admin", "write_timeout_ms", &a.write_timeout_ms, Positive, "an integer (ms)");
  b.Bind("admin", "idle_timeout_ms", &a.idle_timeout_ms, Positive, "an integer (ms)");
  b.Bind("admin", "header_limit_bytes", &a.header_limit_bytes,
         [](size_t v) { return v >= 1024 && v <= (1u << 20) ? std::string() : std::string("must be in 1024..1048576"); },
         "an integer (bytes)");
  b.Bind("admin", "body_limit_bytes", &a.body_limit_bytes,
         [](size_t v) { return v <= (64u << 20) ? std::string() : std::string("must be at most 67108864 (64 MiB)"); },
         "an integer (bytes)");
  b.Bind("admin", "max_connections", &a.max_connections, Positive, "an integer (connections)");
  b.Bind("admin", "token_file", &c.admin_token_file, Any,
         "a file holding the bearer token of POST /v1/retrain and /v1/models/{V}/activate (\"\" = refused)");
  b.CheckUnknown();

  if (d.rating_min >= d.rating_max) b.Error("stream.rating_min must be below stream.rating_max");
  s.decay.rating_max = d.rating_max;
  c.settings = b.TakeSettings();
  if (!b.errors().empty()) {
    std::string msg = "bad configuration:";
    for (const auto& e : b.errors()) msg += "\n  " + e;
    return Status::InvalidArgument(msg);
  }
  return c;
}

std::string PrintConfig(const Config& config) {
  std::map<std::string, std::vector<const ConfigSetting*>> by_section;
  for (const ConfigSetting& s : config.settings) by_section[s.section].push_back(&s);
  std::ostringstream os;
  os << "# recd's effective configuration; each value's origin follows it\n"
        "# (default, file:line, environment variable RECD_<SECTION>__<KEY>, or --set)\n";
  for (const auto& [section, settings] : by_section) {
    os << "\n[" << section << "]\n";
    for (const ConfigSetting* s : settings) {
      const bool bare = std::all_of(s->key.begin(), s->key.end(), [](char ch) {
        return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-';
      });
      os << (bare ? s->key : QuoteToml(s->key)) << " = " << s->value << "  # " << s->origin << "\n";
    }
  }
  return os.str();
}

bool IsLiveKey(const std::string& name) {
  static const std::set<std::string> kLive = [] {
    std::set<std::string> keys = {"daemon.log_level",     "ranker.k",           "ranker.exclude",
                                  "ranker.max_seen_share", "ranker.rrf_k",      "pipeline.publish_interval_ms",
                                  "model.category_cap",   "retrain.interval_days"};
    for (const char* source : {"viewed", "sequence", "covisit", "unseen_trending", "session", "seasonal",
                               "category_trending", "new_items"}) {
      keys.insert(std::string("ranker.") + source + "_weight");
      keys.insert(std::string("ranker.") + source + "_items");
    }
    for (const char* mode : {"session", "returning"}) {
      for (const char* part : {"related", "walked", "profile", "trending"}) {
        keys.insert(std::string("model.") + mode + "_" + part);
      }
    }
    return keys;
  }();
  return kLive.count(name) > 0;
}

std::vector<ConfigChange> ChangedSettings(const std::vector<ConfigSetting>& running,
                                          const std::vector<ConfigSetting>& next) {
  std::map<std::string, const ConfigSetting*> before;
  for (const ConfigSetting& s : running) before[s.section + "." + s.key] = &s;
  std::vector<ConfigChange> changes;
  for (const ConfigSetting& s : next) {
    const std::string name = s.section + "." + s.key;
    auto it = before.find(name);
    if (it != before.end()) {
      if (it->second->value != s.value) changes.push_back({name, it->second->value, s.value, s.origin, IsLiveKey(name)});
      before.erase(it);
    } else {
      changes.push_back({name, "(unset)", s.value, s.origin, IsLiveKey(name)});
    }
  }
  // Keys the reload no longer sets (client properties removed from the file).
  for (const auto& [name, s] : before) changes.push_back({name, s->value, "(unset)", "the reloaded configuration", IsLiveKey(name)});
  return changes;
}

}  // namespace recd::daemon
