#include "core/time_zone.hpp"

#include <algorithm>
#include <cstdlib>
#include <fcntl.h>
#include <map>
#include <mutex>
#include <sys/stat.h>
#include <unistd.h>

namespace ts {

namespace {

constexpr const char* zone_dir = "/usr/share/zoneinfo/";
/// Zone files are a few KiB; anything larger is not one.
constexpr size_t max_file_size = 1 << 20;
/// RFC 8536: offsets lie within -25 and +26 hours, which keeps every instant of a local time
/// within two days of its fields read as UTC (to_utc's window).
constexpr int32_t min_offset = -89999;
constexpr int32_t max_offset = 93599;
constexpr int64_t window = 2 * 86400;

parsed<time_zone> bad_file(const std::string& name, const std::string& why) {
  return parsed<time_zone>::failure("time zone " + name + ": " + why);
}

int64_t big_endian(std::string_view data, size_t pos, size_t bytes) {
  uint64_t value = 0;
  for (size_t i = 0; i < bytes; ++i)
    value = (value << 8) | static_cast<unsigned char>(data[pos + i]);
  if (bytes == 4)
    return static_cast<int32_t>(static_cast<uint32_t>(value));
  return static_cast<int64_t>(value);
}

/// The six counts of a TZif header, in the order of the file.
struct tzif_counts {
  size_t isut = 0;
  size_t isstd = 0;
  size_t leap = 0;
  size_t time = 0;
  size_t type = 0;
  size_t chars = 0;

  size_t block_size(size_t time_bytes) const {
    return time * time_bytes + time + type * 6 + chars + leap * (time_bytes + 4) + isstd + isut;
  }
};

bool read_header(std::string_view data, size_t pos, char& version, tzif_counts& c) {
  if (data.size() < pos + 44 || data.substr(pos, 4) != "TZif")
    return false;
  version = data[pos + 4];
  size_t* fields[] = {&c.isut, &c.isstd, &c.leap, &c.time, &c.type, &c.chars};
  for (size_t i = 0; i < 6; ++i)
    *fields[i] = static_cast<uint32_t>(big_endian(data, pos + 20 + 4 * i, 4));
  return true;
}

/// Names as the tz database spells them: ASCII letters, digits and `._+-`, in `/`-separated
/// parts that never start with '.', so that no name can leave the database's folder.
bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > 255 || name.front() == '/' || name.back() == '/')
    return false;
  char previous = '/';
  for (char c : name) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
                    || c == '.' || c == '_' || c == '+' || c == '-' || c == '/';
    if (!ok || (previous == '/' && (c == '/' || c == '.')))
      return false;
    previous = c;
  }
  return true;
}

/// A regular file's contents, or nothing. O_NONBLOCK: a FIFO must not hang the caller.
std::optional<std::string> read_small_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0)
    return std::nullopt;
  std::optional<std::string> result;
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)
      && static_cast<size_t>(st.st_size) <= max_file_size) {
    std::string data(static_cast<size_t>(st.st_size), '\0');
    size_t done = 0;
    while (done < data.size()) {
      const ssize_t n = ::read(fd, data.data() + done, data.size() - done);
      if (n <= 0)
        break;
      done += static_cast<size_t>(n);
    }
    if (done == data.size())
      result = std::move(data);
  }
  ::close(fd);
  return result;
}

std::mutex cache_mutex;

std::map<std::string, zone_ptr, std::less<>>& cache() {
  static std::map<std::string, zone_ptr, std::less<>> zones;
  return zones;
}

/// The cached zone under `key`, or the one `load` gives (not cached when it fails, so that
/// clients' unknown names cannot grow the cache).
template <class Load>
parsed<zone_ptr> cached(const std::string& key, Load load) {
  std::lock_guard<std::mutex> lock{cache_mutex};
  auto& zones = cache();
  if (auto i = zones.find(key); i != zones.end())
    return i->second;
  parsed<time_zone> zone = load();
  if (!zone)
    return parsed<zone_ptr>::failure(zone.error());
  auto ptr = std::make_shared<const time_zone>(*zone);
  zones.emplace(key, ptr);
  return ptr;
}

parsed<time_zone> load_file(const std::string& name, const std::string& path) {
  auto data = read_small_file(path);
  if (!data)
    return parsed<time_zone>::failure("unknown time zone " + name);
  return time_zone::from_tzif(name, *data);
}

} // namespace

parsed<time_zone> time_zone::from_tzif(std::string name, std::string_view data) {
  char version = 0;
  tzif_counts c;
  if (!read_header(data, 0, version, c))
    return bad_file(name, "not a TZif file");
  size_t pos = 44;
  size_t time_bytes = 4;
  if (version >= '2') {
    // Version 2+ repeats the data with 64-bit times after the version 1 block.
    pos += c.block_size(4);
    if (!read_header(data, pos, version, c))
      return bad_file(name, "truncated TZif file");
    pos += 44;
    time_bytes = 8;
  }
  if (data.size() < pos + c.block_size(time_bytes))
    return bad_file(name, "truncated TZif file");
  if (c.leap != 0)
    return bad_file(name, "zones with leap seconds are not supported");
  if (c.type == 0 || c.chars == 0)
    return bad_file(name, "TZif file without local time types");
  time_zone zone;
  zone.name_ = std::move(name);
  const size_t times_at = pos;
  const size_t indices_at = times_at + c.time * time_bytes;
  const size_t types_at = indices_at + c.time;
  const size_t chars_at = types_at + c.type * 6;
  const std::string_view chars = data.substr(chars_at, c.chars);
  for (size_t i = 0; i < c.type; ++i) {
    zone_type t;
    t.utc_offset = static_cast<int32_t>(big_endian(data, types_at + 6 * i, 4));
    t.dst = data[types_at + 6 * i + 4] != 0;
    const size_t abbr = static_cast<unsigned char>(data[types_at + 6 * i + 5]);
    const size_t end = chars.find('\0', abbr);
    if (abbr >= chars.size() || end == std::string_view::npos)
      return bad_file(zone.name_, "bad abbreviation index");
    if (t.utc_offset < min_offset || t.utc_offset > max_offset)
      return bad_file(zone.name_, "UTC offset out of range");
    t.abbreviation = std::string{chars.substr(abbr, end - abbr)};
    zone.types_.push_back(std::move(t));
  }
  for (size_t i = 0; i < c.time; ++i) {
    const int64_t at = big_endian(data, times_at + i * time_bytes, time_bytes);
    const size_t type = static_cast<unsigned char>(data[indices_at + i]);
    if (type >= c.type)
      return bad_file(zone.name_, "bad local time type index");
    if (!zone.times_.empty() && at <= zone.times_.back().at)
      return bad_file(zone.name_, "transitions out of order");
    zone.times_.push_back({at, type});
  }
  if (time_bytes == 8) {
    // The footer: "\n" POSIX-TZ "\n"; empty when the zone's future is not a rule.
    const size_t footer = pos + c.block_size(8);
    if (data.size() < footer + 2 || data[footer] != '\n')
      return bad_file(zone.name_, "TZif footer missing");
    const size_t end = data.find('\n', footer + 1);
    if (end == std::string_view::npos)
      return bad_file(zone.name_, "TZif footer not terminated");
    const std::string_view text = data.substr(footer + 1, end - footer - 1);
    if (!text.empty()) {
      auto rule = posix_tz::parse(text);
      if (!rule)
        return bad_file(zone.name_, rule.error());
      zone.set_rule(*rule);
    }
  }
  return zone;
}

parsed<time_zone> time_zone::from_rule(std::string name, std::string_view text) {
  auto rule = posix_tz::parse(text);
  if (!rule)
    return parsed<time_zone>::failure(rule.error());
  time_zone zone;
  zone.name_ = std::move(name);
  zone.set_rule(*rule);
  return zone;
}

time_zone time_zone::utc() {
  time_zone zone;
  zone.name_ = "UTC";
  zone.types_.push_back({0, false, "UTC"});
  return zone;
}

void time_zone::set_rule(posix_tz rule) {
  if (rule.standard().utc_offset < min_offset || rule.standard().utc_offset > max_offset
      || (rule.daylight()
          && (rule.daylight()->utc_offset < min_offset
              || rule.daylight()->utc_offset > max_offset)))
    return;
  rule_std_ = types_.size();
  types_.push_back(rule.standard());
  rule_dst_ = rule_std_;
  if (rule.daylight()) {
    rule_dst_ = types_.size();
    types_.push_back(*rule.daylight());
  }
  rule_ = std::move(rule);
}

size_t time_zone::type_at(int64_t t) const {
  // After the last listed transition the footer rule speaks, if there is one.
  if (rule_ && (times_.empty() || t > times_.back().at))
    return rule_->at(t).dst ? rule_dst_ : rule_std_;
  auto after = std::upper_bound(times_.begin(), times_.end(), t,
                                [](int64_t x, const transition& tr) { return x < tr.at; });
  // RFC 8536: before the first transition, the first type applies.
  return after == times_.begin() ? 0 : std::prev(after)->type;
}

std::vector<time_zone::transition> time_zone::transitions(int64_t from, int64_t to) const {
  std::vector<transition> result;
  auto first = std::upper_bound(times_.begin(), times_.end(), from,
                                [](int64_t x, const transition& tr) { return x < tr.at; });
  for (auto i = first; i != times_.end() && i->at <= to; ++i)
    result.push_back(*i);
  if (rule_) {
    const int64_t last = times_.empty() ? from : std::max(from, times_.back().at);
    for (const auto& c : rule_->changes(last, to))
      result.push_back({c.at, c.dst ? rule_dst_ : rule_std_});
  }
  return result;
}

zone_offset time_zone::at(int64_t utc) const {
  const zone_type& t = types_[type_at(std::clamp(utc, -max_seconds, max_seconds))];
  return {t.utc_offset, t.dst, t.abbreviation};
}

local_instants time_zone::to_utc(int64_t local) const {
  local = std::clamp(local, -max_seconds, max_seconds);
  // Offsets are constant between transitions: in each such segment, the local time names
  // the instant local - offset if that instant lies inside the segment. A local time that
  // names none lies in a gap, which begins at the transition it jumps over.
  const int64_t from = local - window;
  const int64_t to = local + window;
  const auto changes = transitions(from, to);
  std::vector<int64_t> found;
  std::optional<int64_t> gap;
  size_t type = type_at(from);
  for (size_t i = 0; i <= changes.size(); ++i) {
    const int64_t begin = i == 0 ? INT64_MIN : changes[i - 1].at;
    const int64_t end = i == changes.size() ? INT64_MAX : changes[i].at;
    const int64_t candidate = local - types_[type].utc_offset;
    if (candidate >= begin && candidate < end)
      found.push_back(candidate);
    if (i == changes.size())
      break;
    const int32_t before = types_[type].utc_offset;
    const int32_t after = types_[changes[i].type].utc_offset;
    if (!gap && local >= changes[i].at + before && local < changes[i].at + after)
      gap = changes[i].at;
    type = changes[i].type;
  }
  if (found.size() == 1)
    return {local_instants::kind::unique, found.front(), found.front()};
  if (found.size() > 1)
    return {local_instants::kind::fold, found.front(), found.back()};
  // No instant and no gap cannot happen with offsets in range; a gap it is all the same.
  const int64_t next = gap.value_or(local - types_[type_at(local)].utc_offset);
  return {local_instants::kind::gap, next, next};
}

zone_ptr utc_time_zone() {
  static const zone_ptr zone = std::make_shared<const time_zone>(time_zone::utc());
  return zone;
}

parsed<zone_ptr> find_time_zone(std::string_view name) {
  if (name == "UTC")
    return utc_time_zone();
  if (!valid_name(name))
    return parsed<zone_ptr>::failure(
      "not a time zone name: IANA names look like Europe/Berlin or America/New_York");
  const std::string key{name};
  return cached(key, [&] { return load_file(key, zone_dir + key); });
}

zone_ptr local_time_zone() {
  const char* env = std::getenv("TZ");
  // The keys cannot meet the names find_time_zone caches: those never start with ':'.
  const std::string key = env ? std::string{":TZ="} + env : ":localtime";
  auto zone = cached(key, [&]() -> parsed<time_zone> {
    if (!env)
      return load_file("localtime", "/etc/localtime");
    std::string_view value{env};
    if (!value.empty() && value.front() == ':')
      value.remove_prefix(1);
    if (value.empty())
      return time_zone::utc();
    const std::string text{value};
    if (value.front() == '/') {
      if (auto z = load_file(text, text))
        return z;
    } else if (valid_name(value)) {
      if (auto z = load_file(text, zone_dir + text))
        return z;
    }
    if (auto z = time_zone::from_rule(text, value))
      return z;
    // glibc reads a TZ it cannot make sense of as UTC.
    return time_zone::utc();
  });
  // No /etc/localtime: glibc uses UTC.
  return zone ? *zone : utc_time_zone();
}

} // namespace ts
