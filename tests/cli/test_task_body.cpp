// The bodies tsctl sends, and the command line it builds from the words after --, checked
// against a real /bin/sh: the words the shell splits back must be exactly the typed ones.
#include <catch2/catch.hpp>

#include <cstdio>
#include <sys/wait.h>

#include "cli/task_body.hpp"
#include "core/time_format.hpp"
#include "core/time_zone.hpp"

using namespace ts::cli;
using json = nlohmann::json;

namespace {

invocation parse(std::vector<std::string> args) {
  auto inv = parse_invocation(args);
  INFO(inv.error());
  REQUIRE(inv);
  return *inv;
}

struct fixture {
  ts::zone_ptr berlin = *ts::find_time_zone("Europe/Berlin");
  client_context ctx{*ts::parse_time("2026-12-04T20:00:00Z"), berlin.get(),
                     std::string{"Europe/Berlin"}, "/home/op"};
};

/// What `sh -c LINE` gets as its words: each printed on a line of its own, NUL-separated
/// so that a newline inside a word survives.
std::vector<std::string> sh_words(const std::string& line) {
  std::string script = "set -- " + line + "; for w do printf '%s\\0' \"$w\"; done";
  std::string quoted = "'";
  for (char c : script)
    quoted += c == '\'' ? std::string{"'\\''"} : std::string(1, c);
  quoted += "'";
  FILE* p = ::popen(("/bin/sh -c " + quoted).c_str(), "r");
  REQUIRE(p != nullptr);
  std::string out;
  char buf[256];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0)
    out.append(buf, n);
  REQUIRE(::pclose(p) == 0);
  std::vector<std::string> words;
  size_t start = 0;
  for (size_t i = 0; i < out.size(); ++i)
    if (out[i] == '\0') {
      words.push_back(out.substr(start, i - start));
      start = i + 1;
    }
  return words;
}

} // namespace

TEST_CASE("cli body: the words after -- survive /bin/sh exactly", "[cli][body]") {
  std::vector<std::vector<std::string>> cases{
    {"./backup.sh", "--full"},
    {"echo", "two words", "it's", "$HOME", "`id`", "a\"b", "back\\slash"},
    {"printf", "%s\n", "*", "?", "[a]", "~", "#hash", "x;y", "a|b", "&", ">out"},
    {"env", "FOO=bar", ""},
    {"echo", "new\nline", "tab\there", "ünïcödé"},
  };
  for (auto& words : cases) {
    auto line = command_line(words);
    INFO(line);
    // set -- puts the words after the command's name; the first stays a word like the rest.
    CHECK(sh_words(line) == words);
  }
  CHECK(command_line({"./backup.sh", "--full"}) == "./backup.sh --full");
}

TEST_CASE("cli body: at sends the typed time with its offset", "[cli][body]") {
  fixture f;
  auto b = create_body(parse({"at", "2026-12-24 18:00", "--", "date"}), f.ctx);
  REQUIRE(b);
  CHECK(*b == json{{"command", "date"}, {"schedule", {{"at", "2026-12-24T18:00:00.000+01:00"}}}});
  auto now = create_body(parse({"at", "now", "--", "date"}), f.ctx);
  CHECK(*now == json{{"command", "date"}});
  auto later = create_body(parse({"at", "now+10m", "--", "date"}), f.ctx);
  CHECK((*later)["schedule"]["at"] == "2026-12-04T21:10:00.000+01:00");
  auto bad = create_body(parse({"at", "2026-13-01 00:00", "--", "date"}), f.ctx);
  CHECK_FALSE(bad);
}

TEST_CASE("cli body: cron and every, with the task fields", "[cli][body]") {
  fixture f;
  auto c = create_body(parse({"cron", "0 30 2 * * *", "--name", "n", "-l", "team=ops", "--env",
                              "A=1", "--cwd", "jobs/../work", "--timeout", "90s", "--retries",
                              "2", "--", "./nightly.sh"}),
                       f.ctx);
  REQUIRE(c);
  CHECK(*c == json{{"command", "./nightly.sh"},
                   {"schedule", {{"cron", "0 30 2 * * *"}, {"time_zone", "Europe/Berlin"}}},
                   {"name", "n"},
                   {"labels", {{"team", "ops"}}},
                   {"env", {{"A", "1"}}},
                   {"cwd", "/home/op/work"},
                   {"timeout_s", 90.0},
                   {"retry", {{"max_attempts", 3}}}});
  auto e = create_body(parse({"every", "15m", "--cwd", "/abs/", "--", "date"}), f.ctx);
  CHECK(*e == json{{"command", "date"}, {"schedule", {{"every_s", 900}}}, {"cwd", "/abs"}});
  // No zone name known: the server's default zone applies.
  f.ctx.zone_name.reset();
  auto z = create_body(parse({"cron", "@daily", "--", "date"}), f.ctx);
  CHECK((*z)["schedule"] == json{{"cron", "@daily"}});
}

TEST_CASE("cli body: an edit is a merge patch that replaces the schedule's form", "[cli][body]") {
  fixture f;
  auto cron = edit_patch(parse({"edit", "3", "--cron", "*/5 * * * *"}), f.ctx);
  CHECK(*cron == json{{"schedule",
                       {{"cron", "*/5 * * * *"}, {"time_zone", "Europe/Berlin"},
                        {"every_s", nullptr}, {"anchor", nullptr}}}});
  auto every = edit_patch(parse({"edit", "3", "--every", "1h"}), f.ctx);
  CHECK(*every == json{{"schedule", {{"every_s", 3600}, {"cron", nullptr}, {"time_zone", nullptr}}}});
  auto at = edit_patch(parse({"edit", "3", "--at", "now"}), f.ctx);
  CHECK((*at)["schedule"]["at"] == "2026-12-04T21:00:00.000+01:00");
  auto fields = edit_patch(parse({"edit", "3", "--command", "date -u", "-l", "a=1", "-l", "b-",
                                  "--retries", "0"}),
                           f.ctx);
  CHECK(*fields == json{{"command", "date -u"},
                        {"labels", {{"a", "1"}, {"b", nullptr}}},
                        {"retry", {{"max_attempts", 1}}}});
}

TEST_CASE("cli body: a preview asks for the schedule in the given zone", "[cli][body]") {
  fixture f;
  CHECK(preview_body(parse({"preview", "0 30 2 * * *", "-n", "3"}), f.ctx)
        == json{{"schedule", {{"cron", "0 30 2 * * *"}, {"time_zone", "Europe/Berlin"}}},
                {"count", 3}});
}
