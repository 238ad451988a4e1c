// Baseline for the ingest scenario: raw batched inserts of pending tasks into the same
// database as the service, same table, same durability (one synced commit per batch), in
// batches like the service's group commit (64 connections in flight give it batches of up
// to 64 rows). One connection, no HTTP, no actors: the database's own ceiling.
//
//   bench_raw_insert --db=URL [--batch=64] [--seconds=5]
//   -> rows=… seconds=… rows_per_s=… batch=64
#include <cstdio>
#include <iostream>

#include "bench/options.hpp"
#include "bench/raw_db.hpp"
#include "bench/stats.hpp"

int main(int argc, char** argv) {
  ts::bench::options opts{argc, argv};
  auto url = opts.required("db");
  auto batch = opts.num("batch", 64);
  auto seconds = opts.real("seconds", 5);
  if (!opts.check("bench_raw_insert"))
    return 2;
  std::string error;
  auto db = ts::bench::open_raw_db(url, error);
  if (!db) {
    std::cerr << "bench_raw_insert: " << error << std::endl;
    return 1;
  }
  // Far in the future, as in the ingest scenario: nothing would ever run.
  constexpr int64_t due = 32472144000000; // 2999-01-01T00:00:00Z
  int64_t rows = 0;
  auto t0 = ts::bench::mono_ns();
  auto end = t0 + static_cast<int64_t>(seconds * 1e9);
  int64_t now = t0;
  while (now < end) {
    auto created = ts::bench::wall_ms();
    bool ok = db->begin();
    for (int64_t i = 0; ok && i < batch; ++i)
      ok = db->insert_pending("true", due, created);
    if (!ok || !db->commit()) {
      std::cerr << "bench_raw_insert: " << db->error() << std::endl;
      return 1;
    }
    rows += batch;
    now = ts::bench::mono_ns();
  }
  auto elapsed = static_cast<double>(now - t0) / 1e9;
  std::printf("rows=%lld seconds=%.3f rows_per_s=%.1f batch=%lld\n",
              static_cast<long long>(rows), elapsed, static_cast<double>(rows) / elapsed,
              static_cast<long long>(batch));
  return 0;
}
