// The MariaDB Connector/C prepared-statement plumbing that mysql_connection executes with:
// the parameters of one execution, one row of a result, and which errors are outages.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <mysql.h>

#include "core/ids.hpp"

namespace ts::storage::mysql {

/// Errors that mean the server is away or timed out (or rolled the whole transaction
/// back): the caller may retry later, and this connection must be replaced first.
bool is_outage(unsigned code);

/// Parameters of one execution. Fixed capacity: the bind structures point into this object,
/// and string parameters point at the caller's strings, which must outlive the execution.
class params {
public:
  params() = default;
  params(const params&) = delete;
  params& operator=(const params&) = delete;

  params& integer(int64_t v) {
    auto i = next();
    ints_[i] = v;
    binds_[i].buffer_type = MYSQL_TYPE_LONGLONG;
    binds_[i].buffer = &ints_[i];
    return *this;
  }

  /// NULL when `is_null`.
  params& integer(int64_t v, bool is_null) {
    integer(v);
    if (is_null)
      set_null();
    return *this;
  }

  params& integer_or_null(const std::optional<int64_t>& v) {
    return integer(v.value_or(0), !v);
  }

  params& real(double v) {
    auto i = next();
    reals_[i] = v;
    binds_[i].buffer_type = MYSQL_TYPE_DOUBLE;
    binds_[i].buffer = &reals_[i];
    return *this;
  }

  /// The bytes are read by the library during the execution only.
  params& text(std::string_view s) {
    auto i = next();
    lens_[i] = s.size();
    binds_[i].buffer_type = MYSQL_TYPE_STRING;
    binds_[i].buffer = const_cast<char*>(s.data());  // only read by the library
    binds_[i].buffer_length = s.size();
    binds_[i].length = &lens_[i];
    return *this;
  }

  params& text(std::string_view s, bool is_null) {
    text(s);
    if (is_null)
      set_null();
    return *this;
  }

  /// Bytes that need not be valid text (output chunks).
  params& blob(std::string_view s) {
    text(s);
    binds_[n_ - 1 < capacity ? n_ - 1 : capacity].buffer_type = MYSQL_TYPE_BLOB;
    return *this;
  }

  params& text_or_null(const std::optional<std::string_view>& s) {
    return text(s.value_or(std::string_view{}), !s);
  }

  /// The bytes of the contained string itself, never a copy's.
  params& text_or_null(const std::optional<std::string>& s) {
    return s ? text(*s) : text(std::string_view{}, true);
  }

  /// More than `capacity` parameters is a programming error that execution refuses.
  bool overflowed() const {
    return n_ > capacity;
  }

  size_t size() const {
    return n_;
  }

  MYSQL_BIND* binds() {
    return binds_.data();
  }

private:
  // The lists' filters: 32 labels of two parameters each and a few more.
  static constexpr size_t capacity = 80;

  /// The slot of the next parameter; past the capacity, a scratch slot never sent.
  size_t next() {
    auto i = n_ < capacity ? n_ : capacity;
    ++n_;
    std::memset(&binds_[i], 0, sizeof(MYSQL_BIND));
    nulls_[i] = 0;
    return i;
  }

  void set_null() {
    auto i = n_ - 1 < capacity ? n_ - 1 : capacity;
    nulls_[i] = 1;
    binds_[i].is_null = &nulls_[i];
  }

  std::array<MYSQL_BIND, capacity + 1> binds_{};
  std::array<long long, capacity + 1> ints_{};
  std::array<double, capacity + 1> reals_{};
  std::array<unsigned long, capacity + 1> lens_{};
  std::array<my_bool, capacity + 1> nulls_{};
  size_t n_ = 0;
};

enum class col { integer, real, text };

/// One row of a result set, with columns declared as integers or texts. Texts of any
/// length are read in two steps: a short fixed buffer first, then mysql_stmt_fetch_column
/// for the whole value when it did not fit (outputs reach 64 KiB and more).
class row {
public:
  explicit row(std::initializer_list<col> kinds) : row(std::vector<col>(kinds)) {
  }
  explicit row(std::vector<col> kinds);

  row(const row&) = delete;
  row& operator=(const row&) = delete;

  size_t size() const {
    return kinds_.size();
  }

  MYSQL_BIND* binds() {
    return binds_.data();
  }

  /// Completes the texts of the row just fetched; false when the library refuses.
  bool complete(MYSQL_STMT* stmt);

  bool is_null(size_t i) const {
    return nulls_[i] != 0;
  }

  /// For a NOT NULL column; opt_integer reads one that may be NULL.
  int64_t integer(size_t i) const {
    return static_cast<int64_t>(ints_[i]);
  }

  std::string& text(size_t i) {
    return texts_[i];
  }

  std::optional<int64_t> opt_integer(size_t i) const {
    if (nulls_[i])
      return std::nullopt;
    return static_cast<int64_t>(ints_[i]);
  }

  std::optional<double> opt_real(size_t i) const {
    if (nulls_[i])
      return std::nullopt;
    return reals_[i];
  }

  /// Valid until the next fetch into this row.
  std::optional<std::string_view> opt_text(size_t i) const {
    if (nulls_[i])
      return std::nullopt;
    return texts_[i];
  }

private:
  std::vector<col> kinds_;
  std::vector<MYSQL_BIND> binds_;
  std::vector<long long> ints_;
  std::vector<double> reals_;
  std::vector<unsigned long> lens_;
  std::vector<my_bool> nulls_;
  std::vector<my_bool> errors_;
  std::vector<std::array<char, 256>> shorts_;
  std::vector<std::string> texts_;
};

} // namespace ts::storage::mysql
