// payment-provider: stands in for the payment service provider (PSP) that confirms a
// charge some time after it was made, as a PSP's webhook would. It watches the payment
// service's charges and, for each, sends the signal `payment_confirmed` into the order's
// saga through sagad's HTTP API (the typed client), with the charge as its data.
//
// Like a real provider it is not perfect, by the order id's hash:
//   - most charges are confirmed once, after a random delay of 50 to 400 ms;
//   - one in ten is confirmed twice, with the same signal id (a webhook delivered twice:
//     sagad answers the second one `already_applied`);
//   - one in ten is never confirmed (the order's deadline passes and it is compensated).
// It logs one line per confirmation and, when it stops, the counts.
//
//     payment-provider --dsn "host=..." --endpoint http://127.0.0.1:8080 [--endpoint URL2] [--token-file F]
//
// With several endpoints (an active sagad and its standby) it moves to the next one when
// the one it uses is away or a standby.
#include <CLI/CLI.hpp>
#include <libpq-fe.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "sagaflow/client/client.hpp"
#include "sagaflow/log.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

std::atomic<bool> stopping{false};

enum class Fate { kOnce, kTwice, kNever };

// By the order id, so a run can tell afterwards which orders were withheld.
Fate FateOf(const std::string& order_id) {
    std::uint64_t h = 1469598103934665603ULL;  // FNV-1a
    for (unsigned char c : order_id) h = (h ^ c) * 1099511628211ULL;
    switch (h % 10) {
        case 0: return Fate::kNever;
        case 1: return Fate::kTwice;
        default: return Fate::kOnce;
    }
}

struct Charge {
    std::string saga_id, order_id;
    std::int64_t amount = 0;
    int sends_left = 1;
    int attempts = 0;
};

struct Conn {
    PGconn* pg = nullptr;
    ~Conn() {
        if (pg != nullptr) PQfinish(pg);
    }
};

}  // namespace

int main(int argc, char** argv) {
    std::string dsn, token_file, ca_file, log_format = "text";
    std::vector<std::string> endpoints{"http://127.0.0.1:8080"};
    CLI::App app{"payment-provider: confirms the payment service's charges into their sagas, imperfectly"};
    app.add_option("--dsn", dsn, "the payment service's database")->required();
    app.add_option("--endpoint", endpoints, "sagad's URL; again for a standby's")->capture_default_str();
    app.add_option("--token-file", token_file, "an operator API token");
    app.add_option("--ca-file", ca_file, "for https: the CA of sagad's certificate");
    app.add_option("--log-format", log_format)->check(CLI::IsMember({"text", "json"}));
    CLI11_PARSE(app, argc, argv);
    sagaflow::log::Configure(sagaflow::log::Level::kInfo, *sagaflow::log::ParseFormat(log_format));
    std::signal(SIGTERM, [](int) { stopping = true; });
    std::signal(SIGINT, [](int) { stopping = true; });

    std::string token;
    if (!token_file.empty()) {
        std::ifstream in(token_file);
        std::getline(in, token);
    }
    std::vector<sagaflow::client::Client> clients;
    for (const auto& e : endpoints) clients.emplace_back(e, sagaflow::client::ClientOptions{std::chrono::milliseconds(5000), token, ca_file});
    std::size_t current = 0;
    Conn conn;
    std::mt19937_64 rng(std::random_device{}());
    std::multimap<Clock::time_point, Charge> due;  // confirmations to send, by when
    std::int64_t seen = 0;                         // the last charge read
    int confirmed = 0, duplicates = 0, withheld = 0, refused = 0;
    auto next_poll = Clock::now();

    while (!stopping) {
        if (Clock::now() >= next_poll) {
            next_poll = Clock::now() + std::chrono::milliseconds(50);
            if (conn.pg == nullptr || PQstatus(conn.pg) != CONNECTION_OK) {
                if (conn.pg != nullptr) PQfinish(conn.pg);
                conn.pg = PQconnectdb(dsn.c_str());
            }
            const std::string last = std::to_string(seen);
            const char* params[] = {last.c_str()};
            PGresult* r = PQexecParams(conn.pg,
                                       "SELECT seq, saga_id, order_id, amount FROM payment.charges "
                                       "WHERE seq > $1::bigint ORDER BY seq LIMIT 500",
                                       1, nullptr, params, nullptr, nullptr, 0);
            if (PQresultStatus(r) == PGRES_TUPLES_OK) {
                for (int i = 0; i < PQntuples(r); ++i) {
                    seen = std::stoll(PQgetvalue(r, i, 0));
                    Charge c{PQgetvalue(r, i, 1), PQgetvalue(r, i, 2), std::stoll(PQgetvalue(r, i, 3)), 1, 0};
                    const Fate fate = FateOf(c.order_id);
                    if (fate == Fate::kNever) {
                        ++withheld;
                        sagaflow::log::Info("confirmation_withheld", {{"order_id", c.order_id}, {"saga_id", c.saga_id}});
                        continue;
                    }
                    c.sends_left = fate == Fate::kTwice ? 2 : 1;
                    const auto delay = std::chrono::milliseconds(std::uniform_int_distribution<int>(50, 400)(rng));
                    due.emplace(Clock::now() + delay, std::move(c));
                }
            }  // else: the database is away (restarting); read again at the next poll
            PQclear(r);
        }
        while (!due.empty() && due.begin()->first <= Clock::now() && !stopping) {
            Charge c = due.begin()->second;
            due.erase(due.begin());
            const auto saga = sagaflow::ParseUuidId<sagaflow::SagaId>(c.saga_id);
            if (!saga) continue;
            const sagaflow::api::SendSignal signal{
                "payment_confirmed", "psp-" + c.order_id, {{"psp_ref", "psp-" + c.order_id}, {"amount", c.amount}}};
            auto r = clients[current].Signal(*saga, signal);
            if (!r.ok() && sagaflow::IsRetryLater(r.code()) && ++c.attempts < 150) {
                current = (current + 1) % clients.size();  // away or a standby: the next one, shortly
                due.emplace(Clock::now() + std::chrono::milliseconds(200), std::move(c));
                continue;
            }
            if (!r.ok()) {
                ++refused;
                sagaflow::log::Info("confirmation_refused", {{"order_id", c.order_id}, {"saga_id", c.saga_id},
                                                             {"code", sagaflow::ToString(r.code())},
                                                             {"error", r.status().message}});
                continue;
            }
            (r->outcome == "already_applied" ? duplicates : confirmed) += 1;
            sagaflow::log::Info("confirmation_sent", {{"order_id", c.order_id}, {"saga_id", c.saga_id},
                                                      {"signal_id", r->id}, {"outcome", r->outcome}});
            if (--c.sends_left > 0) {  // the webhook again, a little later, the same id
                due.emplace(Clock::now() + std::chrono::milliseconds(100), std::move(c));
            }
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));  // a simulator's pace, not a test's wait
    }
    sagaflow::log::Info("payment_provider_stopped", {{"confirmed", confirmed}, {"duplicates", duplicates},
                                                     {"withheld", withheld}, {"refused", refused}});
    return 0;
}
