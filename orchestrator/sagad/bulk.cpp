#include "bulk.hpp"

#include <algorithm>

#include "sagaflow/log.hpp"

namespace sagaflow::sagad {
namespace {

using Kind = engine::OperatorAction::Kind;

Kind KindOf(const std::string& action) {
    if (action == "compensate") return Kind::kCompensate;
    if (action == "retry") return Kind::kRetry;
    if (action == "cancel") return Kind::kCancel;
    throw Error(ErrorCode::kInternal, "bulk job with action '" + action + "'");  // the codec admits only these
}

// The filter's fields, which the API's request and the engine's filter spell alike: one
// copy for both ways.
template <class From, class To>
void CopyFilter(const From& from, To& to) {
    to.status = from.status;
    to.workflow = from.workflow;
    to.version = from.version;
    to.created_after = from.created_after;
    to.created_before = from.created_before;
}

api::BulkJobInfo InfoOf(const engine::BulkJob& job) {
    api::BulkJobInfo out;
    out.id = job.id;
    out.request.action = job.action;
    CopyFilter(job.filter, out.request);
    out.request.reason = job.reason;
    out.requested_by = job.requested_by;
    out.state = std::string(engine::ToString(job.state));
    out.matched = job.matched;
    out.done = job.done;
    out.refused = job.refused;
    out.rate = job.rate;
    out.created_at = job.created_at;
    out.updated_at = job.updated_at;
    return out;
}

}  // namespace

BulkJobs::BulkJobs(engine::SagaStore& store, runtime::Node& node, const Clock& clock, BulkOptions options)
    : store_(store), node_(node), clock_(clock), options_(options) {}

BulkJobs::~BulkJobs() { Stop(); }

Result<api::BulkJobInfo> BulkJobs::Create(const api::BulkRequest& request, const engine::Actor& by) {
    if (request.reason.empty()) return Status{ErrorCode::kInvalidArgument, "a bulk action needs a reason"};
    (void)KindOf(request.action);
    engine::BulkJob job;
    job.action = request.action;
    CopyFilter(request, job.filter);
    const Timestamp now = clock_.Now();
    // Sagas started after the job are not its business.
    job.filter.created_before = std::min(job.filter.created_before.value_or(now), now);
    job.reason = request.reason;
    job.requested_by = by.name;
    job.rate = std::clamp(request.rate.value_or(options_.default_rate), 1, options_.max_rate);
    job.created_at = now;
    job.updated_at = now;
    auto tx = store_.Begin();
    job.matched = tx->CountSagas(job.filter);
    if (request.dry_run) {
        api::BulkJobInfo out = InfoOf(job);
        out.id.clear();
        out.state = "dry_run";
        engine::SagaFilter first = job.filter;
        first.limit = 10;
        for (const engine::SagaRecord& s : tx->ListSagas(first)) out.sample.push_back(s.id);
        return out;
    }
    const std::string count = std::to_string(job.matched);
    if (request.confirm_count && *request.confirm_count != job.matched) {
        return Status{ErrorCode::kFailedPrecondition, "the filter matches " + count + " sagas, not " +
                                                          std::to_string(*request.confirm_count) + "; nothing was done"};
    }
    if (job.matched > options_.confirm_over && !request.confirm_count) {
        return Status{ErrorCode::kFailedPrecondition,
                      "the filter matches " + count + " sagas, more than " + std::to_string(options_.confirm_over) +
                          " at once; repeat with --confirm-count " + count + " to act on them all"};
    }
    job.id = NewUuid();
    tx->InsertBulkJob(job);
    tx->Commit();
    jobs_.fetch_add(1, std::memory_order_relaxed);
    log::Info("bulk_job_created", {{"job", job.id}, {"action", job.action}, {"matched", job.matched},
                                   {"rate", job.rate}, {"reason", job.reason}, {"by", by.name}, {"from", by.remote}});
    loop_.Wake();
    return InfoOf(job);
}

Result<api::BulkJobInfo> BulkJobs::Get(const std::string& id) {
    auto job = store_.Begin()->GetBulkJob(id);
    if (!job) return Status{ErrorCode::kNotFound, "no bulk job " + id};
    return InfoOf(*job);
}

std::vector<api::BulkJobInfo> BulkJobs::List(int limit) {
    std::vector<api::BulkJobInfo> out;
    for (const engine::BulkJob& j : store_.Begin()->ListBulkJobs(limit, false)) out.push_back(InfoOf(j));
    return out;
}

std::chrono::milliseconds BulkJobs::Step() {
    engine::BulkPage page;
    int size = 0;
    int rate = 1;
    {
        auto tx = store_.Begin();
        const auto running = tx->ListBulkJobs(1000, true);
        if (running.empty()) return options_.idle;
        const engine::BulkJob& job = running.back();  // the oldest first
        rate = job.rate;
        size = std::clamp(std::min(options_.page, job.rate), 1, options_.page);
        engine::SagaFilter f = job.filter;
        f.limit = size;
        const auto sagas = tx->ListSagas(f);
        page.job_id = job.id;
        page.from = job.filter.after;
        for (const engine::SagaRecord& s : sagas) {
            engine::OperatorAction a;
            a.kind = KindOf(job.action);
            a.saga_id = s.id;
            a.reason = job.reason;
            a.by = engine::Actor{job.requested_by, "bulk " + job.id};
            a.bulk_job = job.id;
            page.actions.push_back(std::move(a));
        }
        if (!sagas.empty()) page.last = engine::SagaCursor{sagas.back().created_at, sagas.back().id};
        page.final = static_cast<int>(sagas.size()) < size;
    }
    const auto started = std::chrono::steady_clock::now();
    const Status st = node_.Submit<Status>([&page](engine::Engine& e, runtime::WorkerLink&) {
        const engine::Event event = page;
        return e.ApplyEvents(std::span<const engine::Event>(&event, 1)).front();
    });
    if (st.code == ErrorCode::kAborted || st.code == ErrorCode::kUnavailable) {
        return std::chrono::milliseconds(50);  // read the job again: it is where its last commit left it
    }
    if (!st.ok()) throw Error(st.code, st.message);
    pages_.fetch_add(1, std::memory_order_relaxed);
    sagas_.fetch_add(page.actions.size(), std::memory_order_relaxed);
    if (page.final) {
        if (auto done = store_.Begin()->GetBulkJob(page.job_id)) {
            log::Info("bulk_job_finished", {{"job", done->id}, {"action", done->action}, {"matched", done->matched},
                                            {"done", done->done}, {"refused", done->refused}});
        }
        return std::chrono::milliseconds(0);
    }
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    const auto budget = std::chrono::milliseconds(1000LL * size / rate);
    return std::max(budget - took, std::chrono::milliseconds(0));
}

std::chrono::milliseconds BulkJobs::Tick() {
    if (loop_.stopping()) return options_.idle;
    try {
        const auto pause = Step();
        guard_.Succeeded();
        return pause;
    } catch (const std::exception& e) {
        return guard_.Failed(e);
    }
}

BulkCounts BulkJobs::counts() const {
    return {jobs_.load(std::memory_order_relaxed), pages_.load(std::memory_order_relaxed),
            sagas_.load(std::memory_order_relaxed)};
}

}  // namespace sagaflow::sagad
