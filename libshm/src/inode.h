// SPDX-License-Identifier: MIT
// Inode: one managed region's memfd, its page-state table and its swap
// extent. The registry is keyed by inode, not by mapping: several processes
// and several mappings share one inode (DESIGN.md invariant 6). An inode is
// named inside the helper by its session number `seq` (also the region part
// of its policy keys) and on the wire only by per-connection handles.
//
// The helper never maps the memfd: it reads pages with pread, which returns
// zeros for holes without filling them (invariant 1).
//
// Not thread-safe: owned by the engine thread.
#ifndef LIBSHM_SRC_INODE_H_
#define LIBSHM_SRC_INODE_H_

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>

#include <memory>
#include <vector>

#include "log.h"
#include "page_state.h"
#include "swap_file.h"

namespace libshm::internal {

struct Segment;  // engine.h: a System V segment this inode backs

class Inode {
 public:
  // Pages of one inode and live inodes of a session are bounded so that a
  // policy key (region << kPageBits | page) is unique.
  static constexpr uint64_t kMaxPages = 1ull << kPageBits;

  // The page table is sparse: chunks of kChunkPages states, allocated when a
  // page of theirs first leaves kEmpty and freed when all are kEmpty again,
  // so a huge region that is barely touched costs the helper a pointer per
  // chunk, not a byte per page.
  static constexpr int kChunkShift = 16;
  static constexpr uint64_t kChunkPages = 1ull << kChunkShift;

  // Throws std::bad_alloc only for the chunk table (a pointer per chunk);
  // the caller turns that into ENOMEM.
  Inode(uint32_t seq, uint64_t ino, int memfd, uint64_t pages, Extent extent)
      : seq_(seq),
        ino_(ino),
        memfd_(memfd),
        extent_(extent),
        pages_(pages),
        chunks_((pages + kChunkPages - 1) >> kChunkShift) {
    counts_[static_cast<int>(PageState::kEmpty)] = pages;
  }
  ~Inode();
  Inode(const Inode&) = delete;
  Inode& operator=(const Inode&) = delete;

  uint32_t seq() const { return seq_; }
  uint64_t ino() const { return ino_; }  // the memfd's st_ino (as in /proc/PID/maps)
  dev_t dev() const { return dev_; }     // the memfd's st_dev
  void set_dev(dev_t dev) { dev_ = dev; }
  // True if a /proc/<pid>/maps entry maps this inode (device and inode
  // number: what the kernel says, not a name).
  bool IsMappedBy(dev_t dev, uint64_t ino) const { return dev == dev_ && ino == ino_; }
  int memfd() const { return memfd_; }
  uint64_t pages() const { return pages_; }
  const Extent& extent() const { return extent_; }
  uint64_t slot(uint64_t page) const { return extent_.base + page; }
  // A swap move gives the inode its extent in the new file; swapoff takes it
  // away ({0, 0}: no swap; the inode cannot be evicted until it gets one).
  void set_extent(const Extent& e) { extent_ = e; }

  PageState state(uint64_t page) const {
    LIBSHM_ASSERT(page < pages_);
    const Chunk* c = chunks_[page >> kChunkShift].get();
    return c == nullptr ? PageState::kEmpty : c->states[page & (kChunkPages - 1)];
  }
  // Chunks of page state that exist (tests: an empty chunk is freed).
  uint64_t AllocatedChunks() const {
    uint64_t n = 0;
    for (const auto& c : chunks_) n += c != nullptr;
    return n;
  }
  // Sets of page states for NextIn (never kEmpty).
  static constexpr unsigned Mask(PageState s) { return StateMask(s); }
  static constexpr unsigned kHeldMask = StateMask(PageState::kZero) | StateMask(PageState::kClean) |
                                        StateMask(PageState::kDirty) |
                                        StateMask(PageState::kSampled);
  static constexpr unsigned kNotEmptyMask = kHeldMask | StateMask(PageState::kSwapped);
  // The first page at or after `page` (below `end`) whose state is in `mask`,
  // or `end`. Steps over chunks that hold no such page (each counts its
  // pages per state) and, inside one that does, over runs of kBlock empty
  // pages a few words at a time. Walking every page of every chunk that
  // exists was not enough: a member that wrote one page in each 256 MiB of
  // a region made each msync, MADV_REMOVE or collection of it 64 Ki steps
  // per page written (2^29 for a 2 TiB region: the helper never answered).
  uint64_t NextIn(uint64_t page, uint64_t end, unsigned mask) const {
    LIBSHM_ASSERT((mask & Mask(PageState::kEmpty)) == 0);
    end = end < pages_ ? end : pages_;
    while (page < end) {
      uint64_t chunk_end = ((page >> kChunkShift) + 1) << kChunkShift;
      chunk_end = chunk_end < end ? chunk_end : end;
      const Chunk* c = chunks_[page >> kChunkShift].get();
      if (c != nullptr && c->Holds(mask)) {
        while (page < chunk_end) {
          uint64_t i = page & (kChunkPages - 1);
          if (i % kBlock == 0 && page + kBlock <= chunk_end && c->BlockEmpty(i)) {
            page += kBlock;
            continue;
          }
          if ((mask & Mask(c->states[i])) != 0) return page;
          page++;
        }
      }
      page = chunk_end;
    }
    return end;
  }
  // Changes a page's state, checking the transition in debug builds.
  // A chunk whose pages are all empty again is freed: a member that touches
  // one page per chunk and lets it go (evicted as zeros, removed) cost the
  // helper 128 KiB per touch, kept for the region's life, until it ran out
  // of memory. (Its zero-fill counters go with it: only a hint.)
  void set_state(uint64_t page, PageState to) {
    LIBSHM_ASSERT(page < pages_);
    std::unique_ptr<Chunk, FreeChunk>& slot = chunks_[page >> kChunkShift];
    if (slot == nullptr && to == PageState::kEmpty) return;  // empty already
    Chunk& c = ChunkOf(page);
    PageState& s = c.states[page & (kChunkPages - 1)];
    LIBSHM_ASSERT(IsLegalTransition(s, to));
    counts_[static_cast<int>(s)]--;
    counts_[static_cast<int>(to)]++;
    if (s != PageState::kEmpty) {
      c.used--;
      c.count[static_cast<int>(s)]--;
    }
    if (to != PageState::kEmpty) {
      c.used++;
      c.count[static_cast<int>(to)]++;
    }
    s = to;
    if (c.used == 0) slot.reset();
  }

  // Punches [page, page+n) out of the memfd (eviction or discard).
  int Punch(uint64_t page, uint64_t n) const;
  // Reads [page, page+n) from the memfd into buf (zeros for holes).
  int ReadPages(uint64_t page, uint64_t n, void* buf) const;

  // Counts a zero fill in `page`'s aligned cluster of `cluster` pages and
  // returns how many that cluster has had (saturating at 255).
  // pre: `page` is not kEmpty (its chunk exists, and is kept).
  // (Kept per chunk: a cluster that straddles two chunks counts in each.)
  int CountZeroFill(uint64_t page, uint64_t cluster) {
    LIBSHM_ASSERT(state(page) != PageState::kEmpty);
    Chunk& c = ChunkOf(page);
    uint8_t& n = c.zero_fills[(page & (kChunkPages - 1)) / cluster];
    if (n < 255) n++;
    return n;
  }

  // Count of pages per state (for stats and checks), kept as states change.
  uint64_t CountState(PageState s) const { return counts_[static_cast<int>(s)]; }

  // Changes the size to `pages` (a program object's ftruncate).
  // pre: when shrinking, every page at or past `pages` is kEmpty.
  // Throws std::bad_alloc only for the chunk table (the caller: ENOMEM).
  void Resize(uint64_t pages) {
    LIBSHM_ASSERT(pages < kMaxPages);
    LIBSHM_ASSERT(pages >= pages_ || NextIn(pages, pages_, kNotEmptyMask) == pages_);
    chunks_.resize((pages + kChunkPages - 1) >> kChunkShift);
    counts_[static_cast<int>(PageState::kEmpty)] += pages;
    counts_[static_cast<int>(PageState::kEmpty)] -= pages_;
    pages_ = pages;
  }

  // How many VMAs in all clients map this inode, and how many connection
  // handles name it; the inode dies when both are 0 (a program object:
  // see below).
  int mappings = 0;
  // A program object (docs/named.md): a POSIX shm object or a memfd the
  // program made, which the program holds by fd and may map, resize and
  // name; not sealed, its size may change. An anonymous region's memfd is
  // libshm's own (sealed against shrinking, never seen by the program).
  bool program = false;
  // Made by shm_open (a POSIX object, named or unlinked since).
  bool posix = false;
  // A program object with a POSIX name (the engine's name table holds it).
  bool named = false;
  // Every page is resident and stays so: a mapper libshm cannot register
  // (MAP_PRIVATE, a read-only descriptor) would read an evicted page as
  // zeros. The evictor and the sampler pass it by.
  bool pinned = false;
  // SHM_LOCK of its segment: every page is resident and stays so, counted
  // against the limit (kept_pages.cc). Passed by as a pinned inode is.
  bool locked = false;
  bool Unevictable() const { return pinned || locked; }
  // When a program object was first seen held by nothing the helper sees
  // and its hold could not be probed (0: held). It is handed back after a
  // grace period (Engine::CollectInodes).
  uint64_t orphan_since_ns = 0;
  // A program object the hold probe found held by a file the helper cannot
  // see: probed again no sooner than this, each time twice as late (1 s up
  // to 16 s), so that objects held for long cost the engine little.
  uint64_t next_probe_ns = 0;
  uint32_t probe_backoff = 0;
  // A program object that could not be handed back (its swap could not be
  // read): kept, with its slots, for the session's life.
  bool kept = false;
  // The System V segment this program object backs (the engine's segment
  // table holds it while the segment exists), or nullptr.
  Segment* segment = nullptr;
  // Made with MAP_NORESERVE: its extent is sparse (a swap move keeps it so).
  bool sparse_extent = false;
  int holders = 0;
  // Per-region counters (shmstat).
  uint64_t faults = 0, swap_ins = 0, swap_outs = 0;

 private:
  uint32_t seq_;
  uint64_t ino_;
  dev_t dev_ = 0;
  int memfd_;
  // All zeros is a chunk of empty pages. A chunk is its own anonymous
  // mapping, so that only the pages of it that are used take memory (one
  // page touched in a chunk costs the helper a few KiB, not 128) and a
  // freed chunk goes back to the kernel at once; where mmap fails (the
  // helper's map count) it comes zeroed from the heap.
  static_assert(static_cast<int>(PageState::kEmpty) == 0, "a chunk of zeros is empty");
  static constexpr uint64_t kBlock = 64;  // pages NextIn checks at once
  struct Chunk {
    uint32_t used;                    // pages not kEmpty
    uint32_t count[kPageStates];      // pages per state (kEmpty: not kept)
    bool heap;                        // calloc'd, not mapped
    PageState states[kChunkPages];    // kEmpty is 0
    uint8_t zero_fills[kChunkPages];  // per cluster, for FillCluster
    bool Holds(unsigned mask) const {
      for (int s = 1; s < kPageStates; s++) {
        if ((mask & (1u << s)) != 0 && count[s] != 0) return true;
      }
      return false;
    }
    bool BlockEmpty(uint64_t i) const {
      uint64_t w[kBlock / sizeof(uint64_t)];
      memcpy(w, &states[i], sizeof(w));
      uint64_t any = 0;
      for (uint64_t x : w) any |= x;
      return any == 0;
    }
  };
  struct FreeChunk {
    void operator()(Chunk* c) const {
      if (c->heap) {
        free(c);
      } else {
        munmap(c, sizeof(Chunk));
      }
    }
  };
  Chunk& ChunkOf(uint64_t page) {
    LIBSHM_ASSERT(page < pages_);
    std::unique_ptr<Chunk, FreeChunk>& c = chunks_[page >> kChunkShift];
    if (c == nullptr) {
      void* m =
          mmap(nullptr, sizeof(Chunk), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      bool heap = m == MAP_FAILED;
      if (heap) m = calloc(1, sizeof(Chunk));
      // The helper cannot go on without its page table; this is its OOM.
      if (m == nullptr) AssertFail(__FILE__, __LINE__, "out of memory for a page table chunk");
      c.reset(static_cast<Chunk*>(m));
      c->heap = heap;
    }
    return *c;
  }

  Extent extent_;
  uint64_t pages_;
  std::vector<std::unique_ptr<Chunk, FreeChunk>> chunks_;
  uint64_t counts_[kPageStates] = {};
};

}  // namespace libshm::internal

#endif  // LIBSHM_SRC_INODE_H_
