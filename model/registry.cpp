#include "model/registry.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "base/durable_file.h"
#include "base/time.h"
#include "model/trained_model.h"

namespace recd::model {

using nlohmann::json;

namespace {

bool IsVersionName(const std::string& name) {
  int n = 0;
  return name.size() == 5 && name[0] == 'v' && std::sscanf(name.c_str(), "v%d", &n) == 1;
}

}  // namespace

int VersionNumber(const std::string& name) {
  int n = 0;
  return IsVersionName(name) && std::sscanf(name.c_str(), "v%d", &n) == 1 && n > 0 ? n : 0;
}

namespace {

Result<json> ReadJson(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::NotFound("cannot read " + path);
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    return Status::InvalidArgument(path + ": " + e.what());
  }
}

template <typename T>
T Get(const json& j, const char* key, T fallback) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  try {
    return it->get<T>();
  } catch (const json::exception&) {
    return fallback;
  }
}

}  // namespace

Status CheckVersion(const std::string& root, const std::string& version) {
  if (!IsVersionName(version)) {
    return Status::InvalidArgument("'" + version + "' is not a version name (vNNNN, as `recctl models` lists them)");
  }
  const std::string dir = root + "/" + version;
  for (const char* file : {"model.json", "model.pt", "items.txt", "embeddings.f32", "ann.hnsw"}) {
    struct stat st;
    if (stat((dir + "/" + file).c_str(), &st) != 0) {
      return Status::NotFound(dir + " is not a complete model version: " + file + " is missing");
    }
  }
  return Status::Ok();
}

Result<std::vector<VersionSummary>> ListVersions(const std::string& root) {
  DIR* d = opendir(root.c_str());
  if (!d) return Status::NotFound("cannot list the model root " + root);
  std::vector<std::string> names;
  while (dirent* e = readdir(d)) {
    if (IsVersionName(e->d_name)) names.emplace_back(e->d_name);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  const std::string latest = LatestVersion(root);
  std::vector<VersionSummary> out;
  for (const std::string& name : names) {
    if (!CheckVersion(root, name).ok()) continue;  // not complete: not a version
    VersionSummary v;
    v.version = name;
    v.active = name == latest;
    if (auto manifest = ReadJson(root + "/" + name + "/model.json"); manifest.ok()) {
      v.created_at = Get<std::string>(*manifest, "created_at", "");
      v.source = Get<std::string>(*manifest, "source", "");
      v.items = Get<size_t>(*manifest, "items", 0);
      if (auto lineage = manifest->find("lineage"); lineage != manifest->end()) {
        v.parent = Get<std::string>(*lineage, "parent", "");
        v.trigger = Get<std::string>(*lineage, "trigger", "");
        if (auto t = ParseRfc3339(Get<std::string>(*lineage, "snapshot_event_time", ""))) v.snapshot_event_time = *t;
      }
    }
    if (auto metrics = ReadJson(root + "/" + name + "/metrics.json"); metrics.ok()) {
      v.validation_hr = Get<double>(*metrics, "best_validation_hr@10", -1);
    }
    if (auto decision = ReadJson(root + "/" + name + "/decision.json"); decision.ok()) {
      v.decision = Get<std::string>(*decision, "decision", "");
      v.promoted = Get<bool>(*decision, "promoted", false);
      v.candidate_hr = Get<double>(*decision, "candidate_hr@10", -1);
      v.active_hr = Get<double>(*decision, "active_hr@10", -1);
    }
    out.push_back(std::move(v));
  }
  return out;
}

std::string VersionsJson(const std::vector<VersionSummary>& versions) {
  json out = json::array();
  for (const VersionSummary& v : versions) {
    out.push_back({{"version", v.version}, {"active", v.active}, {"created_at", v.created_at}, {"parent", v.parent},
                   {"trigger", v.trigger},
                   {"snapshot_event_time", v.snapshot_event_time ? FormatRfc3339(v.snapshot_event_time) : ""},
                   {"source", v.source}, {"items", v.items},
                   {"validation_hr@10", v.validation_hr}, {"candidate_hr@10", v.candidate_hr},
                   {"active_hr@10", v.active_hr}, {"promoted", v.promoted}, {"decision", v.decision}});
  }
  return out.dump(2);
}

Status ActivateVersion(const std::string& root, const std::string& version) {
  RECD_RETURN_IF_ERROR(CheckVersion(root, version));
  return WriteLatest(root, version);
}

Status WriteDecision(const std::string& root, const std::string& version, const std::string& text) {
  return ReplaceFileDurably(root + "/" + version + "/decision.json", text + "\n");
}

std::vector<std::string> RemoveAbandoned(const std::string& root) {
  std::vector<std::string> removed;
  DIR* d = opendir(root.c_str());
  if (!d) return removed;
  std::vector<std::string> names;
  while (dirent* e = readdir(d)) names.emplace_back(e->d_name);
  closedir(d);
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    // .tmp-vNNNN-<suffix> and LATEST.tmp-<suffix> whose writer is gone (base/durable_file.h).
    const bool abandoned = name.rfind(".removing-v", 0) == 0 ||
                           ((name.rfind(".tmp-v", 0) == 0 || name.rfind("LATEST.tmp-", 0) == 0) && AbandonedTemporary(root + "/" + name));
    if (!abandoned) continue;
    std::error_code ec;
    std::filesystem::remove_all(root + "/" + name, ec);
    if (!ec) removed.push_back(name);
  }
  return removed;
}

std::vector<std::string> PruneVersions(const std::string& root, size_t keep, const std::vector<std::string>& protect) {
  std::vector<std::string> removed;
  auto versions = ListVersions(root);
  if (!versions.ok() || versions->size() <= keep) return removed;
  size_t excess = versions->size() - keep;
  for (const VersionSummary& v : *versions) {
    if (excess == 0) break;
    if (v.active || std::find(protect.begin(), protect.end(), v.version) != protect.end()) continue;
    // Renamed first, so that a crash mid-removal leaves no half version behind.
    const std::string doomed = root + "/.removing-" + v.version;
    if (std::rename((root + "/" + v.version).c_str(), doomed.c_str()) != 0) continue;
    std::error_code ec;
    std::filesystem::remove_all(doomed, ec);
    removed.push_back(v.version);
    --excess;
  }
  return removed;
}

}  // namespace recd::model
