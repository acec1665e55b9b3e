#include "tools/event_sink.h"

#include <iostream>
#include <thread>

namespace recd::tools {

Result<std::unique_ptr<EventSink>> EventSink::Open(const SinkOptions& options) {
  std::unique_ptr<EventSink> sink(new EventSink());
  sink->options_ = options;
  if (options.output == "-") {
    sink->out_ = &std::cout;
  } else if (!options.output.empty()) {
    sink->file_.open(options.output, std::ios::binary | std::ios::trunc);
    if (!sink->file_) return Status::IoError("cannot write " + options.output);
    sink->out_ = &sink->file_;
  }
  if (!options.brokers.empty()) {
    EventSink* self = sink.get();
    auto p = stream::Publisher::Create({options.brokers, "recd-tools", options.kafka_properties}, [self](const stream::Delivery& d) {
      if (!d.ok) {
        if (self->failed_++ == 0) self->first_error_ = d.error;
      }
    });
    if (!p.ok()) return p.status();
    sink->publisher_ = std::move(p.value());
  }
  if (!sink->out_ && !sink->publisher_) {
    return Status::InvalidArgument("nowhere to write: give --output and/or --brokers");
  }
  return sink;
}

EventSink::~EventSink() = default;

Status EventSink::Emit(std::string_view key, std::string_view value, bool paced) {
  if (paced && options_.rate > 0) {
    if (paced_ == 0) start_ = std::chrono::steady_clock::now();
    const auto due = start_ + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                  std::chrono::duration<double>(paced_ / options_.rate));
    std::this_thread::sleep_until(due);
    ++paced_;
  }
  if (out_) {
    out_->write(value.data(), static_cast<std::streamsize>(value.size()));
    out_->put('\n');
  }
  if (publisher_) {
    RECD_RETURN_IF_ERROR(publisher_->Produce(options_.topic, key, value, {}, 0));
    if ((emitted_ & 1023) == 0) publisher_->Poll();
  }
  ++emitted_;
  return Status::Ok();
}

Status EventSink::Close() {
  if (out_) out_->flush();
  if (publisher_) {
    const int left = publisher_->Flush(std::chrono::seconds(options_.flush_timeout_s));
    if (left > 0) {
      return Status::TimedOut(std::to_string(left) + " record(s) not delivered within " +
                              std::to_string(options_.flush_timeout_s) + " s (--flush-timeout-s)");
    }
  }
  if (failed_ > 0) {
    return Status::Unavailable(std::to_string(failed_) + " record(s) failed, first: " + first_error_);
  }
  return Status::Ok();
}

}  // namespace recd::tools
