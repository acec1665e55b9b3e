// recd::eval — prequential (test-then-train) evaluation: each scored event is
// scored against the list its user held just before it. Two protocols: every
// positive (a purchase, a rating at or above the threshold), and discovery
// (a user's first interaction of any type with an item new to them). The
// daemon, `recd replay` and `receval --prequential` share this tally, so one
// protocol gives every figure. Knows nothing of Kafka or the store. Single-threaded.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/event.h"

namespace recd::eval {

inline constexpr size_t kPrequentialCutoff = 10;  // HR@10, NDCG@10

enum class PrequentialProtocol : uint8_t { kPositives, kDiscovery };
inline const char* Name(PrequentialProtocol p) { return p == PrequentialProtocol::kPositives ? "positives" : "discovery"; }

struct PrequentialConfig {
  PrequentialProtocol protocol = PrequentialProtocol::kPositives;
  double positive_rating = 4.0;  // a rating at or above this is a positive
  size_t window = 10'000;        // positives in the sliding window
  EpochMillis bucket_ms = 0;     // > 0: also tally per event-time window of this width
};

// Sums over a set of scored events ("positives" under either protocol).
struct PrequentialTally {
  uint64_t positives = 0;          // scored events of users who held a list
  uint64_t hits = 0;               // ... whose item was in the list's top 10
  double ndcg = 0;                 // sum of 1/log2(rank + 2) over hits (rank 0-based)
  uint64_t without_list = 0;       // positives of users who had no list yet
  double hr() const { return positives ? static_cast<double>(hits) / positives : 0; }
  double mean_ndcg() const { return positives ? ndcg / positives : 0; }
};

// Is `e` a positive: a purchase, or a rating at or above the threshold.
bool IsPositive(const Event& e, const PrequentialConfig& config);
// The 0-based rank of `item` in the first kPrequentialCutoff of `list`; -1 when absent.
int RankInTop(const std::vector<std::string>& list, const std::string& item);
// NDCG@10's gain of a hit at 0-based `rank` (one relevant item): 1 / log2(rank + 2); 0 for -1.
double NdcgGain(int rank);

class PrequentialEvaluator {
 public:
  explicit PrequentialEvaluator(PrequentialConfig config) : config_(config) {}

  // Call for every event before it is applied. Returns true when the protocol
  // scored it; then *rank (when given) is its 0-based rank in the top 10, or -1.
  bool Observe(const Event& e, int* rank = nullptr);
  // Call for every list handed to the output: from now on it is the user's.
  void OnList(const RecommendationList& list);
  // The user was evicted: their list and history go, and their next event
  // meets no list, as a new user's does.
  void ForgetUser(const std::string& user_id) {
    lists_.erase(user_id);
    touched_.erase(user_id);
  }

  const PrequentialTally& total() const { return total_; }
  // Over the most recent `window` scored positives.
  const PrequentialTally& window() const { return window_tally_; }
  // Per event-time bucket (start ms -> tally), when bucket_ms > 0.
  const std::map<EpochMillis, PrequentialTally>& buckets() const { return buckets_; }
  const PrequentialConfig& config() const { return config_; }

 private:
  struct Scored {
    bool hit;
    double gain;
  };
  PrequentialConfig config_;
  std::unordered_map<std::string, std::vector<std::string>> lists_;  // user -> top 10 of the newest list
  std::unordered_map<std::string, std::unordered_set<std::string>> touched_;  // discovery only: user -> items
  PrequentialTally total_, window_tally_;
  std::deque<Scored> recent_;
  std::map<EpochMillis, PrequentialTally> buckets_;
};

}  // namespace recd::eval
