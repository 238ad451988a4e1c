// The one /proc parser, on fixed texts and on this process. The runner's start ticks of
// real children are in test_process_runner.cpp, the metrics made of it in test_metrics.cpp.
#include "process/proc_stat.hpp"

#include <unistd.h>

#include <optional>
#include <string>

#include <catch2/catch.hpp>

using namespace ts;

TEST_CASE("proc_stat: /proc/PID/stat fields", "[proc]") {
  // A real line (cat's), with utime 7, stime 3, starttime 1159964, vsize 3133440, rss 390.
  std::string line = "15073 (cat) R 15070 15070 7520 0 -1 4194304 100 0 0 0 7 3 0 0 20 0 1 0 "
                     "1159964 3133440 390 18446744073709551615 94695267160064 "
                     "94695267179945 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n";
  auto f = parse_proc_stat(line);
  REQUIRE(f);
  CHECK(f->utime_ticks == 7);
  CHECK(f->stime_ticks == 3);
  CHECK(f->start_ticks == 1159964);
  CHECK(f->vsize_bytes == 3133440);
  CHECK(f->rss_pages == 390);

  SECTION("a command name with spaces and parentheses") {
    auto odd = "42 (a b) c) (d) S 1 1 1 0 -1 0 0 0 0 0 11 22 0 0 20 0 1 0 333 444 555 0";
    auto g = parse_proc_stat(odd);
    REQUIRE(g);
    CHECK(g->utime_ticks == 11);
    CHECK(g->stime_ticks == 22);
    CHECK(g->start_ticks == 333);
    CHECK(g->vsize_bytes == 444);
    CHECK(g->rss_pages == 555);
  }
  SECTION("malformed texts are refused") {
    CHECK_FALSE(parse_proc_stat(""));
    CHECK_FALSE(parse_proc_stat("15073 cat R 1 2 3"));
    CHECK_FALSE(parse_proc_stat("15073 (cat) R 15070 15070 7520 0 -1 4194304 100 0 0 0 7 3"));
    CHECK_FALSE(parse_proc_stat("1 (x) R 1 1 1 0 -1 0 0 0 0 0 x 3 0 0 20 0 1 0 5 6 7"));
    CHECK_FALSE(parse_proc_stat("1 (x) R 1 1 1 0 -1 0 0 0 0 0 99999999999999999999999 3 0 0 "
                                "20 0 1 0 5 6 7"));
  }
}

TEST_CASE("proc_stat: the boot time in /proc/stat", "[proc]") {
  CHECK(parse_boot_time("cpu  1 2 3\nintr 5\nbtime 1795804577\nprocesses 9\n")
        == std::optional<int64_t>{1795804577});
  CHECK(parse_boot_time("btime 12") == std::optional<int64_t>{12});
  CHECK_FALSE(parse_boot_time("cpu 1 2 3\n"));
  CHECK_FALSE(parse_boot_time("btime x\n"));
  CHECK_FALSE(parse_boot_time("xbtime 5\n"));
}

TEST_CASE("proc_stat: the readers see this process, and nothing for no process", "[proc]") {
  auto own = read_own_proc_stat();
  REQUIRE(own);
  CHECK(own->start_ticks > 0);
  CHECK(own->rss_pages > 0);
  auto by_pid = read_proc_stat(static_cast<int32_t>(::getpid()));
  REQUIRE(by_pid);
  CHECK(by_pid->start_ticks == own->start_ticks);
  CHECK(process_start_ticks(static_cast<int32_t>(::getpid())) == own->start_ticks);
  CHECK_FALSE(read_proc_stat(0));
  CHECK_FALSE(read_proc_stat(-1));
  CHECK(process_start_ticks(0) == 0);
}
