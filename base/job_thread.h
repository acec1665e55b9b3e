// recd::base — JobThread: one background thread that runs one job at a time,
// for work the pipeline thread hands off and collects later (a retraining, a
// ranker training). Submit refuses while a job runs (nothing queues); the
// outcome is taken once by the submitting thread. The destructor raises the
// cancel flag the work is given and waits for the job to stop.
#pragma once

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "base/log.h"

namespace recd {

template <typename Job, typename Outcome>
class JobThread {
 public:
  // `work` runs on the thread; `cancel` is raised when the owner goes away.
  using Work = std::function<Outcome(Job& job, const std::atomic<bool>& cancel)>;

  // `nice` (0..19): the thread's nice value, so that a contended core goes to intake first.
  JobThread(std::string name, int nice, Work work) : name_(std::move(name)), nice_(nice), work_(std::move(work)) {
    thread_ = std::thread([this] { Loop(); });
  }
  ~JobThread() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cancel_.store(true);
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  JobThread(const JobThread&) = delete;
  JobThread& operator=(const JobThread&) = delete;

  // False when a job is running or its outcome was not taken yet (nothing is queued).
  bool Submit(Job job) {
    std::lock_guard<std::mutex> lock(mu_);
    if (busy_.load() || job_ || outcome_) return false;
    job_.emplace(std::move(job));
    busy_.store(true);
    wake_.notify_all();
    return true;
  }
  bool busy() const { return busy_.load(); }
  // Raises the running job's cancel flag (the owner stops soon and will not
  // wait for the whole job); jobs submitted later see it raised too.
  void Cancel() { cancel_.store(true); }
  // The finished job's outcome, once.
  std::optional<Outcome> TakeOutcome() {
    std::lock_guard<std::mutex> lock(mu_);
    std::optional<Outcome> out = std::move(outcome_);
    outcome_.reset();
    return out;
  }

 private:
  void Loop() {
    // Threads this one starts inherit the value (a trainer's batch producers too).
    if (nice_ != 0 && setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), nice_) != 0) {
      RECD_WARN(name_ << ": could not set its thread's nice value to " << nice_);
    }
    for (;;) {
      std::optional<Job> job;
      {
        std::unique_lock<std::mutex> lock(mu_);
        wake_.wait(lock, [&] { return stop_ || job_.has_value(); });
        if (stop_) return;
        job.swap(job_);
      }
      Outcome outcome = work_(*job, cancel_);
      std::lock_guard<std::mutex> lock(mu_);
      outcome_.emplace(std::move(outcome));
      busy_.store(false);
    }
  }

  const std::string name_;
  const int nice_;
  const Work work_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::optional<Job> job_;
  std::optional<Outcome> outcome_;
  std::atomic<bool> busy_{false};
  bool stop_ = false;
  std::atomic<bool> cancel_{false};
  std::thread thread_;  // last: started once everything it reads exists
};

}  // namespace recd
