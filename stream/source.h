// recd::stream — where events come from, behind one small interface, so the
// same intake runs on Kafka (EventConsumer, kafka.h) or on a JSONL file
// (FileEventSource, for `recd replay`).
#pragma once

#include <chrono>
#include <cstdint>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/hash.h"
#include "base/ids.h"
#include "base/status.h"

namespace recd::stream {

// One input record as a view: valid until the source's next Poll.
struct SourceRecord {
  TopicPartition tp;
  Offset offset;
  std::string_view key;
  std::string_view payload;
};

// The fingerprint of one record kept with the stored offset (PartitionOffset):
// FNV-1a of its key and payload, never 0 (0 means "unknown").
inline uint64_t RecordHash(std::string_view key, std::string_view payload) {
  const uint64_t key_length = key.size();
  uint64_t h = Fnv1a64(key);
  h = Fnv1a64(std::string_view(reinterpret_cast<const char*>(&key_length), sizeof key_length), h);
  h = Fnv1a64(payload, h);
  return h == 0 ? 1 : h;
}

// Single-threaded: every method is called from the one pipeline thread.
class EventSource {
 public:
  virtual ~EventSource() = default;
  // Appends up to `max_records` records to *out, waiting up to `max_wait` for
  // the first. Views stay valid until the next call.
  virtual Status Poll(size_t max_records, std::chrono::milliseconds max_wait, std::vector<SourceRecord>* out) = 0;
  // True once a finite source (a file) has handed out its last record.
  virtual bool AtEnd() const = 0;
  // The next offset the log will write in `tp` (its high watermark); nullopt when unknown.
  virtual std::optional<Offset> HighWatermark(const TopicPartition& tp) = 0;
  // The oldest offset the log still holds (retention deletes below it); nullopt when unknown.
  virtual std::optional<Offset> LogStart(const TopicPartition& tp) = 0;
  // Reads `tp` again from the start of its log. Records of `tp` already handed
  // out by Poll are from the old position: the caller drops them.
  virtual Status SeekToStart(const TopicPartition& tp) = 0;
  // While paused, Poll hands out nothing but keeps the source alive (group membership).
  virtual void Pause() = 0;
  virtual void Resume() = 0;
  // Where the committed state now stands; informational (lag dashboards).
  virtual void Committed(const std::vector<PartitionOffset>& next_offsets) = 0;
  virtual size_t AssignedPartitions() const = 0;
  // Records the logs hold beyond the source's position, summed over the
  // assigned partitions, from cached high watermarks (no broker round trip);
  // nullopt when nothing is known yet. Informational (STATUS=, metrics).
  virtual std::optional<uint64_t> Lag() { return std::nullopt; }
  // Clients replaced after a fatal error (0 where there is no client).
  virtual uint64_t restarts() const { return 0; }
  // Any thread: makes a Poll waiting for records return now (the pipeline has
  // other work: an admin command). A no-op where Poll does not wait.
  virtual void Wake() {}
  virtual void Close() = 0;
};

// Reads a JSONL file, one record per line. Its one "partition" is named
// "file:<basename>" and a line's offset is its 0-based line number, so a replay
// into an existing store resumes where the store's offset says.
class FileEventSource final : public EventSource {
 public:
  static Result<std::unique_ptr<FileEventSource>> Open(const std::string& path);
  Status Poll(size_t max_records, std::chrono::milliseconds max_wait, std::vector<SourceRecord>* out) override;
  bool AtEnd() const override { return at_end_; }
  std::optional<Offset> HighWatermark(const TopicPartition& tp) override;
  std::optional<Offset> LogStart(const TopicPartition&) override { return Offset(0); }
  Status SeekToStart(const TopicPartition& tp) override;
  void Pause() override { paused_ = true; }
  void Resume() override { paused_ = false; }
  void Committed(const std::vector<PartitionOffset>&) override {}
  size_t AssignedPartitions() const override { return 1; }
  void Close() override {}
  const TopicPartition& partition() const { return tp_; }

 private:
  FileEventSource() = default;
  std::string path_;
  std::ifstream in_;
  TopicPartition tp_;
  int64_t next_line_ = 0;
  std::optional<int64_t> line_count_;  // the file's lines, counted when first asked
  std::vector<std::string> lines_;  // what the last Poll's views point into
  bool at_end_ = false;
  bool paused_ = false;
};

}  // namespace recd::stream
