// recd::store — time-decay maths in event time.
//
// An edge's weight is  w(t) = sum_i  type_weight_i * 2^(-(t - t_i) / half_life).
// We store it as a log2 weight referred to the epoch, L = log2(sum_i type_weight_i *
// 2^(t_i / half_life)), so adding an event is a log-add-exp, the order of events
// does not matter (replays and out-of-order events give the same bits), and
// comparing or normalising weights at any common time needs only L:
// w(t) = 2^(L - t / half_life).
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>

#include "base/event.h"
#include "base/log_weight.h"

namespace recd::store {

using recd::kNoWeight;
using recd::LogAddExp2;

struct DecayConfig {
  double half_life_ms = 14.0 * 24 * 3600 * 1000;  // two weeks of event time
  double click_weight = 1.0;
  double purchase_weight = 4.0;
  double rating_weight = 2.0;  // scaled by rating / rating_max
  double rating_max = 5.0;
};

// The raw (undecayed) weight one interaction contributes.
inline double TypeWeight(const DecayConfig& c, EventType type, double rating) {
  switch (type) {
    case EventType::kClick: return c.click_weight;
    case EventType::kPurchase: return c.purchase_weight;
    case EventType::kRating: return c.rating_weight * rating / c.rating_max;
    default: return 0;
  }
}

// Epoch-referred log2 weight of `weight` placed at event time ts.
inline double EpochLogWeight(const DecayConfig& c, double weight, EpochMillis ts) {
  return weight > 0 ? std::log2(weight) + static_cast<double>(ts) / c.half_life_ms : kNoWeight;
}

// The decayed weight at event time `now` of an epoch-referred log2 weight.
inline double WeightAt(const DecayConfig& c, double epoch_log_weight, EpochMillis now) {
  return std::exp2(epoch_log_weight - static_cast<double>(now) / c.half_life_ms);
}

}  // namespace recd::store
