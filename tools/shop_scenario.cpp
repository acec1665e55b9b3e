#include "tools/shop_scenario.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <unordered_map>
#include <unordered_set>

#include "tools/recgen_catalogue.h"

namespace recd::tools {
namespace {

using namespace recgen;

constexpr EpochMillis kSecond = 1000, kDay = 86'400'000;

// Behaviour constants, each set to land near the published shares quoted in
// docs/evaluation.md (views dominate; a few percent of events are purchases).
constexpr double kMeanViewsPerSession = 3.5;   // geometric; Diginetica/Retailrocket sessions are short
constexpr double kRevisitOpenItem = 0.25;      // a view goes back to an item the visitor viewed before
constexpr double kStayInIntent = 0.7;          // a view stays in the session's category
constexpr double kBuyCustomer = 0.16;          // a customer's session ends with a purchase
constexpr double kBuyAnonymous = 0.04;         // an anonymous visitor's does
constexpr double kDirectPurchase = 0.03;       // a purchase of an item never viewed before
constexpr double kRatedPurchase = 0.2;         // a purchase rated days later
constexpr double kFavouriteIntent = 0.6;       // a customer's session intent is one of their categories
constexpr EpochMillis kOpenItemDays = 30;      // viewed items stay "open" (considered for purchase) this long

struct Item {
  size_t category, colour, style, price;
  double appeal;              // lognormal: a few items draw most attention
  EpochMillis released;       // item event at this time
  EpochMillis sold_out_from = INT64_MAX, sold_out_until = INT64_MAX;
  bool Available(EpochMillis t) const { return t >= released && !(t >= sold_out_from && t < sold_out_until); }
};

struct Taste {
  size_t style, price;
  std::array<size_t, 2> colours;
  std::array<size_t, 2> categories;
};

struct Viewed {
  uint32_t views = 0;
  EpochMillis last = 0;
  bool bought = false;
};

double Normal(Rng& rng) {  // Box-Muller on our portable uniform
  const double u1 = std::max(rng.Uniform(), 1e-12), u2 = rng.Uniform();
  return std::sqrt(-2 * std::log(u1)) * std::cos(2 * M_PI * u2);
}

double Match(const Item& it, const Taste& t) {
  double w = 1;
  if (it.style == t.style) w *= 2.5;
  if (it.colour == t.colours[0] || it.colour == t.colours[1]) w *= 2;
  if (it.price == t.price) w *= 1.6;
  return w;
}

AttributeValue Text(const std::string& s) {
  AttributeValue v;
  v.text = s;
  return v;
}

class Shop {
 public:
  explicit Shop(const ShopOptions& o) : o_(o), rng_(o.seed) {}

  nlohmann::json Run(const std::function<void(const Event&)>& emit) {
    MakeCatalogue();
    MakeCustomers();
    const double span = o_.days * kDay;
    const auto sessions = static_cast<size_t>(static_cast<double>(o_.events) / (kMeanViewsPerSession + 0.1));
    std::vector<EpochMillis> starts(sessions);
    for (auto& s : starts) s = o_.start + static_cast<EpochMillis>(rng_.Uniform() * span);
    std::sort(starts.begin(), starts.end());
    for (EpochMillis t : starts) Session(t);
    std::stable_sort(events_.begin(), events_.end(), [](const Event& a, const Event& b) { return a.ts < b.ts; });
    for (const Event& e : events_) emit(e);
    return Measure();
  }

 private:
  void MakeCatalogue() {
    const double span = o_.days * kDay;
    items_.resize(o_.items);
    by_category_.assign(kCategories.size(), {});
    for (size_t i = 0; i < o_.items; ++i) {
      Item& it = items_[i];
      it = {rng_.Below(kCategories.size()), rng_.Below(kColours.size()), rng_.Below(kStyles.size()),
            rng_.Below(kPriceBands.size()), std::exp(1.0 * Normal(rng_)), o_.start};
      if (rng_.Uniform() < o_.new_items) it.released = o_.start + static_cast<EpochMillis>(rng_.Uniform() * span);
      if (rng_.Uniform() < o_.sold_out) {
        it.sold_out_from = it.released + static_cast<EpochMillis>(rng_.Uniform() * (o_.start + span - it.released));
        if (rng_.Uniform() < 0.5) it.sold_out_until = it.sold_out_from + (7 + static_cast<EpochMillis>(rng_.Below(24))) * kDay;
      }
      by_category_[it.category].push_back(static_cast<uint32_t>(i));
      Event e;
      e.type = EventType::kItem;
      e.item_id = ItemId(i);
      e.ts = it.released;
      e.event_id = "item-" + e.item_id;
      e.attributes = {{"category", Text(kCategories[it.category].name)},
                      {"colour", Text(kColours[it.colour])},
                      {"style", Text(kStyles[it.style])},
                      {"season", Text(kSeasonNames[kCategories[it.category].season])},
                      {"price_band", Text(kPriceBands[it.price])}};
      events_.push_back(e);
      for (auto [at, available] : {std::pair{it.sold_out_from, false}, std::pair{it.sold_out_until, true}}) {
        if (at == INT64_MAX) continue;
        Event a = e;
        a.ts = at;
        a.event_id = e.event_id + (available ? "-back-" : "-out-") + std::to_string(at);
        a.attributes.emplace_back("available", Text(available ? "true" : "false"));
        events_.push_back(a);
      }
    }
  }

  void MakeCustomers() {
    customers_.resize(o_.customers);
    for (auto& t : customers_) {
      t = {rng_.Below(kStyles.size()), rng_.Below(kPriceBands.size()),
           {rng_.Below(kColours.size()), rng_.Below(kColours.size())},
           {rng_.Below(kCategories.size()), rng_.Below(kCategories.size())}};
    }
    open_.resize(o_.customers);
  }

  static std::string ItemId(size_t i) { return "i" + std::to_string(i); }

  // A category by its seasonal weight now (what the shop window shows).
  size_t SeasonalCategory(EpochMillis t) {
    std::array<double, kCategories.size()> w{};
    double total = 0;
    for (size_t c = 0; c < w.size(); ++c) total += w[c] = SeasonalWeight(kCategories[c].season, DayOfYear(t));
    double x = rng_.Uniform() * total;
    for (size_t c = 0; c < w.size(); ++c) {
      if ((x -= w[c]) < 0) return c;
    }
    return w.size() - 1;
  }

  // An available item of `category`, by appeal x season x taste; -1 when none is on sale.
  int64_t Pick(size_t category, const Taste& taste, EpochMillis t) {
    const double season = SeasonalWeight(kCategories[category].season, DayOfYear(t));
    weights_.clear();
    double total = 0;
    for (uint32_t i : by_category_[category]) {
      const Item& it = items_[i];
      // A new item draws extra attention in its first weeks ("new in").
      const double fresh = it.released > o_.start && t - it.released < 21 * kDay ? 3.0 : 1.0;
      const double w = it.Available(t) ? it.appeal * season * fresh * Match(it, taste) : 0.0;
      weights_.push_back(total += w);
    }
    if (total <= 0) return -1;
    const double x = rng_.Uniform() * total;
    const size_t k = static_cast<size_t>(std::upper_bound(weights_.begin(), weights_.end(), x) - weights_.begin());
    return by_category_[category][std::min(k, weights_.size() - 1)];
  }

  void Add(const std::string& user, uint32_t item, EventType type, EpochMillis ts, double rating = 0) {
    Event e;
    e.type = type;
    e.user_id = user;
    e.item_id = ItemId(item);
    e.ts = ts;
    e.rating = rating;
    e.event_id = "e" + std::to_string(o_.seed) + "-" + std::to_string(seq_++);
    events_.push_back(std::move(e));
  }

  void Session(EpochMillis t) {
    const bool anonymous = rng_.Uniform() < o_.anonymous_sessions;
    Taste taste;
    std::string user;
    std::unordered_map<uint32_t, Viewed> scratch;
    std::unordered_map<uint32_t, Viewed>* open = &scratch;
    if (anonymous) {
      taste = {rng_.Below(kStyles.size()), rng_.Below(kPriceBands.size()),
               {rng_.Below(kColours.size()), rng_.Below(kColours.size())},
               {rng_.Below(kCategories.size()), rng_.Below(kCategories.size())}};
      user = "anon" + std::to_string(anonymous_++);
    } else {
      const size_t c = rng_.Skewed(o_.customers);
      taste = customers_[c];
      user = "u" + std::to_string(c);
      open = &open_[c];
    }
    const size_t intent = !anonymous && rng_.Uniform() < kFavouriteIntent ? taste.categories[rng_.Below(2)]
                                                                           : SeasonalCategory(t);
    // Views: 1 + geometric, mean kMeanViewsPerSession.
    size_t views = 1;
    while (rng_.Uniform() < 1 - 1 / kMeanViewsPerSession) ++views;
    std::vector<uint32_t> session_items;
    ++sessions_;
    if (anonymous) ++anonymous_sessions_;
    for (size_t v = 0; v < views; ++v) {
      t += (15 + static_cast<EpochMillis>(rng_.Below(165))) * kSecond;
      int64_t item = -1;
      if (rng_.Uniform() < kRevisitOpenItem) item = Revisit(*open, session_items, t);
      if (item < 0) item = Pick(rng_.Uniform() < kStayInIntent ? intent : SeasonalCategory(t), taste, t);
      if (item < 0) continue;
      const auto i = static_cast<uint32_t>(item);
      Add(user, i, EventType::kClick, t);
      Viewed& seen = (*open)[i];
      ++seen.views;
      seen.last = t;
      session_items.push_back(i);
    }
    session_views_ += session_items.size();
    multi_view_sessions_ += session_items.size() >= 2;
    if (rng_.Uniform() >= (anonymous ? kBuyAnonymous : kBuyCustomer)) return;
    t += (30 + static_cast<EpochMillis>(rng_.Below(270))) * kSecond;
    int64_t bought = -1;
    if (rng_.Uniform() >= kDirectPurchase) bought = Considered(*open, taste, t);
    if (bought < 0) bought = Pick(intent, taste, t);
    if (bought < 0) return;
    const auto b = static_cast<uint32_t>(bought);
    Add(user, b, EventType::kPurchase, t);
    (*open)[b].bought = true;
    if (!anonymous && rng_.Uniform() < kRatedPurchase) {
      const double likes = Match(items_[b], taste) >= 4 ? 4.3 : 2.9;
      const double rating = std::clamp(std::round(likes + (rng_.Uniform() - 0.5) * 2), 1.0, 5.0);
      Add(user, b, EventType::kRating, t + (1 + static_cast<EpochMillis>(rng_.Below(10))) * kDay, rating);
    }
  }

  // An item the visitor viewed (this session or an open one), not bought, on sale; -1 when none.
  int64_t Revisit(const std::unordered_map<uint32_t, Viewed>& open, const std::vector<uint32_t>& session, EpochMillis t) {
    candidates_.clear();
    for (uint32_t i : session) candidates_.push_back(i);
    for (const auto& [i, v] : open) {
      if (!v.bought && t - v.last < kOpenItemDays * kDay) candidates_.push_back(i);
    }
    std::sort(candidates_.begin(), candidates_.end());  // unordered_map order is not portable
    candidates_.erase(std::unique(candidates_.begin(), candidates_.end()), candidates_.end());
    candidates_.erase(std::remove_if(candidates_.begin(), candidates_.end(),
                                     [&](uint32_t i) { return !items_[i].Available(t); }),
                      candidates_.end());
    if (candidates_.empty()) return -1;
    return candidates_[rng_.Below(candidates_.size())];
  }

  // What a purchase goes to: an open item on sale, weighted by views x taste; -1 when none.
  int64_t Considered(const std::unordered_map<uint32_t, Viewed>& open, const Taste& taste, EpochMillis t) {
    std::vector<std::pair<uint32_t, double>> options;
    for (const auto& [i, v] : open) {
      if (!v.bought && t - v.last < kOpenItemDays * kDay && items_[i].Available(t)) {
        options.emplace_back(i, v.views * Match(items_[i], taste) * items_[i].appeal);
      }
    }
    if (options.empty()) return -1;
    std::sort(options.begin(), options.end());
    double total = 0;
    for (const auto& [i, w] : options) total += w;
    double x = rng_.Uniform() * total;
    for (const auto& [i, w] : options) {
      if ((x -= w) < 0) return i;
    }
    return options.back().first;
  }

  // The shares docs/evaluation.md quotes, measured on what was generated.
  nlohmann::json Measure() const {
    std::map<std::string, uint64_t> by_type;
    uint64_t views = 0, repeat_views = 0, purchases = 0, purchases_after_view = 0, anon_events = 0, new_item_events = 0,
             style_match = 0, interactions = 0, winter_views_dec_feb = 0, views_dec_feb = 0, winter_views_jun_aug = 0,
             views_jun_aug = 0;
    std::unordered_map<std::string, std::unordered_set<uint32_t>> viewed;
    std::unordered_set<std::string> anon_users, users;
    for (const Event& e : events_) {
      ++by_type[std::string(Name(e.type))];
      if (!IsInteraction(e.type)) continue;
      ++interactions;
      const auto item = static_cast<uint32_t>(std::stoul(e.item_id.substr(1)));
      const Item& it = items_[item];
      const bool anonymous = e.user_id.rfind("anon", 0) == 0;
      users.insert(e.user_id);
      if (anonymous) {
        ++anon_events;
        anon_users.insert(e.user_id);
      } else if (it.style == customers_[std::stoul(e.user_id.substr(1))].style) {
        ++style_match;
      }
      if (it.released > o_.start) ++new_item_events;
      auto& mine = viewed[e.user_id];
      if (e.type == EventType::kClick) {
        ++views;
        repeat_views += !mine.insert(item).second;
        const double day = DayOfYear(e.ts);
        const bool winter_item = kCategories[it.category].season == 1;
        if (day < 59 || day >= 335) {
          ++views_dec_feb;
          winter_views_dec_feb += winter_item;
        } else if (day >= 152 && day < 244) {
          ++views_jun_aug;
          winter_views_jun_aug += winter_item;
        }
      } else if (e.type == EventType::kPurchase) {
        ++purchases;
        purchases_after_view += mine.count(item) != 0;
      }
    }
    auto share = [](uint64_t a, uint64_t b) { return b ? static_cast<double>(a) / static_cast<double>(b) : 0.0; };
    size_t sold_out = 0, released_later = 0;
    for (const Item& it : items_) {
      sold_out += it.sold_out_from != INT64_MAX;
      released_later += it.released > o_.start;
    }
    nlohmann::json j;
    j["interactions"] = interactions;
    j["by_type"] = by_type;
    j["share_views"] = share(views, interactions);
    j["share_purchases"] = share(purchases, interactions);
    j["conversion_purchases_per_view"] = share(purchases, views);
    j["purchases_preceded_by_a_view_of_the_item"] = share(purchases_after_view, purchases);
    j["repeat_views"] = share(repeat_views, views);
    j["sessions"] = sessions_;
    j["mean_views_per_session"] = share(session_views_, sessions_);
    j["sessions_of_two_or_more_views"] = share(multi_view_sessions_, sessions_);
    j["share_sessions_anonymous"] = share(anonymous_sessions_, sessions_);
    j["visitors"] = users.size();
    j["anonymous_visitors"] = anon_users.size();
    j["share_events_by_anonymous_visitors"] = share(anon_events, interactions);
    j["items_released_after_start"] = released_later;
    j["share_interactions_on_items_released_after_start"] = share(new_item_events, interactions);
    j["items_sold_out_once"] = sold_out;
    j["customer_interactions_matching_their_style"] = share(style_match, interactions - anon_events);
    j["style_match_by_chance"] = 1.0 / kStyles.size();
    j["winter_items_share_of_views_dec_feb"] = share(winter_views_dec_feb, views_dec_feb);
    j["winter_items_share_of_views_jun_aug"] = share(winter_views_jun_aug, views_jun_aug);
    return j;
  }

  ShopOptions o_;
  Rng rng_;
  std::vector<Item> items_;
  std::vector<std::vector<uint32_t>> by_category_;
  std::vector<Taste> customers_;
  std::vector<std::unordered_map<uint32_t, Viewed>> open_;  // per customer: items viewed
  std::vector<Event> events_;
  std::vector<double> weights_;
  std::vector<uint32_t> candidates_;
  uint64_t seq_ = 0, anonymous_ = 0;
  uint64_t sessions_ = 0, anonymous_sessions_ = 0, session_views_ = 0, multi_view_sessions_ = 0;
};

}  // namespace

nlohmann::json GenerateShop(const ShopOptions& options, const std::function<void(const Event&)>& emit) {
  return Shop(options).Run(emit);
}

}  // namespace recd::tools
