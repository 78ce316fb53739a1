// SPDX-License-Identifier: MIT
// Trace readers and the binary writer. Files are read whole through zlib's
// gzread, which passes uncompressed files through unchanged, so every
// format may be gzip-compressed and the format is told by content, not name.
#include "trace.h"

#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <string_view>

#include "policies/rng.h"

namespace libshm::internal {
namespace {

constexpr char kBinaryMagic[8] = {'S', 'H', 'M', 'T', 'R', 'A', 'C', 'E'};
constexpr uint32_t kBinaryVersion = 1;
constexpr uint32_t kBinaryHasWrites = 1u << 0;
constexpr std::string_view kLiveHeader = "# libshm-trace";
// Live traces key a page by region and page index: region in the top 24 bits.
constexpr int kRegionShift = 40;

bool ReadWholeFile(const std::string& path, std::string* data, std::string* error) {
  errno = 0;
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) {
    *error = "cannot open trace '" + path + "': " + std::strerror(errno != 0 ? errno : ENOMEM);
    return false;
  }
  gzbuffer(f, 1 << 20);
  data->clear();
  constexpr size_t kChunk = 1 << 20;
  for (;;) {
    size_t old = data->size();
    data->resize(old + kChunk);
    int n = gzread(f, data->data() + old, kChunk);
    if (n < 0) {
      int zerr = 0;
      *error = "cannot read trace '" + path + "': " + gzerror(f, &zerr);
      gzclose(f);
      return false;
    }
    data->resize(old + static_cast<size_t>(n));
    if (n == 0) break;
  }
  gzclose(f);
  return true;
}

// Splits `data` into lines (LF or CRLF) and calls fn(line, line_number)
// until fn returns false.
template <class Fn>
bool ForEachLine(std::string_view data, Fn fn) {
  size_t line_no = 0;
  while (!data.empty()) {
    size_t end = data.find('\n');
    std::string_view line = data.substr(0, end);
    data.remove_prefix(end == std::string_view::npos ? data.size() : end + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!fn(line, ++line_no)) return false;
  }
  return true;
}

std::string_view NextField(std::string_view* line) {
  size_t start = line->find_first_not_of(" \t");
  if (start == std::string_view::npos) {
    *line = {};
    return {};
  }
  line->remove_prefix(start);
  size_t end = line->find_first_of(" \t");
  std::string_view field = line->substr(0, end);
  line->remove_prefix(end == std::string_view::npos ? line->size() : end);
  return field;
}

// Decimal, or hexadecimal with a 0x prefix.
bool ParseU64(std::string_view s, uint64_t* out) {
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s.remove_prefix(2);
  }
  if (s.empty()) return false;
  uint64_t v = 0;
  for (char c : s) {
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (base == 16 && c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else if (base == 16 && c >= 'A' && c <= 'F') {
      d = c - 'A' + 10;
    } else {
      return false;
    }
    if (v > (UINT64_MAX - static_cast<uint64_t>(d)) / static_cast<uint64_t>(base)) return false;
    v = v * static_cast<uint64_t>(base) + static_cast<uint64_t>(d);
  }
  *out = v;
  return true;
}

std::string LineError(const std::string& path, size_t line_no, std::string_view what) {
  return path + ":" + std::to_string(line_no) + ": " + std::string(what);
}

const char* kTooLarge = "trace too large (at most 2^31 distinct pages and 2^32 references)";

// One page per line, optionally followed by r or w. Blank lines, '#'
// comments and the '*' separator lines of the published LIRS traces are
// skipped.
bool ParsePlain(const std::string& path, std::string_view data, Trace* trace, std::string* error) {
  TraceBuilder builder(trace);
  return ForEachLine(data, [&](std::string_view line, size_t line_no) {
    std::string_view page_field = NextField(&line);
    if (page_field.empty() || page_field[0] == '#' || page_field == "*") return true;
    uint64_t page;
    if (!ParseU64(page_field, &page)) {
      *error =
          LineError(path, line_no, "expected a page number, got '" + std::string(page_field) + "'");
      return false;
    }
    bool write = false;
    std::string_view rw = NextField(&line);
    if (!rw.empty()) {
      if (rw == "w" || rw == "W") {
        write = true;
      } else if (rw != "r" && rw != "R") {
        *error = LineError(path, line_no,
                           "expected r or w after the page, got '" + std::string(rw) + "'");
        return false;
      }
      trace->has_writes = true;
    }
    if (!builder.Add(page, write)) {
      *error = LineError(path, line_no, kTooLarge);
      return false;
    }
    return true;
  });
}

// "key=value" pairs of the live header line.
void ParseLiveHeader(std::string_view line, RecordedRun* run) {
  line.remove_prefix(kLiveHeader.size());
  for (std::string_view field = NextField(&line); !field.empty(); field = NextField(&line)) {
    size_t eq = field.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view key = field.substr(0, eq);
    std::string_view value = field.substr(eq + 1);
    if (key == "policy") run->policy = std::string(value);
    if (key == "limit_pages") ParseU64(value, &run->limit_pages);
  }
}

// Live-recorded trace: "EVENT TIME_NS REGION PAGE FLAG" per line. F (fault),
// P (filled ahead of a fault) and R (reference) lines are the replayed
// stream; E (eviction) and D (discard) lines describe what the recording run
// did. Unknown event letters are skipped so that newer runtimes can add
// events.
bool ParseLive(const std::string& path, std::string_view data, Trace* trace, std::string* error) {
  TraceBuilder builder(trace);
  trace->has_writes = true;
  RecordedRun& run = trace->recorded;
  run.present = true;
  return ForEachLine(data, [&](std::string_view line, size_t line_no) {
    if (line.starts_with(kLiveHeader)) {
      ParseLiveHeader(line, &run);
      return true;
    }
    std::string_view event = NextField(&line);
    if (event.empty() || event[0] == '#') return true;
    if (event.size() != 1 || std::string_view("FPRED").find(event[0]) == std::string_view::npos) {
      return true;
    }
    std::string_view time = NextField(&line);
    std::string_view region = NextField(&line);
    std::string_view page = NextField(&line);
    std::string_view flag = NextField(&line);
    uint64_t t, r, p;
    if (!ParseU64(time, &t) || !ParseU64(region, &r) || !ParseU64(page, &p) || flag.empty()) {
      *error = LineError(path, line_no, "expected 'EVENT TIME_NS REGION PAGE FLAG'");
      return false;
    }
    if (r >= (1ull << (64 - kRegionShift)) || p >= (1ull << kRegionShift)) {
      *error = LineError(path, line_no, "region or page index out of range");
      return false;
    }
    uint64_t key = (r << kRegionShift) | p;
    if (event == "E") {
      run.evictions++;
      if (flag == "d") run.writebacks++;
      return true;
    }
    if (event == "D") return true;
    if (flag != "r" && flag != "w") {
      *error = LineError(path, line_no, "expected r or w, got '" + std::string(flag) + "'");
      return false;
    }
    (event == "F" ? run.faults : event == "P" ? run.fills : run.references)++;
    if (!builder.Add(key, flag == "w")) {
      *error = LineError(path, line_no, kTooLarge);
      return false;
    }
    return true;
  });
}

uint64_t ZigZag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
int64_t UnZigZag(uint64_t v) { return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1); }

template <class T>
T LoadLe(const char* p) {
  T v = 0;
  for (size_t i = 0; i < sizeof(T); i++) v |= static_cast<T>(static_cast<uint8_t>(p[i])) << (8 * i);
  return v;
}

template <class T>
void StoreLe(std::string* out, T v) {
  for (size_t i = 0; i < sizeof(T); i++) out->push_back(static_cast<char>(v >> (8 * i)));
}

constexpr size_t kBinaryHeaderSize = 8 + 4 + 4 + 8;

bool ParseBinary(const std::string& path, std::string_view data, Trace* trace, std::string* error) {
  if (data.size() < kBinaryHeaderSize) {
    *error = path + ": truncated binary trace header";
    return false;
  }
  uint32_t version = LoadLe<uint32_t>(data.data() + 8);
  uint32_t flags = LoadLe<uint32_t>(data.data() + 12);
  uint64_t count = LoadLe<uint64_t>(data.data() + 16);
  if (version != kBinaryVersion) {
    *error = path + ": binary trace version " + std::to_string(version) + " is not supported";
    return false;
  }
  trace->has_writes = (flags & kBinaryHasWrites) != 0;
  if (count < (1ull << 32)) trace->refs.reserve(count);
  TraceBuilder builder(trace);
  const auto* p = reinterpret_cast<const uint8_t*>(data.data() + kBinaryHeaderSize);
  const auto* end = reinterpret_cast<const uint8_t*>(data.data() + data.size());
  uint64_t page = 0;
  for (uint64_t i = 0; i < count; i++) {
    uint64_t v = 0;
    int shift = 0;
    for (;;) {
      if (p == end || shift > 63) {
        *error = path + ": truncated or corrupt binary trace at reference " + std::to_string(i);
        return false;
      }
      uint8_t b = *p++;
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      shift += 7;
      if ((b & 0x80) == 0) break;
    }
    page += static_cast<uint64_t>(UnZigZag(v >> 1));
    if (!builder.Add(page, (v & 1) != 0)) {
      *error = path + ": " + kTooLarge;
      return false;
    }
  }
  if (p != end) {
    *error = path + ": trailing bytes after " + std::to_string(count) + " references";
    return false;
  }
  return true;
}

std::string BaseName(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

bool TraceBuilder::Add(uint64_t page, bool write) {
  uint32_t id = ids_.Find(page);
  if (id == kNoSlot) {
    if (trace_->pages.size() >= (1u << 31)) return false;
    id = static_cast<uint32_t>(trace_->pages.size());
    ids_.Put(page, id);
    trace_->pages.push_back(page);
  }
  if (trace_->refs.size() >= UINT32_MAX) return false;
  trace_->refs.push_back((id << 1) | (write ? 1u : 0u));
  return true;
}

bool LoadTrace(const std::string& path, Trace* trace, std::string* error) {
  *trace = Trace{};
  trace->name = BaseName(path);
  std::string data;
  if (!ReadWholeFile(path, &data, error)) return false;
  std::string_view view(data);
  bool ok;
  if (view.size() >= sizeof(kBinaryMagic) &&
      std::memcmp(view.data(), kBinaryMagic, sizeof(kBinaryMagic)) == 0) {
    ok = ParseBinary(path, view, trace, error);
  } else if (view.starts_with(kLiveHeader)) {
    ok = ParseLive(path, view, trace, error);
  } else {
    ok = ParsePlain(path, view, trace, error);
  }
  if (ok && trace->refs.empty()) {
    *error = path + ": trace has no references";
    ok = false;
  }
  return ok;
}

bool WriteBinaryTrace(const Trace& trace, const std::string& path, std::string* error) {
  std::string out(kBinaryMagic, sizeof(kBinaryMagic));
  StoreLe<uint32_t>(&out, kBinaryVersion);
  StoreLe<uint32_t>(&out, trace.has_writes ? kBinaryHasWrites : 0);
  StoreLe<uint64_t>(&out, trace.refs.size());
  uint64_t prev = 0;
  for (uint32_t ref : trace.refs) {
    uint64_t page = trace.pages[Trace::Id(ref)];
    if (page >= (1ull << 62)) {
      *error = "page " + std::to_string(page) + " does not fit the binary form (< 2^62)";
      return false;
    }
    uint64_t v = (ZigZag(static_cast<int64_t>(page - prev)) << 1) | (Trace::IsWrite(ref) ? 1 : 0);
    prev = page;
    while (v >= 0x80) {
      out.push_back(static_cast<char>(v | 0x80));
      v >>= 7;
    }
    out.push_back(static_cast<char>(v));
  }
  bool gz = path.size() > 3 && path.compare(path.size() - 3, 3, ".gz") == 0;
  errno = 0;
  gzFile f = gzopen(path.c_str(), gz ? "wb9" : "wbT");
  if (f == nullptr) {
    *error = "cannot create '" + path + "': " + std::strerror(errno != 0 ? errno : ENOMEM);
    return false;
  }
  size_t done = 0;
  while (done < out.size()) {
    unsigned chunk = static_cast<unsigned>(std::min<size_t>(out.size() - done, 1u << 30));
    if (gzwrite(f, out.data() + done, chunk) != static_cast<int>(chunk)) {
      int zerr = 0;
      *error = "cannot write '" + path + "': " + gzerror(f, &zerr);
      gzclose(f);
      return false;
    }
    done += chunk;
  }
  if (gzclose(f) != Z_OK) {
    *error = "cannot write '" + path + "'";
    return false;
  }
  return true;
}

void ApplyWriteRatio(Trace* trace, double ratio, uint64_t seed) {
  Rng rng(seed);
  for (uint32_t& ref : trace->refs) ref = (ref & ~1u) | (rng.Uniform() < ratio ? 1u : 0u);
  trace->has_writes = true;
}

}  // namespace libshm::internal
