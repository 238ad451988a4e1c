// Fills a database with pending tasks for the status-read and million-waiting scenarios,
// faster than HTTP could (raw SQL, see raw_db.hpp). The schema is the service's own.
//
//   bench_load_tasks --db=URL --count=1000000 [--due-ms=32472144000000] [--command=true]
//                    [--every-s=N]
//   -> rows=… load_s=…
// With --every-s the tasks are recurring, every N seconds from --due-ms.
#include <cstdio>
#include <iostream>

#include "bench/options.hpp"
#include "bench/raw_db.hpp"
#include "bench/stats.hpp"

int main(int argc, char** argv) {
  ts::bench::options opts{argc, argv};
  auto url = opts.required("db");
  auto count = opts.num("count", 1000000);
  auto due = opts.num("due-ms", 32472144000000); // 2999-01-01T00:00:00Z
  auto command = opts.str("command", "true");
  auto every_s = opts.num("every-s", 0);
  if (!opts.check("bench_load_tasks"))
    return 2;
  auto t0 = ts::bench::mono_ns();
  std::string error;
  auto db = ts::bench::open_raw_db(url, error);
  if (!db) {
    std::cerr << "bench_load_tasks: " << error << std::endl;
    return 1;
  }
  if (!db->load_pending(count, command, due, ts::bench::wall_ms())
      || (every_s > 0 && !db->make_recurring(every_s))) {
    std::cerr << "bench_load_tasks: " << db->error() << std::endl;
    return 1;
  }
  std::printf("rows=%lld load_s=%.3f\n", static_cast<long long>(count),
              static_cast<double>(ts::bench::mono_ns() - t0) / 1e9);
  return 0;
}
