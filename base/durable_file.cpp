#include "base/durable_file.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>

namespace recd {

namespace {
Status IoFailure(const std::string& what) { return Status::IoError(what + ": " + std::strerror(errno)); }
}  // namespace

Status WriteDurable(const std::string& path, const std::string& bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return IoFailure("cannot create " + path);
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n <= 0) {
      const Status failed = IoFailure("cannot write " + path);
      ::close(fd);
      return failed;
    }
    done += static_cast<size_t>(n);
  }
  const Status synced = ::fsync(fd) == 0 ? Status::Ok() : IoFailure("cannot fsync " + path);
  ::close(fd);
  return synced;
}

Status SyncFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT ? Status::NotFound(path + " does not exist") : IoFailure("cannot open " + path);
  const Status synced = ::fsync(fd) == 0 ? Status::Ok() : IoFailure("cannot fsync " + path);
  ::close(fd);
  return synced;
}

Status SyncTree(const std::string& dir) {
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file(ec)) RECD_RETURN_IF_ERROR(SyncFile(it->path().string()));
  }
  if (ec) return Status::IoError("cannot list " + dir + ": " + ec.message());
  SyncDir(dir);
  return Status::Ok();
}

void SyncDir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

Status ReplaceFileDurably(const std::string& path, const std::string& bytes) {
  const std::string tmp = path + ".tmp-" + UniqueSuffix();
  if (Status s = WriteDurable(tmp, bytes); !s.ok()) {
    std::remove(tmp.c_str());
    return s;
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const Status failed = IoFailure("cannot rename " + tmp + " to " + path);
    std::remove(tmp.c_str());
    return failed;
  }
  const size_t slash = path.rfind('/');
  SyncDir(slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash)));
  return Status::Ok();
}

namespace {
uint32_t Incarnation() {
  static const uint32_t incarnation = std::random_device{}();
  return incarnation;
}
}  // namespace

std::string UniqueSuffix() {
  static std::atomic<uint64_t> serial{0};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%d-%08x-%llu", static_cast<int>(::getpid()), Incarnation(),
                static_cast<unsigned long long>(serial++));
  return buf;
}

bool AbandonedTemporary(const std::string& path) {
  const std::string name = path.substr(path.rfind('/') + 1);
  const size_t tmp = name.find(".tmp-");
  if (tmp == std::string::npos) return false;
  size_t at = tmp + 5;
  if (tmp == 0) at += 6;  // ".tmp-v0003-<suffix>"
  if (at >= name.size() || !std::isdigit(static_cast<unsigned char>(name[at]))) return false;  // not ours to judge
  char* end = nullptr;
  const long pid = std::strtol(name.c_str() + at, &end, 10);
  if (pid <= 0) return false;
  if (pid != ::getpid()) return ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
  unsigned int incarnation = 0;
  const bool has_incarnation = *end == '-' && std::sscanf(end + 1, "%8x", &incarnation) == 1;
  if (has_incarnation && incarnation == Incarnation()) return false;  // this process's own
  // Our pid, another incarnation: an earlier life of this pid (pid 1 in a
  // restarted container), or another container's pid 1 writing to a shared
  // volume right now. Writers finish in seconds, so only an old one is dead.
  std::error_code ec;
  const auto written = std::filesystem::last_write_time(path, ec);
  return !ec && std::filesystem::file_time_type::clock::now() - written > std::chrono::minutes(10);
}
}  // namespace recd
