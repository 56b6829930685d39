// sagad's HTTP API over a real socket: the typed client against the server, the reads that
// answer while the engine's loop is busy, every error a JSON body with its status, the
// server's limits (body size, slow clients, connection count), and docs/openapi.yaml
// describing every route the server serves.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <future>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "api.hpp"
#include "http/server.hpp"
#include "memory_store.hpp"
#include "node.hpp"
#include "order_fulfilment.hpp"
#include "queries.hpp"
#include "raw_tcp.hpp"
#include "sagaflow/client/client.hpp"
#include "telemetry.hpp"

namespace sagaflow::testing {
namespace {

using nlohmann::json;

int StatusOf(const std::string& response) {
    std::smatch m;
    return std::regex_search(response, m, std::regex(R"(^HTTP/1\.1 (\d{3}))")) ? std::stoi(m[1]) : 0;
}

json BodyOf(const std::string& response) {
    const auto at = response.find("\r\n\r\n");
    return at == std::string::npos ? json() : json::parse(response.substr(at + 4), nullptr, false);
}

class HttpApiTest : public ::testing::Test {
protected:
    void SetUp() override { Start({}); }

    void Start(http::ServerOptions server_options) {
        workflows::RegisterAll(registry_);
        runtime::NodeOptions options;
        options.worker_endpoint = "tcp://127.0.0.1:*";
        options.engine.observer = &observers_;
        node_ = std::make_unique<runtime::Node>(registry_, store_, clock_, options);
        node_->Start();
        sagad::ApiOptions api_options;
        api_options.awaits = &awaits_;
        api_options.max_await = std::chrono::milliseconds(1500);
        sagad::BulkOptions bulk_options;
        bulk_options.confirm_over = 3;
        bulk_options.page = 2;
        bulk_ = std::make_unique<sagad::BulkJobs>(store_, *node_, clock_, bulk_options);
        api_options.bulk = bulk_.get();
        api_ = std::make_unique<sagad::Api>(registry_, *node_, queries_, telemetry_, api_options);
        api_->SetActive();
        server_options.host = "127.0.0.1";
        server_options.port = 0;
        server_ = std::make_unique<http::Server>([this](const http::Request& r) { return api_->Handle(r); },
                                                 server_options);
        telemetry_.Watch(sagad::SnapshotOf(*node_, clock_, [this] { return api_->Active(); }),
                         [this] { return server_->counters(); });
        const std::string bound = server_->Start();
        port_ = std::stoi(bound.substr(bound.rfind(':') + 1));
        url_ = "http://127.0.0.1:" + std::to_string(port_);
    }

    void TearDown() override {
        awaits_.Stop();
        server_.reset();
        node_->Stop();
    }

    api::StartSaga Order(const std::string& key) {
        return {"order_fulfilment", {{"order_id", key}, {"amount", 5}}, key, std::nullopt};
    }

    std::string Exchange(const std::string& request) {
        RawTcp raw(port_);
        EXPECT_TRUE(raw.connected());
        raw.Send(request);
        return raw.ReadAll();
    }

    WorkflowRegistry registry_;
    engine::MemorySagaStore store_;
    SystemClock clock_;
    sagad::Telemetry telemetry_{"test"};
    sagad::Awaits awaits_;
    engine::Observers observers_{{&telemetry_, &awaits_}};
    std::unique_ptr<runtime::Node> node_;
    engine::Queries queries_{store_};
    std::unique_ptr<sagad::BulkJobs> bulk_;  // not started: the tests take its pages with Step()
    std::unique_ptr<sagad::Api> api_;
    std::unique_ptr<http::Server> server_;
    int port_ = 0;
    std::string url_;
};

TEST_F(HttpApiTest, AwaitAnswersWhenTheSagaEndsTimesOutOrClampsAndSaysSo) {
    client::Client sagad(url_);
    auto started = sagad.Start(Order("await-1"));  // no worker: it stays running
    ASSERT_TRUE(started.ok()) << started.status().message;
    const SagaId id = started->saga_id;

    const auto t0 = std::chrono::steady_clock::now();
    auto waited = sagad.Await(id, std::chrono::milliseconds(200));
    const auto took = std::chrono::steady_clock::now() - t0;
    ASSERT_TRUE(waited.ok()) << waited.status().message;
    EXPECT_FALSE(waited->done);
    EXPECT_EQ(waited->status, SagaStatus::kRunning);
    EXPECT_EQ(waited->timeout_ms, 200);
    EXPECT_FALSE(waited->clamped);
    EXPECT_GE(took, std::chrono::milliseconds(200));

    auto clamped = sagad.Await(id, std::chrono::milliseconds(999'999));
    ASSERT_TRUE(clamped.ok()) << clamped.status().message;
    EXPECT_TRUE(clamped->clamped) << "over the server's maximum";
    EXPECT_EQ(clamped->timeout_ms, 1500);

    // Several callers wait; a compensation ends the saga and answers all of them.
    std::vector<std::future<Result<api::AwaitResult>>> waiting;
    for (int i = 0; i < 3; ++i) {
        waiting.push_back(std::async(std::launch::async, [&] {
            client::Client own(url_);
            return own.Await(id, std::chrono::milliseconds(1400));
        }));
    }
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (awaits_.waiting() < 3 && std::chrono::steady_clock::now() < until) std::this_thread::yield();
    ASSERT_EQ(awaits_.waiting(), 3u);
    ASSERT_TRUE(sagad.Compensate(id, "customer cancelled").ok());
    for (auto& w : waiting) {
        auto r = w.get();
        ASSERT_TRUE(r.ok()) << r.status().message;
        EXPECT_TRUE(r->done);
        EXPECT_EQ(r->status, SagaStatus::kCompensated);
        EXPECT_NE(r->reason.find("customer cancelled"), std::string::npos) << r->reason;
    }
    auto after = sagad.Await(id, std::chrono::milliseconds(1000));  // ended already: at once
    ASSERT_TRUE(after.ok());
    EXPECT_TRUE(after->done);
    EXPECT_EQ(after->status, SagaStatus::kCompensated);

    EXPECT_EQ(sagad.Await(SagaId(NewUuid()), std::chrono::milliseconds(100)).code(), ErrorCode::kNotFound);
    const std::string bad = Exchange("GET /api/v1/sagas/" + id.str() + "/await?timeout_ms=soon HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    EXPECT_NE(bad.find("400"), std::string::npos) << bad;
    EXPECT_EQ(awaits_.waiting(), 0u);
}

TEST_F(HttpApiTest, SignalsGetClearErrorsAndWriteNothingForBadOnes) {
    client::Client sagad(url_);
    auto started = sagad.Start(Order("signal-1"));
    ASSERT_TRUE(started.ok());
    const SagaId id = started->saga_id;
    auto no_wait = sagad.Signal(id, {"parcel_lost", "s-1", json::object()});
    EXPECT_EQ(no_wait.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(no_wait.status().message.find("names signal 'parcel_lost'"), std::string::npos) << no_wait.status().message;
    EXPECT_EQ(sagad.Signal(SagaId(NewUuid()), {"payment_confirmed", "s-2", json::object()}).code(), ErrorCode::kNotFound);
    const std::string array = Exchange("POST /api/v1/sagas/" + id.str() +
                                       "/signals HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n"
                                       "Content-Length: 30\r\n\r\n{\"name\":\"payment_confirmed\",\"data\":[]}");
    EXPECT_NE(array.find("400"), std::string::npos) << array;
    json big = {{"blob", std::string(300 * 1024, 'x')}};
    EXPECT_EQ(sagad.Signal(id, {"payment_confirmed", "s-3", big}).code(), ErrorCode::kInvalidArgument);
    auto show = sagad.Show(id);
    ASSERT_TRUE(show.ok());
    EXPECT_TRUE(show->signals.empty());
    int rejected = 0;
    for (const auto& h : show->history) rejected += h.kind == "signal_rejected";
    EXPECT_EQ(rejected, 1) << "only the signal no wait names is recorded";
}

TEST_F(HttpApiTest, TypedClientStartsListsShowsAndCompensates) {
    client::Client sagad(url_);
    auto first = sagad.Start(Order("o-1"));
    ASSERT_TRUE(first.ok()) << first.status().message;
    EXPECT_TRUE(first->created);
    auto again = sagad.Start(Order("o-1"));
    ASSERT_TRUE(again.ok());
    EXPECT_FALSE(again->created) << "the same business key gives the same saga";
    EXPECT_EQ(again->saga_id, first->saga_id);

    api::StartBatch batch;
    for (int i = 2; i <= 5; ++i) batch.sagas.push_back(Order("o-" + std::to_string(i)));
    batch.sagas.push_back({"nope", json::object(), std::nullopt, std::nullopt});
    auto many = sagad.StartBatch(batch);
    ASSERT_TRUE(many.ok()) << many.status().message;
    ASSERT_EQ(many->results.size(), 5u);
    for (int i = 0; i < 4; ++i) EXPECT_TRUE(many->results[static_cast<std::size_t>(i)].started);
    ASSERT_TRUE(many->results[4].error);
    EXPECT_EQ(many->results[4].error->code, ErrorCode::kNotFound);

    // Pages of two, by cursor: five sagas, each once, newest first.
    std::set<std::string> seen;
    api::ListQuery q;
    q.limit = 2;
    for (int page = 0; page < 5; ++page) {
        auto p = sagad.List(q);
        ASSERT_TRUE(p.ok()) << p.status().message;
        for (const auto& s : p->sagas) EXPECT_TRUE(seen.insert(s.id.str()).second);
        if (!p->next_cursor) break;
        q.cursor = p->next_cursor;
    }
    EXPECT_EQ(seen.size(), 5u);
    api::ListQuery by_key;
    by_key.business_key = "o-3";
    auto one = sagad.List(by_key);
    ASSERT_TRUE(one.ok());
    ASSERT_EQ(one->sagas.size(), 1u);
    EXPECT_EQ(one->sagas[0].business_key, "o-3");

    auto shown = sagad.Show(first->saga_id);
    ASSERT_TRUE(shown.ok()) << shown.status().message;
    EXPECT_EQ(shown->saga.id, first->saga_id);
    EXPECT_EQ(shown->saga.status, SagaStatus::kRunning);
    EXPECT_EQ(shown->nodes.at(0).id, "reserve_inventory");
    EXPECT_EQ(shown->input["order_id"], "o-1");
    auto history = sagad.History(first->saga_id);
    ASSERT_TRUE(history.ok());
    EXPECT_EQ(history->history.at(0).kind, "started");
    auto graph = sagad.Graph("order_fulfilment", std::nullopt, first->saga_id);
    ASSERT_TRUE(graph.ok()) << graph.status().message;
    EXPECT_NE(graph->dot.find("digraph"), std::string::npos);

    auto undo = sagad.Compensate(first->saga_id, "test");
    ASSERT_TRUE(undo.ok()) << undo.status().message;
    auto twice = sagad.Retry(first->saga_id);
    EXPECT_EQ(twice.code(), ErrorCode::kFailedPrecondition);
    EXPECT_EQ(sagad.Show(SagaId("00000000-0000-4000-8000-000000000000")).code(), ErrorCode::kNotFound);
    auto wfs = sagad.Workflows();
    ASSERT_TRUE(wfs.ok());
    EXPECT_FALSE(wfs->workflows.empty());
    EXPECT_TRUE(sagad.Workers().ok());
    auto stats = sagad.Stats();
    ASSERT_TRUE(stats.ok());
    EXPECT_EQ(stats->groups["node"]["role"], "active");
}

// No worker is connected: every saga waits at its first step, its command never sent.
TEST_F(HttpApiTest, OperatorActionsTakeTheirFieldsAndRefuseBadOnesWritingNothing) {
    client::Client sagad(url_);
    std::vector<SagaId> ids;
    for (int i = 0; i < 3; ++i) ids.push_back(sagad.Start(Order("op-" + std::to_string(i))).value().saga_id);
    auto history_size = [&](const SagaId& id) { return sagad.History(id).value().history.size(); };

    // The preview: the first step's command was never sent, so it is withdrawn, not undone.
    auto plan = sagad.CompensationPlan(ids[0]);
    ASSERT_TRUE(plan.ok()) << plan.status().message;
    EXPECT_EQ(plan->status, SagaStatus::kRunning);
    EXPECT_TRUE(plan->steps.empty());
    EXPECT_FALSE(plan->refused);
    EXPECT_EQ(sagad.CompensationPlan(ids[0], "nope").code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(sagad.CompensationPlan(SagaId("00000000-0000-4000-8000-000000000000")).code(), ErrorCode::kNotFound);

    const auto before = history_size(ids[0]);
    api::OperatorRequest skip;
    skip.reason = "done by hand";
    EXPECT_EQ(sagad.Operate(ids[0], "skip", skip).code(), ErrorCode::kInvalidArgument) << "skip names its node";
    skip.node = "reserve_inventory";
    skip.reason.clear();
    EXPECT_EQ(sagad.Operate(ids[0], "skip", skip).code(), ErrorCode::kInvalidArgument) << "skip needs a reason";
    EXPECT_EQ(sagad.Operate(ids[0], "resume", {}).code(), ErrorCode::kFailedPrecondition) << "not parked";
    EXPECT_EQ(sagad.Operate(ids[0], "launch", {}).code(), ErrorCode::kInvalidArgument);
    const std::string path = "/api/v1/sagas/" + ids[0].str() + "/skip";
    const std::string bad = R"({"node":"reserve_inventory","reason":"x","output":[1]})";
    const std::string raw = Exchange("POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                     "Content-Length: " + std::to_string(bad.size()) + "\r\nConnection: close\r\n\r\n" + bad);
    EXPECT_EQ(StatusOf(raw), 400) << raw;
    EXPECT_EQ(BodyOf(raw)["code"], "invalid_argument");
    EXPECT_EQ(history_size(ids[0]), before) << "a refused action writes nothing";
    skip.reason = "reserved by hand";
    skip.output = json{{"reserved", 5}};
    ASSERT_TRUE(sagad.Operate(ids[0], "skip", skip).ok());
    auto shown = sagad.Show(ids[0]).value();
    EXPECT_EQ(shown.context["reserve_inventory"], (json{{"reserved", 5}}));
    EXPECT_EQ(shown.nodes.at(0).state, "done");

    api::OperatorRequest cancel;
    EXPECT_EQ(sagad.Operate(ids[1], "cancel", cancel).code(), ErrorCode::kInvalidArgument) << "a reason is required";
    cancel.reason = "customer withdrew";
    ASSERT_TRUE(sagad.Operate(ids[1], "cancel", cancel).ok());
    EXPECT_EQ(sagad.Show(ids[1]).value().saga.status, SagaStatus::kCancelled);
    EXPECT_EQ(sagad.Operate(ids[1], "cancel", cancel).code(), ErrorCode::kFailedPrecondition);
    auto refused = sagad.CompensationPlan(ids[1]);
    ASSERT_TRUE(refused.ok());
    ASSERT_TRUE(refused->refused);
    EXPECT_NE(refused->refused->find("cancelled"), std::string::npos) << *refused->refused;

    api::OperatorRequest resolve;
    resolve.reason = "settled by phone";
    resolve.status = SagaStatus::kCompleted;
    EXPECT_EQ(sagad.Operate(ids[2], "resolve", resolve).code(), ErrorCode::kFailedPrecondition) << "running: force";
    resolve.force = true;
    ASSERT_TRUE(sagad.Operate(ids[2], "resolve", resolve).ok());
    const auto resolved = sagad.Show(ids[2]).value();
    EXPECT_EQ(resolved.saga.status, SagaStatus::kCompleted);
    bool audited = false;
    for (const auto& h : resolved.history) {
        audited |= h.kind == "resolve_requested" && h.detail.value("reason", "") == "settled by phone" &&
                   h.detail.value("by", "") == "anonymous";
    }
    EXPECT_TRUE(audited);
}

TEST_F(HttpApiTest, ABulkJobTakesEveryMatchingSagaOncePageByPageAndReportsItsProgress) {
    client::Client sagad(url_);
    std::vector<SagaId> ids;
    for (int i = 0; i < 5; ++i) ids.push_back(sagad.Start(Order("bulk-" + std::to_string(i))).value().saga_id);
    api::BulkRequest r;
    r.action = "cancel";
    r.status = SagaStatus::kRunning;
    r.workflow = "order_fulfilment";
    EXPECT_EQ(sagad.Bulk(r).code(), ErrorCode::kInvalidArgument) << "a reason is required";
    r.reason = "cleanup";
    r.dry_run = true;
    auto dry = sagad.Bulk(r);
    ASSERT_TRUE(dry.ok()) << dry.status().message;
    EXPECT_EQ(dry->state, "dry_run");
    EXPECT_EQ(dry->matched, 5);
    EXPECT_EQ(dry->sample.size(), 5u);
    EXPECT_TRUE(sagad.BulkJobs().value().jobs.empty()) << "a dry run writes nothing";
    r.dry_run = false;
    const auto over = sagad.Bulk(r);
    EXPECT_EQ(over.code(), ErrorCode::kFailedPrecondition);
    EXPECT_NE(over.status().message.find("--confirm-count 5"), std::string::npos) << over.status().message;
    r.confirm_count = 5;
    r.rate = 1000;
    auto job = sagad.Bulk(r);
    ASSERT_TRUE(job.ok()) << job.status().message;
    EXPECT_EQ(job->state, "running");
    EXPECT_EQ(job->requested_by, "anonymous");
    // A saga started after the job is not its business.
    const SagaId later = sagad.Start(Order("bulk-later")).value().saga_id;
    for (int page = 0; page < 5 && sagad.BulkJob(job->id).value().state == "running"; ++page) (void)bulk_->Step();
    auto done = sagad.BulkJob(job->id);
    ASSERT_TRUE(done.ok());
    EXPECT_EQ(done->state, "finished");
    EXPECT_EQ(done->done, 5);
    EXPECT_EQ(done->refused, 0);
    for (const SagaId& id : ids) EXPECT_EQ(sagad.Show(id).value().saga.status, SagaStatus::kCancelled);
    EXPECT_EQ(sagad.Show(later).value().saga.status, SagaStatus::kRunning);
    EXPECT_EQ(bulk_->Step(), std::chrono::milliseconds(1000)) << "no job runs: the idle pause";
    EXPECT_EQ(sagad.BulkJobs().value().jobs.size(), 1u);
    EXPECT_EQ(sagad.BulkJob("00000000-0000-4000-8000-000000000000").code(), ErrorCode::kNotFound);
    const std::string bad = R"({"action":"delete","reason":"x"})";
    const std::string raw = Exchange("POST /api/v1/bulk HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                     "Content-Length: " + std::to_string(bad.size()) + "\r\nConnection: close\r\n\r\n" + bad);
    EXPECT_EQ(StatusOf(raw), 400) << raw;
}

TEST_F(HttpApiTest, ReadsAnswerWhileTheEngineLoopIsBusy) {
    client::Client sagad(url_);
    auto started = sagad.Start(Order("busy"));
    ASSERT_TRUE(started.ok());
    // Hold the engine's loop inside a task until the reads are done (bounded either way).
    std::promise<void> entered, release;
    auto released = release.get_future().share();
    auto blocker = std::async(std::launch::async, [&] {
        return node_->Submit<int>([&](engine::Engine&, runtime::WorkerLink&) {
            entered.set_value();
            released.wait_for(std::chrono::seconds(30));
            return 0;
        });
    });
    ASSERT_EQ(entered.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
    auto reads = std::async(std::launch::async, [&] {
        client::Client reader(url_);
        return std::vector<bool>{reader.Show(started->saga_id).ok(), reader.List().ok(),
                                 reader.Graph("order_fulfilment", std::nullopt, started->saga_id).ok()};
    });
    const bool answered = reads.wait_for(std::chrono::seconds(10)) == std::future_status::ready;
    release.set_value();
    EXPECT_EQ(blocker.get(), 0);
    ASSERT_TRUE(answered) << "a read waited behind the engine loop";
    EXPECT_EQ(reads.get(), (std::vector<bool>{true, true, true}));
}

TEST_F(HttpApiTest, BadRequestsGetJsonErrorsAndWriteNothing) {
    const std::string post = "POST /api/v1/sagas HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n";
    auto with_body = [&](const std::string& body) {
        return post + "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
    };
    const std::vector<std::tuple<std::string, int, std::string>> cases{
        {with_body("{\"workflow\":"), 400, "invalid_argument"},
        {with_body("{\"workflow\":7,\"input\":{}}"), 400, "invalid_argument"},
        {with_body("{\"workflow\":\"order_fulfilment\",\"input\":[1]}"), 400, "invalid_argument"},
        {with_body("{\"workflow\":\"order_fulfilment\",\"input\":{},\"version\":\"2\"}"), 400, "invalid_argument"},
        {with_body("{\"workflow\":\"nope\",\"input\":{}}"), 404, "not_found"},
        {with_body("[]"), 400, "invalid_argument"},
        {"GET /api/v1/nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 404, "not_found"},
        {"DELETE /api/v1/sagas HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 405, "invalid_argument"},
        {"GET /api/v1/sagas?status=happy HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 400, "invalid_argument"},
        {"GET /api/v1/sagas?cursor=zzz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 400, "invalid_argument"},
        {"GET /api/v1/sagas?colour=red HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 400, "invalid_argument"},
        {"GET /api/v1/sagas/not-a-uuid HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 400, "invalid_argument"},
        {"GET /api/v1/sagas/%zz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 400, "invalid_argument"},
        {post + "Content-Length: 2000000\r\n\r\n{", 413, "invalid_argument"},
        {"NOT HTTP AT ALL\r\n\r\n", 400, "invalid_argument"},
        // Another site's form posts text/plain; a no-cors fetch cannot say application/json.
        {"POST /api/v1/sagas HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n"
         "Connection: close\r\n\r\n{}", 415, "invalid_argument"},
        {"POST /api/v1/sagas/00000000-0000-4000-8000-000000000000/compensate HTTP/1.1\r\nHost: x\r\n"
         "Content-Length: 0\r\nConnection: close\r\n\r\n", 415, "invalid_argument"},
        {"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n", 431, "invalid_argument"},
    };
    for (const auto& [request, status, code] : cases) {
        const std::string response = Exchange(request);
        EXPECT_EQ(StatusOf(response), status) << request.substr(0, 80) << "\n" << response;
        const json body = BodyOf(response);
        ASSERT_TRUE(body.is_object()) << response;
        EXPECT_EQ(body.value("code", ""), code) << response;
        EXPECT_FALSE(body.value("message", "").empty());
    }
    client::Client sagad(url_);
    auto page = sagad.List();
    ASSERT_TRUE(page.ok());
    EXPECT_TRUE(page->sagas.empty()) << "a refused start wrote a saga";
    EXPECT_EQ(node_->loop_errors(), 0u);
}

TEST_F(HttpApiTest, AFloodOfStartsBeyondMaxRunningIsRefusedWithResourceExhausted) {
    api_ = std::make_unique<sagad::Api>(registry_, *node_, queries_, telemetry_, sagad::ApiOptions{10});
    api_->SetActive();
    // 100 starts from 4 clients at once against a limit of 10 sagas in flight (no worker
    // answers, so none ends): exactly 10 are taken, 90 refused, nothing else written.
    std::atomic<int> taken{0}, refused{0}, other{0};
    std::vector<std::thread> clients;
    for (int c = 0; c < 4; ++c) {
        clients.emplace_back([&, c] {
            client::Client sagad(url_);
            for (int i = 0; i < 25; ++i) {
                const auto r = sagad.Start(Order("flood-" + std::to_string(c) + "-" + std::to_string(i)));
                (r.ok() ? taken : r.code() == ErrorCode::kResourceExhausted ? refused : other)++;
            }
        });
    }
    for (auto& t : clients) t.join();
    EXPECT_EQ(taken, 10);
    EXPECT_EQ(refused, 90);
    EXPECT_EQ(other, 0);
    client::Client sagad(url_);
    auto page = sagad.List();
    ASSERT_TRUE(page.ok());
    EXPECT_EQ(page->sagas.size(), 10u) << "a refused start wrote a saga";
    const std::string refusal = Exchange(
        "POST /api/v1/sagas HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
        std::to_string(json(Order("one-more")).dump().size()) + "\r\nConnection: close\r\n\r\n" + json(Order("one-more")).dump());
    EXPECT_EQ(StatusOf(refusal), 429) << refusal;
    EXPECT_EQ(BodyOf(refusal).value("code", ""), "resource_exhausted");
    EXPECT_EQ(node_->loop_errors(), 0u);
}

TEST_F(HttpApiTest, MetricsHealthAndReadiness) {
    client::Client sagad(url_);
    ASSERT_TRUE(sagad.Start(Order("m")).ok());
    const std::string metrics = Exchange("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(StatusOf(metrics), 200);
    EXPECT_NE(metrics.find("text/plain; version=0.0.4"), std::string::npos);
    EXPECT_NE(metrics.find("sagaflow_sagas_started_total{workflow=\"order_fulfilment\"} 1"), std::string::npos) << metrics;
    EXPECT_NE(metrics.find("sagaflow_commands_pending 1"), std::string::npos) << metrics;
    EXPECT_NE(metrics.find("sagaflow_node_active 1"), std::string::npos);
    EXPECT_EQ(metrics.find("saga_id"), std::string::npos) << "no saga ids in labels";
    EXPECT_EQ(StatusOf(Exchange("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")), 200);
    EXPECT_EQ(StatusOf(Exchange("GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")), 200);
    // A standby serves health and stats but is not ready and runs nothing.
    sagad::Api standby(registry_, *node_, queries_, telemetry_);
    http::Request ready{"GET", "/readyz", {}, {}, "", ""};
    EXPECT_EQ(standby.Handle(ready).status, 503);
    http::Request start{"POST", "/api/v1/sagas", {}, {{"content-type", "application/json"}}, json(Order("s")).dump(), ""};
    const auto refused = standby.Handle(start);
    EXPECT_EQ(refused.status, 503);
    EXPECT_EQ(json::parse(refused.body)["code"], "unavailable");
    EXPECT_EQ(standby.Handle({"GET", "/api/v1/stats", {}, {}, "", ""}).status, 200);
}

TEST_F(HttpApiTest, AStartCarryingATraceparentJoinsTheCallersTrace) {
    const std::string body = json(Order("traced")).dump();
    const std::string response = Exchange(
        "POST /api/v1/sagas HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n"
        "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
    ASSERT_EQ(StatusOf(response), 201) << response;
    client::Client sagad(url_);
    auto shown = sagad.Show(BodyOf(response).get<api::Started>().saga_id);
    ASSERT_TRUE(shown.ok());
    EXPECT_EQ(shown->saga.trace_id, "4bf92f35-77b3-4da6-a3ce-929d0e0e4736");
    // A malformed one is ignored, as W3C asks: the saga gets a trace of its own.
    const std::string other = json(Order("untraced")).dump();
    const std::string second = Exchange(
        "POST /api/v1/sagas HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\ntraceparent: 00-zz-1-01\r\n"
        "Content-Length: " + std::to_string(other.size()) + "\r\nConnection: close\r\n\r\n" + other);
    ASSERT_EQ(StatusOf(second), 201) << second;
    auto untraced = sagad.Show(BodyOf(second).get<api::Started>().saga_id);
    ASSERT_TRUE(untraced.ok());
    EXPECT_NE(untraced->saga.trace_id, "4bf92f35-77b3-4da6-a3ce-929d0e0e4736");
    EXPECT_TRUE(IsUuid(untraced->saga.trace_id));
}

TEST_F(HttpApiTest, ServesTheEmbeddedWebViewWithALockedDownPolicy) {
    const std::string index = Exchange("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(StatusOf(index), 200);
    EXPECT_NE(index.find("Content-Type: text/html"), std::string::npos);
    EXPECT_NE(index.find("Content-Security-Policy: default-src 'self'"), std::string::npos) << index.substr(0, 600);
    EXPECT_NE(index.find("<script src=\"/ui/app.js\""), std::string::npos);
    for (const char* file : {"app.js", "app.css", "viz-global.js"}) {
        const std::string r = Exchange(std::string("GET /ui/") + file + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        EXPECT_EQ(StatusOf(r), 200) << file;
        EXPECT_GT(r.size(), 1000u) << file;
    }
    EXPECT_EQ(StatusOf(Exchange("GET /ui/../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")), 404);
    EXPECT_EQ(StatusOf(Exchange("GET /ui/index.htm HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")), 404);
}

class HttpLimitsTest : public HttpApiTest {
protected:
    void SetUp() override {
        http::ServerOptions o;
        o.read_timeout = std::chrono::milliseconds(300);
        o.max_connections = 8;
        Start(o);
    }
};

TEST_F(HttpLimitsTest, SlowClientsAreCutWith408AndIdleOnesClosed) {
    RawTcp slow(port_);
    ASSERT_TRUE(slow.connected());
    slow.Send("GET /api/v1/sagas HTTP/1.1\r\nHost: x\r\n");  // and never the rest
    const std::string answer = slow.ReadAll();
    EXPECT_EQ(StatusOf(answer), 408) << answer;
    EXPECT_EQ(BodyOf(answer).value("code", ""), "deadline_exceeded");
    RawTcp idle(port_);
    ASSERT_TRUE(idle.connected());
    EXPECT_EQ(idle.ReadAll(), "") << "a connection that said nothing is closed without an answer";
    EXPECT_GE(server_->counters().timeouts, 1u);
    client::Client sagad(url_);
    EXPECT_TRUE(sagad.Workflows().ok()) << "the server still serves";
}

TEST_F(HttpLimitsTest, ConnectionsOverTheLimitGet429AndTheServerGoesOn) {
    std::vector<std::unique_ptr<RawTcp>> held;
    for (int i = 0; i < 8; ++i) {
        held.push_back(std::make_unique<RawTcp>(port_));
        ASSERT_TRUE(held.back()->connected());
    }
    // The eight are counted once accepted; wait (bounded) until they are.
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (server_->counters().open_connections < 8 && std::chrono::steady_clock::now() < until) {
        std::this_thread::yield();
    }
    ASSERT_EQ(server_->counters().open_connections, 8u);
    RawTcp extra(port_);
    ASSERT_TRUE(extra.connected());
    const std::string answer = extra.ReadAll();
    EXPECT_EQ(StatusOf(answer), 429) << answer;
    EXPECT_EQ(BodyOf(answer).value("code", ""), "resource_exhausted");
    held.clear();
    const auto freed = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (server_->counters().open_connections > 0 && std::chrono::steady_clock::now() < freed) {
        std::this_thread::yield();
    }
    client::Client sagad(url_);
    EXPECT_TRUE(sagad.Workflows().ok());
    EXPECT_GE(server_->counters().refused_connections, 1u);
}

// docs/openapi.yaml describes every route the server serves (and names no route it does not).
TEST(OpenApi, DescribesEveryRouteServed) {
    std::ifstream in(std::string(SAGAFLOW_SOURCE_DIR) + "/docs/openapi.yaml");
    ASSERT_TRUE(in) << "docs/openapi.yaml";
    std::set<std::string> documented;
    std::string line, path;
    const std::regex path_line(R"(^  (/[^:]*):\s*$)"), method_line(R"(^    (get|post|put|delete|patch):\s*$)");
    while (std::getline(in, line)) {
        std::smatch m;
        if (std::regex_match(line, m, path_line)) {
            path = m[1];
        } else if (!path.empty() && std::regex_match(line, m, method_line)) {
            std::string method = m[1];
            for (char& c : method) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
            documented.insert(method + " " + path);
        } else if (!line.empty() && line[0] != ' ' && line[0] != '#') {
            path.clear();  // a top-level key ends `paths:`
        }
    }
    std::set<std::string> served;
    for (const std::string& r : sagad::Api::Routes()) served.insert(r);
    EXPECT_EQ(documented, served);
}

}  // namespace
}  // namespace sagaflow::testing
