#include "tests/e2e/private_mariadb.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/e2e/service.hpp"

namespace ts::e2e {

namespace {

command_result script(std::vector<std::string> args) {
  args.insert(args.begin(), source_dir() + "/scripts/mariadb");
  return run_command(args, {}, 90s);
}

} // namespace

bool mariadb_tests_enabled() {
  const char* dir = std::getenv("TS_TEST_MARIADB_DIR");
  return dir != nullptr && *dir != '\0';
}

unsigned free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  ::close(fd);
  return ntohs(addr.sin_port);
}

private_mariadb::private_mariadb(std::string dir, std::string user, std::string password)
  : dir_(std::move(dir)), user_(std::move(user)), password_(std::move(password)) {
  // A port can be taken between the probe and the start: try a few.
  command_result started;
  for (int attempt = 0; attempt < 3 && started.exit_code != 0; ++attempt) {
    port_ = free_port();
    started = script({"start", dir_, std::to_string(port_)});
  }
  INFO(started.output);
  REQUIRE(started.exit_code == 0);
  auto account = "'" + user_ + "'@'127.0.0.1'";
  auto sql = "CREATE USER " + account + " IDENTIFIED BY '" + password_ + "'; GRANT ALL ON ts.* TO "
             + account + ";";
  auto created = run_command(
    {"mariadb", "--no-defaults", "--socket=" + dir_ + "/mysqld.sock", "-uroot", "-e", sql}, {},
    30s);
  INFO(created.output);
  REQUIRE(created.exit_code == 0);
}

private_mariadb::~private_mariadb() {
  // A frozen server would not stop in time: thaw it first (harmless when it runs).
  script({"resume", dir_});
  script({"stop", dir_});
}

std::string private_mariadb::url() const {
  return "mysql://" + user_ + ":" + password_ + "@" + where() + "/ts";
}

std::string private_mariadb::where() const {
  return "127.0.0.1:" + std::to_string(port_);
}

void private_mariadb::stop() {
  run("stop");
}

void private_mariadb::restart() {
  run("restart");
}

void private_mariadb::pause() {
  run("pause");
}

void private_mariadb::resume() {
  run("resume");
}

void private_mariadb::run(const char* cmd) {
  auto r = script({cmd, dir_});
  INFO("scripts/mariadb " << cmd << ": " << r.output);
  REQUIRE(r.exit_code == 0);
}

} // namespace ts::e2e
