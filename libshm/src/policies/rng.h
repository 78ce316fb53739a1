// SPDX-License-Identifier: MIT
// Rng: small, fast, seedable generator (xoshiro256**, seeded through
// splitmix64) for policies that need randomness. std::mt19937 would do but
// is 2.5 KB of state and its distributions differ between standard
// libraries, which would make seeded results differ between builds.
#ifndef LIBSHM_SRC_POLICIES_RNG_H_
#define LIBSHM_SRC_POLICIES_RNG_H_

#include <bit>
#include <cstdint>

namespace libshm::internal {

class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (uint64_t& s : s_) {
      seed += 0x9E3779B97F4A7C15ull;
      uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
      s = z ^ (z >> 31);
    }
  }

  uint64_t Next() {
    uint64_t result = std::rotl(s_[1] * 5, 7) * 9;
    uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = std::rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, n) by Lemire's multiply-shift; the bias for n far below
  // 2^64 is negligible for simulation.
  uint64_t Below(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(Next()) * n) >> 64);
  }

  // Uniform in [0, 1).
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

 private:
  uint64_t s_[4];
};

}  // namespace libshm::internal

#endif  // LIBSHM_SRC_POLICIES_RNG_H_
