// tsctl's command line: verbs, options before and after the verb, the command after --,
// and the usage errors each verb gives.
#include <catch2/catch.hpp>

#include "cli/invocation.hpp"

using ts::cli::invocation;
using ts::cli::parse_invocation;
using ts::cli::verb;

namespace {

invocation ok(std::vector<std::string> args) {
  auto inv = parse_invocation(args);
  INFO(inv.error());
  REQUIRE(inv);
  return *inv;
}

std::string refusal(std::vector<std::string> args) {
  auto inv = parse_invocation(args);
  REQUIRE_FALSE(inv);
  return inv.error();
}

} // namespace

TEST_CASE("cli args: at with a time, task options and the command after --", "[cli][args]") {
  auto inv = ok({"at", "2026-12-24 18:00", "--name", "backup", "-l", "team=ops", "-lx=",
                 "--env=A=1", "--cwd", "/srv", "--timeout", "5m", "--retries", "2", "--",
                 "./backup.sh", "--full"});
  CHECK(inv.what == verb::at);
  CHECK(inv.when == "2026-12-24 18:00");
  CHECK(inv.command == std::vector<std::string>{"./backup.sh", "--full"});
  CHECK(inv.fields.name == "backup");
  REQUIRE(inv.fields.labels.size() == 2);
  CHECK(inv.fields.labels[0].first == "team");
  CHECK(inv.fields.labels[0].second == "ops");
  CHECK(inv.fields.labels[1].second == "");
  REQUIRE(inv.fields.env.size() == 1);
  CHECK(inv.fields.env[0] == std::make_pair(std::string{"A"}, std::string{"1"}));
  CHECK(inv.fields.cwd == "/srv");
  CHECK(inv.fields.timeout_s == 300);
  CHECK(inv.fields.retries == 2);
}

TEST_CASE("cli args: global options go before or after the verb", "[cli][args]") {
  auto a = ok({"--url", "http://x:1", "--json", "ls", "--token-file=t"});
  CHECK(a.what == verb::ls);
  CHECK(a.url == "http://x:1");
  CHECK(a.json);
  CHECK(a.token_file == "t");
  auto b = ok({"show", "7", "--cacert", "ca.crt"});
  CHECK(b.task == 7);
  CHECK(b.cacert == "ca.crt");
}

TEST_CASE("cli args: words after -- are the command, options and all", "[cli][args]") {
  auto inv = ok({"every", "15m", "--", "grep", "--json", "-l", "--", "x"});
  CHECK(inv.every_s == 900);
  CHECK_FALSE(inv.json);
  CHECK(inv.command == std::vector<std::string>{"grep", "--json", "-l", "--", "x"});
}

TEST_CASE("cli args: each verb's own arguments", "[cli][args]") {
  CHECK(ok({"cron", "0 30 2 * * *", "--tz", "Europe/Berlin", "--", "date"}).tz == "Europe/Berlin");
  auto ls = ok({"ls", "--state=active", "-l", "team=ops"});
  CHECK(ls.state == "active");
  CHECK(ls.fields.labels.size() == 1);
  auto logs = ok({"logs", "3", "--run", "9", "-f"});
  CHECK(logs.task == 3);
  CHECK(logs.run == 9);
  CHECK(logs.follow);
  CHECK(ok({"preview", "*/10 * * * * *", "-n", "4"}).count == 4);
  CHECK(ok({"wait", "5", "--timeout=2"}).wait_timeout_s == 2);
  CHECK(ok({"wait", "5"}).wait_timeout_s == std::nullopt);
  for (auto v : {"cancel", "trigger", "pause", "resume", "show", "runs"})
    CHECK(ok({v, "12"}).task == 12);
  CHECK(ok({"nodes"}).what == verb::nodes);
}

TEST_CASE("cli args: edit takes one schedule form and at least one change", "[cli][args]") {
  auto e = ok({"edit", "4", "--every", "30m", "--name", "n", "-l", "old-"});
  CHECK(e.edit_every_s == 1800);
  REQUIRE(e.fields.labels.size() == 1);
  CHECK(e.fields.labels[0].first == "old");
  CHECK_FALSE(e.fields.labels[0].second.has_value());
  CHECK(ok({"edit", "4", "--command", "date -u"}).edit_command == "date -u");
  CHECK(refusal({"edit", "4"}).find("nothing to change") != std::string::npos);
  CHECK(refusal({"edit", "4", "--cron", "* * * * *", "--every", "1m"}).find("one of") != std::string::npos);
  CHECK(refusal({"edit", "4", "--tz", "UTC", "--name", "x"}).find("--tz") != std::string::npos);
}

TEST_CASE("cli args: help, globally and per verb", "[cli][args]") {
  CHECK(ok({}).help);
  CHECK(ok({"--help"}).help);
  auto h = ok({"logs", "--help"});
  CHECK(h.help);
  CHECK(h.what == verb::logs);
  auto via = ok({"help", "wait"});
  CHECK(via.help);
  CHECK(via.what == verb::wait);
}

TEST_CASE("cli args: usage errors say what is wrong", "[cli][args]") {
  CHECK(refusal({"frobnicate"}).find("unknown verb") != std::string::npos);
  CHECK(refusal({"ls", "--bogus"}).find("unknown option --bogus") != std::string::npos);
  CHECK(refusal({"ls", "--cwd", "/"}).find("takes no --cwd") != std::string::npos);
  CHECK(refusal({"at", "now"}).find("after --") != std::string::npos);
  CHECK(refusal({"at", "now", "echo", "--", "x"}).find("one time") != std::string::npos);
  CHECK(refusal({"show"}).find("one task ID") != std::string::npos);
  CHECK(refusal({"show", "x1"}).find("positive integer") != std::string::npos);
  CHECK(refusal({"show", "0"}).find("positive integer") != std::string::npos);
  CHECK(refusal({"show", "3", "--", "x"}).find("no command") != std::string::npos);
  CHECK(refusal({"every", "1.5s", "--", "x"}).find("whole seconds") != std::string::npos);
  CHECK(refusal({"at", "now", "--env", "NOEQUALS", "--", "x"}).find("NAME=VALUE") != std::string::npos);
  CHECK(refusal({"at", "now", "-l", "k-", "--", "x"}).find("KEY=VALUE") != std::string::npos);
  CHECK(refusal({"preview", "* * * * *", "-n", "101"}).find("1 to 100") != std::string::npos);
  CHECK(refusal({"at", "now", "--retries", "-1", "--", "x"}).find("--retries") != std::string::npos);
  CHECK(refusal({"ls", "--json=yes"}).find("takes no value") != std::string::npos);
  CHECK(refusal({"show", "1", "--url"}).find("needs a value") != std::string::npos);
}
