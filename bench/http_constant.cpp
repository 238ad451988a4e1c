// Baseline for the ingest and status-read scenarios: the HTTP ceiling. A minimal RESTinio
// server with the service's RESTinio settings (http/server.cpp: the same traits, thread
// count, body limit and request timeout, run_async on its own io_context), answering every
// request at once with a constant JSON body shaped like the service's answers: 201 with a
// Location for POST, 200 with a status document otherwise. No routing, no parsing, no actor,
// no database: what is left is RESTinio and the kernel's loopback.
//
//   bench_http_constant [--port=0] [--threads=2]   prints `listening on 127.0.0.1:PORT`
//   and serves until SIGINT or SIGTERM.
#include <csignal>
#include <iostream>
#include <string>

#include <restinio/all.hpp>

#include "bench/options.hpp"

namespace {

namespace asio = restinio::asio_ns;

using traits = restinio::traits_t<restinio::asio_timer_manager_t, restinio::null_logger_t>;

const std::string created_body =
  R"({"id":1,"task":"true","time":"2999-01-01T00:00:00.000Z","status":"pending",)"
  R"("created_at":"2026-01-01T00:00:00.000Z"})";
const std::string status_body =
  R"({"id":1,"task":"true","time":"2999-01-01T00:00:00.000Z","status":"pending",)"
  R"("exit_code":null,"signal":null,"reason":null,"output":null,"output_truncated":false,)"
  R"("started_at":null,"finished_at":null,"run_id":null,)"
  R"("created_at":"2026-01-01T00:00:00.000Z"})";

} // namespace

int main(int argc, char** argv) {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  ts::bench::options opts{argc, argv};
  auto port = opts.num("port", 0);
  auto threads = opts.num("threads", 2);
  if (!opts.check("bench_http_constant"))
    return 2;

  auto io = std::make_shared<asio::io_context>();
  uint16_t bound = 0;
  restinio::server_settings_t<traits> settings;
  settings.address(asio::ip::make_address("127.0.0.1"))
    .protocol(asio::ip::tcp::v4())
    .port(static_cast<uint16_t>(port))
    .incoming_http_msg_limits(restinio::incoming_http_msg_limits_t{}.max_body_size(8 << 20))
    .handle_request_timeout(std::chrono::seconds(60))
    .acceptor_post_bind_hook([&bound](asio::ip::tcp::acceptor& acceptor) {
      bound = acceptor.local_endpoint().port();
    })
    .request_handler([](restinio::request_handle_t req) {
      bool post = req->header().method() == restinio::http_method_post();
      auto rb = req->create_response(post ? restinio::status_created() : restinio::status_ok());
      rb.append_header("Content-Type", "application/json");
      if (post)
        rb.append_header("Location", "/status?id=1");
      rb.set_body(post ? created_body : status_body);
      rb.done();
      return restinio::request_accepted();
    });
  try {
    auto server = restinio::run_async<traits>(restinio::io_context_holder_t{io},
                                              std::move(settings),
                                              static_cast<size_t>(threads));
    std::cout << "listening on 127.0.0.1:" << bound << std::endl;
    int sig = 0;
    sigwait(&stop_signals, &sig);
    server->stop();
    server->wait();
  } catch (const std::exception& e) {
    std::cerr << "bench_http_constant: " << e.what() << std::endl;
    return 1;
  }
  return 0;
}
