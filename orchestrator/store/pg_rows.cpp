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

engine::SagaRecord SagaFromRow(const pg::Result& r, int i) {
    engine::SagaRecord s;
    s.id = SagaId(r.Text(i, 0));
    s.workflow = r.Text(i, 1);
    s.workflow_version = static_cast<int>(r.Int(i, 2));
    s.status = Code<SagaStatus>(r, i, 3, SagaStatusFromCode, "state");
    s.position = static_cast<int>(r.Int(i, 4));
    if (!r.IsNull(i, 5)) s.awaiting = MsgId(r.Text(i, 5));
    s.input = Json(r, i, 6);
    s.context = Json(r, i, 7);
    if (!r.IsNull(i, 8)) s.business_key = BusinessKey(r.Text(i, 8));
    s.failure_reason = r.Text(i, 9);
    s.trace_id = TraceId(r.Text(i, 10));
    s.version = r.Int(i, 11);
    s.created_at = FromMicros(r.Int(i, 12));
    s.updated_at = FromMicros(r.Int(i, 13));
    return s;
}

engine::CommandRecord CommandFromRow(const pg::Result& r, int i) {
    engine::CommandRecord c;
    c.saga_id = SagaId(r.Text(i, 0));
    c.msg_id = MsgId(r.Text(i, 1));
    c.step_index = static_cast<int>(r.Int(i, 2));
    c.phase = Code<Phase>(r, i, 3, PhaseFromCode, "phase");
    c.action = r.Text(i, 4);
    c.queue = r.Text(i, 5);
    c.attempt = static_cast<int>(r.Int(i, 6));
    c.not_before = FromMicros(r.Int(i, 7));
    c.state = static_cast<int>(r.Int(i, 8)) == 1 ? engine::CommandState::kPending
                                                 : engine::CommandState::kDone;
    c.payload = Json(r, i, 9);
    c.created_at = FromMicros(r.Int(i, 10));
    return c;
}

engine::AttemptRecord AttemptFromRow(const pg::Result& r, int i) {
    engine::AttemptRecord a;
    a.saga_id = SagaId(r.Text(i, 0));
    a.step_index = static_cast<int>(r.Int(i, 1));
    a.phase = Code<Phase>(r, i, 2, PhaseFromCode, "phase");
    a.msg_id = MsgId(r.Text(i, 3));
    a.attempt = static_cast<int>(r.Int(i, 4));
    a.outcome = r.Text(i, 5);
    a.detail = r.Text(i, 6);
    a.finished_at = FromMicros(r.Int(i, 7));
    return a;
}

engine::HistoryEvent HistoryFromRow(const pg::Result& r, int i) {
    engine::HistoryEvent e;
    e.saga_id = SagaId(r.Text(i, 0));
    e.seq = r.Int(i, 1);
    e.at = FromMicros(r.Int(i, 2));
    e.kind = r.Text(i, 3);
    e.step_index = static_cast<int>(r.Int(i, 4));
    if (!r.IsNull(i, 5)) e.phase = Code<Phase>(r, i, 5, PhaseFromCode, "phase");
    e.attempt = static_cast<int>(r.Int(i, 6));
    if (!r.IsNull(i, 7)) e.msg_id = MsgId(r.Text(i, 7));
    e.detail = Json(r, i, 8);
    return e;
}

}  // namespace sagaflow::store
