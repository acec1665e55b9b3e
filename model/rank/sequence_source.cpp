#include "model/rank/sequence_source.h"

#include <algorithm>
#include <cmath>

namespace recd::rank {
const std::vector<uint32_t>& RecentItems::Before(UserId user) const {
  return user.value < recent_.size() ? recent_[user.value] : none_;
}

void RecentItems::Push(UserId user, uint32_t item) {
  if (user.value >= recent_.size()) recent_.resize(user.value + 1);
  std::vector<uint32_t>& recent = recent_[user.value];
  recent.erase(std::remove(recent.begin(), recent.end(), item), recent.end());
  recent.push_back(item);
  if (recent.size() > window_) recent.erase(recent.begin());
}

void RecentItems::Forget(UserId user) {
  if (user.value < recent_.size()) std::vector<uint32_t>().swap(recent_[user.value]);
}

std::vector<std::pair<uint32_t, double>> RecentItems::Seeds(UserId user, size_t n, bool harmonic) const {
  const std::vector<uint32_t>& recent = Before(user);
  std::vector<std::pair<uint32_t, double>> seeds;
  for (size_t k = 0; k < std::min(n, recent.size()); ++k) {
    seeds.emplace_back(recent[recent.size() - 1 - k], harmonic ? 1.0 / static_cast<double>(k + 1) : 1.0);
  }
  return seeds;
}

void SequenceSource::Observe(UserId user, ItemId item, EpochMillis ts) {
  const std::vector<uint32_t>& recent = recent_.Before(user);
  for (size_t d = 1; d <= recent.size(); ++d) {
    const uint32_t before = recent[recent.size() - d];
    if (before != item.value) rules_.Add(before, item.value, ts, 1.0 / static_cast<double>(d));
  }
  recent_.Push(user, item.value);
}

void SequenceSource::Propose(UserId user, size_t limit, std::vector<Candidate>* out) const {
  if (limit == 0) return;
  std::vector<std::pair<uint32_t, double>> scored;
  rules_.Score(recent_.Seeds(user, config_.seeds, /*harmonic=*/true), &scored);
  TakeBest(scored, user, filters_, limit, out);
}

void CoVisitSource::Observe(UserId user, ItemId item, EpochMillis ts) {
  for (uint32_t other : recent_.Before(user)) {
    if (other == item.value) continue;
    rules_.Add(other, item.value, ts, 1.0);
    rules_.Add(item.value, other, ts, 1.0);
  }
  recent_.Push(user, item.value);
}

void CoVisitSource::Propose(UserId user, size_t limit, std::vector<Candidate>* out) const {
  if (limit == 0) return;
  std::vector<std::pair<uint32_t, double>> scored;
  rules_.Score(recent_.Seeds(user, config_.seeds, /*harmonic=*/false), &scored);
  if (config_.degree_penalty > 0) {
    const store::GraphView& view = store_.view();
    for (auto& [j, s] : scored) {
      const size_t users = j < view.num_items() ? std::max<size_t>(1, view.UsersOf(ItemId(j)).size()) : 1;
      s /= std::pow(static_cast<double>(users), config_.degree_penalty);
    }
  }
  TakeBest(scored, user, filters_, limit, out);
}

}  // namespace recd::rank
