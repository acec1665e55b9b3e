// recd::daemon — SIGTERM/SIGINT and SIGHUP on a Boost.Asio io_context. Each
// wait re-arms after every signal, so a second stop signal is heard while the
// first one's orderly stop is still under way (main turns it into an
// immediate exit), and every SIGHUP reloads.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <functional>

namespace recd::daemon {

class StopSignals {
 public:
  // `on_first` runs for the first signal, `on_again` for every later one; both
  // on the io_context's thread.
  StopSignals(boost::asio::io_context& io, std::function<void(int)> on_first, std::function<void(int)> on_again)
      : signals_(io, SIGINT, SIGTERM), on_first_(std::move(on_first)), on_again_(std::move(on_again)) {
    Arm();
  }
  int received() const { return received_; }

 private:
  void Arm() {
    signals_.async_wait([this](const boost::system::error_code& ec, int signo) {
      if (ec) return;  // cancelled: the io_context is going away
      (received_++ == 0 ? on_first_ : on_again_)(signo);
      Arm();
    });
  }
  boost::asio::signal_set signals_;
  std::function<void(int)> on_first_, on_again_;
  int received_ = 0;
};

// SIGHUP: `on_hangup` runs for each, on the io_context's thread.
class HangupSignal {
 public:
  HangupSignal(boost::asio::io_context& io, std::function<void()> on_hangup)
      : signals_(io, SIGHUP), on_hangup_(std::move(on_hangup)) {
    Arm();
  }

 private:
  void Arm() {
    signals_.async_wait([this](const boost::system::error_code& ec, int) {
      if (ec) return;
      on_hangup_();
      Arm();
    });
  }
  boost::asio::signal_set signals_;
  std::function<void()> on_hangup_;
};

}  // namespace recd::daemon
