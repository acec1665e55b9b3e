// recd::base — files that survive a crash or a power cut: written, fsynced,
// renamed into place, and their directory fsynced. Derived state may skip this;
// anything a restart trusts (model registries, LATEST, decisions) may not.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"

namespace recd {

// Writes `bytes` to `path` and fsyncs it (no rename: for files inside a
// directory that is itself renamed into place).
Status WriteDurable(const std::string& path, const std::string& bytes);
// fsyncs a file someone else wrote (a library's Save); NotFound when absent.
Status SyncFile(const std::string& path);
// fsyncs every regular file directly under `dir`, then `dir` itself.
Status SyncTree(const std::string& dir);
// fsyncs a directory, so the names created or renamed in it are durable.
// Best effort: a file system that cannot sync directories is not an error.
void SyncDir(const std::string& dir);
// Replaces `path` atomically and durably: a unique temporary beside it,
// written, fsynced, renamed over `path`, the directory fsynced. A crash leaves
// either the old or the new content, never a mix.
Status ReplaceFileDurably(const std::string& path, const std::string& bytes);
// A name no other process or incarnation will produce: "<pid>-<random>-<serial>".
// Pid alone collides where pids repeat (pid 1 in every container).
std::string UniqueSuffix();
// For a file or directory named with UniqueSuffix after ".tmp-" (".../x.tmp-<suffix>",
// or ".../.tmp-<version>-<suffix>" with a 5-character version such as v0003):
// true once its writer is gone: its pid is not running, or it is this
// process's pid under another incarnation (an earlier life, such as pid 1 in a
// restarted container) and it was last written over 10 minutes ago, since
// another container's pid 1 may share the volume. Other names: false.
bool AbandonedTemporary(const std::string& path);

}  // namespace recd
