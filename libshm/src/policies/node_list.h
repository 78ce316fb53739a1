// SPDX-License-Identifier: MIT
// NodePool and NodeList: doubly linked lists threaded through a flat array of
// nodes by 32-bit index. Most policies are a few lists of pages (resident and
// ghost) plus a PageMap from key to node index; keeping the nodes in one
// vector avoids an allocation per page fault and keeps neighbours close in
// memory. A node carries one pair of links, so it is on at most one NodeList
// at a time; policies that need two orders (LIRS) embed a second pair and
// use ListOps with a member pointer.
// Not thread-safe; policies are called from one thread at a time.
#ifndef LIBSHM_SRC_POLICIES_NODE_LIST_H_
#define LIBSHM_SRC_POLICIES_NODE_LIST_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "policies/page_map.h"

namespace libshm::internal {

struct Links {
  uint32_t prev = kNoSlot;
  uint32_t next = kNoSlot;
};

// Nodes are value types with a `Links link` member (and whatever else the
// policy keeps per page). Freed indices are reused before the vector grows.
template <class Node>
class NodePool {
 public:
  explicit NodePool(size_t expected) { nodes_.reserve(expected); }

  uint32_t Alloc() {
    if (free_ != kNoSlot) {
      uint32_t i = free_;
      free_ = nodes_[i].link.next;
      nodes_[i] = Node{};
      return i;
    }
    nodes_.emplace_back();
    return static_cast<uint32_t>(nodes_.size() - 1);
  }
  void Free(uint32_t i) {
    nodes_[i].link.next = free_;
    free_ = i;
  }
  Node& operator[](uint32_t i) { return nodes_[i]; }
  const Node& operator[](uint32_t i) const { return nodes_[i]; }

 private:
  std::vector<Node> nodes_;
  uint32_t free_ = kNoSlot;
};

// A list over the `LinksMember` links of nodes in a NodePool. Front is the
// oldest end by convention: PushBack inserts the newest, Front() is the
// next candidate for eviction.
template <class Node, Links Node::*LinksMember = &Node::link>
class NodeList {
 public:
  uint32_t Front() const { return head_; }
  uint32_t Back() const { return tail_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  static uint32_t Next(const NodePool<Node>& pool, uint32_t i) {
    return (pool[i].*LinksMember).next;
  }
  static uint32_t Prev(const NodePool<Node>& pool, uint32_t i) {
    return (pool[i].*LinksMember).prev;
  }

  void PushBack(NodePool<Node>& pool, uint32_t i) {
    Links& l = pool[i].*LinksMember;
    l.prev = tail_;
    l.next = kNoSlot;
    if (tail_ != kNoSlot) {
      (pool[tail_].*LinksMember).next = i;
    } else {
      head_ = i;
    }
    tail_ = i;
    size_++;
  }

  void PushFront(NodePool<Node>& pool, uint32_t i) {
    Links& l = pool[i].*LinksMember;
    l.prev = kNoSlot;
    l.next = head_;
    if (head_ != kNoSlot) {
      (pool[head_].*LinksMember).prev = i;
    } else {
      tail_ = i;
    }
    head_ = i;
    size_++;
  }

  // Inserts `i` right before `before` (which must be on this list).
  void InsertBefore(NodePool<Node>& pool, uint32_t before, uint32_t i) {
    if (before == head_) {
      PushFront(pool, i);
      return;
    }
    Links& b = pool[before].*LinksMember;
    Links& l = pool[i].*LinksMember;
    l.prev = b.prev;
    l.next = before;
    (pool[b.prev].*LinksMember).next = i;
    b.prev = i;
    size_++;
  }

  // pre: i is on this list.
  void Unlink(NodePool<Node>& pool, uint32_t i) {
    Links& l = pool[i].*LinksMember;
    if (l.prev != kNoSlot) {
      (pool[l.prev].*LinksMember).next = l.next;
    } else {
      head_ = l.next;
    }
    if (l.next != kNoSlot) {
      (pool[l.next].*LinksMember).prev = l.prev;
    } else {
      tail_ = l.prev;
    }
    l.prev = l.next = kNoSlot;
    size_--;
  }

  void MoveToBack(NodePool<Node>& pool, uint32_t i) {
    if (i == tail_) return;
    Unlink(pool, i);
    PushBack(pool, i);
  }

 private:
  uint32_t head_ = kNoSlot;
  uint32_t tail_ = kNoSlot;
  size_t size_ = 0;
};

}  // namespace libshm::internal

#endif  // LIBSHM_SRC_POLICIES_NODE_LIST_H_
