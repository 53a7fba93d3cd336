// File: services/population/rng.h
//
// The population's only source of randomness: a small seeded generator whose
// draws are defined here (splitmix64 and explicit conversions), not by the
// standard library's distributions, so a seed gives the same population on
// every platform and compiler.
//
// Thread-safety: one Rng per member, used by one thread.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace makegood::population {

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}

  // The stream of one member: its seed, its segment's name and its index.
  static Rng For(uint64_t seed, std::string_view segment, uint64_t index) {
    uint64_t h = 1469598103934665603ULL;  // FNV-1a of the segment name
    for (char c : segment) {
      h ^= static_cast<unsigned char>(c);
      h *= 1099511628211ULL;
    }
    Rng mix(seed * 0x9E3779B97F4A7C15ULL ^ h);
    mix.Next();
    return Rng(mix.Next() ^ (index + 1) * 0xD1B54A32D192ED03ULL);
  }

  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }

  // Uniform in [0, 1).
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  // Uniform in [lo, hi).
  double Between(double lo, double hi) { return lo + (hi - lo) * Uniform(); }
  // Uniform integer in [lo, hi] (lo <= hi).
  int64_t Int(int64_t lo, int64_t hi) {
    if (hi <= lo) return lo;
    return lo +
           static_cast<int64_t>(Next() % static_cast<uint64_t>(hi - lo + 1));
  }
  bool Chance(double p) { return Uniform() < p; }
  // An index drawn with the given non-negative weights (0 when all are 0).
  size_t Pick(const std::vector<double>& weights) {
    double total = 0;
    for (double w : weights) total += w;
    if (total <= 0) return 0;
    double x = Uniform() * total;
    for (size_t i = 0; i < weights.size(); ++i) {
      if (x < weights[i]) return i;
      x -= weights[i];
    }
    return weights.size() - 1;
  }

 private:
  uint64_t state_;
};

}  // namespace makegood::population
