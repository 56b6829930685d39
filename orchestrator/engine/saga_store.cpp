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

}  // namespace

std::string_view ToString(PendingKind k) noexcept { return WordOf(kPendingWords, k); }

std::optional<PendingKind> PendingKindFromCode(int code) noexcept { return FromCode(kPendingWords, code); }

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
