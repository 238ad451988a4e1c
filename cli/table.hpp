// Aligned text tables for people: columns padded to their widest cell (counted in code
// points, so that a UTF-8 name does not push its row out of line), the last column left
// ragged, and ANSI colours only when the caller says the output is a terminal that wants
// them. Pure.
#pragma once

#include <string>
#include <vector>

namespace ts::cli {

enum class colour { none, bold, dim, red, green, yellow, blue, magenta };

struct cell {
  cell(std::string t, colour c = colour::none) : text(std::move(t)), tint(c) {
  }
  cell(const char* t, colour c = colour::none) : text(t), tint(c) {
  }
  std::string text;
  colour tint;
};

using row = std::vector<cell>;

/// The header (bold when coloured) and the rows, each line ending in '\n'. Rows shorter than
/// the header are padded with empty cells. Control characters in a cell are shown as '?',
/// so that a command's text cannot move the cursor or change the terminal's colours.
std::string render_table(const std::vector<std::string>& header, const std::vector<row>& rows,
                         bool coloured);

/// `text` in `tint` when `coloured`, else unchanged.
std::string paint(const std::string& text, colour tint, bool coloured);

/// Colours by meaning, one mapping for every verb: success green, failure red, running
/// yellow, paused and cancelled dim...
colour status_colour(const std::string& status);

/// Whether to colour: a terminal, and NO_COLOR absent or empty (https://no-color.org).
bool want_colour(bool is_terminal, const char* no_color_env);

} // namespace ts::cli
