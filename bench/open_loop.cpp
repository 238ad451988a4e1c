#include "bench/open_loop.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <strings.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench/stats.hpp"

namespace ts::bench {
namespace {

enum class state { connecting, idle, busy, closed };

struct conn {
  int fd = -1;
  state st = state::closed;
  size_t written = 0;     // of the request
  int64_t sent_ns = 0;    // when its write began
  int64_t due_ns = 0;     // when it was due
  uint32_t generation = 0;  // epoll events of a closed predecessor carry an older one
  std::string in;
};

/// A complete response at the front of `in`: its status, its length, whether the service
/// closes after it. False while more bytes are needed.
bool parse_response(const std::string& in, int& status, size_t& length, bool& closes) {
  auto end = in.find("\r\n\r\n");
  if (end == std::string::npos)
    return false;
  if (in.size() < 12 || in.compare(0, 5, "HTTP/") != 0)
    return status = -1, length = in.size(), closes = true, true;
  status = std::atoi(in.c_str() + 9);
  size_t body = 0;
  closes = false;
  for (size_t pos = in.find("\r\n") + 2; pos < end;) {
    auto eol = in.find("\r\n", pos);
    auto line = in.substr(pos, eol - pos);
    if (strncasecmp(line.c_str(), "content-length:", 15) == 0)
      body = static_cast<size_t>(std::strtoull(line.c_str() + 15, nullptr, 10));
    else if (strncasecmp(line.c_str(), "connection:", 11) == 0
             && line.find("close") != std::string::npos)
      closes = true;
    pos = eol + 2;
  }
  length = end + 4 + body;
  return in.size() >= length;
}

class loop {
public:
  explicit loop(const open_loop_options& o) : o_(o), conns_(o.connections) {
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    addr_.sin_family = AF_INET;
    addr_.sin_port = htons(o.port);
    addr_.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  }
  ~loop() {
    for (auto& c : conns_)
      if (c.fd >= 0)
        ::close(c.fd);
    ::close(ep_);
  }

  open_loop_result run() {
    for (size_t i = 0; i < conns_.size(); ++i)
      open(i);
    auto total = static_cast<size_t>(o_.rate * o_.seconds);
    auto period = 1e9 / o_.rate;
    auto start = mono_ns();
    auto offer_end = start + static_cast<int64_t>(o_.seconds * 1e9);
    auto deadline = offer_end + 10'000'000'000LL;
    size_t next = 0;
    epoll_event events[256];
    while (mono_ns() < deadline) {
      auto now = mono_ns();
      // Every request due by now goes out on an idle connection, oldest first.
      while (next < total && !idle_.empty()) {
        auto due = start + static_cast<int64_t>(static_cast<double>(next) * period);
        if (due > now || now >= offer_end)
          break;
        auto i = idle_.back();
        idle_.pop_back();
        send(i, due, now);
        ++next;
      }
      if ((next >= total || now >= offer_end) && busy_ == 0)
        break;
      // Sleep until the next due request, or an answer, whichever is first.
      int64_t wait_ns = 100'000'000;
      if (next < total && !idle_.empty())
        wait_ns = std::max<int64_t>(
            0, start + static_cast<int64_t>(static_cast<double>(next) * period) - now);
      timespec ts{static_cast<time_t>(wait_ns / 1'000'000'000), static_cast<long>(wait_ns % 1'000'000'000)};
      int n = epoll_pwait2(ep_, events, 256, &ts, nullptr);
      for (int e = 0; e < n; ++e) {
        auto i = static_cast<size_t>(events[e].data.u64 & 0xffffffff);
        if (events[e].data.u64 >> 32 == conns_[i].generation)
          handle(i, events[e].events);
      }
    }
    r_.unsent = total - std::min(total, next);
    r_.failed += busy_;  // no answer before the deadline
    r_.load_s = static_cast<double>(std::max(last_answer_ns_, offer_end) - start) / 1e9;
    return std::move(r_);
  }

private:
  void open(size_t i) {
    auto& c = conns_[i];
    auto generation = c.generation + 1;
    c = conn{};
    c.generation = generation;
    c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c.st = state::connecting;
    if (::connect(c.fd, reinterpret_cast<sockaddr*>(&addr_), sizeof(addr_)) == 0) {
      c.st = state::idle;
      idle_.push_back(i);
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLET | EPOLLRDHUP;
    ev.data.u64 = static_cast<uint64_t>(c.generation) << 32 | i;
    epoll_ctl(ep_, EPOLL_CTL_ADD, c.fd, &ev);
  }

  void reopen(size_t i) {
    epoll_ctl(ep_, EPOLL_CTL_DEL, conns_[i].fd, nullptr);
    ::close(conns_[i].fd);
    ++r_.reconnects;
    open(i);
  }

  void send(size_t i, int64_t due, int64_t now) {
    auto& c = conns_[i];
    c.st = state::busy;
    c.written = 0;
    c.due_ns = due;
    c.sent_ns = now;
    ++busy_;
    ++r_.sent;
    flush(i);
  }

  void flush(size_t i) {
    auto& c = conns_[i];
    while (c.written < o_.request.size()) {
      auto n = ::send(c.fd, o_.request.data() + c.written, o_.request.size() - c.written,
                      MSG_NOSIGNAL);
      if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK)
          fail(i);
        return;  // EPOLLOUT (edge-triggered) says when to go on
      }
      c.written += static_cast<size_t>(n);
    }
  }

  void fail(size_t i) {
    if (conns_[i].st == state::busy) {
      --busy_;
      ++r_.failed;
    }
    reopen(i);
  }

  void handle(size_t i, uint32_t ev) {
    auto& c = conns_[i];
    if (c.st == state::connecting) {
      if (!(ev & EPOLLOUT))
        return;
      int err = 0;
      socklen_t len = sizeof(err);
      ::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0)
        return reopen(i);  // refused: the service is full or gone; try again
      c.st = state::idle;
      idle_.push_back(i);
      return;
    }
    if (c.st == state::busy && (ev & EPOLLOUT))
      flush(i);
    if (!(ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
      return;
    char buf[16384];
    for (;;) {
      auto n = ::recv(c.fd, buf, sizeof(buf), 0);
      if (n > 0) {
        c.in.append(buf, static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        break;
      // Closed or reset: an answer in the buffer counts, a missing one is a failure.
      if (answered(i))
        return;  // it said it would close, and is open again
      if (c.st == state::idle)
        idle_.erase(std::find(idle_.begin(), idle_.end(), i));
      return fail(i);
    }
    answered(i);
  }

  /// Takes a complete answer off the connection, if one is there; true when the service
  /// closed the connection after it and it was opened again.
  bool answered(size_t i) {
    auto& c = conns_[i];
    int status = 0;
    size_t length = 0;
    bool closes = false;
    if (c.st != state::busy || !parse_response(c.in, status, length, closes))
      return false;
    auto now = mono_ns();
    last_answer_ns_ = now;
    --busy_;
    if (status >= 200 && status < 300) {
      ++r_.by_status_2xx;
      r_.accepted_ms.push_back(static_cast<double>(now - c.sent_ns) / 1e6);
      r_.accepted_from_due_ms.push_back(static_cast<double>(now - c.due_ns) / 1e6);
    } else if (status == 503) {
      ++r_.overloaded;
    } else {
      ++r_.other;
    }
    c.in.erase(0, length);
    if (closes) {
      c.st = state::closed;
      reopen(i);
      return true;
    }
    c.st = state::idle;
    idle_.push_back(i);
    return false;
  }

  const open_loop_options& o_;
  std::vector<conn> conns_;
  std::vector<size_t> idle_;
  size_t busy_ = 0;
  int ep_ = -1;
  sockaddr_in addr_{};
  int64_t last_answer_ns_ = 0;
  open_loop_result r_;
};

} // namespace

open_loop_result run_open_loop(const open_loop_options& opts) {
  loop l(opts);
  return l.run();
}

} // namespace ts::bench
