#include "saga_store.hpp"

#include "sagaflow/core/code_words.hpp"
#include "sagaflow/core/error.hpp"

namespace sagaflow::engine {
namespace {

constexpr std::pair<PendingKind, std::string_view> kPendingWords[] = {
    {PendingKind::kCommand, "command"},
    {PendingKind::kTimer, "timer"},
    {PendingKind::kSignal, "signal"},
    {PendingKind::kDeadline, "deadline"},
    {PendingKind::kChild, "child"},
};

constexpr std::pair<BulkState, std::string_view> kBulkWords[] = {
    {BulkState::kRunning, "running"},
    {BulkState::kFinished, "finished"},
};

std::int64_t Us(Timestamp t) { return t.time_since_epoch().count(); }
Timestamp At(const nlohmann::json& j) { return Timestamp{Duration{j.get<std::int64_t>()}}; }

}  // namespace

std::string_view ToString(PendingKind k) noexcept { return WordOf(kPendingWords, k); }

std::optional<PendingKind> PendingKindFromCode(int code) noexcept { return FromCode(kPendingWords, code); }

std::string_view ToString(BulkState s) noexcept { return WordOf(kBulkWords, s); }

void to_json(nlohmann::json& j, const SagaFilter& f) {
    j = nlohmann::json::object();
    if (f.status) j["status"] = static_cast<int>(*f.status);
    if (f.workflow) j["workflow"] = *f.workflow;
    if (f.version) j["version"] = *f.version;
    if (f.business_key) j["business_key"] = f.business_key->str();
    if (f.created_after) j["created_after_us"] = Us(*f.created_after);
    if (f.created_before) j["created_before_us"] = Us(*f.created_before);
    if (f.after) j["after"] = {{"created_us", Us(f.after->created_at)}, {"id", f.after->id.str()}};
}

void from_json(const nlohmann::json& j, SagaFilter& f) {
    try {
        f = SagaFilter{};
        if (j.contains("status")) {
            f.status = SagaStatusFromCode(j.at("status").get<int>());
            if (!f.status) throw Error(ErrorCode::kInternal, "unknown status code in a saga filter");
        }
        if (j.contains("workflow")) f.workflow = j.at("workflow").get<std::string>();
        if (j.contains("version")) f.version = j.at("version").get<int>();
        if (j.contains("business_key")) f.business_key = BusinessKey(j.at("business_key").get<std::string>());
        if (j.contains("created_after_us")) f.created_after = At(j.at("created_after_us"));
        if (j.contains("created_before_us")) f.created_before = At(j.at("created_before_us"));
        if (j.contains("after")) {
            f.after = SagaCursor{At(j.at("after").at("created_us")), SagaId(j.at("after").at("id").get<std::string>())};
        }
    } catch (const nlohmann::json::exception& x) {
        throw Error(ErrorCode::kInternal, std::string("corrupt saga filter: ") + x.what());
    }
}

void to_json(nlohmann::json& j, const HistoryEvent& e) {
    j = {{"at_us", e.at.time_since_epoch().count()}, {"kind", e.kind}};
    if (!e.node.empty()) j["node"] = e.node;
    if (e.phase) j["phase"] = static_cast<int>(*e.phase);
    if (e.attempt != 0) j["attempt"] = e.attempt;
    if (e.msg_id) j["msg_id"] = e.msg_id->str();
    if (!e.detail.empty()) j["detail"] = e.detail;
}

void from_json(const nlohmann::json& j, HistoryEvent& e) {
    try {
        e.at = Timestamp{Duration{j.at("at_us").get<std::int64_t>()}};
        e.kind = j.at("kind").get<std::string>();
        e.node = j.value("node", std::string());
        e.phase.reset();
        if (j.contains("phase") && !j.at("phase").is_null()) {
            e.phase = PhaseFromCode(j.at("phase").get<int>());
            if (!e.phase) throw Error(ErrorCode::kInternal, "unknown phase code in a history event");
        }
        e.attempt = j.value("attempt", 0);
        e.msg_id.reset();
        if (j.contains("msg_id") && j.at("msg_id").is_string()) e.msg_id = MsgId(j.at("msg_id").get<std::string>());
        e.detail = j.value("detail", nlohmann::json::object());
    } catch (const nlohmann::json::exception& x) {
        throw Error(ErrorCode::kInternal, std::string("corrupt history event: ") + x.what());
    }
}

}  // namespace sagaflow::engine
