// A stream socket for RESTinio (traits' stream_socket_t) that judges every request from its
// head, before RESTinio buffers the body: RESTinio 0.6 only hands a handler the request
// once the whole body is in, and offers no hook at the end of the head. The socket follows
// the message framing of what RESTinio reads (message_scanner.hpp) and at the end of each
// head asks a judge (the server's, api::judge_head); it answers `Expect: 100-continue`,
// and writes refusals itself (401, 413, 415, 431, 408, 503) and closes, so that RESTinio
// sees its read fail and drops the connection. Under TLS (guard_settings::tls) the same
// socket wraps an asio::ssl::stream instead of the bare TCP socket: it makes the server's
// handshake, bounded by the header timeout, and judges the decrypted bytes. Included by
// server.cpp only (RESTinio is costly to compile); docs/architecture.md says why this design.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <restinio/all.hpp>

#include "http/api.hpp"
#include "http/message_scanner.hpp"
#include "http/routes.hpp"

namespace asio::ssl {
class context;
} // namespace asio::ssl

namespace ts::api {

namespace asio = restinio::asio_ns;

/// What the server tells its guarded sockets; shared by all of them.
struct guard_settings {
  scanner_limits limits;
  /// A request head must be complete this long after the connection opened, or after the
  /// first byte of a later head, else 408.
  std::chrono::milliseconds header_timeout = std::chrono::seconds(10);
  /// Connections beyond this many get 503 `overloaded` at once.
  size_t max_connections = 1024;
  /// The answer that refuses a complete head, or nullopt to let it through.
  std::function<std::optional<http_response>(const request_head&)> judge;
  /// Told of every refusal written (for the log, the metrics and the audit log); `head` is
  /// null when there is none yet (431, 408, 503 at accept); `remote` is the client's
  /// address (endpoint_text).
  std::function<void(const request_head* head, const http_response&, std::string_view remote)>
    refused;
  /// Open connections (the guard's own count, for max_connections).
  std::atomic<size_t> connections{0};
  /// Set: every connection is TLS with this context (a server is all TLS or all plain).
  std::shared_ptr<asio::ssl::context> tls;
};

/// "127.0.0.1:40312", "[::1]:40312": a client's address as the audit log shows it.
inline std::string endpoint_text(const asio::ip::tcp::endpoint& ep) {
  auto addr = ep.address().to_string();
  if (ep.address().is_v6())
    addr = "[" + addr + "]";
  return addr + ":" + std::to_string(ep.port());
}

/// The status line, headers and body of a refusal, with Content-Length and
/// Connection: close.
std::string serialize_refusal(const http_response& res);

/// A RESTinio completion handler, type-erased, with the executor it must run on.
struct guarded_socket_handler {
  std::function<void(const asio::error_code&, std::size_t)> fn;
  asio::any_io_executor ex;
};

/// A connection's state over its stream, a plain TCP socket or a TLS stream over one
/// (guarded_socket.cpp): one virtual call per operation keeps RESTinio instantiated once,
/// for one socket type, whichever the server runs.
class guard_core {
public:
  virtual ~guard_core() = default;
  virtual asio::ip::tcp::socket& lowest() = 0;
  virtual bool tls() const = 0;
  virtual void activate() = 0;
  virtual void handshake(asio::any_io_executor ex,
                         std::function<void(const asio::error_code&)> done) = 0;
  virtual void read(asio::mutable_buffer buffer, guarded_socket_handler h) = 0;
  virtual void write(std::vector<asio::const_buffer> buffers, guarded_socket_handler h) = 0;
  virtual void cancel(asio::error_code& ec) = 0;
  virtual void shutdown(asio::socket_base::shutdown_type what, asio::error_code& ec) = 0;
  virtual void close() = 0;
  virtual bool is_open() = 0;
};

class guarded_socket {
public:
  using socket_type = asio::ip::tcp::socket;
  using executor_type = socket_type::executor_type;
  using handler = guarded_socket_handler;

  guarded_socket(asio::io_context& io, std::shared_ptr<guard_settings> settings);
  guarded_socket(guarded_socket&&) noexcept = default;
  guarded_socket& operator=(guarded_socket&& other) noexcept;
  /// Closes the socket unless a refusal is still being written (it closes itself then).
  ~guarded_socket();

  socket_type& lowest_layer();
  const socket_type& lowest_layer() const;
  executor_type get_executor();
  auto remote_endpoint() const {
    return lowest_layer().remote_endpoint();
  }
  bool is_open() const;
  void cancel(asio::error_code& ec);
  void shutdown(asio::socket_base::shutdown_type what, asio::error_code& ec);
  void close();
  void close(asio::error_code& ec);

  template <class MutableBuffers, class Handler>
  void async_read_some(const MutableBuffers& buffers, Handler&& h) {
    read(*asio::buffer_sequence_begin(buffers), erase(std::forward<Handler>(h)));
  }

  template <class ConstBuffers, class Handler>
  void async_write_some(const ConstBuffers& buffers, Handler&& h) {
    write(std::vector<asio::const_buffer>(asio::buffer_sequence_begin(buffers),
                                          asio::buffer_sequence_end(buffers)),
          erase(std::forward<Handler>(h)));
  }

  /// RESTinio starts serving the connection: counted against max_connections from now.
  void activate();
  /// The connection is TLS: handshake() before the first read.
  bool tls() const;
  /// TLS: the server's handshake, bounded by the header timeout (a client that never
  /// completes it is closed); `done` runs on `ex`, the connection's strand, which every
  /// operation on the TLS stream keeps to from then on (OpenSSL's state is not shared
  /// between threads).
  void handshake(asio::any_io_executor ex, std::function<void(const asio::error_code&)> done);

private:
  template <class Handler>
  handler erase(Handler&& h) {
    auto ex = asio::get_associated_executor(h, get_executor());
    // Shared: asio's handlers need not be copyable, std::function's must.
    auto p = std::make_shared<std::decay_t<Handler>>(std::forward<Handler>(h));
    return {[p](const asio::error_code& ec, std::size_t n) { (*p)(ec, n); }, std::move(ex)};
  }
  void read(asio::mutable_buffer buffer, handler h);
  void write(std::vector<asio::const_buffer> buffers, handler h);

  // Shared with the socket's pending operations: the real socket and a refusal being
  // written outlive this object when RESTinio drops the connection first.
  std::shared_ptr<guard_core> st_;
};

/// For RESTinio's state listener (found by argument-dependent lookup): not a TLS socket.
inline restinio::impl::tls_socket_t* make_tls_socket_pointer_for_state_listener(
  guarded_socket&) noexcept {
  return nullptr;
}

} // namespace ts::api

namespace restinio {

/// `settings.guard(...)`, as tls_context(...) for TLS sockets.
template <class Settings>
class socket_type_dependent_settings_t<Settings, ts::api::guarded_socket> {
protected:
  ~socket_type_dependent_settings_t() = default;

public:
  socket_type_dependent_settings_t() = default;
  socket_type_dependent_settings_t(socket_type_dependent_settings_t&&) = default;

  Settings& guard(std::shared_ptr<ts::api::guard_settings> s) & {
    guard_ = std::move(s);
    return static_cast<Settings&>(*this);
  }
  Settings&& guard(std::shared_ptr<ts::api::guard_settings> s) && {
    return std::move(this->guard(std::move(s)));
  }
  std::shared_ptr<ts::api::guard_settings> guard() const {
    return guard_;
  }

private:
  std::shared_ptr<ts::api::guard_settings> guard_ = std::make_shared<ts::api::guard_settings>();
};

namespace impl {

/// The acceptor's sockets, made with the guard settings (a moved-from guarded_socket is
/// empty, so the pool gets a new one, as for TLS).
template <>
class socket_supplier_t<ts::api::guarded_socket> {
protected:
  template <class Settings>
  socket_supplier_t(Settings& settings, asio_ns::io_context& io)
    : guard_(settings.guard()), io_(io) {
    sockets_.reserve(settings.concurrent_accepts_count());
    while (sockets_.size() < settings.concurrent_accepts_count())
      sockets_.emplace_back(io_, guard_);
  }
  virtual ~socket_supplier_t() = default;

  ts::api::guarded_socket& socket(std::size_t idx) {
    return sockets_.at(idx);
  }
  ts::api::guarded_socket move_socket(std::size_t idx) {
    ts::api::guarded_socket res{io_, guard_};
    std::swap(res, sockets_.at(idx));
    return res;
  }
  auto concurrent_accept_sockets_count() const {
    return sockets_.size();
  }

private:
  std::shared_ptr<ts::api::guard_settings> guard_;
  asio_ns::io_context& io_;
  std::vector<ts::api::guarded_socket> sockets_;
};

// As RESTinio's own for its TLS socket: reading starts once the handshake is done, and a
// failed one closes the connection.
template <class Connection, class Start_Read_CB, class Failed_CB>
void prepare_connection_and_start_read(ts::api::guarded_socket& socket, Connection& con,
                                       Start_Read_CB start_read_cb, Failed_CB failed_cb) {
  socket.activate();
  if (!socket.tls()) {
    start_read_cb();
    return;
  }
  socket.handshake(con.get_executor(),
                   [start_read_cb = std::move(start_read_cb), failed_cb = std::move(failed_cb),
                    con = con.shared_from_this()](const asio_ns::error_code& ec) {
                     if (!ec)
                       start_read_cb();
                     else
                       failed_cb(ec);
                   });
}

} // namespace impl
} // namespace restinio
