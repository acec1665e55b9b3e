#include "stream/source.h"

#include <algorithm>

namespace recd::stream {

Result<std::unique_ptr<FileEventSource>> FileEventSource::Open(const std::string& path) {
  std::unique_ptr<FileEventSource> self(new FileEventSource());
  self->path_ = path;
  self->in_.open(path, std::ios::binary);
  if (!self->in_) return Status::NotFound("cannot read events file " + path);
  const size_t slash = path.rfind('/');
  self->tp_ = {"file:" + (slash == std::string::npos ? path : path.substr(slash + 1)), 0};
  return self;
}

Status FileEventSource::Poll(size_t max_records, std::chrono::milliseconds, std::vector<SourceRecord>* out) {
  lines_.clear();
  if (paused_ || at_end_) return Status::Ok();
  std::string line;
  while (lines_.size() < max_records) {
    if (!std::getline(in_, line)) {
      at_end_ = true;
      break;
    }
    lines_.push_back(std::move(line));
  }
  if (in_.bad()) return Status::IoError("reading the events file failed at line " + std::to_string(next_line_ + 1));
  // Views point into lines_, which no longer grows until the next Poll.
  for (const std::string& l : lines_) out->push_back({tp_, Offset(next_line_++), {}, l});
  if (!at_end_ && in_.peek() == std::char_traits<char>::eof()) at_end_ = true;
  return Status::Ok();
}

std::optional<Offset> FileEventSource::HighWatermark(const TopicPartition&) {
  // Counted once, on the first record below the stored offset (a replay
  // resuming into a kept store): the whole file's lines, not just those read.
  if (!line_count_) {
    std::ifstream counter(path_, std::ios::binary);
    int64_t lines = 0;
    for (std::string line; std::getline(counter, line);) ++lines;
    line_count_ = lines;
  }
  return Offset(std::max(*line_count_, next_line_));
}

}  // namespace recd::stream

namespace recd::stream {

Status FileEventSource::SeekToStart(const TopicPartition&) {
  in_.clear();
  in_.seekg(0);
  if (!in_) return Status::IoError("cannot read " + path_ + " again from its start");
  next_line_ = 0;
  at_end_ = false;
  return Status::Ok();
}

}  // namespace recd::stream
