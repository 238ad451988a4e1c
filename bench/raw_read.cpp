// Baseline for the million-waiting scenario: reads the service's start-up query (id and due
// time of every pending task) from the same database into memory, with nothing else. bench/run
// times the whole process, as it times the service from exec to its first answer.
//
//   bench_raw_read --db=URL   -> rows=… read_s=…
#include <cstdio>
#include <iostream>

#include "bench/options.hpp"
#include "bench/raw_db.hpp"
#include "bench/stats.hpp"

int main(int argc, char** argv) {
  ts::bench::options opts{argc, argv};
  auto url = opts.required("db");
  if (!opts.check("bench_raw_read"))
    return 2;
  auto t0 = ts::bench::mono_ns();
  std::string error;
  auto db = ts::bench::open_raw_db(url, error);
  if (!db) {
    std::cerr << "bench_raw_read: " << error << std::endl;
    return 1;
  }
  std::vector<std::pair<int64_t, int64_t>> rows;
  if (!db->read_pending(rows)) {
    std::cerr << "bench_raw_read: " << db->error() << std::endl;
    return 1;
  }
  std::printf("rows=%zu read_s=%.3f\n", rows.size(),
              static_cast<double>(ts::bench::mono_ns() - t0) / 1e9);
  return 0;
}
