// Unit tests for stream/: the event codec (every rejection reason, exactly) and time parsing.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>

#include "base/time.h"
#include "stream/codec.h"

namespace recd::stream {
namespace {

class DecoderTest : public ::testing::Test {
 protected:
  // Expects a rejection with `reason` whose message contains `fragment`.
  void ExpectRejected(const std::string& json, RejectReason reason, const std::string& fragment) {
    Event e;
    Rejection r;
    ASSERT_FALSE(decoder_.Decode(json, &e, &r)) << json;
    EXPECT_EQ(Name(r.reason), Name(reason)) << r.message;
    EXPECT_NE(r.message.find(fragment), std::string::npos) << "message: " << r.message;
  }
  Event Accept(const std::string& json) {
    Event e;
    Rejection r;
    EXPECT_TRUE(decoder_.Decode(json, &e, &r)) << r.message;
    return e;
  }
  EventDecoder decoder_;
};

TEST_F(DecoderTest, AcceptsEveryTypeWithBothTimeForms) {
  Event click = Accept(R"({"type":"click","user_id":"u1","item_id":"i9","ts":"2026-01-31T12:00:00Z","extra":[1,{"x":2}]})");
  EXPECT_EQ(click.type, EventType::kClick);
  EXPECT_EQ(click.user_id, "u1");
  EXPECT_EQ(click.item_id, "i9");
  EXPECT_EQ(click.ts, 1769860800000);
  EXPECT_TRUE(click.event_id.empty());

  Event purchase = Accept(R"({"type":"purchase","user_id":"u1","item_id":"i9","ts":1769860800123,"event_id":"e-1"})");
  EXPECT_EQ(purchase.type, EventType::kPurchase);
  EXPECT_EQ(purchase.ts, 1769860800123);
  EXPECT_EQ(purchase.event_id, "e-1");

  Event rating = Accept(R"({"type":"rating","user_id":"u1","item_id":"i9","ts":"2026-01-31T13:00:00+01:00","rating":4.5})");
  EXPECT_EQ(rating.rating, 4.5);
  EXPECT_EQ(rating.ts, 1769860800000);

  Event item = Accept(R"({"type":"item","item_id":"i9","ts":1769860800000,"attributes":{"colour":"red","price":19.5},"embedding":[0.5,-1,2e-1]})");
  ASSERT_EQ(item.attributes.size(), 2u);
  EXPECT_EQ(item.attributes[0].first, "colour");
  EXPECT_EQ(item.attributes[0].second.text, "red");
  EXPECT_TRUE(item.attributes[1].second.is_number);
  EXPECT_EQ(item.attributes[1].second.number, 19.5);
  EXPECT_EQ(item.embedding, (std::vector<float>{0.5f, -1.0f, 0.2f}));

  Event user = Accept(R"({"type":"user","user_id":"u1","ts":1769860800000,"attributes":{"size":"M"}})");
  EXPECT_EQ(user.type, EventType::kUser);
  EXPECT_TRUE(user.item_id.empty());
}

TEST_F(DecoderTest, RejectsEachProblemWithAPreciseReason) {
  ExpectRejected(R"({"type":"click","user_id":"u1")", RejectReason::kBadJson, "not valid JSON");
  ExpectRejected(R"({"type":"click"} trailing)", RejectReason::kBadJson, "not valid JSON");
  ExpectRejected("\xff\xfe", RejectReason::kBadJson, "not valid JSON");
  ExpectRejected(R"([1,2])", RejectReason::kNotAnObject, "an array");
  ExpectRejected(R"({"user_id":"u1","item_id":"i1","ts":1769860800000})", RejectReason::kMissingField, "\"type\" is missing");
  ExpectRejected(R"({"type":7,"user_id":"u1"})", RejectReason::kWrongFieldType, "\"type\" is a number");
  ExpectRejected(R"({"type":"wishlist","user_id":"u1","item_id":"i1","ts":1769860800000})", RejectReason::kUnknownType, "\"wishlist\"");
  ExpectRejected(R"({"type":"click","item_id":"i1","ts":1769860800000})", RejectReason::kMissingField, "\"user_id\" is missing");
  ExpectRejected(R"({"type":"purchase","user_id":"u1","ts":1769860800000})", RejectReason::kMissingField, "\"item_id\" is missing");
  ExpectRejected(R"({"type":"click","user_id":42,"item_id":"i1","ts":1769860800000})", RejectReason::kWrongFieldType, "quote numeric ids");
  ExpectRejected(R"({"type":"click","user_id":"","item_id":"i1","ts":1769860800000})", RejectReason::kBadId, "1..256 bytes");
  ExpectRejected(R"({"type":"click","user_id":"u1","item_id":"i1"})", RejectReason::kMissingField, "\"ts\" is missing");
  ExpectRejected(R"({"type":"click","user_id":"u1","item_id":"i1","ts":"yesterday"})", RejectReason::kBadTimestamp, "\"yesterday\"");
  ExpectRejected(R"({"type":"click","user_id":"u1","item_id":"i1","ts":"2026-02-30T00:00:00Z"})", RejectReason::kBadTimestamp, "RFC 3339");
  ExpectRejected(R"({"type":"click","user_id":"u1","item_id":"i1","ts":1769860800})", RejectReason::kBadTimestamp, "multiply by 1000");
  ExpectRejected(R"({"type":"click","user_id":"u1","item_id":"i1","ts":true})", RejectReason::kBadTimestamp, "a boolean");
  ExpectRejected(R"({"type":"rating","user_id":"u1","item_id":"i1","ts":1769860800000})", RejectReason::kMissingField, "\"rating\" is missing");
  ExpectRejected(R"({"type":"rating","user_id":"u1","item_id":"i1","ts":1769860800000,"rating":"5"})", RejectReason::kWrongFieldType, "\"rating\" is a string");
  ExpectRejected(R"({"type":"rating","user_id":"u1","item_id":"i1","ts":1769860800000,"rating":7})", RejectReason::kRatingOutOfRange, "outside the scale");
  ExpectRejected(R"({"type":"rating","user_id":"u1","item_id":"i1","ts":1769860800000,"rating":0.5})", RejectReason::kRatingOutOfRange, "outside the scale");
  ExpectRejected(R"({"type":"item","item_id":"i1","ts":1769860800000,"attributes":[1]})", RejectReason::kBadAttributes, "expected an object");
  ExpectRejected(R"({"type":"item","item_id":"i1","ts":1769860800000,"attributes":{"x":{"y":1}}})", RejectReason::kBadAttributes, "attribute \"x\" is an object");
  ExpectRejected(R"({"type":"item","item_id":"i1","ts":1769860800000,"embedding":[1,"a"]})", RejectReason::kBadEmbedding, "[1] is not a finite number");
  ExpectRejected(R"({"type":"item","item_id":"i1","ts":1769860800000,"embedding":{}})", RejectReason::kBadEmbedding, "expected an array");
  // Finite as a double, infinite as the float it is stored as.
  ExpectRejected(R"({"type":"item","item_id":"i1","ts":1769860800000,"embedding":[0.5,1e39]})", RejectReason::kBadEmbedding,
                 "[1] is not a finite number within a float's range");
  ExpectRejected(R"({"type":"item","item_id":"i1","ts":1769860800000,"embedding":[-3.5e38]})", RejectReason::kBadEmbedding,
                 "[0] is not a finite number within a float's range");
  const std::string big = R"({"type":"click","user_id":"u1","item_id":"i1","ts":1769860800000,"pad":")" +
                          std::string(70000, 'x') + "\"}";
  ExpectRejected(big, RejectReason::kOversize, "over the limit of 65536");
}

// Issue 17, hostile input: each of the issue's targeted cases is rejected with
// its reason (so it reaches the DLQ) or accepted by a documented rule.
TEST_F(DecoderTest, HostileInputsAreRejectedWithAReason) {
  const std::string click = R"({"type":"click","user_id":"u1","item_id":"i1","ts":1769860800000)";
  // Invalid UTF-8 inside a string, and a lone continuation byte in an id.
  ExpectRejected(R"({"type":"click","user_id":"u)" + std::string("\xc3\x28") + R"(","item_id":"i1","ts":1769860800000})",
                 RejectReason::kBadJson, "not valid JSON");
  ExpectRejected(R"({"type":"click","user_id":")" + std::string("\x80") + R"(","item_id":"i1","ts":1769860800000})",
                 RejectReason::kBadJson, "not valid JSON");
  // JSON nested 10,000 deep, inside the size limit and as the whole message.
  ExpectRejected(click + R"(,"x":)" + std::string(10000, '[') + std::string(10000, ']') + "}", RejectReason::kBadJson,
                 "not valid JSON");
  ExpectRejected(std::string(10000, '[') + std::string(10000, ']'), RejectReason::kBadJson, "not valid JSON");
  // A 10 MB message: refused by size before any parsing.
  ExpectRejected(click + R"(,"pad":")" + std::string(10 << 20, 'x') + "\"}", RejectReason::kOversize,
                 "over the limit of 65536");
  // NaN, Inf and overflow are not JSON numbers; 1e39 is finite but no float.
  ExpectRejected(R"({"type":"rating","user_id":"u1","item_id":"i1","ts":1769860800000,"rating":NaN})",
                 RejectReason::kBadJson, "not valid JSON");
  ExpectRejected(R"({"type":"rating","user_id":"u1","item_id":"i1","ts":1769860800000,"rating":Infinity})",
                 RejectReason::kBadJson, "not valid JSON");
  ExpectRejected(R"({"type":"rating","user_id":"u1","item_id":"i1","ts":1769860800000,"rating":1e999})",
                 RejectReason::kBadJson, "not valid JSON");
  ExpectRejected(R"({"type":"rating","user_id":"u1","item_id":"i1","ts":1769860800000,"rating":1e39})",
                 RejectReason::kRatingOutOfRange, "outside the scale");
  ExpectRejected(R"({"type":"item","item_id":"i1","ts":1769860800000,"embedding":[1e999]})", RejectReason::kBadJson,
                 "not valid JSON");
  // Timestamps at 0, negative, beyond year 9999, and as RFC 3339 before 1970.
  ExpectRejected(R"({"type":"click","user_id":"u1","item_id":"i1","ts":0})", RejectReason::kBadTimestamp, "multiply by 1000");
  ExpectRejected(R"({"type":"click","user_id":"u1","item_id":"i1","ts":-1769860800000})", RejectReason::kBadTimestamp,
                 "outside 1973-03-03..9999-12-31");
  ExpectRejected(R"({"type":"click","user_id":"u1","item_id":"i1","ts":253402300800000})", RejectReason::kBadTimestamp,
                 "outside 1973-03-03..9999-12-31");
  ExpectRejected(R"({"type":"click","user_id":"u1","item_id":"i1","ts":18446744073709551615})", RejectReason::kBadTimestamp,
                 "outside 1973-03-03..9999-12-31");
  ExpectRejected(R"({"type":"click","user_id":"u1","item_id":"i1","ts":"1969-12-31T23:59:59Z"})", RejectReason::kBadTimestamp,
                 "from 1970 on");
  // Year 9999 is a valid time, and an event that far ahead is refused by the skew rule.
  ExpectRejected(R"({"type":"click","user_id":"u1","item_id":"i1","ts":"9999-12-31T23:59:59Z"})", RejectReason::kBadTimestamp,
                 "ahead of this host's clock");
  // Ids of 100 KB (under a raised message limit, so the id rule itself is what refuses).
  DecoderLimits roomy;
  roomy.max_event_bytes = 1 << 20;
  EventDecoder decoder(roomy);
  Event e;
  Rejection r;
  ASSERT_FALSE(decoder.Decode(R"({"type":"click","user_id":")" + std::string(100 << 10, 'u') +
                                  R"(","item_id":"i1","ts":1769860800000})",
                              &e, &r));
  EXPECT_EQ(r.reason, RejectReason::kBadId) << r.message;
  EXPECT_NE(r.message.find("1..256 bytes"), std::string::npos) << r.message;
  // 65 attribute names in one event: over the per-event limit (the store caps
  // names over many events: store_test AttributeNamesOverManyEventsStayWithinTheCap).
  std::string attrs;
  for (int k = 0; k < 65; ++k) attrs += (k ? "," : "") + std::string("\"a") + std::to_string(k) + "\":1";
  ExpectRejected(R"({"type":"item","item_id":"i1","ts":1769860800000,"attributes":{)" + attrs + "}}",
                 RejectReason::kBadAttributes, "more than the limit of 64");
}

TEST_F(DecoderTest, LimitsComeFromConfiguration) {
  DecoderLimits limits;
  limits.rating_min = 0;
  limits.rating_max = 10;
  limits.max_event_bytes = 100;
  EventDecoder decoder(limits);
  Event e;
  Rejection r;
  EXPECT_TRUE(decoder.Decode(R"({"type":"rating","user_id":"u","item_id":"i","ts":1769860800000,"rating":9})", &e, &r)) << r.message;
  EXPECT_FALSE(decoder.Decode(std::string(101, ' '), &e, &r));
  EXPECT_EQ(r.reason, RejectReason::kOversize);
}

// Fault hole 6: one event dated far ahead would head trending until its date.
TEST(DecoderSkew, EventsTooFarAheadOfTheWallClockAreBadTimestamps) {
  ManualClock clock(1769860800000);  // 2026-01-31T12:00:00Z
  DecoderLimits limits;
  limits.max_future_skew_ms = 3'600'000;
  EventDecoder decoder(limits, clock);
  Event e;
  Rejection r;
  EXPECT_TRUE(decoder.Decode(R"({"type":"click","user_id":"u","item_id":"i","ts":"2026-01-31T12:59:59Z"})", &e, &r))
      << r.message;
  ASSERT_FALSE(decoder.Decode(R"({"type":"click","user_id":"u","item_id":"i","ts":"2100-01-01T00:00:00Z"})", &e, &r));
  EXPECT_EQ(r.reason, RejectReason::kBadTimestamp);
  EXPECT_NE(r.message.find("2100-01-01T00:00:00.000Z"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("stream.max_future_skew_s"), std::string::npos) << r.message;
  clock.Advance(std::chrono::hours(2));
  EXPECT_TRUE(decoder.Decode(R"({"type":"click","user_id":"u","item_id":"i","ts":"2026-01-31T13:30:00Z"})", &e, &r));
  limits.max_future_skew_ms = 0;  // off
  EventDecoder unchecked(limits, clock);
  EXPECT_TRUE(unchecked.Decode(R"({"type":"click","user_id":"u","item_id":"i","ts":"2100-01-01T00:00:00Z"})", &e, &r));
}

TEST_F(DecoderTest, EncodedEventsDecodeToTheSameEvent) {
  Event in;
  in.type = EventType::kItem;
  in.item_id = "i\"quoted\"\n";
  in.ts = 1769860800123;
  in.event_id = "x1";
  AttributeValue v;
  v.text = "winter";
  in.attributes = {{"season", v}};
  in.embedding = {1.5f, -2.0f};
  Event out = Accept(EncodeEvent(in));
  EXPECT_EQ(out.item_id, in.item_id);
  EXPECT_EQ(out.ts, in.ts);
  EXPECT_EQ(out.event_id, in.event_id);
  EXPECT_EQ(out.attributes, in.attributes);
  EXPECT_EQ(out.embedding, in.embedding);
}

TEST(ListCodec, FollowsTheOutputContract) {
  RecommendationList list{"u7",
                          {{"i1", 0.5f, {}}, {"i2", 0.25f, {Reason::kTrending, Reason::kViewed}}},
                          2,
                          "baseline-cooc-1",
                          1769860800000,
                          ListSource::kColdStart};
  const auto j = nlohmann::json::parse(EncodeRecommendationList(list));
  EXPECT_EQ(j["user_id"], "u7");
  ASSERT_EQ(j["items"].size(), 2u);
  EXPECT_EQ(j["items"][0]["item_id"], "i1");
  EXPECT_EQ(j["items"][0]["score"], 0.5);
  EXPECT_EQ(j["k"], 2);
  EXPECT_EQ(j["model_version"], "baseline-cooc-1");
  EXPECT_EQ(j["generated_at"], "2026-01-31T12:00:00.000Z");
  EXPECT_EQ(j["source"], "cold_start");
  // `reasons`: the sources that proposed the item, in a fixed order; absent when there are none.
  EXPECT_FALSE(j["items"][0].contains("reasons"));
  EXPECT_EQ(j["items"][1]["reasons"], nlohmann::json::parse(R"(["viewed", "trending"])"));
}

TEST(Rfc3339, ParsesOffsetsFractionsAndRejectsNonsense) {
  EXPECT_EQ(ParseRfc3339("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(ParseRfc3339("2024-02-29T23:59:59.9999Z"), 1709251199999);
  EXPECT_EQ(ParseRfc3339("2026-01-31 14:30:00.5+02:30"), 1769860800500);
  EXPECT_EQ(ParseRfc3339("2026-01-31T12:00:00-01:00"), 1769864400000);
  EXPECT_FALSE(ParseRfc3339("2023-02-29T00:00:00Z"));
  EXPECT_FALSE(ParseRfc3339("2026-01-31T12:00:00"));  // offset required
  EXPECT_FALSE(ParseRfc3339("2026-01-31T24:00:00Z"));
  EXPECT_FALSE(ParseRfc3339("1969-12-31T23:59:59Z"));
  EXPECT_FALSE(ParseRfc3339("2026-01-31T12:00:00Zjunk"));
  EXPECT_EQ(FormatRfc3339(1709251199999), "2024-02-29T23:59:59.999Z");
  for (EpochMillis t : {0LL, 951782400000LL, 1769860800123LL, 4102444800000LL}) {
    EXPECT_EQ(ParseRfc3339(FormatRfc3339(t)), t);
  }
}

}  // namespace
}  // namespace recd::stream

namespace recd::stream {
namespace {

// Bounded fuzzing in every test run: mutated valid events must decode or be
// rejected with a reason, never crash or hang. (No clang here for libFuzzer.)
TEST(DecoderFuzz, MutatedInputIsAcceptedOrRejectedNeverCrashes) {
  const std::vector<std::string> seeds = {
      R"({"type":"click","user_id":"u1","item_id":"i1","ts":"2026-01-31T12:00:00Z","event_id":"e"})",
      R"({"type":"rating","user_id":"u1","item_id":"i1","ts":1769860800000,"rating":4})",
      R"({"type":"item","item_id":"i1","ts":1769860800000,"attributes":{"c":"red","p":2},"embedding":[1,2]})"};
  std::mt19937 rng(12345);
  EventDecoder decoder;
  Event e;
  Rejection r;
  size_t accepted = 0, rejected = 0;
  for (int n = 0; n < 200000; ++n) {
    std::string s = seeds[rng() % seeds.size()];
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < edits && !s.empty(); ++k) {
      const size_t pos = rng() % s.size();
      switch (rng() % 4) {
        case 0: s[pos] = static_cast<char>(rng() % 256); break;
        case 1: s.erase(pos, 1 + rng() % 8); break;
        case 2: s.insert(pos, 1, "{}[]\":,0-e\\"[rng() % 11]); break;
        default: s = s.substr(0, pos); break;
      }
    }
    if (decoder.Decode(s, &e, &r)) {
      ++accepted;
      EXPECT_FALSE(e.type != EventType::kItem && e.user_id.empty()) << s;
    } else {
      ++rejected;
      EXPECT_FALSE(r.message.empty()) << s;
    }
  }
  EXPECT_GT(rejected, 0u);
  EXPECT_GT(accepted, 0u);
}

}  // namespace
}  // namespace recd::stream
