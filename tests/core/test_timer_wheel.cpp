#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <random>
#include <unordered_map>
#include <vector>

#include "core/timer_wheel.hpp"

using ts::millis;
using ts::pending_entry;
using ts::task_id;
using ts::timer_wheel;

namespace {

constexpr millis year_9999 = 253402300799000;  // 9999-12-31T23:59:59Z
constexpr millis day = 86'400'000;
constexpr millis year = 365 * day;
constexpr millis t2024 = 1'704'067'200'000;  // 2024-01-01T00:00:00Z

std::vector<pending_entry> advance(timer_wheel& w, millis now) {
  std::vector<pending_entry> out;
  w.advance(now, out);
  return out;
}

std::vector<task_id> ids(const std::vector<pending_entry>& v) {
  std::vector<task_id> r;
  for (auto& e : v)
    r.push_back(e.id);
  return r;
}

bool sorted_by_due(const std::vector<pending_entry>& v) {
  return std::is_sorted(v.begin(), v.end(), [](auto& a, auto& b) { return a.due < b.due; });
}

// The obvious model: fire everything due at or before the wall clock, earliest first, equal
// dues in insertion order (std::multimap inserts at the upper bound).
class reference_model {
public:
  void insert(task_id id, millis due) {
    cancel(id);
    where_[id] = by_due_.emplace(due, id);
  }
  bool cancel(task_id id) {
    auto i = where_.find(id);
    if (i == where_.end())
      return false;
    by_due_.erase(i->second);
    where_.erase(i);
    return true;
  }
  std::vector<pending_entry> advance(millis now) {
    std::vector<pending_entry> out;
    auto end = by_due_.upper_bound(now);
    for (auto i = by_due_.begin(); i != end; ++i) {
      out.push_back(pending_entry{i->second, i->first});
      where_.erase(i->second);
    }
    by_due_.erase(by_due_.begin(), end);
    return out;
  }
  size_t size() const { return by_due_.size(); }
  millis earliest() const { return by_due_.begin()->first; }
  bool contains(task_id id) const { return where_.count(id) != 0; }

private:
  std::multimap<millis, task_id> by_due_;
  std::unordered_map<task_id, std::multimap<millis, task_id>::iterator> where_;
};

} // namespace

TEST_CASE("an empty wheel has no next event and moves to any later time", "[timer_wheel]") {
  timer_wheel w{t2024};
  CHECK(w.size() == 0);
  CHECK(w.next_event() == ts::timer_wheel::no_event);
  CHECK(advance(w, t2024 + year).empty());
  CHECK(w.now() == t2024 + year);
  CHECK(w.next_event() == ts::timer_wheel::no_event);
}

TEST_CASE("timers fire at their due time, never before, earliest first", "[timer_wheel]") {
  timer_wheel w{t2024};
  w.insert(3, t2024 + 5000);
  w.insert(1, t2024 + 1);
  w.insert(2, t2024 + 64);  // first ms of the next level-0 block
  w.insert(4, t2024 + 3 * day);
  CHECK(w.size() == 4);
  CHECK(w.next_event() == t2024 + 1);
  CHECK(advance(w, t2024).empty());
  CHECK(ids(advance(w, t2024 + 1)) == std::vector<task_id>{1});
  CHECK(advance(w, t2024 + 63).empty());
  CHECK(ids(advance(w, t2024 + 64)) == std::vector<task_id>{2});
  CHECK(advance(w, t2024 + 4999).empty());
  auto out = advance(w, t2024 + 3 * day);
  CHECK(ids(out) == std::vector<task_id>{3, 4});
  CHECK(out[0].due == t2024 + 5000);
  CHECK(out[1].due == t2024 + 3 * day);
  CHECK(w.size() == 0);
  CHECK(w.next_event() == ts::timer_wheel::no_event);
}

TEST_CASE("many timers in one millisecond fire together in insertion order", "[timer_wheel]") {
  timer_wheel w{t2024};
  const millis due = t2024 + 123'456;
  std::vector<task_id> expected;
  for (task_id id = 1; id <= 10'000; ++id) {
    w.insert(id * 7, due);
    expected.push_back(id * 7);
  }
  CHECK(w.next_event() <= due);
  CHECK(advance(w, due - 1).empty());
  CHECK(w.size() == 10'000);
  auto out = advance(w, due);
  CHECK(ids(out) == expected);
  CHECK(std::all_of(out.begin(), out.end(), [&](auto& e) { return e.due == due; }));
  CHECK(w.size() == 0);
}

TEST_CASE("times near zero and up to the year 9999", "[timer_wheel]") {
  timer_wheel w{0};
  w.insert(1, 0);  // at the wheel's time: due now
  w.insert(2, 1);
  w.insert(3, 63);
  w.insert(4, 64);
  w.insert(5, year_9999);
  w.insert(6, year_9999 - 1);
  w.insert(7, INT64_MAX);
  CHECK(w.next_event() == 0);
  CHECK(ids(advance(w, 0)) == std::vector<task_id>{1});
  CHECK(w.next_event() == 1);
  CHECK(ids(advance(w, 64)) == (std::vector<task_id>{2, 3, 4}));
  CHECK(w.next_event() <= year_9999 - 1);
  CHECK(advance(w, year_9999 - 2).empty());
  CHECK(w.now() == year_9999 - 2);
  CHECK(w.next_event() == year_9999 - 1);  // now within its level-0 block: exact
  auto out = advance(w, year_9999);
  CHECK(ids(out) == (std::vector<task_id>{6, 5}));
  CHECK(out[1].due == year_9999);
  CHECK(advance(w, INT64_MAX - 1).empty());
  CHECK(ids(advance(w, INT64_MAX)) == std::vector<task_id>{7});
  CHECK(w.size() == 0);
}

TEST_CASE("a due in the past fires on the next advance", "[timer_wheel]") {
  timer_wheel w{t2024};
  w.insert(1, t2024 - day);
  w.insert(2, t2024);
  w.insert(3, t2024 - 5);
  w.insert(4, t2024 + 1);
  CHECK(w.next_event() == t2024 - day);
  auto out = advance(w, t2024);
  CHECK(ids(out) == (std::vector<task_id>{1, 3, 2}));
  CHECK(ids(advance(w, t2024 + 1)) == std::vector<task_id>{4});
}

TEST_CASE("cancel disarms a timer", "[timer_wheel]") {
  timer_wheel w{t2024};
  w.insert(1, t2024 + 10);
  w.insert(2, t2024 + 10);
  w.insert(3, t2024 + 2 * year);
  w.insert(4, t2024 - 1);  // expired list

  SECTION("of an unknown id") {
    CHECK_FALSE(w.cancel(99));
    CHECK(w.size() == 4);
  }
  SECTION("twice") {
    CHECK(w.cancel(1));
    CHECK_FALSE(w.cancel(1));
    CHECK_FALSE(w.contains(1));
    CHECK(w.size() == 3);
    CHECK(ids(advance(w, t2024 + 10)) == (std::vector<task_id>{4, 2}));
  }
  SECTION("from the expired list") {
    CHECK(w.cancel(4));
    CHECK(ids(advance(w, t2024 + 10)) == (std::vector<task_id>{1, 2}));
  }
  SECTION("after it cascaded to a lower level") {
    // Moving close to id 3's due brings it down level by level.
    CHECK(advance(w, t2024 + 2 * year - 100).size() == 3);
    CHECK(w.contains(3));
    CHECK(w.due_of(3) == t2024 + 2 * year);
    CHECK_FALSE(w.due_of(1));
    CHECK(w.next_event() <= t2024 + 2 * year);
    CHECK(w.cancel(3));
    CHECK(w.size() == 0);
    CHECK(w.next_event() == ts::timer_wheel::no_event);
    CHECK(advance(w, t2024 + 3 * year).empty());
  }
  SECTION("then insert it again") {
    CHECK(w.cancel(3));
    w.insert(3, t2024 + 20);
    CHECK(w.contains(3));
    CHECK(ids(advance(w, t2024 + 2 * year)) == (std::vector<task_id>{4, 1, 2, 3}));
  }
  SECTION("every one, then the wheel is empty") {
    for (task_id id = 1; id <= 4; ++id)
      CHECK(w.cancel(id));
    CHECK(w.size() == 0);
    CHECK(w.next_event() == ts::timer_wheel::no_event);
    CHECK(advance(w, t2024 + 3 * year).empty());
  }
}

TEST_CASE("inserting an armed id moves it", "[timer_wheel]") {
  timer_wheel w{t2024};
  w.insert(1, t2024 + year);
  w.insert(2, t2024 + 100);
  w.insert(1, t2024 + 50);  // earlier
  CHECK(w.size() == 2);
  CHECK(w.next_event() <= t2024 + 50);
  auto out = advance(w, t2024 + 100);
  REQUIRE(out.size() == 2);
  CHECK(out[0].id == 1);
  CHECK(out[0].due == t2024 + 50);
  CHECK(out[1].id == 2);

  w.insert(3, t2024 + 200);
  w.insert(3, t2024 + 10 * year);  // later
  w.insert(3, t2024 + 5 * year);   // and back a little
  CHECK(advance(w, t2024 + 5 * year - 1).empty());
  out = advance(w, t2024 + 20 * year);
  REQUIRE(out.size() == 1);
  CHECK(out[0].due == t2024 + 5 * year);

  // Moved into the past: fires on the next advance; moved out of it: does not.
  w.insert(4, t2024 + 30 * year);
  w.insert(4, t2024);
  w.insert(5, t2024);
  w.insert(5, t2024 + 30 * year);
  CHECK(ids(advance(w, t2024 + 20 * year)) == std::vector<task_id>{4});
  CHECK(w.contains(5));
}

TEST_CASE("a clock stepped back moves nothing, and timers fire by wall time", "[timer_wheel]") {
  timer_wheel w{t2024};
  w.insert(1, t2024 + 1000);
  w.insert(2, t2024 + 5000);
  CHECK(ids(advance(w, t2024 + 1000)) == std::vector<task_id>{1});

  // The wall clock jumps back an hour; the wheel's time stays.
  const millis back = t2024 + 1000 - 3'600'000;
  CHECK(advance(w, back).empty());
  CHECK(w.now() == t2024 + 1000);
  // A task scheduled meanwhile, due before the wheel's time but after the wall clock.
  w.insert(3, back + 10'000);
  w.insert(4, back + 20'000);
  CHECK(w.next_event() <= back + 10'000);
  CHECK(advance(w, back + 9'999).empty());
  CHECK(w.next_event() == back + 10'000);  // exact again after the advance looked
  CHECK(ids(advance(w, back + 10'000)) == std::vector<task_id>{3});
  CHECK(w.next_event() == back + 20'000);
  CHECK(advance(w, back + 19'999).empty());
  CHECK(ids(advance(w, back + 30'000)) == std::vector<task_id>{4});
  // Task 2 fires only once the wall clock reaches its due again.
  CHECK(advance(w, t2024 + 4999).empty());
  CHECK(ids(advance(w, t2024 + 5000)) == std::vector<task_id>{2});
  CHECK(w.size() == 0);
}

TEST_CASE("a 50-year step with 100k timers is fast and fires everything in order",
          "[timer_wheel]") {
  timer_wheel w{t2024};
  std::mt19937_64 rng{42};
  std::uniform_int_distribution<millis> offset{1, 50 * year};
  std::vector<pending_entry> expected;
  for (task_id id = 1; id <= 100'000; ++id) {
    auto due = t2024 + offset(rng);
    w.insert(id, due);
    expected.push_back(pending_entry{id, due});
  }
  std::stable_sort(expected.begin(), expected.end(),
                   [](auto& a, auto& b) { return a.due < b.due; });
  std::vector<pending_entry> out;
  auto start = std::chrono::steady_clock::now();
  w.advance(t2024 + 50 * year, out);
  auto took = std::chrono::steady_clock::now() - start;
  CHECK(took < std::chrono::seconds(2));  // stepping ms by ms would take hours
  REQUIRE(out.size() == expected.size());
  CHECK(sorted_by_due(out));
  // Equal dues are improbable here but allowed in any order: compare sorted by (due, id).
  auto key = [](auto& a, auto& b) { return a.due != b.due ? a.due < b.due : a.id < b.id; };
  std::sort(out.begin(), out.end(), key);
  std::sort(expected.begin(), expected.end(), key);
  bool same = std::equal(out.begin(), out.end(), expected.begin(),
                         [](auto& a, auto& b) { return a.id == b.id && a.due == b.due; });
  CHECK(same);
  CHECK(w.size() == 0);
}

TEST_CASE("stepping to the year 9999 skips the empty stretch", "[timer_wheel]") {
  timer_wheel w{0};
  w.insert(1, year_9999);
  // Waking at each next_event and advancing there must reach the due in a few steps, one
  // per level at most, not one per empty slot.
  int wakeups = 0;
  std::vector<pending_entry> out;
  while (out.empty() && wakeups < 100) {
    auto next = w.next_event();
    REQUIRE(next != ts::timer_wheel::no_event);
    REQUIRE(next <= year_9999);
    w.advance(next, out);
    ++wakeups;
  }
  CHECK(wakeups <= 11);
  REQUIRE(out.size() == 1);
  CHECK(out[0].due == year_9999);

  auto start = std::chrono::steady_clock::now();
  timer_wheel v{0};
  v.insert(2, year_9999);
  CHECK(advance(v, year_9999 - 1).empty());
  CHECK(ids(advance(v, year_9999)) == std::vector<task_id>{2});
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(1));
}

TEST_CASE("next_event is never later than the earliest due", "[timer_wheel]") {
  std::mt19937_64 rng{7};
  timer_wheel w{t2024};
  reference_model ref;
  millis wall = t2024;
  std::uniform_int_distribution<int> scale{0, 4};
  auto random_offset = [&] {
    static constexpr millis spans[] = {100, 60'000, day, 5 * year, 1000 * year};
    return std::uniform_int_distribution<millis>{0, spans[scale(rng)]}(rng);
  };
  for (int round = 0; round < 20'000; ++round) {
    auto op = rng() % 4;
    if (op < 2) {
      auto id = static_cast<task_id>(rng() % 500);
      auto due = wall + random_offset();
      w.insert(id, due);
      ref.insert(id, due);
    } else if (op == 2) {
      auto id = static_cast<task_id>(rng() % 500);
      CHECK(w.cancel(id) == ref.cancel(id));
    } else {
      wall += random_offset() / 4;
      CHECK(advance(w, wall).size() == ref.advance(wall).size());
    }
    REQUIRE(w.size() == ref.size());
    if (ref.size() == 0) {
      REQUIRE(w.next_event() == ts::timer_wheel::no_event);
      continue;
    }
    auto next = w.next_event();
    REQUIRE(next != ts::timer_wheel::no_event);
    REQUIRE(next <= ref.earliest());
    // A lower bound in the future is also safe to sleep until: nothing fires before it.
    if (next > w.now()) {
      REQUIRE(advance(w, next - 1).empty());
      ref.advance(next - 1);
      wall = std::max(wall, next - 1);
    }
  }
}

TEST_CASE("randomized differential test against a multimap", "[timer_wheel]") {
  for (uint64_t seed : {1u, 2u, 3u}) {
    CAPTURE(seed);
    std::mt19937_64 rng{seed};
    const millis start = seed == 1 ? 0 : t2024;
    timer_wheel w{start};
    reference_model ref;
    millis wall = start;
    static constexpr millis spans[] = {3, 64, 4096, 300'000, day, 10 * year};
    auto span = [&] { return spans[rng() % 6]; };
    auto uniform = [&](millis lo, millis hi) {
      return std::uniform_int_distribution<millis>{lo, hi}(rng);
    };
    size_t fired = 0;
    for (int op = 0; op < 30'000; ++op) {
      auto kind = rng() % 100;
      if (kind < 45) {
        // Ids from a small pool, so some inserts move an armed id; some dues are past.
        auto id = static_cast<task_id>(rng() % 2000);
        auto due = std::max<millis>(0, wall + uniform(-span() / 8, span()));
        w.insert(id, due);
        ref.insert(id, due);
      } else if (kind < 60) {
        auto id = static_cast<task_id>(rng() % 2500);
        REQUIRE(w.cancel(id) == ref.cancel(id));
      } else if (kind < 97) {
        wall += uniform(0, span());
        auto got = advance(w, wall);
        auto want = ref.advance(wall);
        fired += got.size();
        REQUIRE(got.size() == want.size());
        for (size_t i = 0; i < got.size(); ++i) {
          CAPTURE(op, i);
          REQUIRE(got[i].id == want[i].id);
          REQUIRE(got[i].due == want[i].due);
        }
      } else {
        // The wall clock steps back.
        wall = std::max<millis>(0, wall - uniform(0, span()));
        auto got = advance(w, wall);
        auto want = ref.advance(wall);
        REQUIRE(ids(got) == ids(want));
      }
      REQUIRE(w.size() == ref.size());
      auto probe = static_cast<task_id>(rng() % 2500);
      REQUIRE(w.contains(probe) == ref.contains(probe));
      if (ref.size() > 0)
        REQUIRE(w.next_event() <= ref.earliest());
      else
        REQUIRE(w.next_event() == ts::timer_wheel::no_event);
    }
    // Drain: everything left fires exactly as the model says.
    auto got = advance(w, INT64_MAX);
    auto want = ref.advance(INT64_MAX);
    REQUIRE(ids(got) == ids(want));
    CHECK(w.size() == 0);
    CHECK(fired > 1000);  // the operations above did exercise firing
  }
}

TEST_CASE("a million armed timers cost at most 48 bytes each", "[timer_wheel]") {
  timer_wheel w{t2024};
  const size_t count = 1'000'000;
  std::mt19937_64 rng{99};
  std::uniform_int_distribution<millis> offset{1, 2 * year};
  for (size_t i = 0; i < count; ++i)
    w.insert(static_cast<task_id>(i) * 3 + 1'000'000'000, t2024 + offset(rng));
  REQUIRE(w.size() == count);
  {
    auto per_entry = static_cast<double>(w.memory_usage()) / count;
    INFO("bytes per entry: " << per_entry);
    CHECK(per_entry <= 48.0);
  }
  CHECK(w.contains(1'000'000'000));
  CHECK_FALSE(w.contains(1'000'000'001));
  // Cancelling half and re-arming as many reuses the freed nodes: memory does not grow.
  auto before = w.memory_usage();
  for (size_t i = 0; i < count; i += 2)
    REQUIRE(w.cancel(static_cast<task_id>(i) * 3 + 1'000'000'000));
  for (size_t i = 0; i < count; i += 2)
    w.insert(static_cast<task_id>(i) * 3 + 1'000'000'002, t2024 + offset(rng));
  CHECK(w.size() == count);
  CHECK(w.memory_usage() == before);
  std::vector<pending_entry> out;
  w.advance(t2024 + 2 * year, out);
  CHECK(out.size() == count);
  CHECK(sorted_by_due(out));
}
