#include "storage/store.hpp"

#include <algorithm>

#include "core/error.hpp"
#include "storage/row_mapping.hpp"
#include "storage/db_url.hpp"
#include "storage/mysql/mysql_store.hpp"
#include "storage/sqlite/sqlite_store.hpp"

namespace ts::storage {

caf::error fill_live_output(store& s, run_info& run, int64_t output_tail) {
  if (run.status == run_status::success || run.status == run_status::failure
      || run.output_size == 0)
    return caf::none;
  auto slice = s.read_output(run.id, std::max<int64_t>(0, run.output_size - output_tail),
                             output_tail);
  if (!slice)
    return slice.error();
  run.output = std::move(slice->data);
  run.output_truncated = slice->offset > 0;
  if (run.output_truncated)
    trim_partial_start(run.output);
  return caf::none;
}

caf::expected<std::unique_ptr<store>> open_store(const std::string& url,
                                                 const store_options& opts) {
  auto parsed = parse_db_url(url);
  if (!parsed)
    return parsed.error();
  if (parsed->scheme == "sqlite")
    return make_sqlite_store(parsed->path);
  if (parsed->scheme == "mysql")
    return make_mysql_store(*parsed, opts);
  return make_error(ec::invalid_argument, "unsupported database scheme");
}

} // namespace ts::storage
