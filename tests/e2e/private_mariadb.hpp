#pragma once
// A MariaDB server of one test case's own (scripts/mariadb), for the e2e cases that stop,
// restart, freeze or thaw it: doing that to the shared test server would break the suites
// that run beside them (ctest -j).

#include <string>

namespace ts::e2e {

/// True where TS_TEST_MARIADB_DIR is set (scripts/test sets it: a MariaDB server can run
/// here); the cases that start a private server run only then.
bool mariadb_tests_enabled();

/// A loopback port with nobody listening at the moment.
unsigned free_port();

/// A private server in `dir` with a user `user` whose password is `password` (all rights on
/// the database `ts`). Stopped at destruction, after a resume in case the test froze it
/// (declare it after the temp_dir holding it).
class private_mariadb {
public:
  private_mariadb(std::string dir, std::string user, std::string password);
  private_mariadb(const private_mariadb&) = delete;
  private_mariadb& operator=(const private_mariadb&) = delete;
  ~private_mariadb();

  std::string url() const;
  /// How the service's messages name the server.
  std::string where() const;

  void stop();
  /// Starts it again on the same data: what was committed is still there.
  void restart();
  /// SIGSTOP: the server accepts connections but answers nothing.
  void pause();
  void resume();

private:
  void run(const char* cmd);

  std::string dir_;
  std::string user_;
  std::string password_;
  unsigned port_ = 0;
};

} // namespace ts::e2e
