#include "storage/mysql/mysql_bind.hpp"

#include <utility>

#include <errmsg.h>
#include <mysqld_error.h>

namespace ts::storage::mysql {

bool is_outage(unsigned code) {
  switch (code) {
    case CR_CONNECTION_ERROR:
    case CR_CONN_HOST_ERROR:
    case CR_UNKNOWN_HOST:
    case CR_SERVER_GONE_ERROR:
    case CR_SERVER_LOST:
    case CR_SERVER_LOST_EXTENDED:
    case CR_ERR_NET_READ:
    case CR_ERR_NET_WRITE:
    case ER_CON_COUNT_ERROR:
    case ER_OUT_OF_RESOURCES:
    case ER_SERVER_SHUTDOWN:
    case ER_CANT_CREATE_THREAD:
    case ER_ABORTING_CONNECTION:
    case ER_NEW_ABORTING_CONNECTION:
    case ER_NET_READ_ERROR:
    case ER_NET_READ_INTERRUPTED:
    case ER_NET_WRITE_INTERRUPTED:
    case ER_LOCK_WAIT_TIMEOUT:
    case ER_LOCK_DEADLOCK:
    case ER_QUERY_INTERRUPTED:
    case ER_CONNECTION_KILLED:
    case ER_STATEMENT_TIMEOUT:
      return true;
    default:
      return false;
  }
}

row::row(std::vector<col> kinds) : kinds_(std::move(kinds)) {
  auto n = kinds_.size();
  binds_.resize(n);
  ints_.resize(n);
  reals_.resize(n);
  lens_.resize(n);
  nulls_.resize(n);
  errors_.resize(n);
  shorts_.resize(n);
  texts_.resize(n);
  for (size_t i = 0; i < n; ++i) {
    auto& b = binds_[i];
    std::memset(&b, 0, sizeof b);
    b.is_null = &nulls_[i];
    b.length = &lens_[i];
    b.error = &errors_[i];
    if (kinds_[i] == col::integer) {
      b.buffer_type = MYSQL_TYPE_LONGLONG;
      b.buffer = &ints_[i];
    } else if (kinds_[i] == col::real) {
      b.buffer_type = MYSQL_TYPE_DOUBLE;
      b.buffer = &reals_[i];
    } else {
      b.buffer_type = MYSQL_TYPE_STRING;
      b.buffer = shorts_[i].data();
      b.buffer_length = shorts_[i].size();
    }
  }
}

bool row::complete(MYSQL_STMT* stmt) {
  for (size_t i = 0; i < kinds_.size(); ++i) {
    if (kinds_[i] != col::text)
      continue;
    auto& out = texts_[i];
    if (nulls_[i]) {
      out.clear();
      continue;
    }
    auto len = lens_[i];
    if (len <= shorts_[i].size()) {
      out.assign(shorts_[i].data(), len);
      continue;
    }
    out.resize(len);
    MYSQL_BIND b;
    std::memset(&b, 0, sizeof b);
    unsigned long got = 0;
    b.buffer_type = MYSQL_TYPE_STRING;
    b.buffer = out.data();
    b.buffer_length = len;
    b.length = &got;
    if (mysql_stmt_fetch_column(stmt, &b, static_cast<unsigned>(i), 0) != 0 || got != len)
      return false;
  }
  return true;
}

} // namespace ts::storage::mysql
