#include "fleet_report.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "../cli_parse.h"
#include "spore/base/limits.h"

namespace spore_sim {

namespace {

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double round3(double x) { return std::round(x * 1000) / 1000; }

int fleet_usage_error(const std::string& message) {
  std::fprintf(stderr, "spore-sim fleet: %s\nRun 'spore-sim fleet --help' for the flags.\n", message.c_str());
  return 2;
}

/// The figures that differ between the presets: each one is swapped alone for --sensitivity.
struct Figure {
  const char* name;
  double FleetParams::*field;
};
constexpr Figure kFigures[] = {{"board_rate_bytes_per_s", &FleetParams::board_rate_bytes_per_s},
                               {"channel_cap_bytes_per_s", &FleetParams::channel_cap_bytes_per_s},
                               {"sector_erase_ms", &FleetParams::sector_erase_ms},
                               {"page_program_ms", &FleetParams::page_program_ms},
                               {"verify_ms", &FleetParams::verify_ms},
                               {"restart_wait_ms", &FleetParams::restart_wait_ms},
                               {"boot_wifi_ms", &FleetParams::boot_wifi_ms},
                               {"sha256_us_per_block", &FleetParams::sha256_us_per_block}};

nlohmann::json params_json(const FleetParams& p) {
  nlohmann::json out = {{"name", p.name}, {"image_bytes", p.image_bytes}, {"trailer_bytes", p.trailer_bytes}};
  for (const Figure& f : kFigures) out[f.name] = p.*f.field;
  out["poll_ms"] = p.poll_ms;
  return out;
}

void print_params(const FleetParams& p, const std::vector<double>& one_node_s, size_t canary, size_t seeds) {
  std::printf("params %s: board %.0f kB/s, channel %.2f MB/s, erase %.1f ms/sector, program %.1f ms/page, "
              "SHA-256 %.1f us/block, verify %.1f s, restart wait %.1f s, boot+WiFi %.1f s; image %llu B\n",
              p.name.c_str(), p.board_rate_bytes_per_s / 1e3, p.channel_cap_bytes_per_s / 1e6, p.sector_erase_ms,
              p.page_program_ms, p.sha256_us_per_block, p.verify_ms / 1e3, p.restart_wait_ms / 1e3, p.boot_wifi_ms / 1e3,
              static_cast<unsigned long long>(p.image_bytes));
  std::printf("one node: upload+flash %.1f s, reboot (eboot copy, boot, WiFi) %.1f s, confirmed back after %.1f s "
              "(median of %zu seeds)\n",
              upload_ms(p, 1) / 1e3, reboot_ms(p) / 1e3, median(one_node_s), seeds);
  std::printf("fleet time (ratio to one node), canary %zu, median of %zu seeds:\n", canary, seeds);
}

void print_cells(const std::vector<FleetCell>& cells, const FleetOptions& o) {
  std::printf("  %5s", "N");
  for (size_t w : o.parallel) std::printf("  %19s", ("W=" + std::to_string(w)).c_str());
  std::printf("\n");
  for (size_t n : o.nodes) {
    std::printf("  %5zu", n);
    for (size_t w : o.parallel) {
      for (const FleetCell& c : cells) {
        if (c.nodes != n || c.parallel != w) continue;
        char cell[48];
        std::snprintf(cell, sizeof cell, "%.1f s (%.2fx)", c.median_s, c.ratio_median);
        std::printf("  %19s", cell);
      }
    }
    std::printf("\n");
  }
}

nlohmann::json cells_json(const std::vector<FleetCell>& cells) {
  nlohmann::json out = nlohmann::json::array();
  for (const FleetCell& c : cells) {
    nlohmann::json secs = nlohmann::json::array();
    for (double s : c.seconds) secs.push_back(round3(s));
    out.push_back({{"nodes", c.nodes},
                   {"parallel", c.parallel},
                   {"waves", c.waves},
                   {"median_s", round3(c.median_s)},
                   {"ratio_median", round3(c.ratio_median)},
                   {"ratio_min", round3(c.ratio_min)},
                   {"ratio_max", round3(c.ratio_max)},
                   {"seconds", secs}});
  }
  return out;
}

/// --sensitivity: the largest fleet of `o`, each preset with one figure at a time taken from the
/// other preset, so each figure's low and high value shows its own effect on the ratio.
nlohmann::json run_sensitivity(const FleetOptions& o) {
  nlohmann::json rows = nlohmann::json::array();
  FleetOptions largest = o;
  largest.nodes = {*std::max_element(o.nodes.begin(), o.nodes.end())};
  if (!o.json) std::printf("sensitivity: N=%zu, canary %zu, each preset with one figure from the other, ratio to one node "
              "(median of %zu seeds)\n",
              largest.nodes[0], o.canary, o.seeds);
  for (const std::string& name : o.params) {
    FleetParams base, other;
    fleet_params_named(name, &base);
    fleet_params_named(name == "fast" ? "slow" : "fast", &other);
    for (const Figure& f : kFigures) {
      if (base.*f.field == other.*f.field) continue;
      FleetParams p = base;
      p.*f.field = other.*f.field;
      std::vector<double> one_node_s;
      const std::vector<FleetCell> cells = run_fleet_cells(p, largest, &one_node_s);
      nlohmann::json ratios = nlohmann::json::object();
      if (!o.json) std::printf("  %s, %s = %g (%s: %g): one node %.1f s;", name.c_str(), f.name, p.*f.field, name.c_str(),
                  base.*f.field, median(one_node_s));
      for (const FleetCell& c : cells) {
        ratios["W=" + std::to_string(c.parallel)] = round3(c.ratio_median);
        if (!o.json) std::printf(" W=%zu %.2fx", c.parallel, c.ratio_median);
      }
      if (!o.json) std::printf("\n");
      rows.push_back({{"preset", name}, {"figure", f.name}, {"value", p.*f.field}, {"preset_value", base.*f.field},
                      {"one_node_median_s", round3(median(one_node_s))}, {"ratios", ratios}});
    }
  }
  return rows;
}

}  // namespace

std::vector<FleetCell> run_fleet_cells(const FleetParams& p, const FleetOptions& o, std::vector<double>* one_node_s) {
  one_node_s->clear();
  for (size_t s = 0; s < o.seeds; ++s) {
    FleetPlan one{1, o.canary, 1, o.first_seed + s, -1};
    one_node_s->push_back(run_rollout(p, one).total_ms / 1e3);
  }
  std::vector<FleetCell> cells;
  for (size_t n : o.nodes) {
    for (size_t w : o.parallel) {
      FleetCell cell;
      cell.nodes = n;
      cell.parallel = w;
      std::vector<double> ratios;
      for (size_t s = 0; s < o.seeds; ++s) {
        const FleetRun run = run_rollout(p, FleetPlan{n, o.canary, w, o.first_seed + s, -1});
        cell.waves = run.waves_run;
        cell.seconds.push_back(run.total_ms / 1e3);
        ratios.push_back(cell.seconds.back() / (*one_node_s)[s]);
      }
      cell.median_s = median(cell.seconds);
      cell.ratio_median = median(ratios);
      cell.ratio_min = *std::min_element(ratios.begin(), ratios.end());
      cell.ratio_max = *std::max_element(ratios.begin(), ratios.end());
      cells.push_back(std::move(cell));
    }
  }
  return cells;
}

int fleet_main(int argc, char** argv) {
  CLI::App app{"spore-sim fleet: the ESP-01 fleet rollout model (docs/ota.md §12). Runs `spore ota all`'s canary "
               "and waves over N simulated ESP8266 boards (upload over a shared WiFi channel, flash writes, "
               "verify, restart, eboot copy, boot and WiFi, then SPORE's membership until the observer lists the "
               "board ACTIVE with the new image) and prints each rollout's time and its ratio to one node.",
               "spore-sim fleet"};
  FleetOptions o;
  app.add_option("--params", o.params, "Parameter presets: fast (every figure at its favourable end), slow")
      ->check(CLI::IsMember({"fast", "slow"}));
  // The observer must be able to list every board: at most SPORE_MAX_MEMBERS (this build's table).
  app.add_option("--nodes", o.nodes, "Fleet sizes N (1 = one node, the ratio's base; at most the member table's size)")
      ->check(CLI::Range(1, SPORE_MAX_MEMBERS));
  app.add_option("--parallel", o.parallel, "Wave sizes W (spore ota all --parallel)")->check(CLI::Range(1, 200));
  app.add_option("--canary", o.canary, "Boards in the canary wave (spore ota all --canary)")->check(CLI::Range(0, 200));
  app.add_option("--seed", o.first_seed, "First seed");
  app.add_option("--seeds", o.seeds, "Seeds per cell (first, first+1, ...)")->check(CLI::Range(1, 100));
  app.add_flag("--json", o.json, "Print JSON instead of tables");
  bool sensitivity = false;
  app.add_flag("--sensitivity", sensitivity,
               "For the largest --nodes only: each preset with one figure at a time from the other preset");
  const std::optional<int> stop = spore_apps::parse_command_line(app, argc, argv, fleet_usage_error);
  if (stop) return *stop;
  if (sensitivity) {
    const nlohmann::json rows = run_sensitivity(o);
    if (o.json) std::cout << nlohmann::json{{"canary", o.canary}, {"seeds", o.seeds}, {"sensitivity", rows}}.dump(2) << "\n";
    return 0;
  }
  nlohmann::json out = {{"model", "esp01-fleet-rollout"}, {"canary", o.canary}, {"seeds", o.seeds},
                        {"first_seed", o.first_seed}, {"params", nlohmann::json::array()}};
  for (const std::string& name : o.params) {
    FleetParams p;
    if (!fleet_params_named(name, &p)) return fleet_usage_error("unknown --params " + name);
    std::vector<double> one_node_s;
    const std::vector<FleetCell> cells = run_fleet_cells(p, o, &one_node_s);
    if (o.json) {
      nlohmann::json one = nlohmann::json::array();
      for (double s : one_node_s) one.push_back(round3(s));
      out["params"].push_back({{"figures", params_json(p)},
                               {"upload_one_s", round3(upload_ms(p, 1) / 1e3)},
                               {"reboot_s", round3(reboot_ms(p) / 1e3)},
                               {"one_node_s", one},
                               {"one_node_median_s", round3(median(one_node_s))},
                               {"cells", cells_json(cells)}});
    } else {
      print_params(p, one_node_s, o.canary, o.seeds);
      print_cells(cells, o);
      std::printf("\n");
    }
  }
  if (o.json) std::cout << out.dump(2) << "\n";
  return 0;
}

}  // namespace spore_sim
