// tsctl's help texts: the overview and one page per verb.
#pragma once

#include <string>

#include "cli/invocation.hpp"

namespace ts::cli {

/// `tsctl --help`: every verb, the global options, the exit codes.
std::string overview_help();

/// `tsctl VERB --help`.
std::string verb_help(verb v);

} // namespace ts::cli
