#include "model/rank/session_knn.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "base/status.h"

namespace recd::rank {

SessionKnnSource::SessionKnnSource(const model::BaselineRanker& filters, SessionKnnConfig config)
    : filters_(filters), config_(config) {
  RECD_CHECK(config_.max_sessions > 0 && config_.sessions_per_item > 0 && config_.session_items > 0,
             "session kNN needs room for a session, an item's sessions and a session's items");
}

const SessionKnnSource::Session* SessionKnnSource::Find(uint64_t serial) const {
  if (serial == 0) return nullptr;
  const size_t slot = (serial - 1) % config_.max_sessions;
  return slot < ring_.size() && ring_[slot].serial == serial ? &ring_[slot] : nullptr;
}

void SessionKnnSource::Observe(UserId user, ItemId item, EpochMillis ts) {
  if (user.value >= users_.size()) users_.resize(user.value + 1);
  UserSession& u = users_[user.value];
  const bool gap = static_cast<double>(ts - u.last) > config_.session_gap_s * 1000;
  if (Find(u.serial) == nullptr || gap) {
    u.serial = next_serial_++;
    const size_t slot = (u.serial - 1) % config_.max_sessions;
    if (slot == ring_.size()) ring_.emplace_back();
    ring_[slot].serial = u.serial;
    ring_[slot].items.clear();
  }
  u.last = std::max(u.last, ts);
  Session& s = ring_[(u.serial - 1) % config_.max_sessions];
  const auto it = std::find(s.items.begin(), s.items.end(), item.value);
  if (it != s.items.end()) {
    s.items.erase(it);  // seen again in this session: it moves to the newest place
    s.items.push_back(item.value);
    return;
  }
  s.items.push_back(item.value);
  if (s.items.size() > config_.session_items) s.items.erase(s.items.begin());
  if (item.value >= by_item_.size()) {
    by_item_.resize(item.value + 1);
    by_item_next_.resize(item.value + 1, 0);
  }
  std::vector<uint64_t>& sessions = by_item_[item.value];
  // Back in a long session after leaving it: indexed once already.
  if (std::find(sessions.begin(), sessions.end(), u.serial) != sessions.end()) return;
  if (sessions.size() < config_.sessions_per_item) {
    sessions.push_back(u.serial);
  } else {
    sessions[by_item_next_[item.value]] = u.serial;  // overwrites the oldest
    by_item_next_[item.value] = static_cast<uint32_t>((by_item_next_[item.value] + 1) % config_.sessions_per_item);
  }
}

std::vector<uint32_t> SessionKnnSource::SessionOf(UserId user) const {
  if (user.value >= users_.size()) return {};
  const Session* s = Find(users_[user.value].serial);
  return s ? s->items : std::vector<uint32_t>{};
}

void SessionKnnSource::Propose(UserId user, size_t limit, std::vector<Candidate>* out) const {
  if (limit == 0 || user.value >= users_.size()) return;
  const uint64_t own = users_[user.value].serial;
  const Session* current = Find(own);
  if (current == nullptr || current->items.empty()) return;
  const std::vector<uint32_t>& items = current->items;
  const double n = static_cast<double>(items.size());
  // Neighbours: weighted overlap with the current session (an item that left a
  // long session since it was indexed no longer counts).
  std::unordered_map<uint64_t, double> overlap;
  for (size_t p = 0; p < items.size(); ++p) {
    const uint32_t item = items[p];
    if (item >= by_item_.size()) continue;
    for (uint64_t serial : by_item_[item]) {
      const Session* other = serial == own ? nullptr : Find(serial);
      if (other == nullptr || std::find(other->items.begin(), other->items.end(), item) == other->items.end()) continue;
      overlap[serial] += static_cast<double>(p + 1) / n;
    }
  }
  std::vector<std::pair<uint64_t, double>> similar;
  similar.reserve(overlap.size());
  for (const auto& [serial, w] : overlap) {
    similar.emplace_back(serial, w / std::sqrt(n * static_cast<double>(Find(serial)->items.size())));
  }
  const size_t keep = std::min(config_.neighbours, similar.size());
  // The most similar first; ties: the newer session.
  std::partial_sort(similar.begin(), similar.begin() + static_cast<ptrdiff_t>(keep), similar.end(),
                    [](const auto& a, const auto& b) { return a.second > b.second || (a.second == b.second && a.first > b.first); });
  std::unordered_map<uint32_t, double> votes;
  for (size_t k = 0; k < keep; ++k) {
    for (uint32_t j : Find(similar[k].first)->items) votes[j] += similar[k].second;
  }
  std::vector<std::pair<uint32_t, double>> scored(votes.begin(), votes.end());
  TakeBest(scored, user, filters_, limit, out);
}

}  // namespace recd::rank
