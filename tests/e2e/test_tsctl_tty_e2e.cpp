// tsctl where the transport and the terminal matter: a token file, HTTPS with a private CA
// (the PKI of tests/e2e/test_pki), and what a person sees in a real terminal under tmux:
// the aligned table, its colours (and none with NO_COLOR), and logs -f following a run.
#include <catch2/catch.hpp>

#include <cstdlib>

#include "tests/e2e/service.hpp"
#include "tests/e2e/test_pki.hpp"
#include "tests/e2e/tsctl_driver.hpp"

using namespace ts::e2e;

TEST_CASE("tsctl: a token file, from --token-file or TS_TOKEN_FILE", "[e2e][tsctl]") {
  service_fixture f{"sqlite"};
  REQUIRE(write_file(f.dir.file("token"), "tsctl-secret-token\n"));
  REQUIRE(f.svc.start({"--api-token-file=" + f.dir.file("token")}) == "");
  auto env = tsctl_env(f.svc);

  auto without = run_tsctl({"ls"}, env);
  INFO(without.describe());
  CHECK(without.exit_code == 1);
  CHECK(without.err.find("unauthorized") != std::string::npos);

  auto with = run_tsctl({"at", "now", "--token-file", f.dir.file("token"), "--json", "--", "true"}, env);
  INFO(with.describe());
  CHECK(with.exit_code == 0);
  auto by_env = env;
  by_env.emplace_back("TS_TOKEN_FILE", f.dir.file("token"));
  auto listed = run_tsctl({"ls", "--json"}, by_env);
  INFO(listed.describe());
  CHECK(listed.exit_code == 0);
  CHECK(listed.json().size() == 1);

  REQUIRE(write_file(f.dir.file("wrong"), "not-the-token\n"));
  CHECK(run_tsctl({"ls", "--token-file", f.dir.file("wrong")}, env).exit_code == 1);
  REQUIRE(write_file(f.dir.file("two"), "one\ntwo\n"));
  auto two = run_tsctl({"ls", "--token-file", f.dir.file("two")}, env);
  CHECK(two.exit_code == 2);
  CHECK(two.err.find("token file") != std::string::npos);
}

TEST_CASE("tsctl: HTTPS with a private CA through --cacert", "[e2e][tsctl][tls]") {
  service_fixture f{"sqlite"};
  test_pki pki{f.dir};
  REQUIRE(f.svc.start(pki.flags()) == "");
  env_list env{{"TS_URL", "https://127.0.0.1:" + std::to_string(f.svc.port())}};

  auto created = run_tsctl({"at", "now", "--cacert", pki.ca_cert, "--json", "--", "echo", "tls"}, env);
  INFO(created.describe());
  REQUIRE(created.exit_code == 0);
  auto id = created.json()["id"].dump();
  auto by_env = env;
  by_env.emplace_back("TS_CACERT", pki.ca_cert);
  CHECK(run_tsctl({"wait", id}, by_env).exit_code == 0);
  CHECK(run_tsctl({"logs", id}, by_env).out == "tls\n");
  // Without the CA the certificate is not trusted: no connection, exit 3.
  auto untrusted = run_tsctl({"ls"}, env);
  INFO(untrusted.describe());
  CHECK(untrusted.exit_code == 3);
  CHECK(untrusted.err.find("cannot reach the service") != std::string::npos);
}

TEST_CASE("tsctl: on a terminal, a coloured table (none with NO_COLOR) and logs -f",
          "[e2e][tsctl][tty]") {
  if (run_command({"tmux", "-V"}, {}, 10s).exit_code != 0) {
    // scripts/deps installs tmux; CI must not skip this silently.
    FAIL("tmux is not installed (scripts/deps installs it)");
  }
  service_fixture f{"sqlite"};
  REQUIRE(f.svc.start() == "");
  auto env = tsctl_env(f.svc);
  REQUIRE(run_tsctl({"at", "now", "--name", "fails", "--", "sh", "-c", "exit 3"}, env).exit_code == 0);
  REQUIRE(run_tsctl({"at", "now", "--name", "works", "--", "true"}, env).exit_code == 0);
  REQUIRE(run_tsctl({"wait", "1"}, env).exit_code == 3);
  REQUIRE(run_tsctl({"wait", "2"}, env).exit_code == 0);
  const std::string plain_table = run_tsctl({"ls"}, env).out;

  tmux_session tty{f.dir, env};
  REQUIRE(tty.error() == "");

  tty.type("tsctl ls; echo ls-exit=$?");
  REQUIRE(tty.wait_for("ls-exit=0"));
  auto screen = tty.screen();
  INFO(screen);
  // The same aligned table as without a terminal, line for line.
  CHECK(screen.find(plain_table) != std::string::npos);
  auto coloured = tty.screen(true);
  INFO(coloured);
  CHECK(coloured.find("\x1b[1m") != std::string::npos);   // the bold header
  CHECK(coloured.find("\x1b[32m") != std::string::npos);  // green: completed, success
  CHECK(coloured.find("\x1b[31m") != std::string::npos);  // red: the failure's exit 3

  tty.type("clear; NO_COLOR=1 tsctl ls; echo nc-exit=$?");
  REQUIRE(tty.wait_for("nc-exit=0"));
  auto uncoloured = tty.screen(true);
  INFO(uncoloured);
  CHECK(uncoloured.find("ID  STATE") != std::string::npos);
  CHECK(uncoloured.find("\x1b[3") == std::string::npos);
  CHECK(uncoloured.find("\x1b[1m") == std::string::npos);

  // logs -f: the first line while the run goes on, the second when it ends, then the
  // prompt again (the follow ends with the run).
  const std::string go = f.dir.file("go");
  tty.type("clear");
  REQUIRE(wait_until([&] { return tty.screen().find("nc-exit") == std::string::npos; }, 10s));
  auto follow = run_tsctl({"at", "now", "--json", "--", "sh", "-c",
                           "echo first-line; while [ ! -e " + sh_quote(go)
                             + " ]; do sleep 0.05; done; echo second-line"},
                          env);
  REQUIRE(follow.exit_code == 0);
  const std::string id = follow.json()["id"].dump();
  tty.type("tsctl logs " + id + " -f; echo follow-exit=$?");
  REQUIRE(tty.wait_for("first-line"));
  pause_briefly(300ms);
  CHECK(tty.screen().find("follow-exit=0") == std::string::npos);
  REQUIRE(write_file(go, ""));
  REQUIRE(tty.wait_for("follow-exit=0"));
  auto after = tty.screen();
  INFO(after);
  CHECK(after.find("first-line\nsecond-line\nfollow-exit=0") != std::string::npos);
}

TEST_CASE("tsctl: bash completion of verbs, options, values and task IDs", "[e2e][tsctl]") {
  service_fixture f{"sqlite"};
  REQUIRE(f.svc.start() == "");
  auto env = tsctl_env(f.svc);
  REQUIRE(run_tsctl({"at", "2099-01-01 00:00", "--", "true"}, env).exit_code == 0);
  REQUIRE(run_tsctl({"at", "2099-01-01 00:00", "--", "true"}, env).exit_code == 0);
  const char* path = std::getenv("PATH");
  env.emplace_back("PATH", tsctl_path().substr(0, tsctl_path().rfind('/')) + ":"
                             + (path ? path : "/usr/bin:/bin"));
  // COMPREPLY for the words typed so far, the last one being completed.
  auto complete = [&](const std::string& words) {
    std::string script = "source " + sh_quote(source_dir() + "/cli/tsctl.bash-completion")
                         + "; COMP_WORDS=(" + words + "); COMP_CWORD=$((${#COMP_WORDS[@]} - 1));"
                         + " _tsctl; echo \"${COMPREPLY[*]}\"";
    auto r = run_command({"bash", "--norc", "--noprofile", "-c", script}, env, 30s);
    INFO(words << ": " << r.output);
    REQUIRE(r.exit_code == 0);
    return r.output;
  };
  CHECK(complete("tsctl l") == "ls logs\n");
  CHECK(complete("tsctl --json p") == "pause preview\n");
  auto logs = complete("tsctl logs 3 --");
  CHECK(logs.find("--follow") != std::string::npos);
  CHECK(logs.find("--run") != std::string::npos);
  CHECK(logs.find("--state") == std::string::npos);
  CHECK(complete("tsctl ls --state c") == "completed cancelled\n");
  CHECK(complete("tsctl cron '* * * * *' --tz Europe/Be").find("Europe/Berlin") != std::string::npos);
  if (run_command({"python3", "-c", "pass"}, env, 10s).exit_code == 0)
    CHECK(complete("tsctl show ''") == "2 1\n");
  // After -- it is the command's business.
  CHECK(complete("tsctl at now -- ech") == "\n");
}

TEST_CASE("tsctl: the install rules put tsctl and its completion where a package wants them",
          "[e2e][tsctl]") {
  temp_dir dest;
  auto r = run_command({"cmake", "--install", TS_BUILD_DIR, "--prefix", "/usr", "--component",
                        "tsctl"},
                       {{"DESTDIR", dest.path()}}, 60s);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(file_exists(dest.file("usr/bin/tsctl")));
  CHECK(read_file(dest.file("usr/share/bash-completion/completions/tsctl"))
        == read_file(source_dir() + "/cli/tsctl.bash-completion"));
  auto help = run_command({dest.file("usr/bin/tsctl"), "--help"}, {}, 10s);
  CHECK(help.exit_code == 0);
}
