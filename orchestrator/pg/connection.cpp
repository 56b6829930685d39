#include "connection.hpp"

#include <charconv>

#include "errors.hpp"

namespace sagaflow::pg {

std::string_view Result::View(int row, int col) const {
    const char* v = PQgetvalue(r_.get(), row, col);
    return {v, static_cast<std::size_t>(PQgetlength(r_.get(), row, col))};
}

std::int64_t Result::Int(int row, int col) const {
    const std::string_view v = View(row, col);
    std::int64_t out = 0;
    auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
    if (ec != std::errc() || ptr != v.data() + v.size()) {
        throw Error(ErrorCode::kInternal, "expected an integer from the database, got '" +
                                              std::string(v) + "'");
    }
    return out;
}

std::optional<std::string> Result::OptText(int row, int col) const {
    if (IsNull(row, col)) return std::nullopt;
    return Text(row, col);
}

std::int64_t Result::affected() const {
    const char* n = PQcmdTuples(r_.get());
    return (n == nullptr || *n == '\0') ? 0 : std::stoll(n);
}

Connection::Connection(const std::string& dsn, const std::string& schema)
    : conn_(PQconnectdb(dsn.c_str()), &PQfinish) {
    if (!conn_ || PQstatus(conn_.get()) != CONNECTION_OK) {
        const std::string why = conn_ ? PQerrorMessage(conn_.get()) : "out of memory";
        throw Error(ErrorCode::kUnavailable, "cannot connect to PostgreSQL: " + why);
    }
    // Server notices ("relation already exists, skipping") are not errors; keep them off stderr.
    PQsetNoticeProcessor(conn_.get(), [](void*, const char*) {}, nullptr);
    if (!schema.empty()) Exec("SET search_path TO " + QuoteIdentifier(schema));
}

bool Connection::healthy() const { return !broken_ && PQstatus(conn_.get()) == CONNECTION_OK; }

std::string Connection::QuoteIdentifier(std::string_view name) const {
    char* quoted = PQescapeIdentifier(conn_.get(), name.data(), name.size());
    if (quoted == nullptr) throw Error(ErrorCode::kInvalidArgument, "bad SQL identifier");
    std::string out(quoted);
    PQfreemem(quoted);
    return out;
}

Result Connection::Check(PGresult* raw, std::string_view what) {
    Result r(raw);
    const ExecStatusType st = raw ? PQresultStatus(raw) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY) return r;
    const char* state = raw ? PQresultErrorField(raw, PG_DIAG_SQLSTATE) : nullptr;
    const std::string message = raw ? PQresultErrorMessage(raw) : PQerrorMessage(conn_.get());
    if (state == nullptr) broken_ = true;  // the server never answered: the link is gone
    const ErrorCode code = healthy() ? CodeForSqlState(state ? state : "") : ErrorCode::kUnavailable;
    throw Error(code, std::string(what) + ": " + message);
}

Result Connection::Exec(const std::string& sql) {
    return Check(PQexec(conn_.get(), sql.c_str()), "query failed");
}

namespace {
std::vector<const char*> Pointers(const Params& params) {
    std::vector<const char*> out;
    out.reserve(params.size());
    for (const auto& p : params) out.push_back(p ? p->c_str() : nullptr);
    return out;
}
}  // namespace

Result Connection::Exec(const std::string& sql, const Params& params) {
    const auto values = Pointers(params);
    return Check(PQexecParams(conn_.get(), sql.c_str(), static_cast<int>(values.size()), nullptr,
                              values.data(), nullptr, nullptr, 0),
                 "query failed");
}

Result Connection::Exec(const Statement& st, const Params& params) {
    if (!prepared_.contains(st.name)) {
        Check(PQprepare(conn_.get(), st.name, st.sql, 0, nullptr),
              std::string("prepare ") + st.name + " failed");
        prepared_.insert(st.name);
    }
    const auto values = Pointers(params);
    return Check(PQexecPrepared(conn_.get(), st.name, static_cast<int>(values.size()),
                                values.data(), nullptr, nullptr, 0),
                 st.name);
}

Transaction::Transaction(Connection& c) : c_(c) { c_.Exec("BEGIN"); }

Transaction::~Transaction() {
    if (done_ || !c_.healthy()) return;
    try {
        c_.Exec("ROLLBACK");
    } catch (const Error&) {
        // The connection is broken; the server rolls back on its own.
    }
}

void Transaction::Commit() {
    done_ = true;
    try {
        c_.Exec("COMMIT");
    } catch (const Error& e) {
        if (!c_.healthy()) {
            throw Error(ErrorCode::kUnavailable,
                        std::string("connection lost during COMMIT; outcome in doubt: ") + e.what());
        }
        throw;
    }
}

}  // namespace sagaflow::pg
