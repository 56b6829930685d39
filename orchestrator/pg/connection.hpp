// RAII over libpq: a connection, a result, a transaction. Text-format parameters
// ($1, $2, ...) only; statements that run often are prepared once per connection.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "sagaflow/core/error.hpp"

namespace sagaflow::pg {

using Param = std::optional<std::string>;  ///< nullopt is SQL NULL.
using Params = std::vector<Param>;

/// A named SQL statement, prepared on first use on each connection.
struct Statement {
    const char* name;
    const char* sql;
};

/// An owned PGresult. Cells are read as text.
class Result {
public:
    explicit Result(PGresult* r) : r_(r, &PQclear) {}

    [[nodiscard]] int rows() const { return PQntuples(r_.get()); }
    [[nodiscard]] int columns() const { return PQnfields(r_.get()); }
    [[nodiscard]] bool IsNull(int row, int col) const { return PQgetisnull(r_.get(), row, col) != 0; }
    [[nodiscard]] std::string_view View(int row, int col) const;
    [[nodiscard]] std::string Text(int row, int col) const { return std::string(View(row, col)); }
    [[nodiscard]] std::int64_t Int(int row, int col) const;
    [[nodiscard]] std::optional<std::string> OptText(int row, int col) const;
    /// Rows changed by an INSERT/UPDATE/DELETE.
    [[nodiscard]] std::int64_t affected() const;

private:
    std::unique_ptr<PGresult, void (*)(PGresult*)> r_;
};

/// One statement of a pipeline: a named statement (prepared on first use) with its
/// parameters, or `sql` with parameters of its own. A pipeline carries one SQL command
/// per query: no `;`-separated lists.
struct Query {
    const Statement* statement = nullptr;
    std::string sql;
    Params params;
};

/// One connection. Not thread-safe. Failures throw `Error` with the mapped code.
class Connection {
public:
    /// Connects, and when `schema` is non-empty sets the search_path to it.
    /// Throws `Error(kUnavailable)` when the server cannot be reached.
    explicit Connection(const std::string& dsn, const std::string& schema = {});

    /// Runs one or more statements without parameters (migrations, SET, BEGIN).
    Result Exec(const std::string& sql);
    Result Exec(const std::string& sql, const Params& params);
    Result Exec(const Statement& statement, const Params& params);

    /// Sends `queries` in one round trip (libpq pipeline mode) and returns their results
    /// in order. They run one after another on the server; the first to fail throws, after
    /// the pipeline has drained, and those after it do not run. Meant for a few small
    /// statements (a transaction's head or tail): results are read only after all is sent.
    std::vector<Result> Pipeline(const std::vector<Query>& queries);

    /// False once the server has gone away, or a statement failed without a SQLSTATE
    /// (libpq's own errors: a lost connection, which after a failed write PQstatus may
    /// not show yet). Such a connection is thrown away.
    [[nodiscard]] bool healthy() const;
    [[nodiscard]] std::string QuoteIdentifier(std::string_view name) const;
    [[nodiscard]] PGconn* raw() const { return conn_.get(); }

    /// BEGIN, sent in the same round trip as the next statement rather than on its own.
    void BeginWithNextStatement() { begin_pending_ = true; }
    /// True while a BEGIN waits for its statement: nothing has run in the transaction.
    [[nodiscard]] bool begin_pending() const { return begin_pending_; }
    void DropPendingBegin() { begin_pending_ = false; }

private:
    Result Check(PGresult* r, std::string_view what);
    [[noreturn]] void Fail(PGresult* raw, std::string_view what);

    std::unique_ptr<PGconn, void (*)(PGconn*)> conn_;
    std::unordered_set<std::string> prepared_;
    bool broken_ = false;
    bool begin_pending_ = false;
};

/// BEGIN on construction (sent with the first statement); ROLLBACK on destruction unless
/// committed. A transaction in which nothing ran sends neither.
class Transaction {
public:
    explicit Transaction(Connection& c);
    /// BEGIN and then `queries`, in one pipeline; their results go to `results`.
    Transaction(Connection& c, const std::vector<Query>& queries, std::vector<Result>& results);
    ~Transaction();
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;

    /// Commits. A connection lost during COMMIT leaves the outcome unknown: that throws
    /// `CommitInDoubt` (an `Error(kUnavailable)`); the caller re-reads, never re-runs.
    void Commit();
    /// `queries` and then COMMIT, in one pipeline. If one of them fails, nothing commits
    /// and it throws; a lost connection is "in doubt" as in `Commit()`.
    std::vector<Result> Commit(const std::vector<Query>& queries);
    [[nodiscard]] Connection& conn() { return c_; }

private:
    Connection& c_;
    bool done_ = false;
};

}  // namespace sagaflow::pg
