// The typed C++ client of sagad's HTTP API: what `sagactl`, the benchmark and a user's
// own services use to start and steer sagas.
//
//     sagaflow::client::Client sagad("http://127.0.0.1:8080");
//     auto started = sagad.Start({"order_fulfilment", {{"order_id", "o-1"}, {"amount", 40}}, "o-1"});
//     if (!started.ok()) return Report(started.status());   // e.g. kResourceExhausted: later
//     auto saga = sagad.Show(started->saga_id);
//
// Every call returns a `Result` or `Status`: the error code sagad answered (the same
// `ErrorCode`s as everywhere), or kUnavailable when sagad cannot be reached, or
// kDeadlineExceeded when it did not answer within the timeout. Never throws for those.
// One connection, kept alive; not thread-safe (one Client per thread).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "sagaflow/client/api.hpp"
#include "sagaflow/core/error.hpp"
#include "sagaflow/core/ids.hpp"

namespace sagaflow::client {

struct ClientOptions {
    /// Bound on connecting, on sending a request and on reading its answer, each.
    std::chrono::milliseconds timeout{5000};
    /// The API token (sent as `Authorization: Bearer`); empty when sagad takes none.
    std::string token;
    /// For an https URL: the PEM file of the CA that signed sagad's certificate; empty: the
    /// system's trust store.
    std::string ca_file;
};

class Client {
public:
    /// `url` is "http://host:port" or "https://host:port". Throws Error(kInvalidArgument)
    /// for a malformed one, or a `ca_file` that does not read.
    explicit Client(const std::string& url, ClientOptions options = {});
    ~Client();
    Client(Client&&) noexcept;
    Client& operator=(Client&&) noexcept;

    /// Starts a saga (or finds the one its business key started).
    [[nodiscard]] Result<api::Started> Start(const api::StartSaga& start);
    /// Up to api::kMaxStartBatch starts in one commit; each item succeeds or fails alone.
    [[nodiscard]] Result<api::BatchStarted> StartBatch(const api::StartBatch& batch);
    /// One page of sagas; pass `next_cursor` back as `cursor` for the next page.
    [[nodiscard]] Result<api::SagaPage> List(const api::ListQuery& query = {});
    [[nodiscard]] Result<api::SagaDetail> Show(const SagaId& id);
    [[nodiscard]] Result<api::History> History(const SagaId& id);
    /// DOT of a workflow (a version, or the latest), with a saga's path marked if given.
    [[nodiscard]] Result<api::Graph> Graph(const std::string& workflow, std::optional<int> version = std::nullopt,
                                           std::optional<SagaId> saga = std::nullopt);
    /// Undo a running or completed saga.
    [[nodiscard]] Result<api::Accepted> Compensate(const SagaId& id, const std::string& reason);
    /// Re-run the compensation that failed.
    [[nodiscard]] Result<api::Accepted> Retry(const SagaId& id, const std::string& reason = "");
    /// Any operator action by its word (`api::kOperatorActions`: compensate, retry, resume,
    /// skip, cancel, resolve) with its fields. kInvalidArgument for another word.
    [[nodiscard]] Result<api::Accepted> Operate(const SagaId& id, std::string_view action,
                                                const api::OperatorRequest& request);
    /// What a compensation would run now (from `from_node` back, if given), writing nothing.
    [[nodiscard]] Result<api::CompensationPlan> CompensationPlan(const SagaId& id,
                                                                 const std::optional<std::string>& from_node = std::nullopt,
                                                                 bool force = false);
    /// Makes a bulk job (or, with `dry_run`, counts and samples what it would take).
    [[nodiscard]] Result<api::BulkJobInfo> Bulk(const api::BulkRequest& request);
    /// A bulk job and its progress.
    [[nodiscard]] Result<api::BulkJobInfo> BulkJob(const std::string& id);
    /// The bulk jobs, newest first.
    [[nodiscard]] Result<api::BulkJobList> BulkJobs();
    /// Sends a signal into a running saga. kAlreadyExists never comes back: a signal id
    /// applied before answers ok with outcome "already_applied".
    [[nodiscard]] Result<api::SignalResult> Signal(const SagaId& id, const api::SendSignal& signal);
    /// Waits until the saga ended (completed, compensated, failed) or `timeout` passed
    /// (`done` false); sagad clamps a timeout over its maximum and says so (`clamped`).
    [[nodiscard]] Result<api::AwaitResult> Await(const SagaId& id, std::chrono::milliseconds timeout);
    /// The saga started with `business_key` by `workflow`; kNotFound when none was.
    [[nodiscard]] Result<SagaId> FindByKey(const std::string& workflow, const std::string& business_key);
    [[nodiscard]] Result<api::Workflows> Workflows();
    [[nodiscard]] Result<api::Workers> Workers();
    [[nodiscard]] Result<api::Stats> Stats();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace sagaflow::client
