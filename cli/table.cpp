#include "cli/table.hpp"

#include <algorithm>

#include "core/text.hpp"

namespace ts::cli {

namespace {

const char* sgr(colour c) {
  switch (c) {
    case colour::bold: return "\x1b[1m";
    case colour::dim: return "\x1b[2m";
    case colour::red: return "\x1b[31m";
    case colour::green: return "\x1b[32m";
    case colour::yellow: return "\x1b[33m";
    case colour::blue: return "\x1b[34m";
    case colour::magenta: return "\x1b[35m";
    case colour::none: break;
  }
  return "";
}

/// The text with control characters (C0, DEL) and invalid UTF-8 shown as '?', and its
/// width in code points.
std::string printable(const std::string& text, size_t& width) {
  std::string out;
  width = 0;
  std::string_view rest{text};
  while (!rest.empty()) {
    auto step = decode_utf8(rest);
    if (!step.valid || step.code_point < 0x20 || step.code_point == 0x7f
        || (step.code_point >= 0x80 && step.code_point < 0xa0))
      out += '?';
    else
      out.append(rest.substr(0, step.length));
    ++width;
    rest.remove_prefix(step.length);
  }
  return out;
}

} // namespace

std::string paint(const std::string& text, colour tint, bool coloured) {
  if (!coloured || tint == colour::none)
    return text;
  return sgr(tint) + text + "\x1b[0m";
}

colour status_colour(const std::string& s) {
  if (s == "success" || s == "completed")
    return colour::green;
  if (s == "failure")
    return colour::red;
  if (s == "running" || s == "starting" || s == "active")
    return colour::yellow;
  if (s == "waiting")
    return colour::blue;
  if (s == "paused" || s == "cancelled" || s == "skipped")
    return colour::dim;
  return colour::none;
}

bool want_colour(bool is_terminal, const char* no_color_env) {
  return is_terminal && (no_color_env == nullptr || *no_color_env == '\0');
}

std::string render_table(const std::vector<std::string>& header, const std::vector<row>& rows,
                         bool coloured) {
  const size_t columns = header.size();
  struct shown {
    std::string text;
    size_t width;
    colour tint;
  };
  std::vector<std::vector<shown>> grid;
  std::vector<size_t> widths(columns, 0);
  auto add = [&](const std::vector<cell>& cells, bool is_header) {
    std::vector<shown> line;
    for (size_t c = 0; c < columns; ++c) {
      const cell& from = c < cells.size() ? cells[c] : cell{""};
      shown s;
      s.text = printable(from.text, s.width);
      s.tint = is_header ? colour::bold : from.tint;
      widths[c] = std::max(widths[c], s.width);
      line.push_back(std::move(s));
    }
    grid.push_back(std::move(line));
  };
  std::vector<cell> head(header.begin(), header.end());
  add(head, true);
  for (auto& r : rows)
    add(r, false);

  std::string out;
  for (auto& line : grid) {
    std::string text;
    for (size_t c = 0; c < columns; ++c) {
      text += paint(line[c].text, line[c].tint, coloured);
      if (c + 1 < columns)
        text += std::string(widths[c] - line[c].width + 2, ' ');
    }
    // A last column that is empty leaves trailing spaces behind the one before it.
    while (!text.empty() && text.back() == ' ')
      text.pop_back();
    out += text + '\n';
  }
  return out;
}

} // namespace ts::cli
