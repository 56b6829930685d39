// saga-bench: sagas per second and latency against a running bench-sagad and
// bench-workers, beside the database's own commit limit (pgbench), in one run.
//
//   saga-bench --admin URL --dsn DSN --pgdata DIR [--suite smoke|full|soak] [--seconds S]
//              [--sagad-pid P] [--worker-pids P,P] [--pg-bin DIR] [--json FILE]
//
// Latency is client-observed: from just before the start request to the answer of the
// saga's await (GET /sagas/{id}/await, which sagad answers when the engine reports the
// saga ended), so it holds the start's hop, the last commit and the answer's hop. Nothing
// polls the database while a run is measured. W5's timer lateness and signal-to-resume
// latency are read from the sagas' histories after the run.
// Database figures are deltas of pg_stat_database, pg_stat_wal and the WAL position over
// the run; writing transactions are the commit records pg_waldump finds in that WAL.
// bench/run starts everything and calls this; see docs/benchmarks.md.
#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "connection.hpp"
#include "os/process.hpp"
#include "sagaflow/client/client.hpp"
#include "sagaflow/core/saga_types.hpp"

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

struct Options {
    std::string admin, dsn, pgdata, pg_bin = "/usr/lib/postgresql/15/bin", suite = "full", json_file;
    double seconds = 10;
    std::string workload = "W1";  // --suite one
    int in_flight = 64, steps = 3;
    double rate = 0;  // --suite one: open loop at this rate when > 0
    int sagad_pid = 0;
    std::vector<int> worker_pids;
};

// ---- processes ----------------------------------------------------------------------

double CpuSeconds(int pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string s((std::istreambuf_iterator<char>(in)), {});
    const auto close = s.rfind(')');
    if (close == std::string::npos) return 0;
    std::istringstream rest(s.substr(close + 2));
    std::string f;
    double ticks = 0;
    for (int i = 3; i <= 15 && rest >> f; ++i) {
        if (i == 14 || i == 15) ticks += std::stod(f);  // utime, stime
    }
    return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

int ParentOf(int pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string s((std::istreambuf_iterator<char>(in)), {});
    const auto close = s.rfind(')');
    if (close == std::string::npos) return -1;
    std::istringstream rest(s.substr(close + 2));
    std::string state;
    int ppid = -1;
    rest >> state >> ppid;
    return ppid;
}

// The postmaster and every process it started (backends, WAL writer, checkpointer...).
double PostgresCpuSeconds(const std::string& pgdata) {
    std::ifstream pidfile(pgdata + "/postmaster.pid");
    int pm = 0;
    if (!(pidfile >> pm)) return 0;
    double total = CpuSeconds(pm);
    if (DIR* d = opendir("/proc")) {
        while (dirent* e = readdir(d)) {
            const int pid = std::atoi(e->d_name);
            if (pid > 0 && ParentOf(pid) == pm) total += CpuSeconds(pid);
        }
        closedir(d);
    }
    return total;
}

long RssKib(int pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
    }
    return 0;
}

// A tool's stdout, run without a shell; empty when it fails.
std::string Run(const std::vector<std::string>& argv, const std::string& stderr_to = "/dev/null") {
    return sagaflow::os::Capture(argv, {stderr_to, "", std::nullopt}).value_or("");
}

// ---- the database's view ------------------------------------------------------------

struct Snapshot {
    std::int64_t xact_commit = 0, wal_sync = 0, wal_bytes = 0;
    std::int64_t rows_written = 0;         // sagad's tables: inserted + updated + deleted rows
    std::int64_t worker_rows_written = 0;  // the worker's: its inbox and the handlers' bench.rows
    std::int64_t saga_updates = 0, saga_hot_updates = 0;  // of the sagas table: HOT ones add no index entry
    std::string lsn;
    double cpu_sagad = 0, cpu_workers = 0, cpu_postgres = 0;
    Clock::time_point at;
};

class Database {
public:
    explicit Database(const Options& o) : o_(o), conn_(o.dsn) {
        // As on the store's connections (docs/benchmarks.md, "A prepared plan made on an
        // empty table"): the poll's plan, made in the first second, must not scan sagas.
        conn_.Exec("SET enable_seqscan = off; SET enable_hashjoin = off; SET enable_mergejoin = off");
    }

    // Read when the system under test is idle. A backend that flushed its statistics less
    // than a second ago keeps the rest until it has been idle for PostgreSQL's idle
    // interval (10 s), so the first read after a load waits that long: reading sooner
    // missed about a second of the load's rows and commits (W1 with 1 in flight showed
    // 12.6 rows per saga where the tables held 14).
    Snapshot Take() {
        conn_.Exec("SELECT pg_stat_force_next_flush()");
        const auto settled = std::max(Clock::now() + std::chrono::milliseconds(1200),  // our own flush
                                      quiet_since_ + std::chrono::seconds(11));       // everyone else's
        std::this_thread::sleep_until(settled);
        conn_.Exec("SELECT pg_stat_clear_snapshot()");
        auto r = conn_.Exec(
            "SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()),"
            " (SELECT wal_sync FROM pg_stat_wal), pg_current_wal_lsn()::text,"
            " (SELECT pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint,"
            // sagad's own tables only: not the workers' inbox (sagaflow_*), not the calibration
            " (SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0)::bigint FROM pg_stat_user_tables"
            "   WHERE schemaname = 'public' AND relname NOT LIKE 'sagaflow\\_%' AND relname <> 'bench_calibration'),"
            " (SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0)::bigint FROM pg_stat_user_tables"
            "   WHERE (schemaname = 'public' AND relname LIKE 'sagaflow\\_inbox') OR schemaname = 'bench'),"
            " (SELECT coalesce(sum(n_tup_upd), 0)::bigint FROM pg_stat_user_tables WHERE schemaname = 'public' AND relname = 'sagas'),"
            " (SELECT coalesce(sum(n_tup_hot_upd), 0)::bigint FROM pg_stat_user_tables WHERE schemaname = 'public' AND relname = 'sagas')");
        own_xacts_ += 3;
        Snapshot s;
        s.xact_commit = r.Int(0, 0);
        s.wal_sync = r.Int(0, 1);
        s.lsn = r.Text(0, 2);
        s.wal_bytes = r.Int(0, 3);
        s.rows_written = r.Int(0, 4);
        s.worker_rows_written = r.Int(0, 5);
        s.saga_updates = r.Int(0, 6);
        s.saga_hot_updates = r.Int(0, 7);
        s.cpu_sagad = o_.sagad_pid ? CpuSeconds(o_.sagad_pid) : 0;
        for (int p : o_.worker_pids) s.cpu_workers += CpuSeconds(p);
        s.cpu_postgres = PostgresCpuSeconds(o_.pgdata);
        s.at = Clock::now();
        return s;
    }

    // Top-level transactions that wrote: one commit record each in the WAL between the two.
    std::int64_t CommitRecords(const std::string& from, const std::string& to) {
        const std::string out = Run({o_.pg_bin + "/pg_waldump", "--stats=record", "-p", o_.pgdata + "/pg_wal", "-s", from,
                                     "-e", to});
        std::istringstream in(out);
        std::string line;
        while (std::getline(in, line)) {
            std::istringstream words(line);
            std::string name;
            std::int64_t n = 0;
            if (words >> name >> n && name == "Transaction/COMMIT") return n;
        }
        return -1;  // pg_waldump not readable here
    }

    // Cumulative counters for the soak's per-minute lines, read without the flush pause
    // of Take (statistics lag by at most a second, which a minute absorbs).
    json Counters() {
        auto r = conn_.Exec(
            "SELECT (SELECT pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint, (SELECT wal_fpi FROM pg_stat_wal),"
            " (SELECT blks_read FROM pg_stat_database WHERE datname = current_database()),"
            " (SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter),"
            " (SELECT buffers_backend FROM pg_stat_bgwriter),"
            " (SELECT pg_database_size(current_database())),"
            " (SELECT coalesce(sum(autovacuum_count + autoanalyze_count), 0)::bigint FROM pg_stat_user_tables),"
            " (SELECT coalesce(string_agg(relname, ',' ORDER BY relname), '') FROM pg_stat_user_tables"
            "  WHERE last_autovacuum > now() - interval '1 minute'),"
            " (SELECT coalesce(sum(n_dead_tup), 0)::bigint FROM pg_stat_user_tables),"
            // sagad's tables (with their indexes and TOAST), and the worker's inbox
            " (SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint FROM pg_class c"
            "  WHERE c.relkind = 'r' AND c.relname IN ('sagas', 'saga_pending', 'saga_events', 'saga_alerts')),"
            " (SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint FROM pg_class c"
            "  WHERE c.relkind = 'r' AND c.relname = 'sagaflow_inbox')");
        ++own_xacts_;
        return {{"wal_bytes", r.Int(0, 0)},       {"wal_fpi", r.Int(0, 1)},     {"blks_read", r.Int(0, 2)},
                {"checkpoints", r.Int(0, 3)},     {"buffers_backend", r.Int(0, 4)}, {"db_bytes", r.Int(0, 5)},
                {"autovacuums", r.Int(0, 6)},     {"vacuumed", r.Text(0, 7)},  {"dead_tuples", r.Int(0, 8)},
                {"sagad_bytes", r.Int(0, 9)},     {"inbox_bytes", r.Int(0, 10)}};
    }

    std::int64_t own_xacts() const { return own_xacts_; }
    // The load just stopped: the next Take waits for every backend's statistics.
    void LoadStopped() { quiet_since_ = Clock::now(); }
    sagaflow::pg::Connection& conn() { return conn_; }

private:
    const Options& o_;
    sagaflow::pg::Connection conn_;
    std::int64_t own_xacts_ = 0;
    Clock::time_point quiet_since_ = Clock::now();
};

// ---- sagad's HTTP API, through the typed client -----------------------------------

class Admin {
public:
    explicit Admin(const std::string& url) : client_(url, {std::chrono::seconds(30), {}, {}}) {}
    std::vector<sagaflow::SagaId> StartBatch(const sagaflow::api::StartBatch& batch) {
        auto r = client_.StartBatch(batch);
        if (!r.ok()) throw std::runtime_error("sagad: " + std::string(sagaflow::ToString(r.code())) + ": " + r.status().message);
        std::vector<sagaflow::SagaId> ids;
        for (const auto& item : r->results) {
            if (!item.started) throw std::runtime_error("sagad refused a start: " + item.error.value_or(sagaflow::api::ApiError{}).message);
            ids.push_back(item.started->saga_id);
        }
        return ids;
    }

    /// Sagas sagad's retention job has removed so far (0 when it reports none).
    std::int64_t RetentionRemoved() {
        auto r = client_.Stats();
        if (!r.ok() || !r->groups.count("retention")) return 0;
        const auto& g = r->groups.at("retention");
        auto it = g.find("sagas_removed");
        return it != g.end() && it->second.is_number() ? it->second.get<std::int64_t>() : 0;
    }

private:
    sagaflow::client::Client client_;
};

// ---- waiting for results, and W5's signals ------------------------------------------

using WallMicros = std::int64_t;
WallMicros WallNow() {
    return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Callers awaiting sagas: an await holds its connection until the saga ends, so each
// thread has its own and takes the next saga from a queue when its answer came.
class Awaiters {
public:
    struct Done {
        std::string id;
        sagaflow::SagaStatus status;
        Clock::time_point at;
    };

    Awaiters(const std::string& url, int threads) {
        for (int i = 0; i < threads; ++i) threads_.emplace_back([this, url] { Loop(url); });
    }
    ~Awaiters() {
        {
            std::lock_guard lock(mu_);
            stop_ = true;
        }
        cv_.notify_all();
        for (auto& t : threads_) t.join();
    }

    void Add(const std::string& id) {
        {
            std::lock_guard lock(mu_);
            queue_.push_back(id);
        }
        cv_.notify_one();
    }

    // The answers that came, waiting up to `wait` for the first; throws what a caller met.
    std::vector<Done> Take(std::chrono::microseconds wait) {
        std::unique_lock lock(mu_);
        done_cv_.wait_for(lock, wait, [&] { return !done_.empty() || !error_.empty(); });
        if (!error_.empty()) throw std::runtime_error(error_);
        std::vector<Done> out(std::make_move_iterator(done_.begin()), std::make_move_iterator(done_.end()));
        done_.clear();
        return out;
    }

private:
    void Loop(const std::string& url) {
        sagaflow::client::Client sagad(url, {std::chrono::seconds(10), {}, {}});
        for (;;) {
            std::string id;
            {
                std::unique_lock lock(mu_);
                cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
                if (stop_) return;
                id = std::move(queue_.front());
                queue_.pop_front();
            }
            const auto saga = sagaflow::ParseUuidId<sagaflow::SagaId>(id);
            for (int tries = 0;; ++tries) {
                auto r = sagad.Await(*saga, std::chrono::seconds(30));
                if (r.ok() && r->done) {
                    std::lock_guard lock(mu_);
                    done_.push_back({id, r->status, Clock::now()});
                    done_cv_.notify_one();
                    break;
                }
                if (r.ok() || (sagaflow::IsRetryLater(r.code()) && tries < 10)) continue;  // not yet: again
                std::lock_guard lock(mu_);
                error_ = "await of saga " + id + ": " + r.status().message;
                done_cv_.notify_one();
                return;
            }
        }
    }

    std::mutex mu_;
    std::condition_variable cv_, done_cv_;
    std::deque<std::string> queue_;
    std::vector<Done> done_;
    std::string error_;
    bool stop_ = false;
    std::vector<std::thread> threads_;
};

// W5's driver side: sends each saga its signal `go` a fixed time after its start, and
// remembers when (wall clock, to set beside the history's times).
class Signaler {
public:
    explicit Signaler(const std::string& url) : thread_([this, url] { Loop(url); }) {}
    ~Signaler() {
        {
            std::lock_guard lock(mu_);
            stop_ = true;
        }
        cv_.notify_all();
        thread_.join();
    }
    void At(Clock::time_point when, const std::string& id) {
        {
            std::lock_guard lock(mu_);
            due_.emplace(when, id);
        }
        cv_.notify_one();
    }
    std::unordered_map<std::string, WallMicros> sent() {
        std::lock_guard lock(mu_);
        return sent_;
    }

private:
    void Loop(const std::string& url) {
        sagaflow::client::Client sagad(url, {std::chrono::seconds(10), {}, {}});
        std::unique_lock lock(mu_);
        while (!stop_) {
            if (due_.empty() || due_.begin()->first > Clock::now()) {
                if (due_.empty()) {
                    cv_.wait(lock);
                } else {
                    cv_.wait_until(lock, due_.begin()->first);
                }
                continue;
            }
            const std::string id = due_.begin()->second;
            due_.erase(due_.begin());
            sent_[id] = WallNow();  // before the request: the saga may end before its answer comes
            lock.unlock();
            auto r = sagad.Signal(*sagaflow::ParseUuidId<sagaflow::SagaId>(id), {"go", "go-" + id, json::object()});
            lock.lock();
            if (!r.ok()) sent_.erase(id);
        }
    }

    std::mutex mu_;
    std::condition_variable cv_;
    std::multimap<Clock::time_point, std::string> due_;
    std::unordered_map<std::string, WallMicros> sent_;
    bool stop_ = false;
    std::thread thread_;
};

// ---- one measured run ---------------------------------------------------------------

struct Spec {
    std::string name;      // W1 ... W4
    int steps = 3;
    double fail_share = 0;  // share of sagas whose last step fails for good
    std::string mode = "closed";
    int concurrency = 1;   // closed loop
    double rate = 0;       // open loop, sagas/s
    double seconds = 10;
};

double Percentile(std::vector<double> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const std::size_t i = std::min(v.size() - 1, static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size())) - 1));
    return v[i];
}

// W5 after its run: each timer's lateness (fired minus due) and each signal's
// resume latency (the next step handed to a worker, minus when the driver sent the signal,
// or when the wait took a signal that came before it), from the sagas' histories.
json WaitFigures(Database& db, const std::unordered_map<std::string, WallMicros>& sent) {
    static constexpr sagaflow::pg::Statement kEvents{
        "bench_w5_events",
        "SELECT h.saga_id::text, e->>'kind', coalesce(e->>'node', ''), (e->>'at_us')::bigint"
        " FROM saga_events h, jsonb_array_elements(h.events) e"
        " WHERE h.saga_id = ANY($1::uuid[]) AND e->>'kind' IN ('timer_armed', 'timer_fired', 'signal_taken', 'sent')"};
    std::vector<double> lateness_ms, resume_ms;
    std::vector<std::string> ids;
    for (const auto& [id, at] : sent) ids.push_back(id);
    for (std::size_t i = 0; i < ids.size(); i += 1000) {
        std::string array = "{";
        for (std::size_t k = i; k < std::min(ids.size(), i + 1000); ++k) array += (k > i ? "," : "") + ids[k];
        auto r = db.conn().Exec(kEvents, {array + "}"});
        std::unordered_map<std::string, std::map<std::string, WallMicros>> at;  // saga -> event -> time
        for (int row = 0; row < r.rows(); ++row) {
            const std::string kind = r.Text(row, 1), node = r.Text(row, 2);
            if (kind == "sent" && node != "s2") continue;
            at[r.Text(row, 0)][kind] = r.Int(row, 3);
        }
        for (const auto& [id, e] : at) {
            if (e.count("timer_armed") && e.count("timer_fired")) {
                lateness_ms.push_back(static_cast<double>(e.at("timer_fired") - e.at("timer_armed") - 100'000) / 1000.0);
            }
            if (e.count("sent")) {
                WallMicros from = sent.at(id);
                if (e.count("signal_taken")) from = std::max(from, e.at("signal_taken"));  // it came before the wait
                resume_ms.push_back(static_cast<double>(e.at("sent") - from) / 1000.0);
            }
        }
    }
    return {{"timer_lateness_ms", {{"p50", Percentile(lateness_ms, 0.5)}, {"p99", Percentile(lateness_ms, 0.99)},
                                   {"timers", lateness_ms.size()}}},
            {"signal_to_resume_ms", {{"p50", Percentile(resume_ms, 0.5)}, {"p99", Percentile(resume_ms, 0.99)},
                                     {"signals", resume_ms.size()}}}};
}

json Measure(const Spec& spec, Admin& admin, Database& db, const Options& o, std::mt19937_64& rng) {
    const bool waits = spec.name == "W5";
    const std::string workflow = waits ? "bench_w5" : "bench_" + std::to_string(spec.steps);
    // One await per saga in flight; an open loop gets room for bursts.
    Awaiters awaiters(o.admin, spec.mode == "closed" ? spec.concurrency : 256);
    std::optional<Signaler> signaler;
    if (waits) signaler.emplace(o.admin);
    std::bernoulli_distribution fails(spec.fail_share);
    std::unordered_map<std::string, Clock::time_point> in_flight;
    std::vector<double> latency_ms;
    json per_minute = json::array();  // soak diagnostics, one entry a minute
    std::int64_t started = 0, completed = 0, compensated = 0, failed = 0;
    std::int64_t failing_started = 0;

    auto start_some = [&](std::int64_t n) {
        sagaflow::api::StartBatch batch;
        for (std::int64_t i = 0; i < n; ++i) {
            const bool fail = fails(rng);
            failing_started += fail;
            batch.sagas.push_back({workflow, fail ? json{{"fail_at", spec.steps - 1}} : json::object(), {}, {}});
        }
        const auto now = Clock::now();  // the client's clock starts before the request
        for (const sagaflow::SagaId& id : admin.StartBatch(batch)) {
            in_flight.emplace(id.str(), now);
            awaiters.Add(id.str());
            if (signaler) signaler->At(now + std::chrono::milliseconds(150), id.str());  // past the 100 ms timer
        }
        started += n;
    };

    const Snapshot before = db.Take();
    const std::int64_t own_before = db.own_xacts();
    const auto t0 = Clock::now();
    const auto t_end = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(spec.seconds));
    auto next_minute = t0 + std::chrono::minutes(1);
    std::int64_t removed_before = admin.RetentionRemoved();
    std::size_t minute_begin = 0;
    json counters_before = spec.seconds >= 60 ? db.Counters() : json();
    Clock::time_point last_done = t0;
    while (true) {
        const auto now = Clock::now();
        if (now < t_end) {
            std::int64_t want = 0;
            if (spec.mode == "closed") {
                want = spec.concurrency - static_cast<std::int64_t>(in_flight.size());
            } else {
                const double due = spec.rate * std::chrono::duration<double>(now - t0).count();
                want = static_cast<std::int64_t>(due) - started;
                if (in_flight.size() > 200000) throw std::runtime_error("over 200,000 sagas in flight: overload");
            }
            if (want > 0) start_some(std::min<std::int64_t>(want, 1000));
        } else if (in_flight.empty()) {
            break;
        } else if (now > t_end + std::chrono::seconds(120)) {
            throw std::runtime_error(std::to_string(in_flight.size()) + " sagas still running 120 s after the last start");
        }
        // The answers of the awaits: a closed loop starts the next saga as soon as one ends;
        // an open loop looks again within a millisecond, to keep its rate.
        std::size_t done = 0;
        for (const auto& d : awaiters.Take(std::chrono::microseconds(spec.mode == "closed" ? 20000 : 1000))) {
            auto it = in_flight.find(d.id);
            if (it == in_flight.end()) continue;
            latency_ms.push_back(std::chrono::duration<double, std::milli>(d.at - it->second).count());
            in_flight.erase(it);
            completed += d.status == sagaflow::SagaStatus::kCompleted;
            compensated += d.status == sagaflow::SagaStatus::kCompensated;
            failed += d.status == sagaflow::SagaStatus::kFailed;
            ++done;
        }
        if (done > 0) last_done = Clock::now();
        if (Clock::now() >= next_minute) {  // soak: latency, sagad's RSS and the database's work once a minute
            const std::vector<double> minute(latency_ms.begin() + static_cast<long>(minute_begin), latency_ms.end());
            minute_begin = latency_ms.size();
            const json counters = db.Counters();
            const std::int64_t removed = admin.RetentionRemoved();
            const double k = 1.0 / static_cast<double>(std::max<std::size_t>(minute.size(), 1));
            auto delta = [&](const char* name) {
                return counters[name].get<std::int64_t>() - counters_before[name].get<std::int64_t>();
            };
            auto per_saga = [&](const char* name) { return static_cast<double>(delta(name)) * k; };
            json m{{"minute", per_minute.size() + 1},
                   {"sagas", minute.size()},
                   {"p50_ms", Percentile(minute, 0.50)},
                   {"p99_ms", Percentile(minute, 0.99)},
                   {"max_ms", Percentile(minute, 1.0)},
                   {"in_flight", in_flight.size()},
                   {"sagad_rss_kib", o.sagad_pid ? RssKib(o.sagad_pid) : 0},
                   {"wal_bytes_per_saga", per_saga("wal_bytes")},
                   {"wal_fpi_per_saga", per_saga("wal_fpi")},
                   {"blks_read_per_saga", per_saga("blks_read")},
                   {"buffers_backend", delta("buffers_backend")},
                   {"checkpoints", delta("checkpoints")},
                   {"db_mib", counters["db_bytes"].get<std::int64_t>() >> 20},
                   {"sagad_tables_mib", counters["sagad_bytes"].get<std::int64_t>() >> 20},
                   {"inbox_mib", counters["inbox_bytes"].get<std::int64_t>() >> 20},
                   {"wal_mib", delta("wal_bytes") >> 20},
                   {"autovacuums", delta("autovacuums")},
                   {"vacuumed", counters["vacuumed"]},
                   {"dead_tuples", counters["dead_tuples"]},
                   {"retention_removed", removed - removed_before}};
            removed_before = removed;
            std::fprintf(stderr, "saga-bench: minute %s\n", m.dump().c_str());
            per_minute.push_back(std::move(m));
            counters_before = counters;
            next_minute += std::chrono::minutes(1);
        }
    }
    const double elapsed = std::chrono::duration<double>(last_done - t0).count();
    db.LoadStopped();
    const Snapshot after = db.Take();
    const std::int64_t own = db.own_xacts() - own_before;
    const std::int64_t sagas = completed + compensated + failed;
    const double n = static_cast<double>(std::max<std::int64_t>(sagas, 1));
    const std::int64_t commit_records = db.CommitRecords(before.lsn, after.lsn);
    // Step executions: forward steps run, plus compensations (a failing saga runs
    // steps-1 forward steps that commit, the failing one, and steps-1 compensations).
    const double steps_run = static_cast<double>(sagas - failing_started) * spec.steps +
                             static_cast<double>(failing_started) * (2.0 * spec.steps - 1);
    json r{{"workload", spec.name},
           {"steps", spec.steps},
           {"fail_share", spec.fail_share},
           {"mode", spec.mode},
           {"in_flight", spec.mode == "closed" ? json(spec.concurrency) : json(nullptr)},
           {"rate", spec.mode == "open" ? json(spec.rate) : json(nullptr)},
           {"sagas", sagas},
           {"completed", completed},
           {"compensated", compensated},
           {"failed", failed},
           {"seconds", elapsed},
           {"sagas_per_s", static_cast<double>(sagas) / elapsed},
           {"steps_per_s", steps_run / elapsed},
           {"latency_ms",
            {{"p50", Percentile(latency_ms, 0.50)},
             {"p95", Percentile(latency_ms, 0.95)},
             {"p99", Percentile(latency_ms, 0.99)},
             {"max", Percentile(latency_ms, 1.0)}}},
           {"commits_per_saga", static_cast<double>(after.xact_commit - before.xact_commit - own) / n},
           {"writing_tx_per_saga", commit_records >= 0 ? json(static_cast<double>(commit_records) / n) : json(nullptr)},
           {"writing_tx_per_step", commit_records >= 0 ? json(static_cast<double>(commit_records) / steps_run) : json(nullptr)},
           {"wal_flushes_per_saga", static_cast<double>(after.wal_sync - before.wal_sync) / n},
           {"rows_per_saga", static_cast<double>(after.rows_written - before.rows_written) / n},
           {"worker_rows_per_saga", static_cast<double>(after.worker_rows_written - before.worker_rows_written) / n},
           {"wal_bytes_per_saga", static_cast<double>(after.wal_bytes - before.wal_bytes) / n},
           {"saga_hot_update_share",
            static_cast<double>(after.saga_hot_updates - before.saga_hot_updates) /
                static_cast<double>(std::max<std::int64_t>(after.saga_updates - before.saga_updates, 1))},
           {"cpu_ms_per_saga",
            {{"sagad", (after.cpu_sagad - before.cpu_sagad) * 1000 / n},
             {"workers", (after.cpu_workers - before.cpu_workers) * 1000 / n},
             {"postgres", (after.cpu_postgres - before.cpu_postgres) * 1000 / n}}}};
    if (!per_minute.empty()) r["per_minute"] = per_minute;
    if (signaler) r["waits"] = WaitFigures(db, signaler->sent());
    return r;
}

// ---- calibration --------------------------------------------------------------------

json Pgbench(const Options& o, int clients, double seconds) {
    const std::string script = "/tmp/saga-bench-calibration.sql";
    std::ofstream(script) << "INSERT INTO bench_calibration (v) VALUES (1);\n";
    const std::string out = Run({o.pg_bin + "/pgbench", "-n", "-f", script, "-c", std::to_string(clients), "-j",
                                 std::to_string(std::min(clients, 2)), "-T",
                                 std::to_string(static_cast<int>(seconds)), o.dsn});
    double tps = 0, latency = 0;
    std::istringstream in(out);
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("tps = ", 0) == 0) tps = std::atof(line.c_str() + 6);
        if (line.rfind("latency average = ", 0) == 0) latency = std::atof(line.c_str() + 18);
    }
    if (tps <= 0) throw std::runtime_error("pgbench failed: " + out);
    return {{"clients", clients}, {"tps", tps}, {"latency_ms", latency}};
}

// ---- report -------------------------------------------------------------------------

void PrintTable(const json& runs) {
    std::printf("%-4s %-6s %5s %7s %6s %9s %9s %7s %7s %7s %8s %7s %6s %6s %6s %6s %6s %8s %6s %6s %6s\n", "wl", "mode",
                "steps", "load", "sagas", "sagas/s", "steps/s", "p50ms", "p95ms", "p99ms", "maxms", "commit", "wtx",
                "wtx/st", "flush", "rows", "wrows", "walB", "cpuD", "cpuW", "cpuPG");
    for (const json& r : runs) {
        const std::string load = r["mode"] == "closed" ? std::to_string(r["in_flight"].get<int>())
                                                       : std::to_string(static_cast<int>(r["rate"].get<double>())) + "/s";
        const auto& l = r["latency_ms"];
        const auto& c = r["cpu_ms_per_saga"];
        std::printf("%-4s %-6s %5d %7s %6lld %9.0f %9.0f %7.2f %7.2f %7.2f %8.1f %7.2f %6.2f %6.2f %6.2f %6.1f %6.1f %8.0f %6.3f %6.3f %6.3f\n",
                    r["workload"].get<std::string>().c_str(), r["mode"].get<std::string>().c_str(), r["steps"].get<int>(),
                    load.c_str(), static_cast<long long>(r["sagas"].get<std::int64_t>()), r["sagas_per_s"].get<double>(),
                    r["steps_per_s"].get<double>(), l["p50"].get<double>(), l["p95"].get<double>(),
                    l["p99"].get<double>(), l["max"].get<double>(), r["commits_per_saga"].get<double>(),
                    r["writing_tx_per_saga"].is_null() ? -1.0 : r["writing_tx_per_saga"].get<double>(),
                    r["writing_tx_per_step"].is_null() ? -1.0 : r["writing_tx_per_step"].get<double>(),
                    r["wal_flushes_per_saga"].get<double>(), r["rows_per_saga"].get<double>(),
                    r["worker_rows_per_saga"].get<double>(), r["wal_bytes_per_saga"].get<double>(),
                    c["sagad"].get<double>(), c["workers"].get<double>(), c["postgres"].get<double>());
    }
}

const json* Find(const json& runs, const std::string& wl, int in_flight, int steps = 3) {
    for (const json& r : runs) {
        if (r["workload"] == wl && r["mode"] == "closed" && r["in_flight"] == in_flight && r["steps"] == steps) return &r;
    }
    return nullptr;
}

json Targets(const json& runs, const json& calibration) {
    json out = json::array();
    const double tps64 = calibration.at("clients_64").at("tps").get<double>();
    const double lat1 = calibration.at("clients_1").at("latency_ms").get<double>();
    auto add = [&](const std::string& what, double got, double limit, bool at_least) {
        out.push_back({{"target", what}, {"measured", got}, {"bound", limit},
                       {"met", at_least ? got >= limit : got <= limit}});
    };
    if (const json* r = Find(runs, "W1", 64)) {
        add("W1 64 in flight: sagas/s >= 0.175 x pgbench 64-client TPS", (*r)["sagas_per_s"].get<double>(), 0.175 * tps64, true);
        if (!(*r)["writing_tx_per_step"].is_null()) {
            add("W1 64 in flight: writing transactions per step <= 1.5", (*r)["writing_tx_per_step"].get<double>(), 1.5, false);
        }
    }
    if (const json* r = Find(runs, "W1", 1)) {
        add("W1 1 in flight: p50 <= 12 x pgbench 1-client latency (ms)", (*r)["latency_ms"]["p50"].get<double>(), 12 * lat1, false);
        add("W1 1 in flight: p99 <= 30 x pgbench 1-client latency (ms)", (*r)["latency_ms"]["p99"].get<double>(), 30 * lat1, false);
    }
    if (const json* r = Find(runs, "W2", 64)) {
        add("W2 64 in flight: sagas/s >= 0.13 x pgbench 64-client TPS", (*r)["sagas_per_s"].get<double>(), 0.13 * tps64, true);
    }
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string k = argv[i];
        if (k == "--help" || i + 1 >= argc) {
            std::fprintf(k == "--help" ? stdout : stderr,
                         "usage: saga-bench --admin URL --dsn DSN --pgdata DIR [--suite smoke|full|soak|one] [--seconds S]\n"
                         "                  [--sagad-pid P] [--worker-pids P,P] [--pg-bin DIR] [--json FILE]\n"
                         "  --suite one: [--workload W1|W2|W3|W5] [--steps 1|3|10] [--in-flight N] [--rate R (open loop)]\n");
            return k == "--help" ? 0 : 2;
        }
        const std::string v = argv[++i];
        if (k == "--admin") o.admin = v;
        else if (k == "--dsn") o.dsn = v;
        else if (k == "--pgdata") o.pgdata = v;
        else if (k == "--pg-bin") o.pg_bin = v;
        else if (k == "--suite") o.suite = v;
        else if (k == "--seconds") o.seconds = std::atof(v.c_str());
        else if (k == "--json") o.json_file = v;
        else if (k == "--workload") o.workload = v;
        else if (k == "--in-flight") o.in_flight = std::atoi(v.c_str());
        else if (k == "--steps") o.steps = std::atoi(v.c_str());
        else if (k == "--rate") o.rate = std::atof(v.c_str());
        else if (k == "--sagad-pid") o.sagad_pid = std::atoi(v.c_str());
        else if (k == "--worker-pids") {
            std::istringstream in(v);
            std::string p;
            while (std::getline(in, p, ',')) o.worker_pids.push_back(std::atoi(p.c_str()));
        } else {
            std::fprintf(stderr, "saga-bench: unknown option %s\n", k.c_str());
            return 2;
        }
    }
    if (o.admin.empty() || o.dsn.empty() || o.pgdata.empty() || o.seconds <= 0 ||
        (o.suite != "smoke" && o.suite != "full" && o.suite != "soak" && o.suite != "one") ||
        (o.workload != "W1" && o.workload != "W2" && o.workload != "W3" && o.workload != "W5") || o.in_flight < 1 ||
        (o.steps != 1 && o.steps != 3 && o.steps != 10)) {
        std::fprintf(stderr,
                     "saga-bench: --admin, --dsn and --pgdata are required; --suite is smoke, full, soak or one;\n"
                     "--workload W1|W2|W3|W5, --steps 1|3|10, --in-flight >= 1\n");
        return 2;
    }
    try {
        Admin admin(o.admin);
        Database db(o);
        db.conn().Exec("CREATE TABLE IF NOT EXISTS bench_calibration (id bigserial PRIMARY KEY, v int NOT NULL)");
        std::mt19937_64 rng(42);
        json report{{"suite", o.suite}, {"runs", json::array()}};
        auto run = [&](const Spec& s) {
            std::fprintf(stderr, "saga-bench: %s %s steps=%d %s ...\n", s.name.c_str(), s.mode.c_str(), s.steps,
                         s.mode == "closed" ? ("in flight " + std::to_string(s.concurrency)).c_str()
                                            : ("rate " + std::to_string(static_cast<int>(s.rate)) + "/s").c_str());
            report["runs"].push_back(Measure(s, admin, db, o, rng));
            return report["runs"].back();
        };
        const double secs = o.seconds;
        if (o.suite == "smoke") {
            run({"W1", 3, 0, "closed", 4, 0, secs});
        } else if (o.suite == "one") {
            // A short calibration too, so that A/B runs of one workload are read as ratios.
            const double calibration_secs = std::min(secs, 5.0);
            report["calibration"] = {{"clients_1", Pgbench(o, 1, calibration_secs)},
                                     {"clients_64", Pgbench(o, 64, calibration_secs)}};
            const double share = o.workload == "W1" ? 0 : o.workload == "W2" ? 1.0 : 0.05;
            run({o.workload, o.workload == "W5" ? 3 : o.steps, share, o.rate > 0 ? "open" : "closed", o.in_flight, o.rate, secs});
        } else if (o.suite == "full") {
            report["calibration"] = {{"clients_1", Pgbench(o, 1, secs)}, {"clients_64", Pgbench(o, 64, secs)}};
            for (int c : {1, 16, 64, 256}) run({"W1", 3, 0, "closed", c, 0, secs});
            for (int c : {1, 16, 64, 256}) run({"W2", 3, 1.0, "closed", c, 0, secs});
            const json w3 = run({"W3", 3, 0.05, "closed", 64, 0, secs});
            for (int steps : {1, 3, 10}) run({"W4", steps, 0, "closed", 64, 0, secs});
            for (int c : {1, 64}) run({"W5", 3, 0, "closed", c, 0, secs});
            run({"W3", 3, 0.05, "open", 0, 0.5 * w3["sagas_per_s"].get<double>(), secs});
            report["targets"] = Targets(report["runs"], report["calibration"]);
        } else {  // soak: W3 open loop at half the measured maximum
            const json w3 = run({"W3", 3, 0.05, "closed", 64, 0, 10});
            run({"W3", 3, 0.05, "open", 0, 0.5 * w3["sagas_per_s"].get<double>(), secs});
        }
        std::printf("saga-bench (%s suite); per saga: commit = all commits, wtx = writing transactions,\n"
                    "flush = WAL flushes, rows/wrows = rows written in sagad's/the worker's tables, walB = WAL bytes, cpuD/cpuW/cpuPG = CPU ms in sagad/workers/PostgreSQL\n\n",
                    o.suite.c_str());
        PrintTable(report["runs"]);
        for (const json& r : report["runs"]) {
            if (!r.contains("waits")) continue;
            const auto& w = r["waits"];
            std::printf("%s %d in flight: timer lateness p50 %.2f ms, p99 %.2f ms (%lld timers); signal to resume p50 %.2f ms,"
                        " p99 %.2f ms (%lld signals)\n",
                        r["workload"].get<std::string>().c_str(), r["in_flight"].is_null() ? 0 : r["in_flight"].get<int>(),
                        w["timer_lateness_ms"]["p50"].get<double>(), w["timer_lateness_ms"]["p99"].get<double>(),
                        static_cast<long long>(w["timer_lateness_ms"]["timers"].get<std::int64_t>()),
                        w["signal_to_resume_ms"]["p50"].get<double>(), w["signal_to_resume_ms"]["p99"].get<double>(),
                        static_cast<long long>(w["signal_to_resume_ms"]["signals"].get<std::int64_t>()));
        }
        if (report.contains("calibration")) {
            const auto& c = report["calibration"];
            std::printf("\npgbench single-row INSERT, same server: 1 client %.0f TPS (%.3f ms avg), 64 clients %.0f TPS\n",
                        c["clients_1"]["tps"].get<double>(), c["clients_1"]["latency_ms"].get<double>(),
                        c["clients_64"]["tps"].get<double>());
        }
        if (report.contains("targets")) {
            std::printf("\n");
            for (const json& t : report["targets"]) {
                std::printf("  %-6s %-62s measured %9.2f  bound %9.2f\n", t["met"].get<bool>() ? "met" : "MISSED",
                            t["target"].get<std::string>().c_str(), t["measured"].get<double>(), t["bound"].get<double>());
            }
        }
        if (!o.json_file.empty()) std::ofstream(o.json_file) << report.dump(2) << "\n";
    } catch (const std::exception& e) {
        std::fprintf(stderr, "saga-bench: %s\n", e.what());
        return 1;
    }
    return 0;
}
