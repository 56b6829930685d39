#include "pg_rows.hpp"

namespace sagaflow::store {
namespace {

Timestamp FromMicros(std::int64_t us) { return Timestamp{Duration{us}}; }

nlohmann::json Json(const pg::Result& r, int row, int col) {
    auto j = nlohmann::json::parse(r.View(row, col), nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) throw Error(ErrorCode::kInternal, "database returned invalid JSON");
    return j;
}

template <class Enum, class Parse>
Enum Code(const pg::Result& r, int row, int col, Parse parse, const char* what) {
    auto v = parse(static_cast<int>(r.Int(row, col)));
    if (!v) throw Error(ErrorCode::kInternal, std::string("unknown ") + what + " code in database");
    return *v;
}

}  // namespace

std::string Micros(Timestamp t) { return std::to_string(t.time_since_epoch().count()); }

engine::SagaRecord SagaFromRow(const pg::Result& r, int i, int c) {
    engine::SagaRecord s;
    s.id = SagaId(r.Text(i, c + 0));
    s.workflow = r.Text(i, c + 1);
    s.workflow_version = static_cast<int>(r.Int(i, c + 2));
    s.status = Code<SagaStatus>(r, i, c + 3, SagaStatusFromCode, "state");
    s.nodes = Json(r, i, c + 4).get<engine::FlowState>();
    s.input = Json(r, i, c + 5);
    s.context = Json(r, i, c + 6);
    if (!r.IsNull(i, c + 7)) s.business_key = BusinessKey(r.Text(i, c + 7));
    s.failure_reason = r.Text(i, c + 8);
    s.trace_id = TraceId(r.Text(i, c + 9));
    s.version = r.Int(i, c + 10);
    s.created_at = FromMicros(r.Int(i, c + 11));
    s.updated_at = FromMicros(r.Int(i, c + 12));
    if (!r.IsNull(i, c + 13)) {
        s.parent_id = SagaId(r.Text(i, c + 13));
        s.parent_node = r.Text(i, c + 14);
    }
    return s;
}

engine::PendingRecord PendingFromRow(const pg::Result& r, int i, int c) {
    engine::PendingRecord p;
    p.saga_id = SagaId(r.Text(i, c + 0));
    p.msg_id = MsgId(r.Text(i, c + 1));
    p.node = r.Text(i, c + 2);
    p.phase = Code<Phase>(r, i, c + 3, PhaseFromCode, "phase");
    p.action = r.Text(i, c + 4);
    p.queue = r.Text(i, c + 5);
    p.attempt = static_cast<int>(r.Int(i, c + 6));
    p.not_before = FromMicros(r.Int(i, c + 7));
    p.created_at = FromMicros(r.Int(i, c + 8));
    p.kind = Code<engine::PendingKind>(r, i, c + 9, engine::PendingKindFromCode, "pending kind");
    return p;
}

engine::SignalRecord SignalFromRow(const pg::Result& r, int i) {
    engine::SignalRecord g;
    g.saga_id = SagaId(r.Text(i, 0));
    g.id = r.Text(i, 1);
    g.name = r.Text(i, 2);
    g.payload = Json(r, i, 3);
    g.consumed_by = r.Text(i, 4);
    g.received_at = FromMicros(r.Int(i, 5));
    return g;
}

void AppendHistoryRow(const pg::Result& r, int i, const SagaId& saga, std::vector<engine::HistoryEvent>& out) {
    const std::int64_t seq = r.Int(i, 0);
    const nlohmann::json events = Json(r, i, 1);
    if (!events.is_array()) throw Error(ErrorCode::kInternal, "a history row is not an array of events");
    for (const auto& j : events) {
        engine::HistoryEvent e = j.get<engine::HistoryEvent>();
        e.saga_id = saga;
        e.seq = seq;
        out.push_back(std::move(e));
    }
}

}  // namespace sagaflow::store
