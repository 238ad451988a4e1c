#include "http/v1_edit.hpp"

#include <algorithm>
#include <utility>

#include "core/error.hpp"
#include "core/text.hpp"
#include "http/requests.hpp"
#include "http/responses.hpp"
#include "http/v1_controls.hpp"

namespace ts::api {

namespace {

using json = nlohmann::json;

caf::error bad_if_match() {
  return field_error("If-Match", "If-Match must be * or a list of entity tags such as \"3\"");
}

bool is_ows(char c) {
  return c == ' ' || c == '\t';
}

// A task's JSON shows every key, null when absent; a create leaves absent ones out.
json without_nulls(const nlohmann::ordered_json& j) {
  if (!j.is_object())
    return json(j);
  json out = json::object();
  for (auto& [key, value] : j.items())
    if (!value.is_null())
      out[key] = without_nulls(value);
  return out;
}

} // namespace

bool if_match::matches(int64_t version) const {
  if (any)
    return true;
  auto etag = task_etag(version);
  return std::find(tags.begin(), tags.end(), etag) != tags.end();
}

caf::expected<if_match> parse_if_match(std::string_view value) {
  if_match out;
  auto v = trim(value);
  if (v == "*") {
    out.any = true;
    return out;
  }
  // #entity-tag: entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE, where etagc may be a comma, so
  // the list is read tag by tag rather than split. Empty elements are allowed (RFC 9110,
  // 5.6.1.2).
  size_t i = 0;
  auto skip_ows = [&] {
    while (i < v.size() && is_ows(v[i]))
      ++i;
  };
  for (;;) {
    skip_ows();
    while (i < v.size() && v[i] == ',') {
      ++i;
      skip_ows();
    }
    if (i == v.size())
      return out;
    bool weak = v.substr(i, 2) == "W/";
    if (weak)
      i += 2;
    if (i == v.size() || v[i] != '"')
      return bad_if_match();
    auto close = v.find('"', i + 1);
    if (close == std::string_view::npos)
      return bad_if_match();
    auto tag = v.substr(i, close - i + 1);
    for (char c : tag.substr(1, tag.size() - 2)) {
      auto u = static_cast<unsigned char>(c);
      if (u < 0x21 || u == 0x7f)
        return bad_if_match();
    }
    if (!weak)
      out.tags.emplace_back(tag);
    i = close + 1;
    skip_ows();
    if (i < v.size() && v[i] != ',')
      return bad_if_match();
  }
}

caf::expected<edit_request> parse_edit_request(std::string_view body,
                                               std::optional<std::string_view> content_type,
                                               std::optional<std::string_view> if_match_value) {
  if (auto err = check_merge_patch_content_type(content_type))
    return err;
  edit_request out;
  if (if_match_value) {
    auto c = parse_if_match(*if_match_value);
    if (!c)
      return c.error();
    out.condition = std::move(*c);
  }
  // RFC 7386 would take any JSON value (one that is not an object replaces the whole task),
  // but a task is edited field by field.
  auto patch = parse_object(body);
  if (!patch)
    return patch.error();
  out.patch = std::move(*patch);
  return out;
}

json create_document(const task_info& task) {
  auto all = task_json(task);
  json doc = json::object();
  for (auto field : create_fields) {
    std::string key{field};
    auto i = all.find(key);
    if (i != all.end() && !i->is_null())
      doc[key] = without_nulls(*i);
  }
  return doc;
}

caf::expected<task_edit> make_edit(const task_info& current, const edit_request& req,
                                   millis now, const v1_limits& limits) {
  if (req.condition && !req.condition->matches(current.version))
    return make_error(ec::version_mismatch, "the task is at version "
                                              + std::to_string(current.version)
                                              + ", not one that If-Match names");
  auto doc = create_document(current);
  doc.merge_patch(req.patch);
  bool schedule_changed = req.patch.contains("schedule");
  if (!schedule_changed)
    doc.erase("schedule");
  auto t = read_create_body(doc, now, limits);
  if (!t)
    return t.error();
  if (!schedule_changed) {
    t->due = current.due;
    t->time_zone = current.time_zone;
    t->recur = current.recur;
  }
  t->created_at = current.created_at;
  task_edit e;
  e.id = current.id;
  e.expected_version = current.version;
  e.task = std::move(*t);
  e.schedule_changed = schedule_changed;
  return e;
}

} // namespace ts::api
