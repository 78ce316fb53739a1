// SPDX-License-Identifier: MIT
// Synthetic workload generators. Each kind reads its parameters from a
// key=value map whose defaults are listed in one table, so --help and the
// parser cannot drift apart.
#include "workload.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string_view>
#include <vector>

#include "policies/rng.h"

namespace libshm::internal {
namespace {

struct Param {
  const char* name;
  double default_value;      // NaN: derived from other parameters
  const char* derived_from;  // how, for --help
};

struct Kind {
  const char* name;
  const char* help;
  std::vector<Param> params;
};

constexpr double kDerived = NAN;

// Parameters every kind takes.
const std::vector<Param> kCommon = {
    {"pages", 10000, nullptr},
    {"n", 1000000, nullptr},
    {"write", 0, nullptr},
    {"seed", 1, nullptr},
};

const std::vector<Kind> kKinds = {
    {"zipf", "Zipf(alpha) popularity over the pages", {{"alpha", 0.9, nullptr}}},
    {"uniform", "every page equally likely", {}},
    {"scan",
     "sequential scans of len pages from random starting pages",
     {{"len", kDerived, "pages/10"}}},
    {"loop", "0, 1, ..., pages-1 over and over: a loop larger than memory defeats LRU", {}},
    {"zigzag", "0 .. pages-1 then back down, repeated", {}},
    {"shift",
     "uniform over a working set of ws pages that moves every period references",
     {{"ws", kDerived, "pages/10"}, {"period", kDerived, "n/10"}}},
    {"zipfscan",
     "Zipf over the pages with a scan of fresh pages every period references",
     {{"alpha", 0.9, nullptr}, {"period", 10000, nullptr}, {"scan", kDerived, "pages/10"}}},
    {"twopools",
     "hot pool of hot pages taking hotfrac of references, the rest uniform",
     {{"hot", kDerived, "pages/10"}, {"hotfrac", 0.9, nullptr}}},
};

using Values = std::map<std::string, double, std::less<>>;

bool ParseSpec(const std::string& spec, const Kind** kind, Values* values, std::string* error) {
  size_t colon = spec.find(':');
  std::string_view name = std::string_view(spec).substr(0, colon);
  *kind = nullptr;
  for (const Kind& k : kKinds) {
    if (name == k.name) *kind = &k;
  }
  if (*kind == nullptr) {
    *error = "unknown workload '" + std::string(name) + "' (see shmsim --help)";
    return false;
  }
  for (const auto* list : {&kCommon, &(*kind)->params}) {
    for (const Param& p : *list) (*values)[p.name] = p.default_value;
  }
  std::string_view rest =
      colon == std::string::npos ? std::string_view() : std::string_view(spec).substr(colon + 1);
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    rest.remove_prefix(comma == std::string_view::npos ? rest.size() : comma + 1);
    size_t eq = item.find('=');
    std::string key(item.substr(0, eq));
    auto it = values->find(key);
    if (eq == std::string_view::npos || it == values->end()) {
      *error = "workload " + std::string(name) + ": unknown parameter '" + std::string(item) + "'";
      return false;
    }
    std::string text(item.substr(eq + 1));
    char* end = nullptr;
    double v = std::strtod(text.c_str(), &end);
    if (text.empty() || *end != '\0' || !std::isfinite(v) || v < 0) {
      *error = "workload " + std::string(name) + ": bad value '" + text + "' for " + key;
      return false;
    }
    it->second = v;
  }
  return true;
}

// Zipf ranks by inverse CDF: a binary search over the cumulative weights
// 1/(k+1)^alpha. O(log pages) per draw is fast enough to build traces of
// tens of millions of references in about a second.
class ZipfSampler {
 public:
  ZipfSampler(uint64_t pages, double alpha) : cdf_(pages) {
    double sum = 0;
    for (uint64_t k = 0; k < pages; k++) {
      sum += 1.0 / std::pow(static_cast<double>(k + 1), alpha);
      cdf_[k] = sum;
    }
    for (double& c : cdf_) c /= sum;
  }
  uint64_t Draw(Rng& rng) const {
    auto it = std::upper_bound(cdf_.begin(), cdf_.end(), rng.Uniform());
    return std::min<uint64_t>(static_cast<uint64_t>(it - cdf_.begin()), cdf_.size() - 1);
  }

 private:
  std::vector<double> cdf_;
};

}  // namespace

bool MakeWorkload(const std::string& spec, Trace* trace, std::string* error) {
  const Kind* kind;
  Values v;
  if (!ParseSpec(spec, &kind, &v, error)) return false;
  auto get = [&](const char* key, double derived) { return std::isnan(v[key]) ? derived : v[key]; };
  const uint64_t pages = static_cast<uint64_t>(v["pages"]);
  const uint64_t n = static_cast<uint64_t>(v["n"]);
  const double write = v["write"];
  if (pages < 1 || n < 1 || n >= UINT32_MAX || pages >= (1u << 31) || write > 1) {
    *error = "workload " + spec + ": need 1 <= pages < 2^31, 1 <= n < 2^32, 0 <= write <= 1";
    return false;
  }
  *trace = Trace{};
  trace->name = spec;
  trace->has_writes = write > 0;
  trace->refs.reserve(n);
  TraceBuilder builder(trace);
  Rng rng(static_cast<uint64_t>(v["seed"]));
  Rng rw_rng(static_cast<uint64_t>(v["seed"]) ^ 0x5752495445ull);
  uint64_t emitted = 0;
  auto emit = [&](uint64_t page) {
    if (emitted >= n) return false;
    builder.Add(page, write > 0 && rw_rng.Uniform() < write);
    return ++emitted < n;
  };
  const std::string_view k = kind->name;
  if (k == "zipf" || k == "zipfscan") {
    ZipfSampler zipf(pages, v["alpha"]);
    const uint64_t period = std::max<uint64_t>(1, static_cast<uint64_t>(v["period"]));
    const uint64_t scan = static_cast<uint64_t>(get("scan", static_cast<double>(pages / 10)));
    uint64_t fresh = pages;  // scans touch pages never seen before
    for (uint64_t i = 1;; i++) {
      if (!emit(zipf.Draw(rng))) break;
      if (k == "zipfscan" && i % period == 0) {
        bool more = true;
        for (uint64_t s = 0; s < scan && more; s++) more = emit(fresh++);
        if (!more) break;
      }
    }
  } else if (k == "uniform") {
    while (emit(rng.Below(pages))) {
    }
  } else if (k == "scan") {
    const uint64_t len = std::max<uint64_t>(1, static_cast<uint64_t>(get("len", pages / 10.0)));
    for (bool more = true; more;) {
      uint64_t start = rng.Below(pages);
      for (uint64_t s = 0; s < len && more; s++) more = emit((start + s) % pages);
    }
  } else if (k == "loop") {
    for (uint64_t i = 0; emit(i % pages); i++) {
    }
  } else if (k == "zigzag") {
    for (uint64_t i = 0;; i++) {
      uint64_t pos = i % (2 * pages);
      if (!emit(pos < pages ? pos : 2 * pages - 1 - pos)) break;
    }
  } else if (k == "shift") {
    const uint64_t ws =
        std::clamp<uint64_t>(static_cast<uint64_t>(get("ws", pages / 10.0)), 1, pages);
    const uint64_t period = std::max<uint64_t>(1, static_cast<uint64_t>(get("period", n / 10.0)));
    for (uint64_t i = 0;; i++) {
      uint64_t base = (i / period) * ws;
      if (!emit((base + rng.Below(ws)) % pages)) break;
    }
  } else {  // twopools
    const uint64_t hot =
        std::clamp<uint64_t>(static_cast<uint64_t>(get("hot", pages / 10.0)), 1, pages);
    const double hotfrac = std::min(1.0, v["hotfrac"]);
    const uint64_t cold = std::max<uint64_t>(1, pages - hot);
    for (;;) {
      uint64_t page = rng.Uniform() < hotfrac ? rng.Below(hot) : hot + rng.Below(cold);
      if (!emit(page)) break;
    }
  }
  return true;
}

std::string WorkloadHelp() {
  std::string out;
  auto params = [](const std::vector<Param>& list) {
    std::string s;
    for (const Param& p : list) {
      char buf[32];
      std::snprintf(buf, sizeof(buf), "%.10g", p.default_value);
      s += std::string(" ") + p.name + "=" + (p.derived_from != nullptr ? p.derived_from : buf);
    }
    return s;
  };
  out += "  every kind:" + params(kCommon) + "\n";
  for (const Kind& k : kKinds) {
    out += std::string("  ") + k.name + ":" + params(k.params) + "  - " + k.help + "\n";
  }
  return out;
}

}  // namespace libshm::internal
