// The HTTP API's one codec (include/sagaflow/client/api.hpp), timestamps as RFC 3339, and
// the request target decoder: round trips, and bad input named, never thrown as json errors.
#include <gtest/gtest.h>

#include "http/message.hpp"
#include "sagaflow/client/api.hpp"

namespace sagaflow::testing {
namespace {

using nlohmann::json;

TEST(Timestamps, FormatAndParseRoundTripToTheMillisecond) {
    const Timestamp t{std::chrono::microseconds(1'764'654'321'123'000)};
    EXPECT_EQ(FormatTimestamp(t), "2025-12-02T05:45:21.123Z");
    EXPECT_EQ(ParseTimestamp("2025-12-02T05:45:21.123Z"), t);
    EXPECT_EQ(ParseTimestamp("2025-12-02T06:45:21.123+01:00"), t);
    EXPECT_EQ(ParseTimestamp("2025-12-02T05:45:21.123456Z")->time_since_epoch().count(), 1'764'654'321'123'456);
    EXPECT_EQ(ParseTimestamp("1970-01-01T00:00:00Z")->time_since_epoch().count(), 0);
    for (const char* bad : {"", "2025-12-02", "2025-13-02T00:00:00Z", "2025-02-30T00:00:00Z", "2025-12-02T25:00:00Z",
                            "2025-12-02T05:45:21", "2025-12-02T05:45:21.Z", "2025-12-02T05:45:21Zjunk",
                            "2025-12-02T05:45:21+0100", "yyyy-12-02T05:45:21Z"}) {
        EXPECT_FALSE(ParseTimestamp(bad)) << bad;
    }
}

TEST(ApiCodec, EveryTypeRoundTripsThroughJson) {
    const SagaId id("01a23558-a4b0-796e-a12e-03e6afe3353b");
    const MsgId msg("01a23558-a4b1-7f46-82bc-eaac54698b7e");
    const Timestamp at{std::chrono::milliseconds(1'764'654'321'123)};
    api::SagaDetail d;
    d.saga = {id, "order", 2, SagaStatus::kCompensated, "a,b", "k-1", "declined", "t", at, at, std::nullopt,
              id.str(), "book_flights"};
    d.children = {{"book_flights", id, "flights"}};
    d.input = {{"amount", 5}};
    d.context = {{"reserve", {{"ok", true}}}};
    d.nodes = {{"reserve", "step", "compensated", 1, true, false}};
    d.pending = {{"command", "charge", Phase::kCompensate, "refund", "payment", 2, msg, at},
                 {"timer", "cool", Phase::kForward, "", "", 1, msg, at}};
    d.signals = {{"psp-1", "payment_confirmed", at, "payment_confirmed"}, {"early", "later_one", at, ""}};
    d.attempts = {{"charge", Phase::kForward, 1, "fail", "declined", msg, at, "payment-1", "sha256:0123456789abcdef"}};
    d.history = {{7, at, "replied", "charge", Phase::kForward, 1, msg, {{"outcome", "fail"}}},
                 {8, at, "compensated", std::nullopt, std::nullopt, 0, std::nullopt, json::object()}};
    const json j = d;
    EXPECT_EQ(j["saga"]["input"]["amount"], 5) << "input and context sit inside saga, as sagactl prints them";
    const auto back = j.get<api::SagaDetail>();
    EXPECT_EQ(json(back), j);

    const api::StartBatch batch{{{"order", {{"a", 1}}, "k", 3}, {"order", json::object(), std::nullopt, std::nullopt}}};
    EXPECT_EQ(json(json(batch).get<api::StartBatch>()), json(batch));
    api::BatchStarted results;
    results.results.push_back({api::Started{id, true}, std::nullopt});
    results.results.push_back({std::nullopt, api::ApiError{ErrorCode::kNotFound, "no"}});
    const json r = results;
    EXPECT_EQ(r["results"][1]["error"]["code"], "not_found");
    EXPECT_EQ(json(r.get<api::BatchStarted>()), r);
    const api::SagaPage page{{d.saga}, "cursor", 1, true};
    EXPECT_EQ(json(json(page).get<api::SagaPage>()), json(page));

    api::Workers workers;
    workers.workers.push_back({"inventory-1", {"inventory"}, 4, 1, at, "", ""});
    workers.unserved.push_back({"inventory", "release_inventory", 3, at});
    workers.unserved.push_back({"payment", "refund_payment", 1, std::nullopt});
    const json w = workers;
    EXPECT_EQ(w["unserved"][0]["commands"], 3);
    EXPECT_TRUE(w["unserved"][1]["oldest"].is_null());
    EXPECT_EQ(json(w.get<api::Workers>()), w);
    const json older = {{"workers", json::array()}};  // a sagad without `unserved`
    EXPECT_TRUE(older.get<api::Workers>().unserved.empty());

    const api::SendSignal signal{"payment_confirmed", "psp-1", {{"ref", "X"}}};
    EXPECT_EQ(json(json(signal).get<api::SendSignal>()), json(signal));
    EXPECT_FALSE(json({{"name", "go"}}).get<api::SendSignal>().id) << "no id: sagad makes one";
    const api::SignalResult said{id, "payment_confirmed", "psp-1", "kept"};
    EXPECT_EQ(json(json(said).get<api::SignalResult>()), json(said));
    const api::AwaitResult awaited{id, SagaStatus::kCompensated, true, "declined", {{"a", 1}}, 60000, true};
    EXPECT_EQ(json(json(awaited).get<api::AwaitResult>()), json(awaited));
}

TEST(ApiCodec, BadBodiesAreInvalidArgumentNamingTheField) {
    const std::vector<std::pair<std::string, std::string>> cases{
        {"{", "not valid JSON"},
        {"[]", "a start must be a JSON object"},
        {R"({"input":{}})", "'workflow' must be a string"},
        {R"({"workflow":"","input":{}})", "'workflow' must not be empty"},
        {R"({"workflow":"w","input":[1]})", "'input' must be a JSON object"},
        {R"({"workflow":"w","input":{},"version":0})", "'version' must be from 1"},
        {R"({"workflow":"w","input":{},"version":18446744073709551615})", "'version' must be at most"},
        {R"({"workflow":"w","input":{},"version":1.5})", "'version' must be an integer"},
        {R"({"workflow":"w","input":{},"business_key":7})", "'business_key' must be a string"},
    };
    for (const auto& [body, message] : cases) {
        auto r = api::Decode<api::StartSaga>(body);
        ASSERT_FALSE(r.ok()) << body;
        EXPECT_EQ(r.code(), ErrorCode::kInvalidArgument);
        EXPECT_NE(r.status().message.find(message), std::string::npos) << body << ": " << r.status().message;
    }
    EXPECT_FALSE(api::Decode<api::StartBatch>(R"({"sagas":[]})").ok());
    EXPECT_FALSE(api::Decode<api::StartBatch>(R"({"sagas":"x"})").ok());
    EXPECT_TRUE(api::Decode<api::StartSaga>(R"({"workflow":"w","input":{},"business_key":null})").ok());
    for (const char* bad : {R"({"data":{}})", R"({"name":"go","data":[1]})", R"({"name":"go","data":"x"})",
                            R"({"name":"go","id":7})", "[]"}) {
        auto r = api::Decode<api::SendSignal>(bad);
        EXPECT_FALSE(r.ok()) << bad;
        EXPECT_EQ(r.code(), ErrorCode::kInvalidArgument) << bad;
    }
}

TEST(ApiCodec, ListQueriesReadBackWhatToQueryStringWrites) {
    api::ListQuery q;
    q.status = SagaStatus::kFailed;
    q.workflow = "order fulfilment/v2";
    q.business_key = "k&=?";
    q.created_after = Timestamp{std::chrono::milliseconds(1000)};
    q.limit = 5;
    const std::string qs = api::ToQueryString(q);
    std::string path;
    std::map<std::string, std::string> params;
    ASSERT_TRUE(http::ParseTarget("/api/v1/sagas" + qs, path, params)) << qs;
    EXPECT_EQ(path, "/api/v1/sagas");
    auto back = api::ListQueryFrom(params);
    ASSERT_TRUE(back.ok()) << back.status().message;
    EXPECT_EQ(back->status, q.status);
    EXPECT_EQ(back->workflow, q.workflow);
    EXPECT_EQ(back->business_key, q.business_key);
    EXPECT_EQ(back->created_after, q.created_after);
    EXPECT_EQ(back->limit, 5);
    for (const auto& [key, value] : std::map<std::string, std::string>{
             {"status", "happy"}, {"limit", "0"}, {"limit", "x"}, {"version", "-1"}, {"created_before", "yesterday"},
             {"colour", "red"}}) {
        auto r = api::ListQueryFrom({{key, value}});
        EXPECT_EQ(r.code(), ErrorCode::kInvalidArgument) << key << "=" << value;
    }
}

TEST(HttpTarget, DecodesPercentEscapesAndRefusesBadOnes) {
    std::string path;
    std::map<std::string, std::string> q;
    ASSERT_TRUE(http::ParseTarget("/a%20b/c?x=1&y=%2F+z&flag&&=v", path, q));
    EXPECT_EQ(path, "/a b/c");
    EXPECT_EQ(q["x"], "1");
    EXPECT_EQ(q["y"], "/ z");
    EXPECT_EQ(q["flag"], "");
    for (const char* bad : {"", "nope", "/%", "/%4", "/%zz", "/a?x=%G1"}) EXPECT_FALSE(http::ParseTarget(bad, path, q)) << bad;
}

TEST(HttpStatus, EachCodeHasItsStatus) {
    EXPECT_EQ(api::HttpStatusOf(ErrorCode::kInvalidArgument), 400);
    EXPECT_EQ(api::HttpStatusOf(ErrorCode::kNotFound), 404);
    EXPECT_EQ(api::HttpStatusOf(ErrorCode::kFailedPrecondition), 409);
    EXPECT_EQ(api::HttpStatusOf(ErrorCode::kResourceExhausted), 429);
    EXPECT_EQ(api::HttpStatusOf(ErrorCode::kUnavailable), 503);
    EXPECT_EQ(api::HttpStatusOf(ErrorCode::kDeadlineExceeded), 504);
    const http::Response r = http::JsonError(ErrorCode::kNotFound, "no saga \xff");
    EXPECT_EQ(r.status, 404);
    const json body = json::parse(r.body);
    EXPECT_EQ(body["code"], "not_found") << "invalid UTF-8 in a message is replaced, not thrown";
}

}  // namespace
}  // namespace sagaflow::testing
