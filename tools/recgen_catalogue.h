// recgen's catalogue vocabulary and deterministic random numbers, shared by
// its scenarios (recgen.cpp: drift and seasons; shop_scenario.cpp: shop).
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>

#include "base/ids.h"

namespace recd::tools::recgen {

struct Category {
  const char* name;
  int season;  // 0 all-year, 1 winter, 2 summer
};
constexpr std::array<Category, 12> kCategories = {{{"coat", 1}, {"sweater", 1}, {"boots", 1}, {"scarf", 1},
                                                   {"hat", 1}, {"t-shirt", 2}, {"shorts", 2}, {"sandals", 2},
                                                   {"swimwear", 2}, {"dress", 2}, {"jeans", 0}, {"jacket", 0}}};
constexpr std::array<const char*, 8> kColours = {"black", "white", "navy", "red", "beige", "green", "grey", "pink"};
constexpr std::array<const char*, 4> kStyles = {"casual", "formal", "sport", "street"};
constexpr std::array<const char*, 3> kPriceBands = {"low", "mid", "high"};
constexpr std::array<const char*, 3> kSeasonNames = {"all", "winter", "summer"};

// Reproducible on every platform: no std:: distributions, whose output is implementation-defined.
class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}
  uint64_t Next() { return engine_(); }
  double Uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  size_t Below(size_t n) { return static_cast<size_t>(Uniform() * static_cast<double>(n)); }
  // Zipf-like pick in [0, n): rank r with weight ~ 1/(r+1)^0.8, via inverse-CDF approximation.
  size_t Skewed(size_t n) {
    const double a = 0.2;  // 1 - exponent
    const double x = std::pow(Uniform() * (std::pow(double(n), a) - 1) + 1, 1 / a) - 1;
    return std::min(n - 1, static_cast<size_t>(x));
  }

 private:
  std::mt19937_64 engine_;
};

// Seasonal appeal of a category at a given day of the year: winter items peak in
// mid-January, summer items in mid-July, all-year items stay flat.
inline double SeasonalWeight(int season, double day_of_year) {
  const double phase = std::cos(2 * M_PI * (day_of_year - 15) / 365.25);  // +1 mid-Jan, -1 mid-Jul
  if (season == 1) return 0.15 + 0.85 * (phase + 1) / 2;
  if (season == 2) return 0.15 + 0.85 * (1 - phase) / 2;
  return 0.6;
}

// The "seasons" scenario: a sharp change twice a year. From April to September
// summer items sell and winter items almost do not; from October to March the
// reverse. The same catalogue returns every year, so last winter predicts this one.
inline double SharpSeasonWeight(int season, double day_of_year) {
  if (season == 0) return 0.35;
  const bool summer = day_of_year >= 90 && day_of_year < 273;  // ~1 April to ~30 September
  return (season == 2) == summer ? 1.0 : 0.03;
}

inline double DayOfYear(recd::EpochMillis ts) {
  const double days = static_cast<double>(ts) / 86'400'000.0;
  return std::fmod(days, 365.2425);  // epoch 1970-01-01 is day 0 of a year
}

}  // namespace recd::tools::recgen
