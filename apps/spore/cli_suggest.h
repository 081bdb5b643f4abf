#pragma once
/// @file cli_suggest.h
/// What `spore` says for a word that is not a command (issue 21, item 7): "unknown command
/// 'members'; did you mean 'cluster members'?" instead of CLI11's "A subcommand is required".
/// The closest command is searched in the whole command tree (subcommands included), by edit
/// distance to the command's own name. Unit-tested in tests/posix/spore_cli_usability_test.cpp.

#include <CLI/CLI.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace spore {
namespace cli {

/// Edit distance of `a` and `b` (optimal string alignment: insert, delete, replace, swap two
/// neighbours, each 1), case-insensitive ASCII.
size_t edit_distance(std::string_view a, std::string_view b);

/// The command path in `paths` ("cluster members", "node") whose last word is closest to `word`,
/// at most max(1, size of `word` / 3) edits away (a start of the name of 3 or more characters counts
/// as 1); on a tie the one under `context` (the path where
/// the word stood, "" at the top) wins, then the shorter path. nullopt when none is close enough.
std::optional<std::string> suggest_command(std::string_view word, std::string_view context,
                                           const std::vector<std::string>& paths);

/// Every command path below `app`: "cluster", "cluster members", ... in the order added.
std::vector<std::string> command_paths(const CLI::App& app);

/// For a command line that `app` refused (`args` without the program name): when a word stands
/// where a command name is expected and names none, "unknown command 'WORD'; did you mean
/// 'PATH'?" (or, without a close one, which commands there are). nullopt when the line has no
/// such word (another usage error: CLI11's message stands).
std::optional<std::string> unknown_command_message(const CLI::App& app, const std::vector<std::string>& args);

}  // namespace cli
}  // namespace spore
