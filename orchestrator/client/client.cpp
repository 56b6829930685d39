#include "sagaflow/client/client.hpp"

#include <algorithm>

#include "http/client.hpp"

namespace sagaflow::client {
using nlohmann::json;

struct Client::Impl {
    Impl(std::string u, http::Url url, ClientOptions o)
        : text(std::move(u)), base(url.path == "/" ? "" : url.path), conn(std::move(url), o.timeout, o.ca_file) {
        while (!base.empty() && base.back() == '/') base.pop_back();
        conn.SetBearer(o.token);
    }

    std::string text;  // the URL as given, for messages
    std::string base;  // a path sagad is mounted under (behind a proxy); empty at the root
    http::ClientConnection conn;

    // One call: the typed answer, or the error sagad sent, or why there was none.
    template <class T>
    Result<T> Call(std::string_view method, const std::string& path, const std::string& body = "") {
        http::Response r;
        try {
            r = conn.Send(method, base + std::string(api::kPrefix) + path, body);
        } catch (const Error& e) {
            return Status{e.code(), (e.code() == ErrorCode::kDeadlineExceeded ? "no answer from sagad at "
                                                                              : "cannot reach sagad at ") +
                                        text + " (" + e.what() + "); retry later"};
        }
        const json j = json::parse(r.body, nullptr, false);
        if (r.status >= 400) {
            if (j.is_object() && j.contains("code")) {
                try {
                    const auto err = j.get<api::ApiError>();
                    return Status{err.code == ErrorCode::kOk ? ErrorCode::kInternal : err.code, err.message};
                } catch (const Error&) {
                }
            }
            return Status{r.status >= 500 ? ErrorCode::kUnavailable : ErrorCode::kInternal,
                          "sagad answered HTTP " + std::to_string(r.status) + " without an error body"};
        }
        if (j.is_discarded()) return Status{ErrorCode::kInternal, "sagad's answer is not JSON"};
        try {
            return j.get<T>();
        } catch (const Error& e) {
            return Status{ErrorCode::kInternal, std::string("sagad's answer does not read: ") + e.what()};
        }
    }
};

Client::Client(const std::string& url, ClientOptions options) {
    auto parsed = http::ParseUrl(url);
    if (!parsed.ok()) throw Error(parsed.code(), parsed.status().message);
    impl_ = std::make_unique<Impl>(url, *parsed, options);
}

Client::~Client() = default;
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;

Result<api::Started> Client::Start(const api::StartSaga& start) {
    return impl_->Call<api::Started>("POST", "/sagas", json(start).dump());
}

Result<api::BatchStarted> Client::StartBatch(const api::StartBatch& batch) {
    return impl_->Call<api::BatchStarted>("POST", "/sagas/batch", json(batch).dump());
}

Result<api::SagaPage> Client::List(const api::ListQuery& query) {
    return impl_->Call<api::SagaPage>("GET", "/sagas" + api::ToQueryString(query));
}

Result<api::SagaDetail> Client::Show(const SagaId& id) {
    return impl_->Call<api::SagaDetail>("GET", "/sagas/" + id.str());
}

Result<api::History> Client::History(const SagaId& id) {
    return impl_->Call<api::History>("GET", "/sagas/" + id.str() + "/history");
}

Result<api::Graph> Client::Graph(const std::string& workflow, std::optional<int> version, std::optional<SagaId> saga) {
    std::string path = "/workflows/" + api::PercentEncode(workflow) + "/graph";
    char sep = '?';
    if (version) {
        path += sep + std::string("version=") + std::to_string(*version);
        sep = '&';
    }
    if (saga) path += sep + std::string("saga=") + saga->str();
    return impl_->Call<api::Graph>("GET", path);
}

Result<api::Accepted> Client::Compensate(const SagaId& id, const std::string& reason) {
    return Operate(id, "compensate", api::OperatorRequest{reason});
}

Result<api::Accepted> Client::Retry(const SagaId& id, const std::string& reason) {
    return Operate(id, "retry", api::OperatorRequest{reason});
}

Result<api::Accepted> Client::Operate(const SagaId& id, std::string_view action, const api::OperatorRequest& request) {
    if (std::find(std::begin(api::kOperatorActions), std::end(api::kOperatorActions), action) ==
        std::end(api::kOperatorActions)) {
        return Status{ErrorCode::kInvalidArgument, "no operator action '" + std::string(action) + "'"};
    }
    return impl_->Call<api::Accepted>("POST", "/sagas/" + id.str() + "/" + std::string(action), json(request).dump());
}

Result<api::CompensationPlan> Client::CompensationPlan(const SagaId& id, const std::optional<std::string>& from_node,
                                                       bool force) {
    std::string path = "/sagas/" + id.str() + "/compensation";
    char sep = '?';
    if (from_node) {
        path += sep + std::string("from_node=") + api::PercentEncode(*from_node);
        sep = '&';
    }
    if (force) path += sep + std::string("force=true");
    return impl_->Call<api::CompensationPlan>("GET", path);
}

Result<api::BulkJobInfo> Client::Bulk(const api::BulkRequest& request) {
    return impl_->Call<api::BulkJobInfo>("POST", "/bulk", json(request).dump());
}

Result<api::BulkJobInfo> Client::BulkJob(const std::string& id) {
    return impl_->Call<api::BulkJobInfo>("GET", "/bulk/" + api::PercentEncode(id));
}

Result<api::BulkJobList> Client::BulkJobs() { return impl_->Call<api::BulkJobList>("GET", "/bulk"); }

Result<api::SignalResult> Client::Signal(const SagaId& id, const api::SendSignal& signal) {
    return impl_->Call<api::SignalResult>("POST", "/sagas/" + id.str() + "/signals", json(signal).dump());
}

Result<api::AwaitResult> Client::Await(const SagaId& id, std::chrono::milliseconds timeout) {
    // The answer may take the whole timeout: the connection waits that long, and more.
    const auto usual = impl_->conn.timeout();
    impl_->conn.SetTimeout(timeout + usual);
    auto r = impl_->Call<api::AwaitResult>("GET", "/sagas/" + id.str() + "/await?timeout_ms=" +
                                                      std::to_string(std::max<std::int64_t>(0, timeout.count())));
    impl_->conn.SetTimeout(usual);
    return r;
}

Result<SagaId> Client::FindByKey(const std::string& workflow, const std::string& business_key) {
    api::ListQuery q;
    q.workflow = workflow;
    q.business_key = business_key;
    q.limit = 1;
    auto page = List(q);
    if (!page.ok()) return page.status();
    if (page->sagas.empty()) {
        return Status{ErrorCode::kNotFound, "no saga of workflow '" + workflow + "' has business key '" + business_key + "'"};
    }
    return page->sagas.front().id;
}

Result<api::Workflows> Client::Workflows() { return impl_->Call<api::Workflows>("GET", "/workflows"); }
Result<api::Workers> Client::Workers() { return impl_->Call<api::Workers>("GET", "/workers"); }
Result<api::Stats> Client::Stats() { return impl_->Call<api::Stats>("GET", "/stats"); }

}  // namespace sagaflow::client
