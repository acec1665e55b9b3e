// recd::daemon — the one bounded, typed queue from the admin threads to the
// pipeline thread, for what needs the pipeline's own state: a list made now
// for a user the shelf has no list for (after a restart, say), an item's
// related items, a user's profile, a checkpoint of the store, a retraining
// asked for, a version to activate.
//
// Any thread pushes; only the pipeline thread takes, once per loop turn, and
// answers every command it takes exactly once (from its own thread). A full
// queue refuses the push: the caller answers 503 with Retry-After. Replies
// must be safe to call at any time, however late (see AdminServer's gate).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "base/status.h"
#include "daemon/list_shelf.h"

namespace recd::daemon {

// "Make `user_id`'s list now" (none is shelved, it is stale, or a deeper one is
// asked for). The reply gets the list, nullopt for a user the store does not
// hold, or Unavailable when the pipeline stops first.
// `depth` > ranker.k ranks that deep (deeper pages); such a list answers this
// command only and is not shelved.
struct ListCommand {
  std::string user_id;
  std::function<void(Result<std::optional<ShelvedList>>)> reply;
  size_t depth = 0;  // 0: ranker.k
};

// The reply of the commands below: a JSON object, nullopt when the subject
// (item, user) is not in the store, or an error status (InvalidArgument: the
// request was wrong; Unavailable: the pipeline stops or failed).
using JsonReply = std::function<void(Result<std::optional<std::string>>)>;

// "The `k` items most related to `item_id`": by the serving model's
// embeddings, or by co-occurrence without one; `category` ("" = any) filters
// on model.diversity_field.
struct SimilarCommand {
  std::string item_id;
  size_t k = 10;
  std::string category;
  JsonReply reply;
};

// "What recd holds about `user_id`": interactions, the newest list, whether one is due.
struct UserCommand {
  std::string user_id;
  JsonReply reply;
};

// "Write a consistent copy of the store to `dir`" (absolute, not existing).
struct CheckpointCommand {
  std::string dir;
  JsonReply reply;
};

// "Retrain now" (POST /v1/retrain): PinSage where model.dir is set, the learnt
// ranker where ranker.model is on; InvalidArgument where neither is.
struct RetrainCommand {
  JsonReply reply;
};

// "Make `version` serve" (a rollback): vNNNN of model.dir or rNNNN of
// ranker.model_dir, checked (NotFound, Corruption) before it is taken.
struct ActivateCommand {
  std::string version;
  JsonReply reply;
};

using AdminCommand = std::variant<ListCommand, SimilarCommand, UserCommand, CheckpointCommand, RetrainCommand,
                                  ActivateCommand>;

// Answers `command` with `status` (a refusal: the pipeline is stopping).
inline void Refuse(AdminCommand& command, const Status& status) {
  std::visit([&status](auto& c) { c.reply(status); }, command);
}

class AdminCommands {
 public:
  explicit AdminCommands(size_t capacity) : capacity_(capacity) {}

  // Any thread; false when the queue is full (the command is not taken).
  bool Push(AdminCommand command) {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_ || queue_.size() >= capacity_) return false;
    queue_.push_back(std::move(command));
    waiting_.store(true, std::memory_order_release);
    return true;
  }
  // Lock-free: whether a command may be waiting (the pipeline checks it often).
  bool waiting() const { return waiting_.load(std::memory_order_acquire); }
  size_t size() const {
    std::lock_guard<std::mutex> lock(mu_);
    return queue_.size();
  }
  // The pipeline thread: up to `most` commands, oldest first (a budget per
  // call, so that a full queue cannot stall intake for long).
  std::vector<AdminCommand> Take(size_t most = SIZE_MAX) {
    std::lock_guard<std::mutex> lock(mu_);
    const size_t n = std::min(most, queue_.size());
    std::vector<AdminCommand> taken(std::make_move_iterator(queue_.begin()),
                                   std::make_move_iterator(queue_.begin() + static_cast<ptrdiff_t>(n)));
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<ptrdiff_t>(n));
    waiting_.store(!queue_.empty(), std::memory_order_release);
    return taken;
  }

  // The pipeline thread, at its end: every command left, to refuse; pushes
  // fail from here on.
  std::vector<AdminCommand> Close() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      closed_ = true;
    }
    return Take();
  }

 private:
  const size_t capacity_;
  bool closed_ = false;  // guarded by mu_
  mutable std::mutex mu_;
  std::deque<AdminCommand> queue_;
  std::atomic<bool> waiting_{false};
};

}  // namespace recd::daemon
