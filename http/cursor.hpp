// The v1 lists' cursors: opaque to clients, checked by the server. A cursor carries the
// list it belongs to (tasks or runs), a digest of the filter it was made for, and the last
// id shown, sealed by a checksum: a tampered, truncated or foreign cursor is refused as
// invalid_cursor (400) and never reaches a store as a wrong keyset.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/parsed.hpp"

namespace ts::api {

enum class cursor_list : char { tasks = 't', runs = 'r' };

/// `filter` is what makes two requests the same list (filter_digest of their canonical
/// parameters, without limit and cursor: a client may change the page size).
std::string encode_cursor(cursor_list list, std::string_view filter, int64_t after);

/// The id to continue after; a failure says why (shown to the client).
parsed<int64_t> decode_cursor(std::string_view text, cursor_list list, std::string_view filter);

} // namespace ts::api
