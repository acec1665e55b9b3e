#include "model/rank/ranker_registry.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "base/durable_file.h"
#include "base/time.h"
#include "model/rank/features.h"

namespace recd::rank {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr const char* kModelFile = "model.json";
constexpr const char* kManifestFile = "ranker.json";

std::string Hex(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

Status IoFailure(const std::string& what) { return Status::IoError(what + ": " + std::strerror(errno)); }

// The names under `root` (none when it cannot be listed), sorted.
std::vector<std::string> Names(const std::string& root) {
  std::vector<std::string> names;
  std::error_code ec;
  fs::directory_iterator it(root, ec), end;
  for (; !ec && it != end; it.increment(ec)) names.push_back(it->path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}


Result<std::string> ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot read " + path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

json FeatureNames() {
  json names = json::array();
  for (const char* n : kFeatureNames) names.push_back(n);
  return names;
}

// Field names and formats as model::VersionsJson gives PinSage's (one schema in GET /v1/models).
json ToJson(const RankerManifest& m) {
  auto time = [](EpochMillis t) { return t ? FormatRfc3339(t) : std::string(); };
  return json{{"version", m.version},
              {"created_at", m.created_at},
              {"parent", m.parent},
              {"trigger", m.trigger},
              {"snapshot_event_time", time(m.snapshot_event_time)},
              {"trained_until", time(m.trained_until)},
              {"train_groups", m.train_groups},
              {"validation_groups", m.validation_groups},
              {"candidate_hr@10", m.candidate_hr},
              {"active_hr@10", m.active_hr},
              {"decision", m.decision},
              {"promoted", m.promoted},
              {"seconds", m.seconds}};
}

RankerManifest FromJson(const json& j) {
  auto time = [&](const char* key) {
    const std::string text = j.value(key, "");
    return ParseRfc3339(text).value_or(EpochMillis{0});
  };
  RankerManifest m;
  m.created_at = j.value("created_at", "");
  m.parent = j.value("parent", "");
  m.trigger = j.value("trigger", "");
  m.snapshot_event_time = time("snapshot_event_time");
  m.trained_until = time("trained_until");
  m.train_groups = j.value("train_groups", size_t{0});
  m.validation_groups = j.value("validation_groups", size_t{0});
  m.candidate_hr = j.value("candidate_hr@10", -1.0);
  m.active_hr = j.value("active_hr@10", -1.0);
  m.decision = j.value("decision", "");
  m.promoted = j.value("promoted", false);
  m.seconds = j.value("seconds", 0.0);
  return m;
}

std::string Latest(const std::string& root) {
  auto text = ReadAll(root + "/LATEST");
  if (!text.ok()) return "";
  std::string v = *text;
  while (!v.empty() && (v.back() == '\n' || v.back() == ' ')) v.pop_back();
  return v;
}

}  // namespace

Result<std::unique_ptr<RankerFileWriter>> RankerFileWriter::Open(const std::string& root, const std::string& name) {
  std::error_code ec;
  fs::create_directories(root, ec);
  const std::string tmp = root + "/" + name + ".tmp-" + UniqueSuffix();
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return IoFailure("cannot create " + tmp);
  return std::unique_ptr<RankerFileWriter>(new RankerFileWriter(fd, root, tmp, root + "/" + name));
}

RankerFileWriter::~RankerFileWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) std::remove(tmp_.c_str());
}

Status RankerFileWriter::Append(const void* data, size_t size) {
  buffer_.append(static_cast<const char*>(data), size);
  return buffer_.size() >= (1u << 20) ? Flush() : Status::Ok();
}

Status RankerFileWriter::Flush() {
  size_t done = 0;
  while (done < buffer_.size()) {
    const ssize_t n = ::write(fd_, buffer_.data() + done, buffer_.size() - done);
    if (n <= 0) return IoFailure("cannot write " + tmp_);
    done += static_cast<size_t>(n);
  }
  buffer_.clear();
  return Status::Ok();
}

Status RankerFileWriter::Commit() {
  RECD_RETURN_IF_ERROR(Flush());
  if (::fsync(fd_) != 0) return IoFailure("cannot fsync " + tmp_);
  ::close(fd_);
  fd_ = -1;
  if (std::rename(tmp_.c_str(), path_.c_str()) != 0) return IoFailure("cannot rename " + tmp_ + " to " + path_);
  committed_ = true;
  SyncDir(root_);
  return Status::Ok();
}

bool IsRankerVersionName(const std::string& name) {
  return name.size() == 5 && name[0] == 'r' &&
         std::all_of(name.begin() + 1, name.end(), [](char c) { return c >= '0' && c <= '9'; });
}

Result<std::string> WriteRankerVersion(const std::string& root, const std::string& model, RankerManifest manifest) {
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec) return Status::IoError("cannot create ranker directory " + root + ": " + ec.message());
  int highest = 0;
  for (const std::string& name : Names(root)) {
    // A version being removed (.removing-rNNNN) still holds its number.
    const std::string bare = name.rfind(".removing-", 0) == 0 ? name.substr(10) : name;
    if (IsRankerVersionName(bare)) highest = std::max(highest, std::stoi(bare.substr(1)));  // 4 digits: cannot throw
  }
  if (highest >= 9999) {
    return Status::Internal("ranker versions under " + root + " reached r9999: move the old ones away (keep LATEST's)");
  }
  char name[16];
  std::snprintf(name, sizeof name, "r%04d", highest + 1);
  manifest.version = name;
  if (manifest.created_at.empty()) manifest.created_at = FormatRfc3339(WallClockMillis());
  json j = ToJson(manifest);
  j["features"] = FeatureNames();
  j["model_fnv1a64"] = Hex(Fnv1a64(model));
  const std::string tmp = root + "/.tmp-" + name + "-" + UniqueSuffix();
  if (!fs::create_directory(tmp, ec)) return Status::IoError("cannot create " + tmp + ": " + ec.message());
  RECD_RETURN_IF_ERROR(WriteDurable(tmp + "/" + kModelFile, model));
  RECD_RETURN_IF_ERROR(WriteDurable(tmp + "/" + kManifestFile, j.dump(2) + "\n"));
  SyncDir(tmp);
  if (std::rename(tmp.c_str(), (root + "/" + name).c_str()) != 0) {
    return IoFailure("cannot rename " + tmp + " to " + root + "/" + name);
  }
  SyncDir(root);
  return std::string(name);
}

Result<std::shared_ptr<const RankingModel>> LoadRankerVersion(const std::string& root, const std::string& version) {
  if (!IsRankerVersionName(version)) {
    return Status::InvalidArgument("'" + version + "' is not a ranker version name (rNNNN, as `recctl models` lists them)");
  }
  const std::string dir = root + "/" + version;
  auto manifest_text = ReadAll(dir + "/" + kManifestFile);
  if (!manifest_text.ok()) return Status::NotFound("ranker " + version + ": no " + dir + "/" + kManifestFile);
  json features;
  std::string want;
  try {
    const json manifest = json::parse(*manifest_text);
    if (!manifest.is_object()) throw json::other_error::create(501, "not an object", nullptr);
    features = manifest.value("features", json());
    want = manifest.value("model_fnv1a64", std::string());
  } catch (const json::exception& e) {
    return Status::InvalidArgument("ranker " + version + ": " + dir + "/" + kManifestFile +
                                   " is not a ranker manifest (" + e.what() + "); activate another version");
  }
  if (features != FeatureNames()) {
    return Status::InvalidArgument("ranker " + version + " was trained on other features than this recd builds (" +
                                   std::to_string(kNumFeatures) + " named in rank/features.cpp); retrain it");
  }
  auto bytes = ReadAll(dir + "/" + kModelFile);
  if (!bytes.ok()) return Status::NotFound("ranker " + version + ": no " + dir + "/" + kModelFile);
  if (Hex(Fnv1a64(*bytes)) != want) {
    return Status::Corruption("ranker " + version + ": " + kModelFile + " does not match its checksum (" + want +
                            "); the file is corrupt");
  }
  auto model = RankingModel::Deserialize(*bytes, kNumFeatures);
  if (!model.ok()) return Status::InvalidArgument("ranker " + version + ": " + model.status().message());
  return model;
}

Status ActivateRankerVersion(const std::string& root, const std::string& version) {
  RECD_RETURN_IF_ERROR(LoadRankerVersion(root, version).status());
  auto latest = RankerFileWriter::Open(root, "LATEST");
  if (!latest.ok()) return latest.status();
  const std::string line = version + "\n";
  RECD_RETURN_IF_ERROR((*latest)->Append(line.data(), line.size()));
  return (*latest)->Commit();
}

namespace {
Result<RankerManifest> ReadManifest(const std::string& root, const std::string& version, const std::string& latest) {
  auto text = ReadAll(root + "/" + version + "/" + kManifestFile);
  if (!text.ok()) return text.status();
  try {
    const json j = json::parse(*text);
    if (!j.is_object()) return Status::InvalidArgument(root + "/" + version + "/" + kManifestFile + " is not an object");
    RankerManifest m = FromJson(j);
    m.version = version;
    m.active = version == latest;
    return m;
  } catch (const json::exception& e) {
    return Status::InvalidArgument(root + "/" + version + "/" + kManifestFile + ": " + e.what());
  }
}
}  // namespace

Result<RankerManifest> ReadRankerManifest(const std::string& root, const std::string& version) {
  return ReadManifest(root, version, Latest(root));
}

std::vector<RankerManifest> ListRankerVersions(const std::string& root) {
  std::vector<RankerManifest> out;
  const std::string latest = Latest(root);  // once: one listing, one view of LATEST
  for (const std::string& name : Names(root)) {
    if (!IsRankerVersionName(name)) continue;
    // A damaged manifest is left out: LoadRankerVersion says why when it is asked for.
    if (auto m = ReadManifest(root, name, latest); m.ok()) out.push_back(std::move(*m));
  }
  return out;
}

std::string RankerVersionsJson(const std::vector<RankerManifest>& versions) {
  json out = json::array();
  for (const RankerManifest& m : versions) {
    json j = ToJson(m);
    j["kind"] = "ranker";
    j["active"] = m.active;
    out.push_back(std::move(j));
  }
  return out.dump();
}

std::vector<std::string> PruneRankerVersions(const std::string& root, size_t keep, const std::string& serving) {
  std::vector<std::string> removed;
  const std::vector<RankerManifest> versions = ListRankerVersions(root);
  const std::string latest = Latest(root);
  size_t excess = versions.size() > keep ? versions.size() - keep : 0;
  for (const RankerManifest& m : versions) {
    if (excess == 0) break;
    if (m.version == latest || m.version == serving) continue;
    // Renamed away first, so a kill mid-removal never leaves half a version under its name.
    const std::string doomed = root + "/.removing-" + m.version;
    if (std::rename((root + "/" + m.version).c_str(), doomed.c_str()) != 0) continue;
    std::error_code ec;
    fs::remove_all(doomed, ec);
    removed.push_back(m.version);
    --excess;
  }
  return removed;
}

std::vector<std::string> RemoveAbandonedRankerFiles(const std::string& root) {
  std::vector<std::string> removed;
  for (const std::string& name : Names(root)) {
    // .tmp-rNNNN-<suffix>, LATEST.tmp-<suffix> and <file>.tmp-<suffix>: abandoned once their writer is gone.
    if (name.rfind(".removing-r", 0) != 0 && !AbandonedTemporary(root + "/" + name)) continue;
    std::error_code ec;
    fs::remove_all(root + "/" + name, ec);
    if (!ec) removed.push_back(name);
  }
  return removed;
}

}  // namespace recd::rank
