// SPDX-License-Identifier: MIT
#include "simulator.h"

#include <algorithm>
#include <chrono>
#include <memory>

#include "policies/rng.h"

namespace libshm::internal {
namespace {

constexpr uint8_t kResident = 1;
constexpr uint8_t kDirty = 2;
constexpr uint8_t kArmed = 4;  // kSampled: the next access is a sampling fault
// References between progress reports and timing checks.
constexpr uint64_t kChunk = 1 << 16;

struct PolicyDeleter {
  const libshm_policy_ops* ops;
  void operator()(void* self) const { ops->destroy(self); }
};

// Resident pages in a dense array, so that sampling can pick one uniformly.
class ResidentSet {
 public:
  explicit ResidentSet(size_t distinct) : pos_(distinct) {}
  void Add(uint32_t id) {
    pos_[id] = static_cast<uint32_t>(ids_.size());
    ids_.push_back(id);
  }
  void Remove(uint32_t id) {
    uint32_t last = ids_.back();
    ids_[pos_[id]] = last;
    pos_[last] = pos_[id];
    ids_.pop_back();
  }
  uint32_t Pick(Rng& rng) const { return ids_[rng.Below(ids_.size())]; }
  bool empty() const { return ids_.empty(); }

 private:
  std::vector<uint32_t> ids_;
  std::vector<uint32_t> pos_;
};

// The replay loop, specialised so that the common case (no OPT, every hit)
// carries no per-reference branches on options.
template <bool kNextUse, AccessMode kMode>
bool Replay(const Trace& trace, const uint32_t* next_use, const libshm_policy_ops& ops, void* self,
            const SimOptions& options, Progress* progress, SimResult* result, std::string* error) {
  const uint32_t* refs = trace.refs.data();
  const uint64_t n = trace.refs.size();
  const size_t distinct = trace.distinct();
  std::vector<uint8_t> state(distinct, 0);
  const size_t capacity = options.capacity;
  const size_t batch = std::clamp<size_t>(options.batch, 1, capacity);
  std::vector<libshm_page_key_t> victims(batch);
  const auto reference = ops.reference;
  const auto set_dirty = ops.set_dirty;
  constexpr bool kSampling = kMode == AccessMode::kSampled;
  ResidentSet resident_set(kSampling ? distinct : 0);
  Rng rng(options.seed ^ 0x53414d504c45ull);
  const uint64_t sample_period = std::max<uint64_t>(1, options.sample_period);
  uint64_t until_sample = sample_period;
  uint64_t sampling_faults = 0;
  size_t resident = 0;
  uint64_t faults = 0;
  uint64_t writebacks = 0;
  uint64_t evictions = 0;
  uint64_t window_start_faults = 0;
  const uint64_t window = options.window;
  uint64_t window_end = window != 0 ? window : UINT64_MAX;
  for (uint64_t begin = 0; begin < n;) {
    // Chunks end at window boundaries so the loop body never checks them.
    const uint64_t end = std::min({n, begin + kChunk, window_end});
    for (uint64_t i = begin; i < end; i++) {
      const uint32_t ref = refs[i];
      const uint32_t id = Trace::Id(ref);
      const bool write = Trace::IsWrite(ref);
      if constexpr (kNextUse) {
        uint64_t next = next_use[i] == UINT32_MAX ? UINT64_MAX : next_use[i];
        ops.next_use(self, id, next);
      }
      if constexpr (kSampling) {
        if (--until_sample == 0) {
          until_sample = sample_period;
          if (!resident_set.empty()) state[resident_set.Pick(rng)] |= kArmed;
        }
      }
      uint8_t s = state[id];
      if (s & kResident) {
        const bool clean_write = write && !(s & kDirty);
        bool report = kMode == AccessMode::kEveryHit || clean_write;
        if constexpr (kSampling) {
          if (s & kArmed) {
            report = true;
            sampling_faults++;
            s &= static_cast<uint8_t>(~kArmed);
            state[id] = s;
          }
        }
        if (reference != nullptr && report) reference(self, id, write);
        if (clean_write) {
          state[id] = s | kDirty;
          if (set_dirty != nullptr) set_dirty(self, id, 1);
        }
        continue;
      }
      faults++;
      if (resident >= capacity) {
        size_t named = ops.choose_victims(self, victims.data(), batch);
        if (named == 0 || named > batch) {
          *error = std::string("policy '") + ops.name + "' named " + std::to_string(named) +
                   " victims of " + std::to_string(batch) + " at reference " + std::to_string(i);
          return false;
        }
        for (size_t v = 0; v < named; v++) {
          const libshm_page_key_t victim = victims[v];
          if (victim >= distinct || !(state[victim] & kResident)) {
            *error = std::string("policy '") + ops.name +
                     "' named an invalid victim at reference " + std::to_string(i);
            return false;
          }
          if (state[victim] & kDirty) writebacks++;
          state[victim] = 0;
          if constexpr (kSampling) resident_set.Remove(static_cast<uint32_t>(victim));
        }
        resident -= named;
        evictions += named;
      }
      ops.miss(self, id, write);
      state[id] = kResident | (write ? kDirty : 0);
      resident++;
      if constexpr (kSampling) resident_set.Add(id);
    }
    if (end == window_end || (window != 0 && end == n)) {
      result->window_faults.push_back(static_cast<uint32_t>(faults - window_start_faults));
      window_start_faults = faults;
      window_end += window;
    }
    if (progress != nullptr) progress->Add(end - begin);
    begin = end;
  }
  result->faults = faults;
  result->writebacks = writebacks;
  result->sampling_faults = sampling_faults;
  result->evictions = evictions;
  result->requests = n;
  return true;
}

}  // namespace

std::vector<uint32_t> ComputeNextUse(const Trace& trace) {
  std::vector<uint32_t> next(trace.refs.size());
  std::vector<uint32_t> last(trace.distinct(), UINT32_MAX);
  for (size_t i = trace.refs.size(); i-- > 0;) {
    uint32_t id = Trace::Id(trace.refs[i]);
    next[i] = last[id];
    last[id] = static_cast<uint32_t>(i);
  }
  return next;
}

bool Simulate(const Trace& trace, const std::vector<uint32_t>* next_use,
              const libshm_policy_ops& ops, const SimOptions& options, Progress* progress,
              SimResult* result, std::string* error) {
  *result = SimResult{};
  if (ops.next_use != nullptr && next_use == nullptr) {
    *error = std::string("policy '") + ops.name + "' needs next-use positions";
    return false;
  }
  std::unique_ptr<void, PolicyDeleter> self(ops.create(options.capacity, options.seed),
                                            PolicyDeleter{&ops});
  if (self == nullptr) {
    *error = std::string("policy '") + ops.name + "' could not be created";
    return false;
  }
  const uint32_t* nu = ops.next_use != nullptr ? next_use->data() : nullptr;
  auto start = std::chrono::steady_clock::now();
  bool ok = false;
  switch (options.access) {
    case AccessMode::kEveryHit:
      ok = nu != nullptr ? Replay<true, AccessMode::kEveryHit>(trace, nu, ops, self.get(), options,
                                                               progress, result, error)
                         : Replay<false, AccessMode::kEveryHit>(trace, nu, ops, self.get(), options,
                                                                progress, result, error);
      break;
    case AccessMode::kWriteFaults:
      ok = nu != nullptr ? Replay<true, AccessMode::kWriteFaults>(trace, nu, ops, self.get(),
                                                                  options, progress, result, error)
                         : Replay<false, AccessMode::kWriteFaults>(
                               trace, nu, ops, self.get(), options, progress, result, error);
      break;
    case AccessMode::kSampled:
      ok = nu != nullptr ? Replay<true, AccessMode::kSampled>(trace, nu, ops, self.get(), options,
                                                              progress, result, error)
                         : Replay<false, AccessMode::kSampled>(trace, nu, ops, self.get(), options,
                                                               progress, result, error);
      break;
  }
  result->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return ok;
}

std::vector<uint64_t> LruFaultCurve(const Trace& trace) {
  const size_t n = trace.refs.size();
  const size_t distinct = trace.distinct();
  // Fenwick tree with a 1 at the latest position of each page: the stack
  // distance of a reference is 1 + the number of distinct pages referenced
  // since the previous reference to the same page.
  std::vector<int32_t> tree(n + 1, 0);
  auto add = [&](size_t pos, int32_t delta) {
    for (size_t i = pos + 1; i <= n; i += i & (~i + 1)) tree[i] += delta;
  };
  auto prefix = [&](size_t pos) {  // sum over [0, pos)
    int64_t s = 0;
    for (size_t i = pos; i > 0; i -= i & (~i + 1)) s += tree[i];
    return s;
  };
  std::vector<uint32_t> last(distinct, UINT32_MAX);
  // hits_at[d]: references with stack distance d (a hit with >= d pages).
  std::vector<uint64_t> hits_at(distinct + 2, 0);
  uint64_t total_marks = 0;
  for (size_t i = 0; i < n; i++) {
    uint32_t id = Trace::Id(trace.refs[i]);
    if (last[id] != UINT32_MAX) {
      uint64_t distance = total_marks - static_cast<uint64_t>(prefix(last[id] + 1)) + 1;
      hits_at[distance]++;
      add(last[id], -1);
      total_marks--;
    }
    add(i, 1);
    total_marks++;
    last[id] = static_cast<uint32_t>(i);
  }
  // faults(c) = n - (hits with distance <= c).
  std::vector<uint64_t> faults(distinct + 1);
  uint64_t hits = 0;
  for (size_t c = 0; c <= distinct; c++) {
    hits += hits_at[c];
    faults[c] = n - hits;
  }
  return faults;
}

}  // namespace libshm::internal
