#include "cli_suggest.h"

#include <algorithm>
#include <cctype>

#include "terminal_safe.h"

namespace spore {
namespace cli {

namespace {

/// Named subcommands of `app` (option groups are nameless subcommands in CLI11).
std::vector<const CLI::App*> named_subcommands(const CLI::App& app) {
  std::vector<const CLI::App*> out;
  for (const CLI::App* sub : app.get_subcommands({})) {
    if (!sub->get_name().empty() && !sub->get_disabled()) out.push_back(sub);
  }
  return out;
}

void collect_paths(const CLI::App& app, const std::string& prefix, std::vector<std::string>* out) {
  for (const CLI::App* sub : named_subcommands(app)) {
    const std::string path = prefix.empty() ? sub->get_name() : prefix + " " + sub->get_name();
    out->push_back(path);
    collect_paths(*sub, path, out);
  }
}

/// The option `name` ("--node", "-n") as `app` or, since options fall through, a parent takes it.
const CLI::Option* find_option(const CLI::App* app, const std::string& name) {
  for (; app != nullptr; app = app->get_parent()) {
    if (const CLI::Option* opt = app->get_option_no_throw(name)) return opt;
  }
  return nullptr;
}

std::string last_word(std::string_view path) {
  const size_t space = path.rfind(' ');
  return std::string(space == std::string_view::npos ? path : path.substr(space + 1));
}

}  // namespace

size_t edit_distance(std::string_view a, std::string_view b) {
  const auto lower = [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); };
  // d[i][j]: distance of a's first i and b's first j characters (command words are short).
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) && lower(a[i - 2]) == lower(b[j - 1])) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

std::optional<std::string> suggest_command(std::string_view word, std::string_view context,
                                           const std::vector<std::string>& paths) {
  const size_t limit = std::max<size_t>(1, word.size() / 3);
  const std::string under = context.empty() ? "" : std::string(context) + " ";
  std::optional<std::string> best;
  size_t best_distance = limit + 1;
  bool best_under = false;
  for (const std::string& path : paths) {
    const std::string name = last_word(path);
    // A start of the name ("clust") is as close as one typo, however much is missing.
    const bool prefix =
        word.size() >= 3 && word.size() < name.size() && edit_distance(word, name.substr(0, word.size())) == 0;
    const size_t d = prefix ? 1 : edit_distance(word, name);
    const bool is_under = under.empty() ? path.find(' ') == std::string::npos : path.rfind(under, 0) == 0;
    const bool better = d < best_distance || (d == best_distance && best && is_under && !best_under) ||
                        (d == best_distance && best && is_under == best_under && path.size() < best->size());
    if (d <= limit && better) {
      best = path;
      best_distance = d;
      best_under = is_under;
    }
  }
  return best;
}

std::vector<std::string> command_paths(const CLI::App& app) {
  std::vector<std::string> out;
  collect_paths(app, "", &out);
  return out;
}

std::optional<std::string> unknown_command_message(const CLI::App& app, const std::vector<std::string>& args) {
  const CLI::App* at = &app;
  std::string context;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") return std::nullopt;
    if (arg.size() > 1 && arg[0] == '-') {
      // An option: skip its value when it takes one and it is not attached (--node=x, -n5).
      const bool attached = arg.find('=') != std::string::npos || (arg[1] != '-' && arg.size() > 2);
      const CLI::Option* opt = attached ? nullptr : find_option(at, arg);
      if (opt != nullptr && opt->get_expected_min() > 0) ++i;
      continue;
    }
    const std::vector<const CLI::App*> subs = named_subcommands(*at);
    if (subs.empty()) return std::nullopt;  // a command's own argument
    const auto next = std::find_if(subs.begin(), subs.end(), [&](const CLI::App* s) { return s->check_name(arg); });
    if (next != subs.end()) {
      at = *next;
      context = context.empty() ? arg : context + " " + arg;
      continue;
    }
    std::string message = "unknown command '" + terminal_safe(arg) + "'";
    if (const std::optional<std::string> hint = suggest_command(arg, context, command_paths(app))) {
      return message + "; did you mean '" + *hint + "'?";
    }
    message += context.empty() ? "; the commands are:" : "; the commands of '" + context + "' are:";
    for (const CLI::App* s : subs) message += " " + s->get_name();
    return message + " (`spore " + (context.empty() ? "" : context + " ") + "--help` says more)";
  }
  return std::nullopt;
}

}  // namespace cli
}  // namespace spore
