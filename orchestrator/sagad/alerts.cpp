#include "alerts.hpp"

#include "sagaflow/log.hpp"

namespace sagaflow::sagad {
namespace {

constexpr int kBatch = 32;

}  // namespace

AlertSender::AlertSender(engine::SagaStore& store, const Clock& clock, AlertOptions options)
    : store_(store), clock_(clock), options_(std::move(options)) {
    auto url = http::ParseUrl(options_.webhook);
    if (!url.ok()) throw Error(ErrorCode::kInvalidArgument, "alert_webhook: " + url.status().message);
    webhook_ = *url;
}

AlertSender::~AlertSender() { Stop(); }

std::chrono::milliseconds AlertSender::Tick() {
    try {
        while (SendDue() == kBatch) {
        }
        guard_.Succeeded();
        return options_.poll;
    } catch (const std::exception& e) {
        return std::max(guard_.Failed(e), options_.poll);  // the store is away: try again later
    }
}

int AlertSender::SendDue() {
    std::vector<engine::AlertRecord> due;
    {
        auto tx = store_.Begin();
        due = tx->DueAlerts(clock_.Now(), kBatch);
        tx->Commit();
    }
    pending_ = due.size();
    http::ClientConnection conn(webhook_, options_.timeout);
    for (engine::AlertRecord& a : due) {
        nlohmann::json event = a.event;
        event["alert_id"] = a.saga_id.str() + "/" + std::to_string(a.id);
        event["attempt"] = a.attempts + 1;
        if (!options_.sagad_url.empty()) event["url"] = options_.sagad_url + "/#/sagas/" + a.saga_id.str();
        std::string why;
        try {
            const http::Response r = conn.Send("POST", webhook_.path, event.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
            if (r.status >= 200 && r.status < 300) {
                auto tx = store_.Begin();
                tx->DeleteAlert(a);
                tx->Commit();
                ++sent_;
                log::Info("alert_sent", {{"saga_id", a.saga_id.str()}, {"alert_id", event["alert_id"]},
                                         {"attempt", a.attempts + 1}});
                continue;
            }
            why = "the webhook answered HTTP " + std::to_string(r.status);
        } catch (const Error& e) {
            why = e.what();
        }
        ++failed_;
        a.attempts += 1;
        const Duration backoff =
            engine::BackoffDelay(options_.backoff, a.attempts, std::uniform_real_distribution<double>(0, 1)(rng_));
        a.next_at = clock_.Now() + backoff;
        auto tx = store_.Begin();
        tx->DeferAlert(a);
        tx->Commit();
        log::Warn("alert_not_sent", {{"saga_id", a.saga_id.str()}, {"alert_id", event["alert_id"]},
                                     {"attempt", a.attempts}, {"error", why}, {"retry_in_ms", std::chrono::duration_cast<std::chrono::milliseconds>(backoff).count()}});
    }
    return static_cast<int>(due.size());
}

}  // namespace sagaflow::sagad
