// SPDX-License-Identifier: MIT
#include "plot.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <string_view>

namespace libshm::internal {
namespace {

// Thirteen distinguishable colours, one per built-in policy; OPT is drawn
// black and dashed as the floor.
constexpr const char* kColours[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
                                    "#393b79", "#ad494a", "#637939"};

std::string Stem(const std::string& name) {
  std::string stem = name;
  for (std::string_view suffix : {".gz", ".trace", ".bin", ".txt"}) {
    if (stem.size() > suffix.size() && stem.ends_with(suffix)) {
      stem.resize(stem.size() - suffix.size());
    }
  }
  for (char& c : stem) {
    if (c == '/' || c == ':' || c == ',' || c == '=' || c == ' ') c = '_';
  }
  return stem;
}

std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

std::string Terminal(const std::string& ext) {
  return ext == "png" ? "set terminal pngcairo size 1000,600 font 'sans,11'\n"
                      : "set terminal svg size 1000,600 font 'sans,11' background rgb 'white'\n";
}

// One plot: each series is (title, points); the script goes to gnuplot on a pipe.
struct Series {
  std::string title;
  std::string points;  // "x y\n" lines
};

bool RunGnuplot(const std::string& output, const std::string& setup,
                const std::vector<Series>& series, std::string* error) {
  std::string script = setup;
  script += "set output " + Quote(output) + "\n";
  for (size_t i = 0; i < series.size(); i++) {
    script += "$d" + std::to_string(i) + " << EOD\n" + series[i].points + "EOD\n";
  }
  script += "plot ";
  size_t colour = 0;
  for (size_t i = 0; i < series.size(); i++) {
    bool floor = series[i].title == "opt";
    if (i != 0) script += ", ";
    script += "$d" + std::to_string(i) + " with linespoints title " + Quote(series[i].title);
    if (floor) {
      script += " lw 2 dt 2 pt 7 ps 0.5 lc rgb 'black'";
    } else {
      script += " lw 1.5 pt 7 ps 0.5 lc rgb '";
      script += kColours[colour++ % std::size(kColours)];
      script += "'";
    }
  }
  script += "\n";
  std::FILE* pipe = popen("gnuplot", "w");
  if (pipe == nullptr) {
    *error = "cannot run gnuplot";
    return false;
  }
  std::fwrite(script.data(), 1, script.size(), pipe);
  int status = pclose(pipe);
  if (status != 0) {
    *error = "gnuplot failed drawing " + output;
    return false;
  }
  return true;
}

}  // namespace

bool HaveGnuplot() {
  const char* path = std::getenv("PATH");
  std::string_view rest = path != nullptr ? path : "/usr/bin:/bin";
  while (!rest.empty()) {
    size_t colon = rest.find(':');
    std::string dir(rest.substr(0, colon));
    rest.remove_prefix(colon == std::string_view::npos ? rest.size() : colon + 1);
    if (access((dir + "/gnuplot").c_str(), X_OK) == 0) return true;
  }
  return false;
}

bool WritePlots(const TraceReport& report, const std::string& dir, const std::string& ext,
                std::vector<std::string>* written, std::string* error) {
  const std::string stem = dir + "/" + Stem(report.name);
  // Policies in first-seen order, each with its rows in size order.
  std::vector<std::string> order;
  std::map<std::string, std::vector<const Row*>> by_policy;
  std::map<size_t, std::vector<const Row*>> by_size;
  for (const Row& row : report.rows) {
    if (by_policy.find(row.policy) == by_policy.end()) order.push_back(row.policy);
    by_policy[row.policy].push_back(&row);
    by_size[row.size].push_back(&row);
  }
  const std::string common = Terminal(ext) +
                             "set grid\nset key outside right top\n"
                             "set ylabel 'miss ratio'\nset yrange [0:*]\n";
  if (by_size.size() >= 2) {
    std::vector<Series> series;
    for (const std::string& policy : order) {
      Series s{policy, ""};
      for (const Row* row : by_policy[policy]) {
        char line[64];
        std::snprintf(line, sizeof(line), "%.4f %.6f\n",
                      100.0 * static_cast<double>(row->size) / static_cast<double>(report.distinct),
                      row->miss_ratio());
        s.points += line;
      }
      series.push_back(std::move(s));
    }
    std::string setup = common + "set title " + Quote("miss-ratio curve: " + report.name) +
                        " noenhanced\nset xlabel 'memory (% of distinct pages)'\n";
    std::string out = stem + "-mrc." + ext;
    if (!RunGnuplot(out, setup, series, error)) return false;
    written->push_back(out);
  }
  if (report.window != 0) {
    for (const auto& [size, rows] : by_size) {
      std::vector<Series> series;
      for (const Row* row : rows) {
        Series s{row->policy, ""};
        for (size_t w = 0; w < row->window_faults.size(); w++) {
          uint64_t start = w * report.window;
          uint64_t len = std::min<uint64_t>(report.window, report.requests - start);
          char line[64];
          std::snprintf(line, sizeof(line), "%llu %.6f\n",
                        static_cast<unsigned long long>(start + len),
                        static_cast<double>(row->window_faults[w]) / static_cast<double>(len));
          s.points += line;
        }
        if (!s.points.empty()) series.push_back(std::move(s));
      }
      if (series.empty()) continue;
      std::string setup =
          common + "set title " +
          Quote("miss ratio over time: " + report.name + ", " + std::to_string(size) + " pages") +
          " noenhanced\nset xlabel 'references'\nset format x '%.0s%c'\n";
      std::string out = stem + "-time-" + std::to_string(size) + "." + ext;
      if (!RunGnuplot(out, setup, series, error)) return false;
      written->push_back(out);
    }
  }
  return true;
}

}  // namespace libshm::internal
