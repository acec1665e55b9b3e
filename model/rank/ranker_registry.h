// recd::rank — the ranker registry: learnt ranking models as versioned
// directories under a root of their own (ranker.model_dir), beside PinSage's:
//   <root>/rNNNN/model.json   XGBoost's JSON model
//   <root>/rNNNN/ranker.json  manifest: feature names, the model's FNV-1a-64
//                             checksum, lineage (parent, trigger, snapshot event
//                             time, groups), metrics and the promotion decision
//   <root>/LATEST             the active version (atomic rename)
// A version is written to a temporary directory, fsynced and renamed, and
// removed by renaming it to .removing-rNNNN first, so a kill leaves a whole
// version under its name or none (RemoveAbandonedRankerFiles clears the rest).
// Loading checks the checksum and the feature names: a corrupt or foreign
// version is refused with the reason. Writers: the trainer writes versions;
// LATEST and pruning belong to the daemon's pipeline thread alone.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/event.h"
#include "base/hash.h"
#include "base/status.h"
#include "model/rank/ranking_model.h"

namespace recd::rank {

struct RankerManifest {
  std::string version;          // r0001 (set by WriteRankerVersion)
  std::string created_at;       // RFC 3339, wall time
  std::string parent;           // the version it was compared with; "blend": the hand blend
  std::string trigger;          // why it was trained
  EpochMillis snapshot_event_time = 0;
  EpochMillis trained_until = 0;  // event time of the newest slate it trained on
  size_t train_groups = 0;
  size_t validation_groups = 0;
  double candidate_hr = -1;     // HR@10 on the validation groups
  double active_hr = -1;        // the active ranker (or the hand blend) on the same groups
  std::string decision;
  bool promoted = false;
  double seconds = 0;           // training time
  bool active = false;          // LATEST names it (filled by ListRankerVersions)
};

// Writes `model` (RankingModel::Serialize's bytes) as the next version under
// `root` (created when missing); returns the version's name. LATEST is not touched.
Result<std::string> WriteRankerVersion(const std::string& root, const std::string& model, RankerManifest manifest);
// Loads <root>/<version>, refusing a missing, corrupt or foreign one.
Result<std::shared_ptr<const RankingModel>> LoadRankerVersion(const std::string& root, const std::string& version);
// Makes `version` the active one (LATEST), after loading it.
Status ActivateRankerVersion(const std::string& root, const std::string& version);
// The manifest of <root>/<version> (without loading its model).
Result<RankerManifest> ReadRankerManifest(const std::string& root, const std::string& version);
// Every version under `root` with a readable manifest, oldest first.
std::vector<RankerManifest> ListRankerVersions(const std::string& root);
// The versions as JSON objects (each with "kind": "ranker"), for GET /v1/models.
std::string RankerVersionsJson(const std::vector<RankerManifest>& versions);
// Removes the oldest versions beyond `keep`, never LATEST's nor `serving` (the
// one in memory, which differs when LATEST did not load); returns those removed.
std::vector<std::string> PruneRankerVersions(const std::string& root, size_t keep, const std::string& serving = "");
// Removes what killed writers left under `root`: .tmp-rNNNN-<pid> directories
// and <file>.tmp-<pid>[-<n>] files (LATEST, samples.bin) whose process is gone, and .removing-rNNNN ones;
// returns their names.
std::vector<std::string> RemoveAbandonedRankerFiles(const std::string& root);

// A file of the registry written whole or not at all, in pieces: appended to
// <root>/<name>.tmp-<pid>-<n> until Commit fsyncs it, renames it over
// <root>/<name> and fsyncs the directory; dropped uncommitted, it is removed.
class RankerFileWriter {
 public:
  static Result<std::unique_ptr<RankerFileWriter>> Open(const std::string& root, const std::string& name);
  ~RankerFileWriter();
  RankerFileWriter(const RankerFileWriter&) = delete;
  RankerFileWriter& operator=(const RankerFileWriter&) = delete;
  Status Append(const void* data, size_t size);
  Status Commit();

 private:
  RankerFileWriter(int fd, std::string root, std::string tmp, std::string path)
      : fd_(fd), root_(std::move(root)), tmp_(std::move(tmp)), path_(std::move(path)) {}
  Status Flush();
  int fd_;
  std::string root_, tmp_, path_;
  std::string buffer_;  // appended bytes not yet written (flushed at 1 MiB)
  bool committed_ = false;
};

using recd::Fnv1a64;  // the registry's checksums (base/hash.h)
// Ranker versions are named r0001, r0002, ...
bool IsRankerVersionName(const std::string& name);

}  // namespace recd::rank
