#include "cli/invocation.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>

#include "cli/when.hpp"

namespace ts::cli {

namespace {

using result = parsed<invocation>;

constexpr struct {
  verb v;
  const char* name;
} verbs[] = {
  {verb::at, "at"},           {verb::cron, "cron"},       {verb::every, "every"},
  {verb::ls, "ls"},           {verb::show, "show"},       {verb::runs, "runs"},
  {verb::logs, "logs"},       {verb::cancel, "cancel"},   {verb::trigger, "trigger"},
  {verb::pause, "pause"},     {verb::resume, "resume"},   {verb::edit, "edit"},
  {verb::preview, "preview"}, {verb::wait, "wait"},       {verb::nodes, "nodes"},
  {verb::help, "help"},
};

struct option_spec {
  const char* name;
  char short_name;
  bool takes_value;
};

constexpr option_spec options[] = {
  {"url", 0, true},     {"token-file", 0, true}, {"cacert", 0, true},  {"json", 0, false},
  {"help", 'h', false}, {"cwd", 0, true},        {"env", 0, true},     {"timeout", 0, true},
  {"retries", 0, true}, {"name", 0, true},       {"label", 'l', true}, {"tz", 0, true},
  {"state", 0, true},   {"run", 0, true},        {"follow", 'f', false}, {"count", 'n', true},
  {"cron", 0, true},    {"command", 0, true},    {"every", 0, true},   {"at", 0, true},
};

/// The options each verb takes beside the global ones (url, token-file, cacert, json, help).
std::vector<std::string> verb_options(verb v) {
  const std::vector<std::string> fields{"cwd", "env", "timeout", "retries", "name", "label"};
  auto with = [&](std::vector<std::string> more) {
    more.insert(more.end(), fields.begin(), fields.end());
    return more;
  };
  switch (v) {
    case verb::at: return with({"tz"});
    case verb::cron: return with({"tz"});
    case verb::every: return with({});
    case verb::ls: return {"state", "label"};
    case verb::logs: return {"run", "follow"};
    case verb::edit: return with({"cron", "command", "every", "at", "tz"});
    case verb::preview: return {"tz", "count"};
    case verb::wait: return {"timeout"};
    default: return {};
  }
}

const option_spec* find_long(std::string_view name) {
  for (auto& o : options)
    if (name == o.name)
      return &o;
  return nullptr;
}

const option_spec* find_short(char c) {
  for (auto& o : options)
    if (o.short_name == c)
      return &o;
  return nullptr;
}

/// The options given, by long name, in order; and the other words.
struct raw_line {
  std::vector<std::pair<std::string, std::string>> given;
  std::vector<std::string> words;
  std::vector<std::string> command;
  bool dashdash = false;
};

parsed<raw_line> split(const std::vector<std::string>& args) {
  raw_line out;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      out.dashdash = true;
      out.command.assign(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
      break;
    }
    const option_spec* spec = nullptr;
    std::optional<std::string> value;
    if (a.rfind("--", 0) == 0) {
      auto eq = a.find('=');
      std::string name = a.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
      spec = find_long(name);
      if (!spec)
        return parsed<raw_line>::failure("unknown option --" + name);
      if (eq != std::string::npos) {
        if (!spec->takes_value)
          return parsed<raw_line>::failure("--" + name + " takes no value");
        value = a.substr(eq + 1);
      }
    } else if (a.size() > 1 && a[0] == '-') {
      spec = find_short(a[1]);
      if (!spec)
        return parsed<raw_line>::failure("unknown option " + a.substr(0, 2));
      if (a.size() > 2) {
        if (!spec->takes_value)
          return parsed<raw_line>::failure(a.substr(0, 2) + " takes no value");
        value = a.substr(2);
      }
    } else {
      out.words.push_back(a);
      continue;
    }
    if (spec->takes_value && !value) {
      if (i + 1 >= args.size())
        return parsed<raw_line>::failure("--" + std::string{spec->name} + " needs a value");
      value = args[++i];
    }
    out.given.emplace_back(spec->name, value.value_or(""));
  }
  return out;
}

parsed<int64_t> parse_id(const std::string& text, const std::string& what) {
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  bool digits = !text.empty() && text.size() <= 19 && std::all_of(text.begin(), text.end(), digit);
  int64_t v = digits ? std::strtoll(text.c_str(), nullptr, 10) : 0;
  if (v < 1)
    return parsed<int64_t>::failure(what + " must be a positive integer, not \"" + text + "\"");
  return v;
}

parsed<int64_t> whole_seconds(const std::string& text) {
  auto d = parse_duration(text);
  if (!d)
    return parsed<int64_t>::failure(d.error());
  if (*d < 1 || std::floor(*d) != *d)
    return parsed<int64_t>::failure("an interval is whole seconds of at least 1s, not \"" + text
                                    + "\"");
  return static_cast<int64_t>(*d);
}

/// KEY=VALUE (VALUE may be empty); for labels in an edit also `KEY-`.
std::optional<std::pair<std::string, std::optional<std::string>>> key_value(
  const std::string& text, bool allow_removal) {
  auto eq = text.find('=');
  if (eq == std::string::npos) {
    if (allow_removal && text.size() > 1 && text.back() == '-')
      return std::make_pair(text.substr(0, text.size() - 1), std::optional<std::string>{});
    return std::nullopt;
  }
  if (eq == 0)
    return std::nullopt;
  return std::make_pair(text.substr(0, eq), std::optional<std::string>{text.substr(eq + 1)});
}

/// Applies one option to the invocation; "" or why it is wrong.
std::string apply(invocation& inv, const std::string& name, const std::string& value) {
  auto& f = inv.fields;
  if (name == "url") {
    inv.url = value;
  } else if (name == "token-file") {
    inv.token_file = value;
  } else if (name == "cacert") {
    inv.cacert = value;
  } else if (name == "json") {
    inv.json = true;
  } else if (name == "help") {
    inv.help = true;
  } else if (name == "cwd") {
    if (value.empty())
      return "--cwd needs a directory";
    f.cwd = value;
  } else if (name == "env") {
    auto kv = key_value(value, false);
    if (!kv)
      return "--env takes NAME=VALUE, not \"" + value + "\"";
    f.env.emplace_back(kv->first, *kv->second);
  } else if (name == "timeout") {
    auto d = parse_duration(value);
    if (!d)
      return "--timeout: " + d.error();
    (inv.what == verb::wait ? inv.wait_timeout_s : f.timeout_s) = *d;
  } else if (name == "retries") {
    auto n = value == "0" ? parsed<int64_t>{0} : parse_id(value, "--retries");
    if (!n || *n > 99)
      return "--retries must be a whole number from 0 to 99, not \"" + value + "\"";
    f.retries = static_cast<int>(*n);
  } else if (name == "name") {
    f.name = value;
  } else if (name == "label") {
    auto kv = key_value(value, inv.what == verb::edit);
    if (!kv)
      return std::string{"-l takes KEY=VALUE"} + (inv.what == verb::edit ? " or KEY-" : "")
             + ", not \"" + value + "\"";
    f.labels.push_back(*kv);
  } else if (name == "tz") {
    if (value.empty())
      return "--tz needs a zone name (Europe/Berlin, UTC)";
    inv.tz = value;
  } else if (name == "state") {
    inv.state = value;
  } else if (name == "run") {
    auto id = parse_id(value, "--run");
    if (!id)
      return id.error();
    inv.run = *id;
  } else if (name == "follow") {
    inv.follow = true;
  } else if (name == "count") {
    auto n = parse_id(value, "-n");
    if (!n || *n > 100)
      return "-n must be a whole number from 1 to 100, not \"" + value + "\"";
    inv.count = static_cast<int>(*n);
  } else if (name == "cron") {
    inv.edit_cron = value;
  } else if (name == "command") {
    inv.edit_command = value;
  } else if (name == "every") {
    auto s = whole_seconds(value);
    if (!s)
      return "--every: " + s.error();
    inv.edit_every_s = *s;
  } else if (name == "at") {
    inv.edit_at = value;
  }
  return "";
}

} // namespace

std::optional<verb> verb_from_name(const std::string& name) {
  for (auto& v : verbs)
    if (name == v.name)
      return v.v;
  return std::nullopt;
}

const char* verb_name(verb v) {
  for (auto& e : verbs)
    if (e.v == v)
      return e.name;
  return "?";
}

parsed<invocation> parse_invocation(const std::vector<std::string>& args) {
  auto raw = split(args);
  if (!raw)
    return result::failure(raw.error());
  invocation inv;
  std::vector<std::string> words = raw->words;
  if (words.empty()) {
    // `tsctl` or `tsctl --help`: the overview.
    inv.help = true;
    for (auto& [name, value] : raw->given)
      if (name != "help")
        return result::failure("no verb given (tsctl --help lists them)");
    return inv;
  }
  auto v = verb_from_name(words.front());
  if (!v)
    return result::failure("unknown verb \"" + words.front() + "\" (tsctl --help lists them)");
  inv.what = *v;
  words.erase(words.begin());

  if (inv.what == verb::help) {
    // `tsctl help VERB` is `tsctl VERB --help`.
    inv.help = true;
    if (words.size() > 1)
      return result::failure("help takes at most one verb");
    if (!words.empty()) {
      auto of = verb_from_name(words.front());
      if (!of)
        return result::failure("unknown verb \"" + words.front() + "\"");
      inv.what = *of;
    }
    return inv;
  }

  const auto allowed = verb_options(inv.what);
  for (auto& [name, value] : raw->given) {
    bool global = name == "url" || name == "token-file" || name == "cacert" || name == "json"
                  || name == "help";
    if (!global && std::find(allowed.begin(), allowed.end(), name) == allowed.end())
      return result::failure("tsctl " + std::string{verb_name(inv.what)} + " takes no --" + name);
    if (auto why = apply(inv, name, value); !why.empty())
      return result::failure(why);
  }
  if (inv.help)
    return inv;

  const std::string me = std::string{"tsctl "} + verb_name(inv.what);
  const bool creates = inv.what == verb::at || inv.what == verb::cron || inv.what == verb::every;
  if (creates) {
    if (words.size() != 1)
      return result::failure(me + " takes one "
                             + (inv.what == verb::at     ? "time"
                                : inv.what == verb::cron ? "expression"
                                                         : "interval")
                             + " before -- (quote it when it has spaces)");
    if (!raw->dashdash || raw->command.empty())
      return result::failure(me + ": the command goes after --");
    inv.when = words.front();
    inv.command = raw->command;
    if (inv.what == verb::every) {
      auto s = whole_seconds(inv.when);
      if (!s)
        return result::failure(s.error());
      inv.every_s = *s;
    }
    return inv;
  }
  if (raw->dashdash)
    return result::failure(me + " takes no command after --");

  switch (inv.what) {
    case verb::ls:
    case verb::nodes:
      if (!words.empty())
        return result::failure(me + " takes no arguments");
      return inv;
    case verb::preview:
      if (words.size() != 1)
        return result::failure(me + " takes one cron expression (quote it)");
      inv.when = words.front();
      return inv;
    default:
      break;
  }
  if (words.size() != 1)
    return result::failure(me + " takes one task ID");
  auto id = parse_id(words.front(), "a task ID");
  if (!id)
    return result::failure(id.error());
  inv.task = *id;
  if (inv.what == verb::edit) {
    const auto& f = inv.fields;
    int schedules
      = inv.edit_cron.has_value() + inv.edit_every_s.has_value() + inv.edit_at.has_value();
    if (schedules > 1)
      return result::failure(me + ": one of --cron, --every and --at");
    if (inv.tz && schedules == 0)
      return result::failure(me + ": --tz goes with --cron or --at");
    if (schedules == 0 && !inv.edit_command && !f.cwd && f.env.empty() && !f.timeout_s
        && !f.retries && !f.name && f.labels.empty())
      return result::failure(me + ": nothing to change (tsctl edit --help)");
  }
  return inv;
}

} // namespace ts::cli
