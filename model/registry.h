// recd::model — the model registry: the versioned directories under a model
// root (trained_model.h writes them), what each was trained from and how it
// scored (model.json's "lineage", metrics.json, decision.json), which one is
// active (<root>/LATEST, mirrored in the store by the daemon), rollback, and
// pruning to the last N. No LibTorch here.
#pragma once

#include <string>
#include <vector>

#include "base/event.h"
#include "base/status.h"

namespace recd::model {

struct VersionSummary {
  std::string version;        // v0001
  std::string created_at;     // RFC 3339
  std::string parent;         // the version it started from or was compared with ("" none)
  std::string trigger;        // why it was trained ("" for rectrain)
  EpochMillis snapshot_event_time = 0;  // the event time of the store it was trained on (0: unknown)
  std::string source;         // what it was trained from
  size_t items = 0;
  double validation_hr = -1;  // training's best validation HR@10 (-1: unknown)
  double candidate_hr = -1;   // on the promotion slice (-1: not compared)
  double active_hr = -1;      // the then-active model on the same slice
  std::string decision;       // "" for versions not trained by the daemon
  bool promoted = false;
  bool active = false;        // LATEST names it
};

// N of a version directory named vNNNN; 0 for any other name.
int VersionNumber(const std::string& name);
// Every complete version under `root`, oldest first.
Result<std::vector<VersionSummary>> ListVersions(const std::string& root);
// The versions as a JSON array (GET /v1/models).
std::string VersionsJson(const std::vector<VersionSummary>& versions);
// Checks that <root>/<version> is a complete version (manifest, weights, ids,
// embeddings, index) without loading it; the error says what is missing.
Status CheckVersion(const std::string& root, const std::string& version);
// Makes `version` the active one (LATEST) after CheckVersion.
Status ActivateVersion(const std::string& root, const std::string& version);
// Writes <root>/<version>/decision.json (atomically, durably). Retraining
// writes it after LATEST moves, so "promoted" never names a skipped version.
Status WriteDecision(const std::string& root, const std::string& version, const std::string& json);
// Removes what killed writers left under `root`: .tmp-vNNNN-<pid> directories
// whose process is gone, and .removing-vNNNN ones; returns their names.
std::vector<std::string> RemoveAbandoned(const std::string& root);
// Removes the oldest versions beyond `keep`, never one of `protect`; returns those removed.
std::vector<std::string> PruneVersions(const std::string& root, size_t keep, const std::vector<std::string>& protect);

}  // namespace recd::model
