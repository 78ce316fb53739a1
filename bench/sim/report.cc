// SPDX-License-Identifier: MIT
#include "report.h"

#include <algorithm>
#include <map>
#include <string_view>

namespace libshm::internal {
namespace {

std::string Fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, v);
  return buf;
}

std::string Throughput(const Row& row) {
  if (row.seconds <= 0) return "-";
  return Fixed(static_cast<double>(row.requests) / row.seconds / 1e6, 1);
}

std::string Gap(const Row& row) {
  if (row.opt_miss_ratio < 0) return "-";
  // Never negative: OPT is the floor.
  std::string gap = "+";
  gap += Fixed(row.miss_ratio() - row.opt_miss_ratio, 4);
  return gap;
}

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string CsvField(std::string_view s) {
  if (s.find_first_of(",\"\n") == std::string_view::npos) return std::string(s);
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

void PrintLine(const TraceReport& r, const Row& row, std::FILE* out) {
  std::fprintf(out,
               "trace=%s policy=%s size=%zu requests=%llu faults=%llu miss_ratio=%s "
               "writebacks=%llu opt_miss_ratio=%s gap_to_opt=%s mreq_per_s=%s",
               r.name.c_str(), row.policy.c_str(), row.size,
               static_cast<unsigned long long>(row.requests),
               static_cast<unsigned long long>(row.faults), Fixed(row.miss_ratio(), 6).c_str(),
               static_cast<unsigned long long>(row.writebacks),
               row.opt_miss_ratio < 0 ? "-" : Fixed(row.opt_miss_ratio, 6).c_str(),
               Gap(row).c_str(), Throughput(row).c_str());
  if (row.sampling_faults != 0) {
    std::fprintf(out, " sampling_faults=%llu",
                 static_cast<unsigned long long>(row.sampling_faults));
  }
  if (r.recorded.present) {
    std::fprintf(out,
                 " recorded_policy=%s recorded_faults=%llu recorded_fills=%llu "
                 "recorded_writebacks=%llu",
                 r.recorded.policy.empty() ? "?" : r.recorded.policy.c_str(),
                 static_cast<unsigned long long>(r.recorded.faults),
                 static_cast<unsigned long long>(r.recorded.fills),
                 static_cast<unsigned long long>(r.recorded.writebacks));
  }
  std::fprintf(out, "\n");
}

void PrintTable(const TraceReport& r, std::FILE* out) {
  std::fprintf(out, "trace %s: %llu references, %llu distinct pages, writes: %s\n", r.name.c_str(),
               static_cast<unsigned long long>(r.requests),
               static_cast<unsigned long long>(r.distinct), r.writes.c_str());
  if (r.recorded.present) {
    std::fprintf(out,
                 "recorded run: policy=%s limit_pages=%llu faults=%llu fills=%llu "
                 "references=%llu evictions=%llu writebacks=%llu\n",
                 r.recorded.policy.empty() ? "?" : r.recorded.policy.c_str(),
                 static_cast<unsigned long long>(r.recorded.limit_pages),
                 static_cast<unsigned long long>(r.recorded.faults),
                 static_cast<unsigned long long>(r.recorded.fills),
                 static_cast<unsigned long long>(r.recorded.references),
                 static_cast<unsigned long long>(r.recorded.evictions),
                 static_cast<unsigned long long>(r.recorded.writebacks));
  }
  std::fprintf(out, "%10s %6s  %-10s %10s %10s  %-9s %10s %8s\n", "size", "%", "policy", "faults",
               "miss_ratio", "gap_opt", "writebacks", "Mref/s");
  size_t prev_size = r.rows.empty() ? 0 : r.rows.front().size;
  for (const Row& row : r.rows) {
    if (row.size != prev_size) std::fprintf(out, "\n");
    prev_size = row.size;
    double pct = 100.0 * static_cast<double>(row.size) / static_cast<double>(r.distinct);
    std::fprintf(out, "%10zu %6s  %-10s %10llu %10s%s %-9s %10llu %8s%s\n", row.size,
                 Fixed(pct, 1).c_str(), row.policy.c_str(),
                 static_cast<unsigned long long>(row.faults), Fixed(row.miss_ratio(), 4).c_str(),
                 row.best ? "*" : " ", Gap(row).c_str(),
                 static_cast<unsigned long long>(row.writebacks), Throughput(row).c_str(),
                 std::string_view(row.method) == "stack" ? "  (stack distance)" : "");
  }
}

void PrintCsv(const std::vector<TraceReport>& reports, std::FILE* out) {
  std::fprintf(out,
               "trace,policy,size,size_pct,requests,faults,miss_ratio,writebacks,"
               "opt_miss_ratio,gap_to_opt,mreq_per_s,method,best,sampling_faults\n");
  for (const TraceReport& r : reports) {
    for (const Row& row : r.rows) {
      double pct = 100.0 * static_cast<double>(row.size) / static_cast<double>(r.distinct);
      std::fprintf(out, "%s,%s,%zu,%s,%llu,%llu,%s,%llu,%s,%s,%s,%s,%d,%llu\n",
                   CsvField(r.name).c_str(), CsvField(row.policy).c_str(), row.size,
                   Fixed(pct, 2).c_str(), static_cast<unsigned long long>(row.requests),
                   static_cast<unsigned long long>(row.faults), Fixed(row.miss_ratio(), 6).c_str(),
                   static_cast<unsigned long long>(row.writebacks),
                   row.opt_miss_ratio < 0 ? "" : Fixed(row.opt_miss_ratio, 6).c_str(),
                   row.opt_miss_ratio < 0 ? "" : Gap(row).c_str(),
                   row.seconds <= 0 ? "" : Throughput(row).c_str(), row.method, row.best ? 1 : 0,
                   static_cast<unsigned long long>(row.sampling_faults));
    }
  }
}

void PrintJson(const std::vector<TraceReport>& reports, std::FILE* out) {
  std::fprintf(out, "{\"traces\": [");
  for (size_t t = 0; t < reports.size(); t++) {
    const TraceReport& r = reports[t];
    std::fprintf(out, "%s\n  {\"name\": %s, \"requests\": %llu, \"distinct\": %llu, \"writes\": %s",
                 t == 0 ? "" : ",", JsonString(r.name).c_str(),
                 static_cast<unsigned long long>(r.requests),
                 static_cast<unsigned long long>(r.distinct), JsonString(r.writes).c_str());
    if (r.recorded.present) {
      std::fprintf(out,
                   ",\n   \"recorded\": {\"policy\": %s, \"limit_pages\": %llu, \"faults\": %llu, "
                   "\"fills\": %llu, \"references\": %llu, \"evictions\": %llu, "
                   "\"writebacks\": %llu}",
                   JsonString(r.recorded.policy).c_str(),
                   static_cast<unsigned long long>(r.recorded.limit_pages),
                   static_cast<unsigned long long>(r.recorded.faults),
                   static_cast<unsigned long long>(r.recorded.fills),
                   static_cast<unsigned long long>(r.recorded.references),
                   static_cast<unsigned long long>(r.recorded.evictions),
                   static_cast<unsigned long long>(r.recorded.writebacks));
    }
    if (r.window != 0) {
      std::fprintf(out, ", \"window\": %llu", static_cast<unsigned long long>(r.window));
    }
    std::fprintf(out, ",\n   \"results\": [");
    for (size_t i = 0; i < r.rows.size(); i++) {
      const Row& row = r.rows[i];
      std::fprintf(out,
                   "%s\n    {\"policy\": %s, \"size\": %zu, \"requests\": %llu, \"faults\": %llu, "
                   "\"miss_ratio\": %s, \"writebacks\": %llu",
                   i == 0 ? "" : ",", JsonString(row.policy).c_str(), row.size,
                   static_cast<unsigned long long>(row.requests),
                   static_cast<unsigned long long>(row.faults), Fixed(row.miss_ratio(), 6).c_str(),
                   static_cast<unsigned long long>(row.writebacks));
      if (row.opt_miss_ratio >= 0) {
        std::fprintf(out, ", \"opt_miss_ratio\": %s, \"gap_to_opt\": %s",
                     Fixed(row.opt_miss_ratio, 6).c_str(),
                     Fixed(row.miss_ratio() - row.opt_miss_ratio, 6).c_str());
      }
      if (row.seconds > 0) std::fprintf(out, ", \"mreq_per_s\": %s", Throughput(row).c_str());
      if (row.sampling_faults != 0) {
        std::fprintf(out, ", \"sampling_faults\": %llu",
                     static_cast<unsigned long long>(row.sampling_faults));
      }
      std::fprintf(out, ", \"method\": \"%s\", \"best\": %s", row.method,
                   row.best ? "true" : "false");
      if (!row.window_faults.empty()) {
        std::fprintf(out, ", \"window_faults\": [");
        for (size_t w = 0; w < row.window_faults.size(); w++) {
          std::fprintf(out, "%s%u", w == 0 ? "" : ",", row.window_faults[w]);
        }
        std::fprintf(out, "]");
      }
      std::fprintf(out, "}");
    }
    std::fprintf(out, "]}");
  }
  std::fprintf(out, "\n]}\n");
}

std::string ShortName(const std::string& name) {
  std::string s = name;
  for (std::string_view suffix : {".gz", ".trace"}) {
    if (s.size() > suffix.size() && s.ends_with(suffix)) s.resize(s.size() - suffix.size());
  }
  return s;
}

void PrintMarkdown(const std::vector<TraceReport>& reports, std::FILE* out) {
  std::vector<std::string> policies;
  for (const TraceReport& r : reports) {
    for (const Row& row : r.rows) {
      if (std::find(policies.begin(), policies.end(), row.policy) == policies.end()) {
        policies.push_back(row.policy);
      }
    }
  }
  std::fprintf(out, "| trace | memory |");
  for (const std::string& p : policies) std::fprintf(out, " %s |", p.c_str());
  std::fprintf(out, "\n|---|---:|");
  for (size_t i = 0; i < policies.size(); i++) std::fprintf(out, "---:|");
  std::fprintf(out, "\n");
  for (const TraceReport& r : reports) {
    std::map<size_t, std::map<std::string, const Row*>> grid;
    for (const Row& row : r.rows) grid[row.size][row.policy] = &row;
    for (const auto& [size, cells] : grid) {
      double pct = 100.0 * static_cast<double>(size) / static_cast<double>(r.distinct);
      std::fprintf(out, "| %s | %zu (%s%%) |", ShortName(r.name).c_str(), size,
                   Fixed(pct, 0).c_str());
      for (const std::string& p : policies) {
        auto it = cells.find(p);
        if (it == cells.end()) {
          std::fprintf(out, " |");
        } else if (it->second->best) {
          std::fprintf(out, " **%s** |", Fixed(it->second->miss_ratio(), 4).c_str());
        } else {
          std::fprintf(out, " %s |", Fixed(it->second->miss_ratio(), 4).c_str());
        }
      }
      std::fprintf(out, "\n");
    }
  }
}

}  // namespace

void MarkBest(TraceReport* report) {
  std::map<size_t, uint64_t> best;
  for (const Row& row : report->rows) {
    if (row.policy == "opt") continue;
    auto [it, fresh] = best.emplace(row.size, row.faults);
    if (!fresh) it->second = std::min(it->second, row.faults);
  }
  for (Row& row : report->rows) {
    auto it = best.find(row.size);
    row.best = row.policy != "opt" && it != best.end() && row.faults == it->second;
  }
}

void PrintReports(const std::vector<TraceReport>& reports, Format format, std::FILE* out) {
  switch (format) {
    case Format::kCsv:
      PrintCsv(reports, out);
      return;
    case Format::kJson:
      PrintJson(reports, out);
      return;
    case Format::kMarkdown:
      PrintMarkdown(reports, out);
      return;
    case Format::kTable:
      break;
  }
  for (size_t t = 0; t < reports.size(); t++) {
    const TraceReport& r = reports[t];
    if (r.rows.size() == 1) {
      PrintLine(r, r.rows.front(), out);
      continue;
    }
    if (t != 0) std::fprintf(out, "\n");
    PrintTable(r, out);
  }
}

}  // namespace libshm::internal
