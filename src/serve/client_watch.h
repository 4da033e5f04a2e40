// Whether an HTTP client has closed its connection, for requests that wait (a queued inference,
// a generation). Include after <httplib.h>.
#pragma once

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdlib>
#include <string>

namespace pare::serve {

// Whether the client of REQ has closed its connection. cpp-httplib 0.11 does not hand the socket
// to handlers, so it is found once (lazily: only for requests that wait) among this process's
// sockets by its two endpoints; then a peek that reads end-of-stream means the peer has closed.
class ClientWatch {
 public:
  explicit ClientWatch(const httplib::Request& req) : req_(req) {}
  bool gone() {
    if (fd_ == -1) fd_ = find_socket();
    if (fd_ < 0) return false;
    char c;
    ssize_t n = ::recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
  }

 private:
  int find_socket() const {
    if (req_.remote_port <= 0 || req_.local_port <= 0) return -2;
    DIR* d = opendir("/proc/self/fd");
    if (!d) return -2;
    int found = -2;
    while (dirent* e = readdir(d)) {
      char* end = nullptr;
      long fd = std::strtol(e->d_name, &end, 10);
      if (*end != '\0' || fd < 0 || fd == dirfd(d)) continue;
      sockaddr_storage peer{}, self{};
      socklen_t pl = sizeof(peer), sl = sizeof(self);
      if (getpeername(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&peer), &pl) != 0) continue;
      if (getsockname(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&self), &sl) != 0) continue;
      if (port_of(peer) == req_.remote_port && port_of(self) == req_.local_port && addr_of(peer) == req_.remote_addr) {
        found = static_cast<int>(fd);
        break;
      }
    }
    closedir(d);
    return found;
  }
  static int port_of(const sockaddr_storage& a) {
    if (a.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in&>(a).sin_port);
    if (a.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6&>(a).sin6_port);
    return -1;
  }
  static std::string addr_of(const sockaddr_storage& a) {
    char buf[INET6_ADDRSTRLEN] = {0};
    if (a.ss_family == AF_INET) inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(a).sin_addr, buf, sizeof(buf));
    if (a.ss_family == AF_INET6) inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(a).sin6_addr, buf, sizeof(buf));
    return buf;
  }
  const httplib::Request& req_;
  int fd_ = -1;  // -1: not looked up yet; -2: not found
};

}  // namespace pare::serve
