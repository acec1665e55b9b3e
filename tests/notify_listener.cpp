// notify_listener SOCKET: what systemd would receive on $NOTIFY_SOCKET. Binds
// a unix datagram socket at SOCKET and prints each message as one line,
// "<ms since start> <fields joined by '|'>", until killed.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: notify_listener SOCKET\n");
    return 2;
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (std::strlen(argv[1]) >= sizeof addr.sun_path) {
    std::fprintf(stderr, "notify_listener: socket path too long: %s\n", argv[1]);
    return 2;
  }
  std::strcpy(addr.sun_path, argv[1]);
  const int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
  unlink(argv[1]);
  if (fd < 0 || bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    std::perror("notify_listener: bind");
    return 1;
  }
  const auto start = std::chrono::steady_clock::now();
  char buffer[4096];
  for (;;) {
    const ssize_t n = recv(fd, buffer, sizeof buffer, 0);
    if (n < 0) continue;
    std::string message(buffer, static_cast<size_t>(n));
    for (char& c : message) {
      if (c == '\n') c = '|';
    }
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
    std::printf("%lld %s\n", static_cast<long long>(ms.count()), message.c_str());
    std::fflush(stdout);
  }
}
