#include <gtest/gtest.h>

#include "sagaflow/core/ids.hpp"
#include "sagaflow/protocol/envelope.hpp"

namespace sagaflow::protocol {
namespace {

using nlohmann::json;

Envelope SampleCommand() {
    Envelope e;
    e.kind = Kind::kCommand;
    e.msg_id = NewUuid();
    e.saga_id = NewUuid();
    e.trace_id = "trace";
    e.workflow = "order_fulfilment";
    e.workflow_version = 1;
    e.step = "charge_payment";
    e.step_index = 1;
    e.action = "refund_payment";
    e.queue = "payment";
    e.phase = Phase::kCompensate;
    e.attempt = 3;
    e.business_key = "order-7";
    e.deadline_us = 1'800'000'000'000'000;
    e.payload = {{"input", {{"amount", 10}}}, {"context", json::object()}};
    return e;
}

TEST(Envelope, CommandRoundTrips) {
    const Envelope in = SampleCommand();
    auto out = DecodeEnvelope(EncodeEnvelope(in));
    ASSERT_TRUE(out.ok()) << out.status().message;
    EXPECT_EQ(out->kind, Kind::kCommand);
    EXPECT_EQ(out->msg_id, in.msg_id);
    EXPECT_EQ(out->phase, Phase::kCompensate);
    EXPECT_EQ(out->attempt, 3);
    EXPECT_EQ(out->business_key, in.business_key);
    EXPECT_EQ(out->deadline_us, in.deadline_us);
    EXPECT_EQ(out->payload, in.payload);
}

TEST(TraceContext, ACommandCarriesAW3CTraceparentOfItsSagasTrace) {
    const std::string trace = "01a23558-a4b1-7f46-82bc-eaac54698b7e";
    const std::string msg = "01a23558-a4b0-796e-a12e-03e6afe3353b";
    const std::string tp = MakeTraceParent(trace, msg);
    EXPECT_EQ(tp, "00-01a23558a4b17f4682bceaac54698b7e-a12e03e6afe3353b-01");
    EXPECT_TRUE(IsTraceParent(tp));
    EXPECT_EQ(TraceIdOf(tp), trace);
    EXPECT_EQ(MakeTraceParent("trace", msg), "") << "no UUID, no traceparent";
    for (const char* bad : {"", "00-01a23558a4b17f4682bceaac54698b7e-a12e03e6afe3353b", "ff-01a23558a4b17f4682bceaac54698b7e-a12e03e6afe3353b-01",
                            "00-00000000000000000000000000000000-a12e03e6afe3353b-01",
                            "00-01a23558a4b17f4682bceaac54698b7e-0000000000000000-01",
                            "00-01A23558A4B17F4682BCEAAC54698B7E-a12e03e6afe3353b-01",
                            "00_01a23558a4b17f4682bceaac54698b7e-a12e03e6afe3353b-01"}) {
        EXPECT_FALSE(IsTraceParent(bad)) << bad;
        EXPECT_FALSE(TraceIdOf(bad)) << bad;
    }
    Envelope cmd = SampleCommand();
    cmd.traceparent = tp;
    auto out = DecodeEnvelope(EncodeEnvelope(cmd));
    ASSERT_TRUE(out.ok());
    EXPECT_EQ(out->traceparent, tp);
    // A malformed one is dropped (W3C: ignore it), the command still decodes.
    json j = json::parse(EncodeEnvelope(cmd));
    j["traceparent"] = "garbage";
    auto dropped = DecodeEnvelope(j.dump());
    ASSERT_TRUE(dropped.ok());
    EXPECT_EQ(dropped->traceparent, "");
}

TEST(Envelope, ReplyHelloAndAckRoundTrip) {
    Envelope r;
    r.kind = Kind::kReply;
    r.msg_id = NewUuid();
    r.outcome = ReplyOutcome::kFail;
    r.reason = "declined";
    auto rr = DecodeEnvelope(EncodeEnvelope(r));
    ASSERT_TRUE(rr.ok());
    EXPECT_EQ(rr->outcome, ReplyOutcome::kFail);
    EXPECT_EQ(rr->reason, "declined");

    Envelope h;
    h.kind = Kind::kHello;
    h.worker_id = "w1";
    h.queues = {"a", "b"};
    h.capacity = 8;
    auto hh = DecodeEnvelope(EncodeEnvelope(h));
    ASSERT_TRUE(hh.ok());
    EXPECT_EQ(hh->queues, (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(hh->capacity, 8);

    Envelope a;
    a.kind = Kind::kAck;
    a.msg_id = NewUuid();
    EXPECT_EQ(DecodeEnvelope(EncodeEnvelope(a))->msg_id, a.msg_id);
}

TEST(Envelope, AHelloCarriesTheActionsItServesPerQueueAndBadOnesAreRefused) {
    Envelope h;
    h.kind = Kind::kHello;
    h.worker_id = "w1";
    h.queues = {"cars", "hotels"};
    h.actions = {{"cars", {"rent_car", "return_car"}}};  // hotels: served whole
    h.capacity = 4;
    auto hh = DecodeEnvelope(EncodeEnvelope(h));
    ASSERT_TRUE(hh.ok());
    EXPECT_EQ(hh->actions, h.actions);
    Envelope plain = h;
    plain.actions.clear();
    EXPECT_FALSE(json::parse(EncodeEnvelope(plain)).contains("actions")) << "absent when every queue is whole";

    json base = json::parse(EncodeEnvelope(h));
    json other_queue = base, not_object = base, not_array = base, empty_name = base, too_many = base;
    other_queue["actions"] = {{"flights", {"book_flight"}}};
    not_object["actions"] = json::array();
    not_array["actions"] = {{"cars", "rent_car"}};
    empty_name["actions"] = {{"cars", {""}}};
    too_many["actions"]["cars"] = json::array();
    for (int i = 0; i < 5000; ++i) too_many["actions"]["cars"].push_back("a" + std::to_string(i));
    for (const json& bad : {other_queue, not_object, not_array, empty_name, too_many}) {
        EXPECT_EQ(DecodeEnvelope(bad.dump()).code(), ErrorCode::kInvalidArgument) << bad.dump().substr(0, 120);
    }
}

TEST(Envelope, UnknownVersionIsRefusedAsSuch) {
    json j = json::parse(EncodeEnvelope(SampleCommand()));
    j["v"] = 2;
    EXPECT_EQ(DecodeEnvelope(j.dump()).code(), ErrorCode::kFailedPrecondition);
}

TEST(Envelope, MalformedFramesAreInvalidArguments) {
    json missing = json::parse(EncodeEnvelope(SampleCommand()));
    missing.erase("msg_id");
    json mistyped = json::parse(EncodeEnvelope(SampleCommand()));
    mistyped["attempt"] = "three";
    json bad_uuid = json::parse(EncodeEnvelope(SampleCommand()));
    bad_uuid["saga_id"] = "'; DROP TABLE sagas; --";
    json bad_phase = json::parse(EncodeEnvelope(SampleCommand()));
    bad_phase["phase"] = "sideways";
    json zero_capacity = {{"v", 1}, {"kind", "hello"}, {"worker_id", "w"}, {"queues", json::array()},
                          {"capacity", 0}};
    for (const std::string& frame :
         {std::string(), std::string("\xff\xfe\x00garbage", 10), std::string("[1,2]"),
          std::string("{\"v\":1}"), std::string("{\"v\":1,\"kind\":\"warp\"}"), missing.dump(),
          mistyped.dump(), bad_uuid.dump(), bad_phase.dump(), zero_capacity.dump()}) {
        EXPECT_EQ(DecodeEnvelope(frame).code(), ErrorCode::kInvalidArgument) << frame;
    }
}

TEST(Envelope, FramesOverTheLimitAreRefusedBeforeParsing) {
    const std::string frame = EncodeEnvelope(SampleCommand());
    EXPECT_TRUE(DecodeEnvelope(frame, frame.size()).ok());
    auto r = DecodeEnvelope(frame, frame.size() - 1);
    EXPECT_EQ(r.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(r.status().message.find("exceeds"), std::string::npos);
}

}  // namespace
}  // namespace sagaflow::protocol
