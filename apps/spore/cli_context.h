#pragma once
/// @file cli_context.h
/// What every subcommand group of `spore` registers with: the global options, the node they name,
/// and the one command the command line chose. main() builds a Cli, adds the global options, lets
/// each group's add_*_commands() (commands.h) add its CLI11 subcommands, parses, then runs the
/// chosen command with Cli::run_chosen().

#include <CLI/CLI.hpp>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "bounded_http.h"
#include "cli_logic.h"

namespace spore {
namespace cli {

/// The options every subcommand takes (before or after it: the app falls through).
struct Globals {
  std::optional<std::string> node;  ///< --node HOST[:PORT]
  double http_timeout_s = 5.0;      ///< --http-timeout: one request to a node, in all
  size_t max_answer_bytes = kDefaultMaxAnswerBytes;
  std::string color = "auto";  ///< --color auto | always | never
  bool quiet = false;          ///< -q: no notes on stderr
};

/// The global options and the chosen command. Lives in main() until the command returned.
class Cli {
 public:
  Globals& globals() { return globals_; }
  const Globals& globals() const { return globals_; }

  /// Makes `run` what `command` does. CLI11 calls back when the command line chose `command`;
  /// the command itself runs in run_chosen(), after the whole line was parsed and checked, so
  /// global options given after the subcommand count and nothing runs for --help or a usage error.
  void on_run(CLI::App* command, std::function<int()> run) {
    command->callback([this, run = std::move(run)] { chosen_ = run; });
  }

  /// True when the command line chose a command registered with on_run().
  bool chosen() const { return static_cast<bool>(chosen_); }

  /// Runs the chosen command and returns its exit code; a CliError (or any other exception, exit 1)
  /// is printed on stderr as "spore: <message>".
  int run_chosen() const;

 private:
  Globals globals_;
  std::function<int()> chosen_;
};

/// The value of `name` in the `.env` ($SPORE_ENV_FILE, else ./.env), trimmed; nullopt when there is
/// no such file or line, or when the file is not the user's own or others can write it (then
/// `*note`, if given, says why it was not taken).
std::optional<std::string> trusted_dotenv_value(std::string_view name, std::string* note);

/// Adds --token TOKEN and --token-file FILE (which exclude each other) to `command`.
inline void add_token_options(CLI::App* command, std::optional<std::string>& token,
                              std::optional<std::string>& token_file) {
  auto* tok = command->add_option("--token", token, "API token (else --token-file, else $SPORE_TOKEN)")
                  ->type_name("TOKEN");
  command->add_option("--token-file", token_file, "file holding the API token")->excludes(tok)->type_name("FILE");
}

/// Adds --bearer (the token itself instead of a request proof) to `command`.
inline void add_bearer_flag(CLI::App* command, bool& bearer) {
  command->add_flag("--bearer", bearer,
                    "send the token itself ('Authorization: Bearer') instead of a one-use request proof (nodes "
                    "older than request proofs)");
}

/// Adds --json: print the node's JSON answer (re-encoded for a terminal) instead of a table.
inline void add_json_answer_flag(CLI::App* command, bool& json) {
  command->add_flag("-j,--json", json,
                    "print the node's JSON answer (same JSON, non-ASCII characters as \\uXXXX escapes)");
}

/// Adds a duration option `name` in seconds, checked against [min_s, max_s]; returns it, for more.
inline CLI::Option* add_seconds_option(CLI::App* command, const std::string& name, double& seconds,
                                       const std::string& help, double min_s, double max_s) {
  return command->add_option(name, seconds, help)->check(CLI::Range(min_s, max_s))->type_name("SECONDS");
}

/// Whether stdout gets ANSI colours: --color always / never, else not with $NO_COLOR or TERM=dumb,
/// else when stdout is a terminal.
bool use_color(const Globals& g);

/// The node to talk to: --node, $SPORE_NODE, $API_NODE, else API_NODE in the .env
/// ($SPORE_ENV_FILE, else ./.env), which is read only then and trusted only when it is the user's
/// own and writable by nobody else. Says on stderr (once, unless --quiet) which .env named it.
/// An address without a port gets with_default_port().
/// Throws CliError (exit 2) when none is given or the one given is invalid.
NodeAddress node_address(const Globals& g);

/// `addr` with default_http_port() applied when it was parsed without a port: 8080 for this host
/// (its loopback and interface addresses, its hostname), 80 for any other.
NodeAddress with_default_port(NodeAddress addr);

/// The whole file, or nullopt when it cannot be opened.
std::optional<std::string> read_file(const std::string& path);

/// The API token from --token, else the first line of --token-file, else $SPORE_TOKEN (nullopt
/// when none is given). Throws CliError (exit 2) when the token file cannot be read or is empty.
std::optional<std::string> token_from(const std::optional<std::string>& token,
                                      const std::optional<std::string>& token_file);

}  // namespace cli
}  // namespace spore
