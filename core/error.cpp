#include "core/error.hpp"

#include <caf/actor_system_config.hpp>
#include <caf/message.hpp>
#include <caf/sec.hpp>

namespace ts {

const char* to_string(ec x) {
  switch (x) {
    case ec::none: return "none";
    case ec::not_found: return "not_found";
    case ec::idempotency_conflict: return "idempotency_conflict";
    case ec::unavailable: return "unavailable";
    case ec::shutting_down: return "shutting_down";
    case ec::schema_too_new: return "schema_too_new";
    case ec::storage_failure: return "storage_failure";
    case ec::invalid_argument: return "invalid_argument";
    case ec::not_pending: return "not_pending";
    case ec::start_failed: return "start_failed";
    case ec::invalid_state: return "invalid_state";
    case ec::version_mismatch: return "version_mismatch";
  }
  return "unknown";
}

caf::error make_error(ec code) {
  return caf::error{static_cast<uint8_t>(code), ec_category};
}

caf::error make_error(ec code, std::string context) {
  return caf::error{static_cast<uint8_t>(code), ec_category,
                    caf::make_message(std::move(context))};
}

std::string render(const caf::error& err) {
  if (!err)
    return "none";
  std::string out;
  if (err.category() == ec_category) {
    out = to_string(static_cast<ec>(err.code()));
  } else if (err.category() == caf::atom("system")) {
    out = caf::to_string(static_cast<caf::sec>(err.code()));
  } else {
    out = caf::to_string(err.category()) + ":" + std::to_string(err.code());
  }
  auto& ctx = err.context();
  if (ctx.size() == 1 && ctx.match_element<std::string>(0))
    out += ": " + ctx.get_as<std::string>(0);
  return out;
}

void add_error_category(caf::actor_system_config& cfg) {
  cfg.add_error_category(ec_category, [](uint8_t code, caf::atom_value,
                                         const caf::message& ctx) -> std::string {
    caf::error err{code, ec_category, ctx};
    return render(err);
  });
}

} // namespace ts
