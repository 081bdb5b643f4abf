#pragma once
/// @file cli_parse.h
/// The command-line convention of SPORE's programs on top of CLI11: --help and --version print
/// and exit 0; any other parse error goes to the program's usage_error() (a clear message, exit
/// 2). No exception ever leaves main().

#include <CLI/CLI.hpp>

#include <optional>
#include <string>

namespace spore_apps {

/// Parses `argv` into `app`. Returns the exit code when the program must stop now (help,
/// version, or a bad command line via `usage_error`), nullopt when it should go on.
inline std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv,
                                             int (*usage_error)(const std::string& message)) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {  // CallForHelp, CallForAllHelp, CallForVersion
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return usage_error(e.what());
  }
  return std::nullopt;
}

}  // namespace spore_apps
