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

namespace {
bool Succeeded(const PGresult* raw) {
    const ExecStatusType st = raw ? PQresultStatus(raw) : PGRES_FATAL_ERROR;
    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY;
}
}  // namespace

void Connection::Fail(PGresult* raw, std::string_view what) {
    Result r(raw);  // freed on the way out
    const char* state = raw ? PQresultErrorField(raw, PG_DIAG_SQLSTATE) : nullptr;
    const std::string message = raw ? PQresultErrorMessage(raw) : PQerrorMessage(conn_.get());
    if (state == nullptr) broken_ = true;  // the server never answered: the link is gone
    const ErrorCode code = healthy() ? CodeForSqlState(state ? state : "") : ErrorCode::kUnavailable;
    throw Error(code, std::string(what) + ": " + message);
}

Result Connection::Check(PGresult* raw, std::string_view what) {
    if (!Succeeded(raw)) Fail(raw, what);
    return Result(raw);
}

Result Connection::Exec(const std::string& sql) {
    if (begin_pending_) {  // `sql` may hold several statements: no pipeline for it
        begin_pending_ = false;
        Exec("BEGIN");
    }
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
    if (begin_pending_) return std::move(Pipeline({Query{nullptr, sql, params}}).front());
    const auto values = Pointers(params);
    return Check(PQexecParams(conn_.get(), sql.c_str(), static_cast<int>(values.size()), nullptr,
                              values.data(), nullptr, nullptr, 0),
                 "query failed");
}

Result Connection::Exec(const Statement& st, const Params& params) {
    if (begin_pending_) return std::move(Pipeline({Query{&st, {}, params}}).front());
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

std::vector<Result> Connection::Pipeline(const std::vector<Query>& queries) {
    if (begin_pending_) {
        begin_pending_ = false;
        std::vector<Query> all{Query{nullptr, "BEGIN", {}}};
        all.insert(all.end(), queries.begin(), queries.end());
        auto results = Pipeline(all);
        results.erase(results.begin());
        return results;
    }
    PGconn* c = conn_.get();
    if (PQenterPipelineMode(c) != 1) Fail(nullptr, "cannot enter pipeline mode");
    // What each result read back answers: a query, or the PREPARE sent just before it.
    struct Sent {
        std::size_t query;
        bool prepare;
    };
    std::vector<Sent> sent;
    std::unordered_set<std::string> preparing;
    bool send_failed = false;
    for (std::size_t i = 0; i < queries.size() && !send_failed; ++i) {
        const Query& q = queries[i];
        const auto values = Pointers(q.params);
        const int n = static_cast<int>(values.size());
        if (q.statement != nullptr) {
            if (!prepared_.contains(q.statement->name) && preparing.insert(q.statement->name).second) {
                send_failed = PQsendPrepare(c, q.statement->name, q.statement->sql, 0, nullptr) != 1;
                sent.push_back({i, true});
            }
            send_failed = send_failed ||
                          PQsendQueryPrepared(c, q.statement->name, n, values.data(), nullptr, nullptr, 0) != 1;
        } else {
            send_failed = PQsendQueryParams(c, q.sql.c_str(), n, nullptr, values.data(), nullptr, nullptr, 0) != 1;
        }
        sent.push_back({i, false});
    }
    if (send_failed || PQpipelineSync(c) != 1) {
        broken_ = true;  // a send failed: the link is gone, and the pipeline with it
        Fail(nullptr, "pipeline send failed");
    }
    std::vector<Result> out;
    out.reserve(queries.size());
    PGresult* first_error = nullptr;
    std::string failed_what;
    for (const Sent& s : sent) {
        PGresult* raw = PQgetResult(c);
        if (raw == nullptr) {  // only when the connection is lost
            broken_ = true;
            break;
        }
        while (PGresult* extra = PQgetResult(c)) PQclear(extra);  // the NULL that ends a query
        if (Succeeded(raw)) {
            if (s.prepare) {
                prepared_.insert(queries[s.query].statement->name);
                PQclear(raw);
            } else {
                out.emplace_back(raw);
            }
        } else if (first_error == nullptr && PQresultStatus(raw) != PGRES_PIPELINE_ABORTED) {
            first_error = raw;
            const Query& q = queries[s.query];
            failed_what = q.statement ? q.statement->name : "query failed";
        } else {
            PQclear(raw);
        }
    }
    if (!broken_) {
        PGresult* sync = PQgetResult(c);
        if (sync == nullptr || PQresultStatus(sync) != PGRES_PIPELINE_SYNC) broken_ = true;
        PQclear(sync);
    }
    if (!broken_ && PQexitPipelineMode(c) != 1) broken_ = true;
    if (first_error != nullptr) Fail(first_error, failed_what);
    if (broken_ || out.size() != queries.size()) Fail(nullptr, "pipeline failed");
    return out;
}

Transaction::Transaction(Connection& c) : c_(c) { c_.BeginWithNextStatement(); }

Transaction::Transaction(Connection& c, const std::vector<Query>& queries, std::vector<Result>& results)
    : c_(c) {
    c_.BeginWithNextStatement();
    try {
        results = c_.Pipeline(queries);
    } catch (const Error&) {
        // BEGIN may have run and a later query failed: no destructor runs for a
        // constructor that throws, so end the transaction here.
        if (c_.healthy()) {
            try {
                c_.Exec("ROLLBACK");
            } catch (const Error&) {
            }
        }
        throw;
    }
}

Transaction::~Transaction() {
    if (c_.begin_pending()) {
        c_.DropPendingBegin();  // nothing ran: nothing to roll back
        return;
    }
    if (done_ || !c_.healthy()) return;
    try {
        c_.Exec("ROLLBACK");
    } catch (const Error&) {
        // The connection is broken; the server rolls back on its own.
    }
}

void Transaction::Commit() { (void)Commit({}); }

std::vector<Result> Transaction::Commit(const std::vector<Query>& queries) {
    if (queries.empty() && c_.begin_pending()) {  // nothing ran: nothing to commit
        c_.DropPendingBegin();
        done_ = true;
        return {};
    }
    std::vector<Query> all = queries;
    all.push_back(Query{nullptr, "COMMIT", {}});
    try {
        std::vector<Result> results = all.size() == 1 ? std::vector<Result>{} : c_.Pipeline(all);
        if (all.size() == 1) c_.Exec("COMMIT");
        done_ = true;
        if (!results.empty()) results.pop_back();
        return results;
    } catch (const Error& e) {
        if (!c_.healthy()) {
            done_ = true;
            throw CommitInDoubt(std::string("connection lost during COMMIT; outcome in doubt: ") + e.what());
        }
        // A statement failed: COMMIT did not run (or ended the transaction itself); the
        // destructor's ROLLBACK ends it either way.
        throw;
    }
}

}  // namespace sagaflow::pg
