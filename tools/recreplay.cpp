// recreplay — imports public interaction logs and replays them as recd events:
// MovieLens u.data (tab) and ratings.dat ("::"), RecBole .inter (typed header),
// and CSV with customer_id,item_id,timestamp,click,purchase columns. Writes JSONL
// and/or produces to Kafka, in event-time order, optionally time-scaled.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "base/time.h"
#include "stream/codec.h"
#include "tools/event_sink.h"

namespace {

using recd::Event;
using recd::EventType;

std::vector<std::string> Split(const std::string& line, const std::string& sep) {
  std::vector<std::string> out;
  size_t pos = 0;
  for (;;) {
    const size_t next = line.find(sep, pos);
    out.push_back(line.substr(pos, next == std::string::npos ? std::string::npos : next - pos));
    if (next == std::string::npos) return out;
    pos = next + sep.size();
  }
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

// Epoch seconds, epoch milliseconds (>= 1e11) or RFC 3339; nullopt when none fits.
std::optional<recd::EpochMillis> ParseTime(const std::string& text) {
  if (auto t = recd::ParseRfc3339(text)) return t;
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || *end != '\0' || v < 0) return std::nullopt;
  return static_cast<recd::EpochMillis>(v >= 1e11 ? v : v * 1000);
}

struct ImportError {
  std::string message;
};

class Importer {
 public:
  Importer(std::string format, std::string path, std::string prefix)
      : format_(std::move(format)), path_(std::move(path)), prefix_(std::move(prefix)) {
    const size_t slash = path_.find_last_of('/');
    source_ = slash == std::string::npos ? path_ : path_.substr(slash + 1);
  }

  // Reads every row; throws ImportError naming the file, line and fix.
  std::vector<Event> Read() {
    std::ifstream in(path_);
    if (!in) throw ImportError{"cannot read " + path_};
    if (format_ == "auto") format_ = Detect();
    std::vector<Event> events;
    std::string line;
    size_t line_no = 0;
    std::vector<std::string> header;
    while (std::getline(in, line)) {
      ++line_no;
      line = Trim(line);
      if (line.empty()) continue;
      if (format_ == "movielens") {
        Rating(Split(line, "\t"), line_no, &events);
      } else if (format_ == "ml-dat") {
        Rating(Split(line, "::"), line_no, &events);
      } else if (format_ == "recbole") {
        if (header.empty()) {
          header = Split(line, "\t");
          continue;
        }
        RecBole(header, Split(line, "\t"), line_no, &events);
      } else if (format_ == "csv") {
        if (header.empty()) {
          header = Split(line, ",");
          continue;
        }
        Csv(header, Split(line, ","), line_no, &events);
      } else {
        throw ImportError{"unknown --format " + format_ + "; use auto, movielens, ml-dat, recbole or csv"};
      }
    }
    std::stable_sort(events.begin(), events.end(), [](const Event& a, const Event& b) { return a.ts < b.ts; });
    return events;
  }

 private:
  std::string Detect() const {
    if (path_.size() >= 6 && path_.substr(path_.size() - 6) == ".inter") return "recbole";
    if (path_.size() >= 4 && path_.substr(path_.size() - 4) == ".csv") return "csv";
    if (path_.size() >= 4 && path_.substr(path_.size() - 4) == ".dat") return "ml-dat";
    return "movielens";
  }
  [[noreturn]] void Fail(size_t line_no, const std::string& what) const {
    throw ImportError{path_ + ":" + std::to_string(line_no) + ": " + what};
  }
  Event Base(EventType type, const std::string& user, const std::string& item, recd::EpochMillis ts,
             size_t line_no, const char* suffix = "") const {
    Event e;
    e.type = type;
    e.user_id = prefix_ + user;
    e.item_id = prefix_ + item;
    e.ts = ts;
    e.event_id = source_ + ":" + std::to_string(line_no) + suffix;
    return e;
  }
  void Rating(const std::vector<std::string>& f, size_t line_no, std::vector<Event>* out) const {
    if (f.size() < 4) Fail(line_no, "expected user, item, rating, timestamp; got " + std::to_string(f.size()) + " field(s)");
    const auto ts = ParseTime(f[3]);
    if (!ts) Fail(line_no, "timestamp \"" + f[3] + "\" is not epoch seconds/milliseconds or RFC 3339");
    Event e = Base(EventType::kRating, f[0], f[1], *ts, line_no);
    e.rating = std::atof(f[2].c_str());
    out->push_back(std::move(e));
  }
  static int Column(const std::vector<std::string>& header, const std::string& name) {
    for (size_t i = 0; i < header.size(); ++i) {
      if (header[i] == name || header[i].rfind(name + ":", 0) == 0) return static_cast<int>(i);
    }
    return -1;
  }
  void RecBole(const std::vector<std::string>& header, const std::vector<std::string>& f, size_t line_no,
               std::vector<Event>* out) const {
    const int u = Column(header, "user_id"), i = Column(header, "item_id"), t = Column(header, "timestamp"),
              r = Column(header, "rating");
    if (u < 0 || i < 0 || t < 0) Fail(1, "a RecBole .inter header needs user_id, item_id and timestamp columns");
    if (f.size() != header.size()) Fail(line_no, "has " + std::to_string(f.size()) + " fields, the header " + std::to_string(header.size()));
    const auto ts = ParseTime(f[t]);
    if (!ts) Fail(line_no, "timestamp \"" + f[t] + "\" is not epoch seconds/milliseconds or RFC 3339");
    Event e = Base(r >= 0 ? EventType::kRating : EventType::kClick, f[u], f[i], *ts, line_no);
    if (r >= 0) e.rating = std::atof(f[r].c_str());
    out->push_back(std::move(e));
  }
  void Csv(const std::vector<std::string>& header, const std::vector<std::string>& f, size_t line_no,
           std::vector<Event>* out) const {
    const int u = Column(header, "customer_id"), i = Column(header, "item_id"), t = Column(header, "timestamp"),
              c = Column(header, "click"), p = Column(header, "purchase");
    if (u < 0 || i < 0 || t < 0 || c < 0 || p < 0) {
      Fail(1, "the CSV header needs customer_id,item_id,timestamp,click,purchase");
    }
    if (f.size() != header.size()) Fail(line_no, "has " + std::to_string(f.size()) + " fields, the header " + std::to_string(header.size()));
    const auto ts = ParseTime(f[t]);
    if (!ts) Fail(line_no, "timestamp \"" + f[t] + "\" is not epoch seconds/milliseconds or RFC 3339");
    if (std::atoi(f[c].c_str()) > 0) out->push_back(Base(EventType::kClick, f[u], f[i], *ts, line_no, ":c"));
    if (std::atoi(f[p].c_str()) > 0) out->push_back(Base(EventType::kPurchase, f[u], f[i], *ts, line_no, ":p"));
  }

  std::string format_, path_, prefix_, source_;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"recreplay: import MovieLens / RecBole / CSV logs and replay them as recd events"};
  std::string input, format = "auto", prefix;
  double speed = 0;
  recd::tools::SinkOptions sink_options;
  app.add_option("input", input, "u.data, ratings.dat, *.inter or *.csv")->required();
  app.add_option("-f,--format", format, "auto, movielens (u.data), ml-dat (ratings.dat), recbole or csv");
  app.add_option("--id-prefix", prefix, "prefix for user and item ids (keeps datasets apart)");
  app.add_option("--speed", speed, "replay at this many times event-time speed (0: as fast as possible)");
  recd::tools::AddSinkOptions(app, &sink_options);
  CLI11_PARSE(app, argc, argv);

  std::vector<Event> events;
  try {
    events = Importer(format, input, prefix).Read();
  } catch (const ImportError& e) {
    std::fprintf(stderr, "recreplay: %s\n", e.message.c_str());
    return 2;
  }
  auto sink = recd::tools::EventSink::Open(sink_options);
  if (!sink.ok()) {
    std::fprintf(stderr, "recreplay: %s\n", sink.status().ToString().c_str());
    return 1;
  }
  const auto wall_start = std::chrono::steady_clock::now();
  for (const Event& e : events) {
    if (speed > 0) {
      const double offset_s = static_cast<double>(e.ts - events.front().ts) / 1000.0 / speed;
      std::this_thread::sleep_until(wall_start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                     std::chrono::duration<double>(offset_s)));
    }
    if (recd::Status s = (*sink)->Emit(e.user_id, recd::stream::EncodeEvent(e)); !s.ok()) {
      std::fprintf(stderr, "recreplay: %s\n", s.ToString().c_str());
      return 1;
    }
  }
  if (recd::Status s = (*sink)->Close(); !s.ok()) {
    std::fprintf(stderr, "recreplay: %s\n", s.ToString().c_str());
    return 1;
  }
  std::fprintf(stderr, "recreplay: %zu events from %s\n", events.size(), input.c_str());
  return 0;
}
