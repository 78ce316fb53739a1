// SPDX-License-Identifier: MIT
#include "reference_policies.h"

#include <zlib.h>

#include <deque>
#include <iterator>
#include <list>
#include <set>
#include <unordered_map>
#include <utility>

namespace libshm::internal::reference {

bool ReadPlainTrace(const std::string& path, std::vector<Access>* out) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) return false;
  out->clear();
  char line[256];
  bool ok = true;
  while (gzgets(f, line, sizeof(line)) != nullptr) {
    std::string s(line);
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
    if (s.empty() || s == "*") continue;
    if (s.find_first_not_of("0123456789") != std::string::npos) {
      ok = false;
      break;
    }
    out->push_back({std::stoull(s), false});
  }
  gzclose(f);
  return ok;
}

size_t DistinctPages(const std::vector<Access>& trace) {
  std::set<uint64_t> pages;
  for (const Access& a : trace) pages.insert(a.page);
  return pages.size();
}

Counts Fifo(const std::vector<Access>& trace, size_t capacity) {
  Counts counts;
  std::deque<uint64_t> queue;                // front = oldest
  std::unordered_map<uint64_t, bool> dirty;  // resident pages
  for (const Access& a : trace) {
    auto it = dirty.find(a.page);
    if (it != dirty.end()) {
      it->second = it->second || a.write;
      continue;
    }
    counts.misses++;
    if (queue.size() == capacity) {
      if (dirty[queue.front()]) counts.writebacks++;
      dirty.erase(queue.front());
      queue.pop_front();
    }
    queue.push_back(a.page);
    dirty[a.page] = a.write;
  }
  return counts;
}

Counts Lru(const std::vector<Access>& trace, size_t capacity) {
  Counts counts;
  std::list<uint64_t> order;  // front = most recently used
  std::unordered_map<uint64_t, std::pair<std::list<uint64_t>::iterator, bool>> resident;
  for (const Access& a : trace) {
    auto it = resident.find(a.page);
    if (it != resident.end()) {
      order.erase(it->second.first);
      order.push_front(a.page);
      it->second = {order.begin(), it->second.second || a.write};
      continue;
    }
    counts.misses++;
    if (resident.size() == capacity) {
      uint64_t victim = order.back();
      if (resident[victim].second) counts.writebacks++;
      resident.erase(victim);
      order.pop_back();
    }
    order.push_front(a.page);
    resident[a.page] = {order.begin(), a.write};
  }
  return counts;
}

Counts Clock(const std::vector<Access>& trace, size_t capacity, bool insert_ref,
             std::vector<uint64_t>* victims) {
  Counts counts;
  struct Frame {
    uint64_t page;
    bool referenced;
    bool dirty;
  };
  std::vector<Frame> frames;                      // the circle, in frame order
  std::unordered_map<uint64_t, size_t> frame_of;  // resident page -> frame
  size_t hand = 0;
  for (const Access& a : trace) {
    auto it = frame_of.find(a.page);
    if (it != frame_of.end()) {
      frames[it->second].referenced = true;
      frames[it->second].dirty = frames[it->second].dirty || a.write;
      continue;
    }
    counts.misses++;
    if (frames.size() < capacity) {
      frame_of[a.page] = frames.size();
      frames.push_back({a.page, insert_ref, a.write});
      continue;
    }
    while (frames[hand].referenced) {
      frames[hand].referenced = false;
      hand = (hand + 1) % frames.size();
    }
    Frame& victim = frames[hand];
    if (victims != nullptr) victims->push_back(victim.page);
    if (victim.dirty) counts.writebacks++;
    frame_of.erase(victim.page);
    victim = {a.page, insert_ref, a.write};
    frame_of[a.page] = hand;
    hand = (hand + 1) % frames.size();
  }
  return counts;
}

Counts Opt(const std::vector<Access>& trace, size_t capacity) {
  // next[i]: index of the next access to trace[i].page, or "infinity".
  const uint64_t kNever = UINT64_MAX;
  std::vector<uint64_t> next(trace.size());
  std::unordered_map<uint64_t, uint64_t> seen_later;
  for (size_t i = trace.size(); i-- > 0;) {
    auto it = seen_later.find(trace[i].page);
    next[i] = it == seen_later.end() ? kNever : it->second;
    seen_later[trace[i].page] = i;
  }
  Counts counts;
  std::set<std::pair<uint64_t, uint64_t>> by_next_use;  // (next use, page)
  std::unordered_map<uint64_t, uint64_t> resident;      // page -> next use
  for (size_t i = 0; i < trace.size(); i++) {
    uint64_t page = trace[i].page;
    auto it = resident.find(page);
    if (it != resident.end()) {
      by_next_use.erase({it->second, page});
    } else {
      counts.misses++;
      if (resident.size() == capacity) {
        auto farthest = std::prev(by_next_use.end());
        resident.erase(farthest->second);
        by_next_use.erase(farthest);
      }
    }
    resident[page] = next[i];
    by_next_use.insert({next[i], page});
  }
  return counts;
}

}  // namespace libshm::internal::reference
