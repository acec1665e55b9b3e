// recd::base — a temporary directory removed with everything in it when the
// object dies. POSIX calls only: std::filesystem symbols clash with the ones
// PyTorch's LibTorch exports on CUDA hosts (seen as crashes there).
#pragma once

#include <string>

namespace recd {

class TempDir {
 public:
  // Creates $TMPDIR/<prefix>XXXXXX (or /tmp); aborts when that fails.
  explicit TempDir(const std::string& prefix = "recd-");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace recd
