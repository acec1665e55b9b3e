#include "base/temp_dir.h"

#include <ftw.h>
#include <stdlib.h>

#include <cstdio>
#include <cstring>
#include <vector>

#include "base/status.h"

namespace recd {

TempDir::TempDir(const std::string& prefix) {
  const char* tmp = std::getenv("TMPDIR");
  std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/" + prefix + "XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  RECD_CHECK(mkdtemp(buf.data()) != nullptr, "cannot create a temporary directory from " + tmpl);
  path_ = buf.data();
}

TempDir::~TempDir() {
  // Depth-first, without following symlinks: children before their directory.
  nftw(path_.c_str(), [](const char* p, const struct stat*, int, struct FTW*) { return std::remove(p); }, 16,
       FTW_DEPTH | FTW_PHYS);
}

}  // namespace recd
