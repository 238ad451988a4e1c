// libFuzzer target for the cron parser (scripts/fuzz cron): any bytes either parse or are
// refused with a message, and a parsed expression's matchers agree with each other.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/civil.hpp"
#include "core/cron.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text{reinterpret_cast<const char*>(data), size};
  auto e = ts::cron_expression::parse(text);
  if (!e) {
    if (e.error().empty())
      std::abort();  // a refusal must say why
    return 0;
  }
  // Re-parsing is deterministic, and matching_days is matches_date for every day of a
  // month picked from the input (leap and non-leap Februaries included).
  auto again = ts::cron_expression::parse(text);
  if (!again || *again != *e)
    std::abort();
  int64_t year = 1970 + static_cast<int64_t>(size % 131);
  int month = 1 + static_cast<int>(size % 12);
  auto bits = e->matching_days(year, month);
  for (int d = 1; d <= ts::civil::days_in_month(year, month); ++d)
    if (((bits >> d) & 1u) != static_cast<uint32_t>(e->matches_date(year, month, d)))
      std::abort();
  // No bit 0 and none past the month's end.
  if ((bits & 1u) || (uint64_t{bits} >> (ts::civil::days_in_month(year, month) + 1)))
    std::abort();
  return 0;
}
