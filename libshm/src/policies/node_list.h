// SPDX-License-Identifier: MIT
// NodePool and NodeList: doubly linked lists threaded through a flat array of
// nodes by 32-bit index. Most policies are a few lists of pages (resident and
// ghost) plus a PageMap from key to node index; keeping the nodes in one
// vector avoids an allocation per page fault and keeps neighbours close in
// memory. A NodeList threads one Links member of the node, so a node is on
// at most one list per member; a policy that needs two orders at once (LIRS:
// stack and queue) gives its nodes a second Links member and names it as the
// list's template argument.
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
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  static uint32_t Next(const NodePool<Node>& pool, uint32_t i) {
    return (pool[i].*LinksMember).next;
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
