# SPDX-License-Identifier: MIT
"""torch.utils.data.DataLoader with worker processes, batches through /dev/shm.

usage: torch_dataloader.py TOTAL_BYTES BATCH_BYTES [WORKERS [PREFETCH]]

Run by torch_dataloader.sh, natively with a 1 MB /dev/shm (must fail) and under
shmrun (must pass). The workers (default 2, prefetch_factor 2) build each
sample with torch.arange and collate the batch straight into shared memory:
with the default sharing strategy (file_descriptor) torch shm_open()s
/dev/shm/torch_<pid>_<rand>_<n>, ftruncate()s it to the batch size, mmap()s it
MAP_SHARED, unlinks it and passes the fd to the parent over a unix socket
(SCM_RIGHTS). Every int32 word of the data set is distinct and nonzero
(sample i, word j holds i * E + j + 1, E words a sample), so a page that is
lost, zeroed or read from the wrong batch or sample is caught. The parent
checks every batch against an expected batch it computes itself with numpy (no
torch, no shared memory). After the first batch it pauses a second, so that
every prefetched batch sits in shared memory at once. It exits 0 only if
every batch matched, in order, and the count and the bytes are right.
"""
import sys
import time

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

SAMPLES_PER_BATCH = 4
WORD = 4  # int32


class Synthetic(Dataset):
    """Sample i: int32 words i * E + 1 ... i * E + E (E words)."""

    def __init__(self, samples, words):
        self.samples = samples
        self.words = words

    def __len__(self):
        return self.samples

    def __getitem__(self, i):
        base = i * self.words + 1
        return torch.arange(base, base + self.words, dtype=torch.int32)


def expected_batch(b, words):
    """The batch b the parent expects, computed with numpy alone."""
    first = b * SAMPLES_PER_BATCH * words + 1
    flat = np.arange(first, first + SAMPLES_PER_BATCH * words, dtype=np.int64)
    return flat.astype(np.int32).reshape(SAMPLES_PER_BATCH, words)


def checksum(a):
    """Position-weighted sum of the words, mod 2**61 - 1 (for the log)."""
    v = a.reshape(-1).astype(np.int64)
    w = np.arange(1, v.size + 1, dtype=np.int64)
    return int(((v % 1000003) * (w % 1000003) % (2**61 - 1)).sum() % (2**61 - 1))


def main():
    if len(sys.argv) < 3:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    total = int(sys.argv[1])
    batch_bytes = int(sys.argv[2])
    workers = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    prefetch = int(sys.argv[4]) if len(sys.argv) > 4 else 2
    words = batch_bytes // (SAMPLES_PER_BATCH * WORD)
    batch_bytes = words * SAMPLES_PER_BATCH * WORD
    batches = total // batch_bytes
    if words == 0 or batches == 0 or batches * SAMPLES_PER_BATCH * words >= 2**31 - 1:
        print(f"torch_dataloader: bad sizes total={total} batch={batch_bytes}", file=sys.stderr)
        return 2

    strategy = torch.multiprocessing.get_sharing_strategy()
    loader = DataLoader(Synthetic(batches * SAMPLES_PER_BATCH, words),
                        batch_size=SAMPLES_PER_BATCH, shuffle=False,
                        num_workers=workers, prefetch_factor=prefetch, timeout=120)
    t0 = time.monotonic()
    seen = bad = nbytes = 0
    sums = 0
    try:
        for b, batch in enumerate(loader):
            want = expected_batch(b, words)
            got = batch.numpy()
            nbytes += batch.numel() * batch.element_size()
            if b == 0 and batch.is_shared() is False:
                print("torch_dataloader: batch 0 is not in shared memory", file=sys.stderr)
                bad += 1
            if got.dtype != np.int32 or got.shape != want.shape or not np.array_equal(got, want):
                if bad < 5:
                    diff = np.flatnonzero(got.reshape(-1) != want.reshape(-1)) \
                        if got.shape == want.shape else []
                    where = (f"{len(diff)} words differ, first at word {diff[0]}: "
                             f"{got.reshape(-1)[diff[0]]} want {want.reshape(-1)[diff[0]]}"
                             if len(diff) else f"shape {got.shape} dtype {got.dtype}")
                    print(f"torch_dataloader: batch {b}: {where}", file=sys.stderr)
                bad += 1
            else:
                sums = (sums * 31 + checksum(got)) % (2**61 - 1)
            seen += 1
            del batch, got
            if b == 0:
                # Let the workers fill the prefetch queue: WORKERS * PREFETCH
                # batches in shared memory at once, besides the one just checked.
                time.sleep(1.0)
    except Exception as e:  # worker killed (SIGBUS), timeout, ...
        # The whole message: a worker's exception carries its traceback.
        print(f"torch_dataloader: FAIL after {seen} batches: {type(e).__name__}: "
              f"{str(e).strip()}", file=sys.stderr)
        return 1
    secs = time.monotonic() - t0
    ok = bad == 0 and seen == batches and nbytes == batches * batch_bytes
    print(f"torch_dataloader: torch {torch.__version__}, strategy {strategy}, "
          f"{workers} workers, prefetch {prefetch}: {seen}/{batches} batches of "
          f"{batch_bytes >> 10} KiB, {nbytes >> 20} MiB, {bad} bad, "
          f"checksum {sums:016x}, {secs:.1f} s: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
