// recd::base — epoch-referred log2 weights (store/decay.h explains them): a sum
// of decayed weights kept as log2 of the sum, so adding is a log-add-exp.
// Shared by the store's edges and the model's online rules and baselines.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>

namespace recd {

inline constexpr double kNoWeight = -std::numeric_limits<double>::infinity();

// log2(2^a + 2^b), stable for large magnitudes and for kNoWeight.
inline double LogAddExp2(double a, double b) {
  if (a == kNoWeight) return b;
  if (b == kNoWeight) return a;
  const double hi = std::max(a, b), lo = std::min(a, b);
  return hi + std::log2(1.0 + std::exp2(lo - hi));
}

}  // namespace recd
