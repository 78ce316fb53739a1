// SPDX-License-Identifier: MIT
// libshm_fast: the rows of issue 5 ("Fast"), each a libshm measurement next
// to its baseline measured in the same process, right before or after it
// (--order says which goes first; run.sh alternates it run by run).
//
//   libshm_fast CASE [--order 0|1] [--pin none|same|split] [--mib N]
//                    [--variant LABEL]
//
// CASE is one of
//   resident        random 8-byte reads + read-modify-writes over a resident
//                   region vs the kernel's MAP_SHARED|MAP_ANONYMOUS
//   first_touch     first touch of a fresh region, every 4 KiB page written
//                   in address order and in a random order, vs the kernel
//   evicted_read    sequential read of a fully evicted region (its swap file
//                   in the page cache) vs the kernel's first-touch read
//   refault         random 4 KiB refault latency vs a raw uffd round trip
//                   (+ a 4 KiB pread from a file in /var/tmp)
//   first_write     first write to a clean page vs a raw synchronous WP
//                   round trip
//   evict_dirty     eviction of a dirty region: written-back bytes per second
//                   vs O_DIRECT sequential writes on the same file system
//   evict_clean     eviction of clean pages: swap I/O seen from the helper's
//                   /proc/<pid>/io, the swap file's blocks and the stats
//
// Prints one JSON object on stdout; report.py takes medians over runs.
// Every case checks what it read back (outside the timed regions where it
// costs more than a compare); a failed check prints "CHECK FAILED" and exits 1.
// LIBSHM_LIMIT defaults to 2G here (above every region: nothing is evicted
// unless the case asks for it); other LIBSHM_* variables pass through.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "libshm/libshm.h"
#include "raw_uffd.h"

namespace libshm_fast {
namespace {

constexpr size_t kPage = 4096;
constexpr size_t kWords = kPage / sizeof(uint64_t);
constexpr size_t kMiB = 1 << 20;

int order_flag = 0;               // 0: baseline first; 1: libshm first
size_t mib = 0;                   // region size override (0: each case's default)
std::string pin = "none";         // none | same | split (see main)
std::string variant = "default";  // a label for the report (e.g. the LIBSHM_* set)

// ---------------------------------------------------------------- helpers

uint64_t NowNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

[[noreturn]] void CheckFailed(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void CheckFailed(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "CHECK FAILED: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  exit(1);
}

inline uint64_t Stamp(uint64_t page, uint64_t gen) {
  return (page * 0x9e3779b97f4a7c15ull) ^ (gen << 48) ^ 0x5bd1e995ull;
}

inline void FillPage(uint64_t* p, uint64_t page, uint64_t gen) {
  uint64_t v = Stamp(page, gen);
  for (size_t j = 0; j < kWords; j++) p[j] = v + j;
}

// Sum of a page FillPage wrote: 512 * stamp + (0 + 1 + ... + 511), mod 2^64.
inline uint64_t PageSum(uint64_t page, uint64_t gen) {
  return Stamp(page, gen) * kWords + kWords * (kWords - 1) / 2;
}

std::vector<uint32_t> Permutation(size_t n, uint64_t seed) {
  std::vector<uint32_t> v(n);
  for (size_t i = 0; i < n; i++) v[i] = static_cast<uint32_t>(i);
  std::mt19937_64 rng(seed);
  std::shuffle(v.begin(), v.end(), rng);
  return v;
}

struct Rng {  // xorshift64*
  uint64_t s;
  uint64_t Next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 0x2545f4914f6cdd1dull;
  }
};

double Percentile(std::vector<uint32_t> v, double q) {
  if (v.empty()) return 0;
  size_t k = static_cast<size_t>(q * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return v[k];
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// One flat JSON object, built up field by field.
class Json {
 public:
  void Num(const char* k, double v) {
    char b[64];
    snprintf(b, sizeof(b), "%.6g", v);
    Raw(k, b);
  }
  void Str(const char* k, const std::string& v) { Raw(k, "\"" + v + "\""); }
  void Print() const { printf("{%s}\n", s_.c_str()); }

 private:
  void Raw(const char* k, const std::string& v) {
    if (!s_.empty()) s_ += ", ";
    s_ += "\"" + std::string(k) + "\": " + v;
  }
  std::string s_;
};

// Runs `baseline` and `libshm` in the order --order asks for.
void InOrder(const std::function<void()>& baseline, const std::function<void()>& libshm) {
  if (order_flag == 0) {
    baseline();
    libshm();
  } else {
    libshm();
    baseline();
  }
}

// ---------------------------------------------------------------- mappings

enum class Backend { kLibshm, kKernel, kMemfd };

class Mapping {
 public:
  Mapping(Backend b, size_t bytes) : backend_(b), bytes_(bytes) {
    void* p = nullptr;
    if (b == Backend::kLibshm) {
      int rc = libshm_map(nullptr, bytes, PROT_READ | PROT_WRITE, 0, &p);
      if (rc != 0) CheckFailed("libshm_map(%zu): %s", bytes, strerror(-rc));
    } else if (b == Backend::kKernel) {
      p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) CheckFailed("mmap: %s", strerror(errno));
    } else {
      memfd_ = memfd_create("libshm_fast", MFD_CLOEXEC);
      if (memfd_ < 0 || ftruncate(memfd_, static_cast<off_t>(bytes)) != 0) {
        CheckFailed("memfd: %s", strerror(errno));
      }
      p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, memfd_, 0);
      if (p == MAP_FAILED) CheckFailed("mmap memfd: %s", strerror(errno));
    }
    data_ = static_cast<char*>(p);
  }
  ~Mapping() { Unmap(); }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;

  void Unmap() {
    if (data_ == nullptr) return;
    if (backend_ == Backend::kLibshm) {
      int rc = libshm_unmap(data_, bytes_);
      if (rc != 0) CheckFailed("libshm_unmap: %s", strerror(-rc));
    } else {
      munmap(data_, bytes_);
    }
    if (memfd_ >= 0) close(memfd_);
    memfd_ = -1;
    data_ = nullptr;
  }
  char* data() const { return data_; }
  uint64_t* page(size_t i) const { return reinterpret_cast<uint64_t*>(data_ + i * kPage); }
  size_t pages() const { return bytes_ / kPage; }
  size_t bytes() const { return bytes_; }
  int memfd() const { return memfd_; }

 private:
  Backend backend_;
  size_t bytes_;
  char* data_ = nullptr;
  int memfd_ = -1;
};

int MemfdOf(const Mapping& m) { return m.memfd(); }

// ---------------------------------------------------------------- libshm session

libshm_stats_t Stats() {
  libshm_stats_t s;
  memset(&s, 0, sizeof(s));
  s.size = sizeof(s);
  int rc = libshm_stats(&s);
  if (rc != 0) CheckFailed("libshm_stats: %s", strerror(-rc));
  return s;
}

uint64_t CtlNumber(const char* name) {
  uint64_t v = 0;
  size_t len = sizeof(v);
  int rc = libshm_ctl(name, &v, &len, nullptr, 0);
  if (rc != 0) CheckFailed("libshm_ctl(%s): %s", name, strerror(-rc));
  return v;
}

std::string CtlString(const char* name) {
  char buf[128] = {};
  size_t len = sizeof(buf);
  int rc = libshm_ctl(name, buf, &len, nullptr, 0);
  return rc == 0 ? std::string(buf) : std::string("?");
}

void EvictAll() {
  uint64_t zero = 0;
  int rc = libshm_ctl("evict.run", nullptr, nullptr, &zero, sizeof(zero));
  if (rc != 0) CheckFailed("evict.run: %s", strerror(-rc));
}

// After an unmap the helper may still be tearing the region down: wait (up
// to 2 s) until nothing is resident, so it does not run under the next case.
void WaitNothingResident() {
  for (int i = 0; i < 200; i++) {
    libshm_stats_t s = Stats();
    if (s.resident_bytes == 0 && s.regions == 0) return;
    usleep(10000);
  }
  CheckFailed("pages still resident 2 s after unmap");
}

pid_t HelperPid() { return static_cast<pid_t>(CtlNumber("session.helper_pid")); }

// The helper's cumulative I/O counters (/proc/<pid>/io).
struct ProcIo {
  uint64_t wchar = 0, write_bytes = 0, syscw = 0;
};

ProcIo ReadProcIo(pid_t pid) {
  char path[64], key[64];
  snprintf(path, sizeof(path), "/proc/%d/io", static_cast<int>(pid));
  FILE* f = fopen(path, "re");
  if (f == nullptr) CheckFailed("open %s: %s", path, strerror(errno));
  ProcIo io;
  unsigned long long v;
  while (fscanf(f, "%63[^:]: %llu\n", key, &v) == 2) {
    if (strcmp(key, "wchar") == 0) io.wchar = v;
    if (strcmp(key, "write_bytes") == 0) io.write_bytes = v;
    if (strcmp(key, "syscw") == 0) io.syscw = v;
  }
  fclose(f);
  return io;
}

// CPU time and context switches of every thread of `pid`
// (/proc/<pid>/task/*/schedstat and status).
struct ProcCpu {
  uint64_t run_ns = 0, wait_ns = 0, switches = 0;
};

ProcCpu ReadProcCpu(pid_t pid) {
  ProcCpu c;
  char dir[64];
  snprintf(dir, sizeof(dir), "/proc/%d/task", static_cast<int>(pid));
  DIR* d = opendir(dir);
  if (d == nullptr) return c;
  while (struct dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::string base = std::string(dir) + "/" + e->d_name;
    if (FILE* f = fopen((base + "/schedstat").c_str(), "re")) {
      unsigned long long run = 0, wait = 0;
      if (fscanf(f, "%llu %llu", &run, &wait) == 2) {
        c.run_ns += run;
        c.wait_ns += wait;
      }
      fclose(f);
    }
    if (FILE* f = fopen((base + "/status").c_str(), "re")) {
      char line[256];
      unsigned long long v;
      while (fgets(line, sizeof(line), f) != nullptr) {
        if (sscanf(line, "voluntary_ctxt_switches: %llu", &v) == 1 ||
            sscanf(line, "nonvoluntary_ctxt_switches: %llu", &v) == 1) {
          c.switches += v;
        }
      }
      fclose(f);
    }
  }
  closedir(d);
  return c;
}

// Adds <prefix>cpu_us_per_fault and <prefix>switches_per_fault to `j`.
void CpuFields(Json& j, const std::string& prefix, const ProcCpu& a, const ProcCpu& b,
               double faults) {
  if (faults <= 0) return;
  j.Num((prefix + "cpu_us_per_fault").c_str(),
        static_cast<double>(b.run_ns - a.run_ns) / faults / 1e3);
  j.Num((prefix + "switches_per_fault").c_str(),
        static_cast<double>(b.switches - a.switches) / faults);
}

// "/proc/<helper>/fd/N" of the helper's swap file (an unlinked file in the
// swap directory), or "" if not found.
std::string SwapFilePath(pid_t pid) {
  std::string dir = CtlString("opt.swap_dir");
  char fddir[64];
  snprintf(fddir, sizeof(fddir), "/proc/%d/fd", static_cast<int>(pid));
  DIR* d = opendir(fddir);
  if (d == nullptr) return "";
  std::string found;
  while (struct dirent* e = readdir(d)) {
    std::string p = std::string(fddir) + "/" + e->d_name;
    char target[4096];
    ssize_t n = readlink(p.c_str(), target, sizeof(target) - 1);
    if (n <= 0) continue;
    target[n] = '\0';
    std::string t(target);
    if (t.rfind(dir + "/", 0) == 0 && t.find("(deleted)") != std::string::npos) found = p;
  }
  closedir(d);
  return found;
}

struct FileInfo {
  uint64_t size = 0, blocks_bytes = 0, cached_bytes = 0;
};

// Size, allocated blocks and page-cache residency (mincore) of a file.
FileInfo StatFile(const std::string& path, bool residency) {
  FileInfo fi;
  struct stat st;
  if (path.empty() || stat(path.c_str(), &st) != 0) return fi;
  fi.size = static_cast<uint64_t>(st.st_size);
  fi.blocks_bytes = static_cast<uint64_t>(st.st_blocks) * 512;
  if (!residency || st.st_size == 0) return fi;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fi;
  size_t len = static_cast<size_t>(st.st_size);
  void* p = mmap(nullptr, len, PROT_READ, MAP_SHARED, fd, 0);
  if (p != MAP_FAILED) {
    std::vector<unsigned char> vec((len + kPage - 1) / kPage);
    if (mincore(p, len, vec.data()) == 0) {
      for (unsigned char c : vec) fi.cached_bytes += (c & 1) ? kPage : 0;
    }
    munmap(p, len);
  }
  close(fd);
  return fi;
}

void CommonFields(Json& j, const char* name) {
  j.Str("case", name);
  j.Str("pin", pin);
  j.Str("variant", variant);
  j.Num("order", order_flag);
  j.Num("helper_pid", HelperPid());
  double load[3] = {0, 0, 0};
  if (getloadavg(load, 3) > 0) j.Num("loadavg1", load[0]);
}

// Pins every thread of `pid` (0: this process) to `cpu`; false if it cannot.
bool PinProcess(pid_t pid, int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (pid == 0) return sched_setaffinity(0, sizeof(set), &set) == 0;
  char dir[64];
  snprintf(dir, sizeof(dir), "/proc/%d/task", static_cast<int>(pid));
  DIR* d = opendir(dir);
  if (d == nullptr) return false;
  bool ok = true;
  while (struct dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    ok &= sched_setaffinity(atoi(e->d_name), sizeof(set), &set) == 0;
  }
  closedir(d);
  return ok;
}

// ---------------------------------------------------------------- row 1

constexpr uint64_t kResidentOps = 8u << 20;

// ns per op (one random read + one random increment) over a resident region.
double ResidentPass(uint64_t* w, uint64_t mask, uint64_t seed, uint64_t* acc) {
  Rng rng{seed};
  uint64_t t0 = NowNs();
  for (uint64_t i = 0; i < kResidentOps; i++) {
    *acc += w[rng.Next() & mask];
    w[rng.Next() & mask]++;
  }
  return static_cast<double>(NowNs() - t0) / static_cast<double>(kResidentOps);
}

uint64_t SumWords(const Mapping& m) {
  const uint64_t* w = m.page(0);
  uint64_t sum = 0;
  for (size_t i = 0; i < m.bytes() / sizeof(uint64_t); i++) sum += w[i];
  return sum;
}

void CaseResident() {
  const size_t bytes = (mib ? mib : 256) * kMiB;  // a power of two
  const uint64_t mask = bytes / sizeof(uint64_t) - 1;
  if ((bytes & (bytes - 1)) != 0) CheckFailed("--mib must be a power of two for resident");
  Mapping lib(Backend::kLibshm, bytes), ker(Backend::kKernel, bytes);
  for (size_t pg = 0; pg < lib.pages(); pg++) {
    FillPage(lib.page(pg), pg, 1);
    FillPage(ker.page(pg), pg, 1);
  }
  uint64_t lib_expected = SumWords(lib), ker_expected = SumWords(ker);
  libshm_stats_t s0 = Stats();
  if (s0.resident_bytes != bytes || s0.dirty_bytes != bytes) {
    CheckFailed("libshm region not resident and dirty after the warm-up");
  }
  // Five alternating passes each; the median pass of each backend counts.
  std::vector<double> lib_ns, ker_ns;
  uint64_t acc = 0;
  for (int rep = 0; rep < 5; rep++) {
    uint64_t seed = 0x243f6a8885a308d3ull + static_cast<uint64_t>(rep);
    InOrder(
        [&] {
          ker_ns.push_back(ResidentPass(ker.page(0), mask, seed, &acc));
          ker_expected += kResidentOps;
        },
        [&] {
          lib_ns.push_back(ResidentPass(lib.page(0), mask, seed, &acc));
          lib_expected += kResidentOps;
        });
  }
  libshm_stats_t s1 = Stats();
  if (SumWords(lib) != lib_expected || SumWords(ker) != ker_expected) {
    CheckFailed("resident: sum of words is off (lost or doubled increments)");
  }
  asm volatile("" : : "r"(acc));  // keep the reads
  Json j;
  CommonFields(j, "resident");
  j.Num("region_mib", static_cast<double>(bytes / kMiB));
  j.Num("ops_per_pass", static_cast<double>(kResidentOps));
  j.Num("kernel_ns_per_op", Median(ker_ns));
  j.Num("libshm_ns_per_op", Median(lib_ns));
  // Throughput ratio (>= 0.98 is the target): kernel time / libshm time.
  j.Num("ratio", Median(ker_ns) / Median(lib_ns));
  j.Num("libshm_faults", static_cast<double>(s1.faults - s0.faults));
  j.Num("libshm_wp_faults", static_cast<double>(s1.wp_faults - s0.wp_faults));
  j.Num("libshm_samples", static_cast<double>(s1.samples - s0.samples));
  j.Num("libshm_sample_hits", static_cast<double>(s1.sample_hits - s0.sample_hits));
  lib.Unmap();
  WaitNothingResident();
  j.Print();
}

// ---------------------------------------------------------------- row 2

// Writes every page of a fresh region (FillPage: 4 KiB of stores) in `order`
// (address order if empty). Returns MB/s; checks a sample of pages.
double FirstTouchPass(Backend b, size_t bytes, const std::vector<uint32_t>& order, uint64_t gen,
                      double* faults_per_page) {
  Mapping m(b, bytes);
  libshm_stats_t s0{};
  if (b == Backend::kLibshm) s0 = Stats();
  const size_t pages = m.pages();
  uint64_t t0 = NowNs();
  for (size_t i = 0; i < pages; i++) {
    size_t pg = order.empty() ? i : order[i];
    FillPage(m.page(pg), pg, gen);
  }
  uint64_t ns = NowNs() - t0;
  for (size_t pg = 0; pg < pages; pg += 97) {
    if (m.page(pg)[0] != Stamp(pg, gen) || m.page(pg)[kWords - 1] != Stamp(pg, gen) + kWords - 1) {
      CheckFailed("first touch: page %zu does not hold what was written", pg);
    }
  }
  if (b == Backend::kLibshm) {
    libshm_stats_t s1 = Stats();
    if (s1.resident_bytes != bytes || s1.dirty_bytes != bytes || s1.evictions != s0.evictions) {
      CheckFailed("first touch: resident %llu dirty %llu evictions +%llu",
                  (unsigned long long)s1.resident_bytes, (unsigned long long)s1.dirty_bytes,
                  (unsigned long long)(s1.evictions - s0.evictions));
    }
    *faults_per_page = static_cast<double>(s1.faults - s0.faults) / static_cast<double>(pages);
    m.Unmap();
    WaitNothingResident();
  }
  return static_cast<double>(bytes) / static_cast<double>(ns) * 1e3;
}

// Pages of `m` in the page cache (mincore).
size_t ResidentPages(const Mapping& m) {
  std::vector<unsigned char> vec(m.pages());
  if (mincore(m.data(), m.bytes(), vec.data()) != 0) CheckFailed("mincore: %s", strerror(errno));
  size_t n = 0;
  for (unsigned char c : vec) n += c & 1;
  return n;
}

// The zero-cluster prototype (RawPager kZeroCluster) serving a fresh memfd
// region written page by page in `order` (which may cover only part of it).
// Returns MB/s of the pages written; *mapped: pages mapped in the end.
double RawClusterTouch(size_t bytes, const std::vector<uint32_t>& order, uint32_t cluster,
                       uint32_t threshold, size_t* mapped, bool copy = false) {
  Mapping m(Backend::kMemfd, bytes);
  RawPager pager;
  int rc = pager.Start(m.data(), bytes, RawPager::Mode::kZeroCluster, RawPager::Where::kProcess, -1,
                       cluster, threshold, copy);
  if (rc != 0) CheckFailed("raw cluster pager: %s", strerror(-rc));
  uint64_t t0 = NowNs();
  for (uint32_t pg : order) FillPage(m.page(pg), pg, 1);
  uint64_t ns = NowNs() - t0;
  pager.Stop();
  for (size_t i = 0; i < order.size(); i += 97) {
    uint32_t pg = order[i];
    if (m.page(pg)[0] != Stamp(pg, 1) || m.page(pg)[kWords - 1] != Stamp(pg, 1) + kWords - 1) {
      CheckFailed("raw cluster pager: page %u does not hold what was written", pg);
    }
  }
  *mapped = ResidentPages(m);
  return static_cast<double>(order.size() * kPage) / static_cast<double>(ns) * 1e3;
}

void CaseFirstTouch() {
  const size_t bytes = (mib ? mib : 256) * kMiB;
  std::vector<uint32_t> perm = Permutation(bytes / kPage, 7);
  Json j;
  CommonFields(j, "first_touch");
  j.Num("region_mib", static_cast<double>(bytes / kMiB));
  for (int random = 0; random < 2; random++) {
    const std::vector<uint32_t> order = random ? perm : std::vector<uint32_t>{};
    std::vector<double> ker, lib, fpp;
    // Three of each, alternating; the median counts.
    for (int rep = 0; rep < 3; rep++) {
      double f = 0;
      InOrder([&] { ker.push_back(FirstTouchPass(Backend::kKernel, bytes, order, 1, &f)); },
              [&] {
                lib.push_back(FirstTouchPass(Backend::kLibshm, bytes, order, 1, &f));
                fpp.push_back(f);
              });
    }
    std::string p = random ? "random_" : "seq_";
    j.Num((p + "kernel_mbps").c_str(), Median(ker));
    j.Num((p + "libshm_mbps").c_str(), Median(lib));
    j.Num((p + "ratio").c_str(), Median(lib) / Median(ker));
    j.Num((p + "libshm_faults_per_page").c_str(), Median(fpp));
  }
  // What zero-fill clusters on random faults could give (not libshm: the
  // raw prototype), against the same kernel baseline: full random first
  // touch, and the memory mapped beyond what a sparse random writer touched.
  struct Proto {
    uint32_t cluster, threshold;
  };
  std::vector<uint32_t> seq(perm.size());
  for (size_t i = 0; i < seq.size(); i++) seq[i] = static_cast<uint32_t>(i);
  size_t ignored = 0;
  j.Num("seq_proto_c64_zeropage_mbps", RawClusterTouch(bytes, seq, 64, 1, &ignored));
  j.Num("seq_proto_c64_copy_mbps", RawClusterTouch(bytes, seq, 64, 1, &ignored, true));
  j.Num("random_proto_c64_t2_copy_mbps", RawClusterTouch(bytes, perm, 64, 2, &ignored, true));
  for (Proto pr : {Proto{1, 1}, Proto{64, 1}, Proto{64, 2}, Proto{512, 2}}) {
    size_t mapped = 0;
    double mbps = RawClusterTouch(bytes, perm, pr.cluster, pr.threshold, &mapped);
    std::string p =
        "random_proto_c" + std::to_string(pr.cluster) + "_t" + std::to_string(pr.threshold) + "_";
    j.Num((p + "mbps").c_str(), mbps);
    if (pr.cluster > 1) {
      for (int pct : {10, 1}) {
        std::vector<uint32_t> sparse(perm.begin(),
                                     perm.begin() + static_cast<long>(perm.size() * pct / 100));
        RawClusterTouch(bytes, sparse, pr.cluster, pr.threshold, &mapped);
        j.Num((p + "overshoot_at_" + std::to_string(pct) + "pct").c_str(),
              static_cast<double>(mapped) / static_cast<double>(sparse.size()));
      }
    }
  }
  j.Print();
}

// ---------------------------------------------------------------- row 3

// Reads every word of every page in address order; returns MB/s. Checks
// each page's sum (generation `gen`, or zeros).
double SeqReadPass(const Mapping& m, uint64_t gen, bool zeros) {
  const size_t pages = m.pages();
  uint64_t bad = 0;
  uint64_t t0 = NowNs();
  for (size_t pg = 0; pg < pages; pg++) {
    const uint64_t* p = m.page(pg);
    uint64_t sum = 0;
    for (size_t k = 0; k < kWords; k++) sum += p[k];
    bad += sum != (zeros ? 0 : PageSum(pg, gen));
  }
  uint64_t ns = NowNs() - t0;
  if (bad != 0) CheckFailed("sequential read: %llu pages read back wrong", (unsigned long long)bad);
  return static_cast<double>(m.bytes()) / static_cast<double>(ns) * 1e3;
}

void CaseEvictedRead() {
  const size_t bytes = (mib ? mib : 256) * kMiB;
  Mapping lib(Backend::kLibshm, bytes);
  for (size_t pg = 0; pg < lib.pages(); pg++) FillPage(lib.page(pg), pg, 1);
  pid_t helper = HelperPid();
  std::string swap_path = SwapFilePath(helper);
  std::vector<double> ker, libv, fpp, cached;
  uint64_t p50 = 0;
  for (int rep = 0; rep < 3; rep++) {
    InOrder(
        [&] {
          Mapping k(Backend::kKernel, bytes);
          ker.push_back(SeqReadPass(k, 0, true));
        },
        [&] {
          EvictAll();
          libshm_stats_t s0 = Stats();
          if (s0.swapped_bytes != bytes) CheckFailed("evicted read: region not fully swapped");
          cached.push_back(static_cast<double>(StatFile(swap_path, true).cached_bytes) /
                           static_cast<double>(bytes));
          libv.push_back(SeqReadPass(lib, 1, false));
          libshm_stats_t s1 = Stats();
          if (s1.swap_ins - s0.swap_ins != lib.pages()) {
            CheckFailed("evicted read: swap_ins +%llu, want %zu",
                        (unsigned long long)(s1.swap_ins - s0.swap_ins), lib.pages());
          }
          fpp.push_back(static_cast<double>(s1.faults - s0.faults) /
                        static_cast<double>(lib.pages()));
          p50 = s1.fault_ns_p50;
        });
  }
  Json j;
  CommonFields(j, "evicted_read");
  j.Num("region_mib", static_cast<double>(bytes / kMiB));
  j.Num("kernel_first_touch_read_mbps", Median(ker));
  j.Num("libshm_evicted_read_mbps", Median(libv));
  j.Num("ratio", Median(libv) / Median(ker));
  j.Num("libshm_faults_per_page", Median(fpp));
  j.Num("swap_file_cached_share", Median(cached));
  j.Num("helper_fault_ns_p50_session", static_cast<double>(p50));
  lib.Unmap();
  WaitNothingResident();
  j.Print();
}

// ---------------------------------------------------------------- row 4

// Reads word 0 of every page of `m` in `order`, timing each read; checks it.
std::vector<uint32_t> TimedReads(const Mapping& m, const std::vector<uint32_t>& order,
                                 const std::function<uint64_t(size_t)>& expect) {
  std::vector<uint32_t> lat;
  lat.reserve(order.size());
  uint64_t bad = 0;
  for (uint32_t pg : order) {
    volatile uint64_t* p = m.page(pg);
    uint64_t a = NowNs();
    uint64_t v = *p;
    uint64_t b = NowNs();
    lat.push_back(static_cast<uint32_t>(std::min<uint64_t>(b - a, UINT32_MAX)));
    bad += v != expect(pg);
  }
  if (bad != 0) CheckFailed("refault: %llu pages read back wrong", (unsigned long long)bad);
  return lat;
}

// A file of `bytes` in /var/tmp (unlinked), every page stamped with
// generation 1, read once so it sits in the page cache.
int CachedFile(size_t bytes) {
  int fd = open("/var/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) CheckFailed("O_TMPFILE in /var/tmp: %s", strerror(errno));
  std::vector<uint64_t> buf(kWords);
  for (size_t pg = 0; pg < bytes / kPage; pg++) {
    FillPage(buf.data(), pg, 1);
    if (pwrite(fd, buf.data(), kPage, static_cast<off_t>(pg * kPage)) != kPage) {
      CheckFailed("pwrite: %s", strerror(errno));
    }
  }
  for (size_t pg = 0; pg < bytes / kPage; pg++) {
    if (pread(fd, buf.data(), kPage, static_cast<off_t>(pg * kPage)) != kPage) {
      CheckFailed("pread: %s", strerror(errno));
    }
  }
  return fd;
}

// p50/p99 of a raw pager serving a fresh memfd region of `bytes` read in `order`.
std::vector<uint32_t> RawRefault(size_t bytes, const std::vector<uint32_t>& order,
                                 RawPager::Where where, int file_fd, ProcCpu* cpu0 = nullptr,
                                 ProcCpu* cpu1 = nullptr) {
  Mapping m(Backend::kMemfd, bytes);
  RawPager pager;
  int rc = pager.Start(m.data(), bytes, RawPager::Mode::kMissing, where, file_fd);
  if (rc != 0) CheckFailed("raw pager: %s", strerror(-rc));
  if (cpu0 != nullptr) *cpu0 = ReadProcCpu(RawServerPid());
  auto lat = TimedReads(m, order, [&](size_t pg) { return file_fd >= 0 ? Stamp(pg, 1) : 0; });
  if (cpu1 != nullptr) *cpu1 = ReadProcCpu(RawServerPid());
  pager.Stop();
  if (pager.faults() != static_cast<int64_t>(order.size())) {
    CheckFailed("raw pager served %lld faults, want %zu", (long long)pager.faults(), order.size());
  }
  return lat;
}

void CaseRefault() {
  const size_t bytes = (mib ? mib : 64) * kMiB;
  const size_t pages = bytes / kPage;
  std::vector<uint32_t> order = Permutation(pages, 11);
  int file_fd = CachedFile(bytes);
  Mapping lib(Backend::kLibshm, bytes);
  for (size_t pg = 0; pg < pages; pg++) FillPage(lib.page(pg), pg, 1);
  std::vector<uint32_t> lat_lib, lat_raw, lat_raw_rt, lat_raw_thread;
  libshm_stats_t s0{}, s1{};
  ProcCpu raw0, raw1, h0, h1;
  pid_t helper = HelperPid();
  InOrder(
      [&] {
        lat_raw = RawRefault(bytes, order, RawPager::Where::kProcess, file_fd, &raw0, &raw1);
        lat_raw_rt = RawRefault(bytes, order, RawPager::Where::kProcess, -1);
        lat_raw_thread = RawRefault(bytes, order, RawPager::Where::kThread, file_fd);
      },
      [&] {
        EvictAll();
        s0 = Stats();
        if (s0.swapped_bytes != bytes) CheckFailed("refault: region not fully swapped");
        h0 = ReadProcCpu(helper);
        lat_lib = TimedReads(lib, order, [](size_t pg) { return Stamp(pg, 1); });
        h1 = ReadProcCpu(helper);
        s1 = Stats();
      });
  // A 4 KiB pread from the page-cached file, alone, in this process.
  std::vector<uint32_t> lat_pread;
  {
    alignas(4096) static char buf[4096];
    for (uint32_t pg : order) {
      uint64_t a = NowNs();
      if (pread(file_fd, buf, kPage, static_cast<off_t>(pg) * kPage) != kPage) {
        CheckFailed("pread: %s", strerror(errno));
      }
      lat_pread.push_back(static_cast<uint32_t>(NowNs() - a));
    }
  }
  close(file_fd);
  Json j;
  CommonFields(j, "refault");
  j.Num("region_mib", static_cast<double>(bytes / kMiB));
  j.Num("libshm_p10_us", Percentile(lat_lib, 0.1) / 1e3);
  j.Num("libshm_p50_us", Percentile(lat_lib, 0.5) / 1e3);
  j.Num("libshm_p90_us", Percentile(lat_lib, 0.9) / 1e3);
  j.Num("libshm_p99_us", Percentile(lat_lib, 0.99) / 1e3);
  j.Num("raw_rt_pread_p10_us", Percentile(lat_raw, 0.1) / 1e3);
  j.Num("raw_rt_pread_p90_us", Percentile(lat_raw, 0.9) / 1e3);
  j.Num("raw_rt_pread_p50_us", Percentile(lat_raw, 0.5) / 1e3);
  j.Num("raw_rt_pread_p99_us", Percentile(lat_raw, 0.99) / 1e3);
  j.Num("raw_rt_p50_us", Percentile(lat_raw_rt, 0.5) / 1e3);
  j.Num("raw_rt_pread_thread_p50_us", Percentile(lat_raw_thread, 0.5) / 1e3);
  j.Num("pread_p50_us", Percentile(lat_pread, 0.5) / 1e3);
  j.Num("ratio", Percentile(lat_lib, 0.5) / Percentile(lat_raw, 0.5));
  j.Num("libshm_faults", static_cast<double>(s1.faults - s0.faults));
  j.Num("libshm_swap_ins", static_cast<double>(s1.swap_ins - s0.swap_ins));
  j.Num("helper_fault_ns_p50_session", static_cast<double>(s1.fault_ns_p50));
  j.Num("helper_fault_ns_p99_session", static_cast<double>(s1.fault_ns_p99));
  CpuFields(j, "helper_", h0, h1, static_cast<double>(pages));
  CpuFields(j, "raw_server_", raw0, raw1, static_cast<double>(pages));
  lib.Unmap();
  WaitNothingResident();
  j.Print();
}

// ---------------------------------------------------------------- row 5

// Writes word 0 of every page in `order` (generation `gen`), timing each.
std::vector<uint32_t> TimedWrites(const Mapping& m, const std::vector<uint32_t>& order,
                                  uint64_t gen) {
  std::vector<uint32_t> lat;
  lat.reserve(order.size());
  for (uint32_t pg : order) {
    volatile uint64_t* p = m.page(pg);
    uint64_t a = NowNs();
    *p = Stamp(pg, gen);
    uint64_t b = NowNs();
    lat.push_back(static_cast<uint32_t>(std::min<uint64_t>(b - a, UINT32_MAX)));
  }
  for (size_t pg = 0; pg < m.pages(); pg++) {
    const uint64_t* p = m.page(pg);
    if (p[0] != Stamp(pg, gen) || p[1] != Stamp(pg, 1) + 1 ||
        p[kWords - 1] != Stamp(pg, 1) + kWords - 1) {
      CheckFailed("first write: page %zu does not hold what was written", pg);
    }
  }
  return lat;
}

std::vector<uint32_t> RawFirstWrite(size_t bytes, const std::vector<uint32_t>& order,
                                    RawPager::Where where, ProcCpu* cpu0 = nullptr,
                                    ProcCpu* cpu1 = nullptr) {
  Mapping m(Backend::kMemfd, bytes);
  for (size_t pg = 0; pg < m.pages(); pg++) FillPage(m.page(pg), pg, 1);
  RawPager pager;
  int rc = pager.Start(m.data(), bytes, RawPager::Mode::kWriteProtect, where, -1);
  if (rc != 0) CheckFailed("raw WP pager: %s", strerror(-rc));
  if (cpu0 != nullptr) *cpu0 = ReadProcCpu(RawServerPid());
  auto lat = TimedWrites(m, order, 2);
  if (cpu1 != nullptr) *cpu1 = ReadProcCpu(RawServerPid());
  pager.Stop();
  if (pager.faults() != static_cast<int64_t>(order.size())) {
    CheckFailed("raw WP pager served %lld faults, want %zu", (long long)pager.faults(),
                order.size());
  }
  return lat;
}

void CaseFirstWrite() {
  const size_t bytes = (mib ? mib : 64) * kMiB;
  const size_t pages = bytes / kPage;
  std::vector<uint32_t> order = Permutation(pages, 13);
  Mapping lib(Backend::kLibshm, bytes);
  for (size_t pg = 0; pg < pages; pg++) FillPage(lib.page(pg), pg, 1);
  std::vector<uint32_t> lat_lib, lat_raw, lat_raw_thread;
  libshm_stats_t s0{}, s1{};
  ProcCpu raw0, raw1, h0, h1;
  pid_t helper = HelperPid();
  InOrder(
      [&] {
        lat_raw = RawFirstWrite(bytes, order, RawPager::Where::kProcess, &raw0, &raw1);
        lat_raw_thread = RawFirstWrite(bytes, order, RawPager::Where::kThread);
      },
      [&] {
        int rc = libshm_msync(lib.data(), bytes, MS_SYNC);
        if (rc != 0) CheckFailed("libshm_msync: %s", strerror(-rc));
        s0 = Stats();
        if (s0.dirty_bytes != 0 || s0.resident_bytes != bytes) {
          CheckFailed("first write: after msync dirty %llu resident %llu",
                      (unsigned long long)s0.dirty_bytes, (unsigned long long)s0.resident_bytes);
        }
        h0 = ReadProcCpu(helper);
        lat_lib = TimedWrites(lib, order, 2);
        h1 = ReadProcCpu(helper);
        s1 = Stats();
      });
  // Every page's first write was seen: a WP fault, or (for a page reference
  // sampling had taken) a missing fault that restored it dirty.
  if (s1.dirty_bytes != bytes ||
      (s1.wp_faults - s0.wp_faults) + (s1.sample_hits - s0.sample_hits) < pages) {
    CheckFailed("first write: dirty %llu, wp_faults +%llu, sample_hits +%llu for %zu pages",
                (unsigned long long)s1.dirty_bytes,
                (unsigned long long)(s1.wp_faults - s0.wp_faults),
                (unsigned long long)(s1.sample_hits - s0.sample_hits), pages);
  }
  Json j;
  CommonFields(j, "first_write");
  j.Num("region_mib", static_cast<double>(bytes / kMiB));
  j.Num("libshm_p10_us", Percentile(lat_lib, 0.1) / 1e3);
  j.Num("libshm_p50_us", Percentile(lat_lib, 0.5) / 1e3);
  j.Num("libshm_p90_us", Percentile(lat_lib, 0.9) / 1e3);
  j.Num("libshm_p99_us", Percentile(lat_lib, 0.99) / 1e3);
  j.Num("raw_wp_p10_us", Percentile(lat_raw, 0.1) / 1e3);
  j.Num("raw_wp_p90_us", Percentile(lat_raw, 0.9) / 1e3);
  j.Num("raw_wp_p50_us", Percentile(lat_raw, 0.5) / 1e3);
  j.Num("raw_wp_p99_us", Percentile(lat_raw, 0.99) / 1e3);
  j.Num("raw_wp_thread_p50_us", Percentile(lat_raw_thread, 0.5) / 1e3);
  j.Num("ratio", Percentile(lat_lib, 0.5) / Percentile(lat_raw, 0.5));
  j.Num("libshm_wp_faults", static_cast<double>(s1.wp_faults - s0.wp_faults));
  j.Num("libshm_faults", static_cast<double>(s1.faults - s0.faults));
  j.Num("helper_fault_ns_p50_session", static_cast<double>(s1.fault_ns_p50));
  CpuFields(j, "helper_", h0, h1, static_cast<double>(pages));
  CpuFields(j, "raw_server_", raw0, raw1, static_cast<double>(pages));
  lib.Unmap();
  WaitNothingResident();
  j.Print();
}

// ---------------------------------------------------------------- row 6

// Sequential O_DIRECT writes of `bytes` in `chunk` pieces to a preallocated
// (fallocate, like the swap extents) unlinked file in `dir`, then fdatasync.
// Returns MB/s (including the fdatasync).
double DiskWrite(const char* dir, size_t bytes, size_t chunk, bool direct) {
  int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC | (direct ? O_DIRECT : 0), 0600);
  if (fd < 0) CheckFailed("O_TMPFILE in %s: %s", dir, strerror(errno));
  if (fallocate(fd, 0, 0, static_cast<off_t>(bytes)) != 0) {
    CheckFailed("fallocate: %s", strerror(errno));
  }
  void* buf = nullptr;
  if (posix_memalign(&buf, kPage, chunk) != 0) CheckFailed("posix_memalign");
  for (size_t i = 0; i < chunk / sizeof(uint64_t); i++) {
    static_cast<uint64_t*>(buf)[i] = Stamp(i, 3);
  }
  uint64_t t0 = NowNs();
  for (size_t off = 0; off < bytes; off += chunk) {
    if (pwrite(fd, buf, chunk, static_cast<off_t>(off)) != static_cast<ssize_t>(chunk)) {
      CheckFailed("pwrite%s: %s", direct ? " O_DIRECT" : "", strerror(errno));
    }
  }
  if (fdatasync(fd) != 0) CheckFailed("fdatasync: %s", strerror(errno));
  uint64_t ns = NowNs() - t0;
  free(buf);
  close(fd);
  return static_cast<double>(bytes) / static_cast<double>(ns) * 1e3;
}

// The I/O floor of an evictor built like libshm's, without any uffd work:
// a memfd region of `bytes` (every page written) is read back `chunk` pages
// at a time (pread), written to the same offsets of a preallocated file in
// `dir` (buffered, or O_DIRECT) and punched out of the memfd; then
// fdatasync. Returns MB/s.
double RawEvict(const char* dir, size_t bytes, size_t chunk_pages, bool direct,
                bool use_sendfile = false) {
  Mapping m(Backend::kMemfd, bytes);
  for (size_t pg = 0; pg < m.pages(); pg++) FillPage(m.page(pg), pg, 5);
  int memfd = open(("/proc/self/fd/" + std::to_string(MemfdOf(m))).c_str(), O_RDWR | O_CLOEXEC);
  int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC | (direct ? O_DIRECT : 0), 0600);
  if (memfd < 0 || fd < 0) CheckFailed("raw evict: open: %s", strerror(errno));
  if (fallocate(fd, 0, 0, static_cast<off_t>(bytes)) != 0)
    CheckFailed("fallocate: %s", strerror(errno));
  const size_t chunk = chunk_pages * kPage;
  void* buf = nullptr;
  if (posix_memalign(&buf, kPage, chunk) != 0) CheckFailed("posix_memalign");
  sync();
  uint64_t t0 = NowNs();
  for (size_t off = 0; off < bytes; off += chunk) {
    if (use_sendfile) {
      // One kernel copy (memfd pages spliced into the file's page cache)
      // instead of pread + pwrite.
      off_t in = static_cast<off_t>(off);
      if (lseek(fd, static_cast<off_t>(off), SEEK_SET) < 0 ||
          sendfile(fd, memfd, &in, chunk) != static_cast<ssize_t>(chunk) ||
          fallocate(memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(off),
                    static_cast<off_t>(chunk)) != 0) {
        CheckFailed("raw evict (sendfile): %s", strerror(errno));
      }
      continue;
    }
    if (pread(memfd, buf, chunk, static_cast<off_t>(off)) != static_cast<ssize_t>(chunk) ||
        pwrite(fd, buf, chunk, static_cast<off_t>(off)) != static_cast<ssize_t>(chunk) ||
        fallocate(memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(off),
                  static_cast<off_t>(chunk)) != 0) {
      CheckFailed("raw evict: %s", strerror(errno));
    }
  }
  if (fdatasync(fd) != 0) CheckFailed("fdatasync: %s", strerror(errno));
  uint64_t ns = NowNs() - t0;
  free(buf);
  close(fd);
  close(memfd);
  return static_cast<double>(bytes) / static_cast<double>(ns) * 1e3;
}

void CaseEvictDirty() {
  const size_t bytes = (mib ? mib : 256) * kMiB;
  std::string dir = CtlString("opt.swap_dir");
  std::vector<double> direct, buffered, evict_only, evict_sync;
  double wb_bytes = 0, helper_write_bytes = 0;
  pid_t helper = HelperPid();
  uint64_t gen = 1;
  Mapping lib(Backend::kLibshm, bytes);
  for (int rep = 0; rep < 3; rep++) {
    InOrder(
        [&] {
          sync();
          direct.push_back(DiskWrite(dir.c_str(), bytes, 1 * kMiB, true));
          sync();
          buffered.push_back(DiskWrite(dir.c_str(), bytes, 256 * 1024, false));
        },
        [&] {
          gen++;
          for (size_t pg = 0; pg < lib.pages(); pg++) FillPage(lib.page(pg), pg, gen);
          sync();
          libshm_stats_t s0 = Stats();
          if (s0.dirty_bytes != bytes) CheckFailed("evict dirty: region not all dirty");
          ProcIo io0 = ReadProcIo(helper);
          uint64_t t0 = NowNs();
          EvictAll();
          uint64_t t1 = NowNs();
          // The positive control for evict_clean's check: dirty eviction
          // does show in the helper's write_bytes.
          helper_write_bytes =
              static_cast<double>(ReadProcIo(helper).write_bytes - io0.write_bytes);
          // Nothing is dirty now; MS_SYNC only makes the swap file durable
          // (fdatasync), which is what "written back" means on the disk.
          int rc = libshm_msync(lib.data(), bytes, MS_SYNC);
          uint64_t t2 = NowNs();
          if (rc != 0) CheckFailed("libshm_msync: %s", strerror(-rc));
          libshm_stats_t s1 = Stats();
          double wb = static_cast<double>(s1.writeback_bytes - s0.writeback_bytes);
          if (wb != static_cast<double>(bytes) || s1.swapped_bytes != bytes) {
            CheckFailed("evict dirty: wrote back %.0f bytes, swapped %llu, want %zu", wb,
                        (unsigned long long)s1.swapped_bytes, bytes);
          }
          wb_bytes = wb;
          evict_only.push_back(wb / static_cast<double>(t1 - t0) * 1e3);
          evict_sync.push_back(wb / static_cast<double>(t2 - t0) * 1e3);
          // Read back a sample: eviction must have kept the data.
          for (size_t pg = 0; pg < lib.pages(); pg += 61) {
            if (lib.page(pg)[7] != Stamp(pg, gen) + 7)
              CheckFailed("evict dirty: page %zu lost", pg);
          }
        });
  }
  Json j;
  CommonFields(j, "evict_dirty");
  j.Num("region_mib", static_cast<double>(bytes / kMiB));
  j.Num("writeback_bytes", wb_bytes);
  j.Num("helper_write_bytes_during_evict", helper_write_bytes);
  j.Num("disk_odirect_1m_mbps", Median(direct));
  j.Num("disk_buffered_256k_fdatasync_mbps", Median(buffered));
  j.Num("libshm_evict_mbps", Median(evict_only));
  j.Num("libshm_evict_fdatasync_mbps", Median(evict_sync));
  j.Num("ratio", Median(evict_sync) / Median(direct));
  j.Num("ratio_evict_only", Median(evict_only) / Median(direct));
  // Floors of the design (no uffd work; see RawEvict), for the analysis.
  j.Num("raw_evict_64p_buffered_mbps", RawEvict(dir.c_str(), bytes, 64, false));
  j.Num("raw_evict_64p_sendfile_mbps", RawEvict(dir.c_str(), bytes, 64, false, true));
  j.Num("raw_evict_64p_odirect_mbps", RawEvict(dir.c_str(), bytes, 64, true));
  j.Num("raw_evict_256p_odirect_mbps", RawEvict(dir.c_str(), bytes, 256, true));
  lib.Unmap();
  WaitNothingResident();
  j.Print();
}

// ---------------------------------------------------------------- row 7

void CaseEvictClean() {
  const size_t bytes = (mib ? mib : 128) * kMiB;
  pid_t helper = HelperPid();
  Mapping lib(Backend::kLibshm, bytes);
  for (size_t pg = 0; pg < lib.pages(); pg++) FillPage(lib.page(pg), pg, 1);
  std::string swap_path = SwapFilePath(helper);
  if (swap_path.empty()) CheckFailed("evict clean: helper %d's swap file not found", helper);
  Json j;
  CommonFields(j, "evict_clean");
  j.Num("region_mib", static_cast<double>(bytes / kMiB));
  // Two ways a page becomes clean: msync(MS_SYNC) of written pages, and a
  // read fault that brought it back from swap.
  for (int how = 0; how < 2; how++) {
    if (how == 0) {
      int rc = libshm_msync(lib.data(), bytes, MS_SYNC);
      if (rc != 0) CheckFailed("libshm_msync: %s", strerror(-rc));
    } else {
      uint64_t sum = 0;
      for (size_t pg = 0; pg < lib.pages(); pg++) sum += lib.page(pg)[3] - (Stamp(pg, 1) + 3);
      if (sum != 0) CheckFailed("evict clean: read back wrong data");
    }
    sync();  // earlier writes (the msync, the first eviction) reach the disk first
    libshm_stats_t s0 = Stats();
    if (s0.dirty_bytes != 0 || s0.resident_bytes != bytes) {
      CheckFailed("evict clean: dirty %llu resident %llu before eviction",
                  (unsigned long long)s0.dirty_bytes, (unsigned long long)s0.resident_bytes);
    }
    ProcIo io0 = ReadProcIo(helper);
    FileInfo f0 = StatFile(swap_path, false);
    uint64_t t0 = NowNs();
    EvictAll();
    uint64_t ns = NowNs() - t0;
    ProcIo io1 = ReadProcIo(helper);
    FileInfo f1 = StatFile(swap_path, false);
    libshm_stats_t s1 = Stats();
    std::string p = how == 0 ? "after_msync_" : "after_read_refault_";
    j.Num((p + "evicted_pages").c_str(), static_cast<double>(s1.evictions - s0.evictions));
    j.Num((p + "clean_evictions").c_str(),
          static_cast<double>(s1.clean_evictions - s0.clean_evictions));
    j.Num((p + "writeback_bytes").c_str(),
          static_cast<double>(s1.writeback_bytes - s0.writeback_bytes));
    j.Num((p + "swap_outs").c_str(), static_cast<double>(s1.swap_outs - s0.swap_outs));
    j.Num((p + "helper_write_bytes").c_str(),
          static_cast<double>(io1.write_bytes - io0.write_bytes));
    j.Num((p + "helper_wchar").c_str(), static_cast<double>(io1.wchar - io0.wchar));
    j.Num((p + "helper_write_syscalls").c_str(), static_cast<double>(io1.syscw - io0.syscw));
    j.Num((p + "swap_file_size_delta").c_str(),
          static_cast<double>(f1.size) - static_cast<double>(f0.size));
    j.Num((p + "swap_file_blocks_delta").c_str(),
          static_cast<double>(f1.blocks_bytes) - static_cast<double>(f0.blocks_bytes));
    j.Num((p + "evict_gbps").c_str(), static_cast<double>(bytes) / static_cast<double>(ns));
    bool ok = s1.evictions - s0.evictions == lib.pages() &&
              s1.clean_evictions - s0.clean_evictions == lib.pages() &&
              s1.writeback_bytes == s0.writeback_bytes && s1.swap_outs == s0.swap_outs &&
              io1.write_bytes == io0.write_bytes && f1.blocks_bytes == f0.blocks_bytes &&
              f1.size == f0.size;
    j.Num((p + "no_io").c_str(), ok ? 1 : 0);
  }
  lib.Unmap();
  WaitNothingResident();
  j.Print();
}

}  // namespace
}  // namespace libshm_fast

int main(int argc, char** argv) {
  using namespace libshm_fast;
  if (argc < 2) {
    fprintf(stderr,
            "usage: libshm_fast resident|first_touch|evicted_read|refault|first_write|"
            "evict_dirty|evict_clean [--order 0|1] [--pin none|same|split] [--mib N] "
            "[--variant LABEL]\n");
    return 2;
  }
  std::string which = argv[1];
  for (int i = 2; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--order") == 0) {
      order_flag = atoi(argv[i + 1]) != 0;
    } else if (strcmp(argv[i], "--pin") == 0) {
      pin = argv[i + 1];
      if (pin != "none" && pin != "same" && pin != "split") {
        fprintf(stderr, "libshm_fast: --pin none|same|split\n");
        return 2;
      }
    } else if (strcmp(argv[i], "--variant") == 0) {
      variant = argv[i + 1];
    } else if (strcmp(argv[i], "--mib") == 0) {
      mib = static_cast<size_t>(atol(argv[i + 1]));
    } else {
      fprintf(stderr, "libshm_fast: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  setenv("LIBSHM_LIMIT", "2G", /*overwrite=*/0);
  // --pin same: this process, the helper and the raw server all on CPU 0
  // (every fault round trip stays on one CPU); split: this process on CPU 0,
  // the helper and the raw server (and handler threads) on CPU 1.
  if (pin != "none" && !PinProcess(0, 0)) CheckFailed("cannot pin to CPU 0");
  // The raw pagers' server process: forked before libshm starts anything.
  int rc = StartRawServer(pin == "split" ? 1 : pin == "same" ? 0 : -1);
  if (rc != 0) CheckFailed("raw server: %s", strerror(-rc));
  // Start the session (and its helper) before anything is timed.
  void* p = nullptr;
  rc = libshm_map(nullptr, kPage, PROT_READ | PROT_WRITE, 0, &p);
  if (rc != 0) CheckFailed("libshm_map: %s", strerror(-rc));
  libshm_unmap(p, kPage);
  WaitNothingResident();
  if (pin == "split" && !PinProcess(HelperPid(), 1)) CheckFailed("cannot pin the helper to CPU 1");
  if (pin == "split") SetHandlerThreadCpu(1);
  if (which == "resident") {
    CaseResident();
  } else if (which == "first_touch") {
    CaseFirstTouch();
  } else if (which == "evicted_read") {
    CaseEvictedRead();
  } else if (which == "refault") {
    CaseRefault();
  } else if (which == "first_write") {
    CaseFirstWrite();
  } else if (which == "evict_dirty") {
    CaseEvictDirty();
  } else if (which == "evict_clean") {
    CaseEvictClean();
  } else {
    fprintf(stderr, "libshm_fast: unknown case %s\n", which.c_str());
    return 2;
  }
  fflush(stdout);
  return 0;
}
