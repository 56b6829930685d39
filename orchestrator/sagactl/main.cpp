// sagactl: a thin shell over the typed client of sagad's HTTP API
// (include/sagaflow/client/). Human tables by default, --json for scripts.
// Exit codes: 0 ok; 1 a permanent error reported by sagad; 2 usage; 3 retry later (sagad
// unreachable, or it answered unavailable, aborted, deadline_exceeded or
// resource_exhausted: the same command may succeed later). `await` and `start --wait`
// also: 4 the saga ended off the happy path (compensated or failed); 5 it had not ended
// when the timeout passed.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "sagaflow/client/client.hpp"
#include "sagaflow/core/error.hpp"
#include "sagaflow/core/ids.hpp"
#include "allow_list.hpp"
#include "keys.hpp"
#include "tokens.hpp"

namespace {

using nlohmann::json;
using sagaflow::Result;

constexpr int kOk = 0, kSagadError = 1, kUsage = 2, kRetryLater = 3, kEndedOffPath = 4, kTimedOut = 5;
/// How long `await` waits when --timeout-ms is not given.
constexpr int kDefaultAwaitMs = 60000;

// The exit code of an await's answer.
int AwaitExit(const json& r) {
    if (!r.value("done", false)) return kTimedOut;
    return r.value("status", "") == "completed" ? kOk : kEndedOffPath;
}

struct Usage {
    std::string message;
};

std::string Cell(const json& v) {
    if (v.is_null()) return "-";
    if (v.is_string()) return v.get<std::string>();
    return v.dump();
}

void Table(const std::vector<std::string>& headers, const std::vector<std::vector<std::string>>& rows) {
    std::vector<std::size_t> width(headers.size());
    for (std::size_t c = 0; c < headers.size(); ++c) width[c] = headers[c].size();
    for (const auto& r : rows) {
        for (std::size_t c = 0; c < r.size(); ++c) width[c] = std::max(width[c], r[c].size());
    }
    auto line = [&](const std::vector<std::string>& r) {
        std::string out;
        for (std::size_t c = 0; c < r.size(); ++c) {
            out += r[c];
            if (c + 1 < r.size()) out += std::string(width[c] - r[c].size() + 2, ' ');
        }
        std::cout << out << "\n";
    };
    line(headers);
    for (const auto& r : rows) line(r);
}

void PrintHuman(const std::string& command, const json& result) {
    if (command == "workflows") {
        std::vector<std::vector<std::string>> rows;
        for (const auto& wf : result) {
            for (const auto& s : wf["steps"]) {
                rows.push_back({wf["name"].get<std::string>(), std::to_string(wf["version"].get<int>()),
                                Cell(s["name"]), Cell(s["queue"]), Cell(s["compensation"]),
                                Cell(s["max_attempts"]), Cell(s["timeout_ms"])});
            }
        }
        Table({"WORKFLOW", "VERSION", "STEP", "QUEUE", "COMPENSATION", "ATTEMPTS", "TIMEOUT_MS"}, rows);
    } else if (command == "start" && !result.contains("done")) {
        std::cout << result["saga_id"].get<std::string>() << "\n";
    } else if (command == "list") {
        std::vector<std::vector<std::string>> rows;
        for (const auto& s : result) {
            rows.push_back({Cell(s["id"]), Cell(s["workflow"]), Cell(s["status"]), Cell(s["step"]),
                            Cell(s["business_key"]), Cell(s["created_at"]), Cell(s["reason"])});
        }
        Table({"ID", "WORKFLOW", "STATUS", "STEP", "KEY", "CREATED", "REASON"}, rows);
    } else if (command == "show") {
        const json& s = result["saga"];
        std::cout << "saga      " << Cell(s["id"]) << "\nworkflow  " << Cell(s["workflow"]) << " v"
                  << Cell(s["version"]) << "\nstatus    " << Cell(s["status"]) << "\nstep      "
                  << Cell(s["step"]) << "\nkey       " << Cell(s["business_key"]) << "\ntrace     "
                  << Cell(s["trace_id"]) << "\nreason    " << (Cell(s["reason"]).empty() ? "-" : Cell(s["reason"]))
                  << (s.contains("problem") && !s["problem"].is_null() ? "\nproblem   " + Cell(s["problem"]) : "")
                  << (s.contains("parent") ? "\nparent    " + Cell(s["parent"]) + " (its node " + Cell(s["parent_node"]) + ")" : "")
                  << "\ncreated   " << Cell(s["created_at"]) << "\nupdated   " << Cell(s["updated_at"])
                  << "\ninput     " << s["input"].dump() << "\ncontext   " << s["context"].dump() << "\n\nnodes\n";
        std::vector<std::vector<std::string>> rows;
        for (const auto& n : result.value("nodes", json::array())) {
            std::string note = n.value("uncertain", false) ? "outcome unknown: undone too" : "";
            if (n.value("stuck", false)) note = "compensation failed: sagactl retry";
            if (n.value("expired", false)) note = (note.empty() ? "" : note + "; ") + "its deadline passed";
            rows.push_back({Cell(n["id"]), Cell(n["kind"]), Cell(n["state"]),
                            n.contains("order") ? Cell(n["order"]) : "-", note});
        }
        Table({"NODE", "KIND", "STATE", "ORDER", "NOTE"}, rows);
        std::cout << "\nwaiting for\n";
        rows.clear();
        for (const auto& p : result.value("pending", json::array())) {
            const std::string kind = p.value("kind", "command");
            std::string what = kind == "command"  ? Cell(p["action"]) + " on " + Cell(p["queue"]) + " (attempt " +
                                                       Cell(p["attempt"]) + ")"
                               : kind == "signal" ? "signal " + Cell(p["action"])
                                                  : "due " + Cell(p["not_before"]);
            rows.push_back({Cell(p["step"]), kind, what});
        }
        Table({"NODE", "KIND", "WHAT"}, rows);
        if (!result.value("children", json::array()).empty()) {
            std::cout << "\nchildren\n";
            rows.clear();
            for (const auto& c : result["children"]) rows.push_back({Cell(c["node"]), Cell(c["saga_id"]), Cell(c["workflow"])});
            Table({"NODE", "SAGA", "WORKFLOW"}, rows);
        }
        if (!result.value("signals", json::array()).empty()) {
            std::cout << "\nsignals\n";
            rows.clear();
            for (const auto& g : result["signals"]) {
                rows.push_back({Cell(g["received_at"]), Cell(g["name"]), Cell(g["id"]),
                                Cell(g["taken_by"]).empty() ? "kept: no wait yet" : "taken by " + Cell(g["taken_by"])});
            }
            Table({"RECEIVED", "SIGNAL", "ID", "STATE"}, rows);
        }
        std::cout << "\nattempts\n";
        rows.clear();
        for (const auto& a : result["attempts"]) {
            std::string by = a.contains("worker") ? Cell(a["worker"]) : "-";
            if (a.contains("key")) by += " " + Cell(a["key"]);
            rows.push_back({Cell(a["at"]), Cell(a["step"]), Cell(a["phase"]), Cell(a["attempt"]),
                            Cell(a["outcome"]), by, Cell(a["detail"])});
        }
        Table({"AT", "STEP", "PHASE", "ATTEMPT", "OUTCOME", "WORKER", "DETAIL"}, rows);
        std::cout << "\nhistory\n";
        rows.clear();
        for (const auto& h : result["history"]) {
            std::string what = h["detail"].contains("action") ? Cell(h["detail"]["action"]) : "";
            for (const char* k : {"outcome", "reason", "delay_ms", "why", "by", "from", "worker", "key", "signal",
                                  "signal_id", "due", "child"}) {
                if (h["detail"].contains(k)) what += std::string(what.empty() ? "" : " ") + k + "=" + Cell(h["detail"][k]);
            }
            rows.push_back({Cell(h["at"]), Cell(h["kind"]), h["step"].is_null() ? "-" : Cell(h["step"]), Cell(h["phase"]),
                            h["attempt"].get<int>() > 0 ? Cell(h["attempt"]) : "-", what});
        }
        Table({"AT", "EVENT", "STEP", "PHASE", "ATTEMPT", "DETAIL"}, rows);
    } else if (command == "await" || (command == "start" && result.contains("done"))) {
        std::cout << "saga " << Cell(result["saga_id"]) << " "
                  << (result.value("done", false) ? Cell(result["status"]) : "still " + Cell(result["status"]) +
                                                                                   " after " + Cell(result["timeout_ms"]) + " ms")
                  << "\n";
        if (!Cell(result["reason"]).empty()) std::cout << "reason  " << Cell(result["reason"]) << "\n";
        std::cout << "context " << result["context"].dump() << "\n";
    } else if (command == "signal") {
        std::cout << "signal " << Cell(result["name"]) << " (id " << Cell(result["id"]) << ") "
                  << Cell(result["outcome"]) << " for saga " << Cell(result["saga_id"]) << "\n";
    } else if (command == "compensate" && result.contains("steps")) {
        std::cout << "saga " << Cell(result["saga_id"]) << " (" << Cell(result["status"]) << ")";
        if (!result["from_node"].is_null()) std::cout << ", from node " << Cell(result["from_node"]) << " back";
        std::cout << "\n";
        if (!result["refused"].is_null()) {
            std::cout << "a compensation would be refused now: " << Cell(result["refused"]) << "\n";
            return;
        }
        if (result["steps"].empty()) std::cout << "nothing to undo: the saga would be compensated at once\n";
        std::vector<std::vector<std::string>> rows;
        for (const auto& c : result["steps"]) {
            std::string note = c.value("in_flight", false) ? "after its forward command ends, if it took effect" : "";
            if (c.value("uncertain", false)) note = "outcome unknown: the inbox answers if it never ran";
            rows.push_back({Cell(c["wave"]), Cell(c["node"]), Cell(c["action"]), Cell(c["queue"]).empty() ? "-" : Cell(c["queue"]),
                            c["output"].dump(), note});
        }
        if (!rows.empty()) Table({"WAVE", "NODE", "COMPENSATION", "QUEUE", "UNDOES OUTPUT", "NOTE"}, rows);
        if (!result["kept"].empty()) {
            std::string kept;
            for (const auto& k : result["kept"]) kept += (kept.empty() ? "" : ", ") + k.get<std::string>();
            std::cout << "left as they are (completed after the node): " << kept << "\n";
        }
        std::cout << "(a plan only: nothing was run; the steps of one wave run at once)\n";
    } else if (command == "compensate" || command == "retry" || command == "resume" || command == "skip" ||
               command == "cancel" || command == "resolve") {
        std::cout << command << " accepted for saga " << result["saga_id"].get<std::string>() << "\n";
    } else if (command == "bulk") {
        auto filter = [](const json& j) {
            std::string out;
            for (const auto& [k, v] : j["filter"].items()) out += (out.empty() ? "" : " ") + k + "=" + Cell(v);
            return out.empty() ? "every saga" : out;
        };
        if (result.contains("jobs")) {
            std::vector<std::vector<std::string>> rows;
            for (const auto& j : result["jobs"]) {
                rows.push_back({Cell(j["id"]), Cell(j["action"]), Cell(j["state"]),
                                Cell(j["done"]) + "/" + Cell(j["matched"]), Cell(j["refused"]), Cell(j["created_at"]), filter(j)});
            }
            Table({"JOB", "ACTION", "STATE", "DONE", "REFUSED", "CREATED", "FILTER"}, rows);
        } else if (result["state"] == "dry_run") {
            std::cout << "a dry run: " << Cell(result["action"]) << " would take " << Cell(result["matched"])
                      << " sagas (" << filter(result) << "); nothing was done\n";
            for (const auto& id : result["sample"]) std::cout << "  " << id.get<std::string>() << "\n";
        } else {
            std::cout << "job       " << Cell(result["id"]) << "\naction    " << Cell(result["action"]) << "\nfilter    "
                      << filter(result) << "\nstate     " << Cell(result["state"]) << "\ndone      " << Cell(result["done"])
                      << " of " << Cell(result["matched"]) << "\nrefused   " << Cell(result["refused"])
                      << " (their state no longer allowed it)\nrate      " << Cell(result["rate"]) << " a second\nby        "
                      << Cell(result["requested_by"]) << "\nreason    " << Cell(result["reason"]) << "\ncreated   "
                      << Cell(result["created_at"]) << "\nupdated   " << Cell(result["updated_at"]) << "\n";
        }
    } else if (command == "workers") {
        std::vector<std::vector<std::string>> rows;
        for (const auto& w : result["workers"]) {
            std::string queues;
            for (const auto& q : w["queues"]) queues += (queues.empty() ? "" : ",") + q.get<std::string>();
            const std::string key = w.contains("key") ? Cell(w["key_name"]) + " " + Cell(w["key"]) : "-";
            rows.push_back({Cell(w["id"]), queues, Cell(w["capacity"]), Cell(w["in_flight"]), Cell(w["last_heartbeat"]), key});
        }
        Table({"WORKER", "QUEUES", "CAPACITY", "IN_FLIGHT", "LAST_HEARTBEAT", "KEY"}, rows);
        if (result.contains("unserved") && !result["unserved"].empty()) {
            std::cout << "\nactions no connected worker serves (their commands wait):\n";
            rows.clear();
            for (const auto& u : result["unserved"]) {
                rows.push_back({Cell(u["queue"]), Cell(u["action"]), Cell(u["commands"]), Cell(u["oldest"])});
            }
            Table({"QUEUE", "ACTION", "COMMANDS", "OLDEST"}, rows);
        }
    } else if (command == "stats") {
        std::vector<std::vector<std::string>> rows;
        for (const auto& [group, counters] : result.items()) {
            for (const auto& [name, value] : counters.items()) rows.push_back({group, name, Cell(value)});
        }
        Table({"GROUP", "COUNTER", "VALUE"}, rows);
    } else if (command == "graph") {
        std::cout << result["dot"].get<std::string>();
    }
}

// The two commands that need no sagad: keys and tokens are made here.
int MakeKeys(const std::string& base) {
    auto pair = sagaflow::security::WriteKeyPair(base, base);
    if (!pair.ok()) {
        std::cerr << "sagactl: " << pair.status().message << "\n";
        return kSagadError;
    }
    std::cout << "wrote " << base << ".secret (keep it on its host) and " << base << ".pub\n"
              << "public key " << pair->public_key << "  fingerprint " << sagaflow::security::Fingerprint(pair->public_key)
              << "\n";
    return kOk;
}

int MakeToken(const std::string& name, const std::string& role, const std::string& out) {
    if (!sagaflow::security::IsName(name)) {
        std::cerr << "sagactl: a token name is 1 to 64 of A-Z a-z 0-9 . _ -\n";
        return kUsage;
    }
    const std::string token = sagaflow::security::NewToken();
    std::FILE* f = nullptr;
    if (const int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600); fd >= 0) f = ::fdopen(fd, "w");
    if (f == nullptr || std::fputs((token + "\n").c_str(), f) < 0 || std::fclose(f) != 0) {
        std::cerr << "sagactl: cannot create " << out << " (it must not exist yet)\n";
        return kSagadError;
    }
    std::cout << sagaflow::security::TokenLine(name, *sagaflow::security::ParseRole(role), token) << "\n";
    return kOk;
}

// The API token: --token-file, else SAGACTL_TOKEN; empty when neither is given.
std::string TokenOf(const std::string& file) {
    if (file.empty()) return std::getenv("SAGACTL_TOKEN") ? std::getenv("SAGACTL_TOKEN") : "";
    std::ifstream in(file);
    if (!in) throw Usage{"cannot read --token-file " + file};
    std::string token;
    std::getline(in, token);
    while (!token.empty() && (token.back() == '\r' || token.back() == ' ')) token.pop_back();
    return token;
}

std::string ReadInput(const std::string& text) {
    if (text.empty() || text[0] != '@') return text;
    std::ifstream in(text.substr(1));
    if (!in) throw Usage{"cannot read " + text.substr(1)};
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// Every word is read by CLI11: options in any order, before or after their command.
struct Cli {
    CLI::App app{"sagactl: inspect and steer sagas through sagad's HTTP API", "sagactl"};
    std::string endpoint = "http://127.0.0.1:8080";
    bool as_json = false;
    int timeout_ms = 5000;
    std::string workflow, input, key, status, id, reason;
    std::string node, from_node, output, resolve_to;
    bool plan = false, force = false;
    std::string bulk_what, created_after, created_before;
    bool dry_run = false;
    long long confirm_count = -1;
    int rate = 0;
    std::vector<std::string> signal_args;
    std::string signal_data, signal_id;
    bool wait = false;
    CLI::Option* timeout_option = nullptr;
    std::string token_file, ca_file, key_base, token_name, token_role = "viewer", token_out;
    int limit = 0;
    int version = 0;

    Cli() {
        if (const char* env = std::getenv("SAGACTL_ENDPOINT")) endpoint = env;
        if (const char* env = std::getenv("SAGACTL_CA_FILE")) ca_file = env;
        app.require_subcommand(0, 1);  // none is reported after parsing, with the help
        app.fallthrough();
        app.add_option("--endpoint", endpoint, "sagad's URL, http://host:port or https://host:port (or SAGACTL_ENDPOINT)")
            ->capture_default_str();
        app.add_option("--ca-file", ca_file, "for https: the PEM CA that signed sagad's certificate "
                                             "(or SAGACTL_CA_FILE; default: the system's trust store)");
        app.add_flag("--json", as_json, "machine-readable output");
        app.add_option("--token-file", token_file, "a file holding the API token (or SAGACTL_TOKEN holds the token)");
        timeout_option = app.add_option("--timeout-ms", timeout_ms,
                                        "how long to wait for sagad's answer; for await and start --wait, for the "
                                        "saga to end (default 60000)")
                             ->check(CLI::Range(1, 86'400'000))->capture_default_str();
        app.footer("exit codes: 0 ok, 1 sagad reported a permanent error, 2 usage, 3 retry later "
                   "(unreachable, unavailable, aborted, deadline_exceeded, resource_exhausted); await and "
                   "start --wait: 4 the saga was compensated or failed, 5 it had not ended in time");
        app.add_subcommand("workflows", "definitions, versions and steps");
        auto* start = app.add_subcommand("start", "start a saga; prints its id");
        start->add_option("workflow", workflow, "the workflow's name")->required();
        start->add_option("--input", input, "the saga's input: a JSON object, or @FILE")->required();
        start->add_option("--key", key, "business key: the same key and input give the same saga");
        start->add_option("--version", version, "this version of the workflow (default: the latest)")
            ->check(CLI::Range(1, 1'000'000));
        start->add_flag("--wait", wait, "wait for the saga to end; exit 0 completed, 4 compensated or failed, 5 not "
                                        "ended within --timeout-ms");
        auto* await = app.add_subcommand("await", "wait for a saga to end: exit 0 completed, 4 compensated or "
                                                  "failed, 5 not ended within --timeout-ms");
        await->add_option("id", id, "the saga's id (a UUID)")->required();
        auto* signal = app.add_subcommand("signal", "send a signal into a running saga: signal ID NAME, or "
                                                    "signal --key K --workflow W NAME");
        signal->add_option("args", signal_args, "the saga's id and the signal's name (only the name with --key)")
            ->required()->expected(1, 2);
        signal->add_option("--key", key, "find the saga by its business key (with --workflow)");
        signal->add_option("--workflow", workflow, "the workflow of --key");
        signal->add_option("--data", signal_data, "the signal's payload: a JSON object, or @FILE (default {})");
        signal->add_option("--id", signal_id, "the signal's id: the same id twice is applied once (default: a new one)");
        auto* list = app.add_subcommand("list", "sagas, newest first");
        list->add_option("--status", status, "running, compensating, completed, compensated, failed, parked or cancelled");
        list->add_option("--workflow", workflow, "only this workflow");
        list->add_option("--limit", limit, "at most this many (sagad clamps it to its page size)")
            ->check(CLI::Range(1, 1'000'000'000));
        app.add_subcommand("show", "status, step, input, context, attempts, history")
            ->add_option("id", id, "the saga's id (a UUID)")->required();
        // The operator actions: each records who and why in the saga's history.
        auto action = [&](const char* name, const char* what, bool reason_required) {
            auto* sub = app.add_subcommand(name, what);
            sub->add_option("id", id, "the saga's id (a UUID)")->required();
            auto* r = sub->add_option("--reason", reason, "why, for the history");
            if (reason_required) r->required();
            return sub;
        };
        auto* compensate = action("compensate", "undo a running, parked or completed saga, in reverse order", false);
        compensate->add_option("--from-node", from_node, "undo only this node and what completed before it");
        compensate->add_flag("--plan", plan, "print which compensations would run, in which order and with which "
                                             "inputs; runs nothing");
        compensate->add_flag("--force", force, "compensate past the saga's pivot (needs --reason)");
        action("retry", "failed: re-run the compensation that failed; parked: re-run the parked node", false)
            ->add_option("--node", node, "the parked node to re-run (default: every parked node)");
        action("resume", "re-run a parked saga's parked forward step with a fresh attempt budget", false)
            ->add_option("--node", node, "the parked node (default: every parked node)");
        auto* skip = action("skip", "mark a parked node (or a running step or wait) done, as if it succeeded, and go on",
                            true);
        skip->add_option("--node", node, "the node to mark done")->required();
        skip->add_option("--output", output, "its output: a JSON object, or @FILE (needed when a later node reads it)");
        action("cancel", "stop a saga without compensating (status cancelled)", true);
        auto* resolve = action("resolve", "close a case settled outside the system as completed or compensated", true);
        resolve->add_option("--status", resolve_to, "completed or compensated")->required()
            ->check(CLI::IsMember({"completed", "compensated"}));
        resolve->add_flag("--force", force, "resolve a saga that is still running or compensating");
        auto* bulk = app.add_subcommand("bulk", "an action on every saga a filter matches: bulk compensate|retry|cancel "
                                                "FILTERS --reason R; bulk list; bulk show JOB");
        bulk->add_option("what", bulk_what, "compensate, retry, cancel, list or show")->required()
            ->check(CLI::IsMember({"compensate", "retry", "cancel", "list", "show"}));
        bulk->add_option("job", id, "show: the job's id");
        bulk->add_option("--status", status, "only sagas in this status");
        bulk->add_option("--workflow", workflow, "only this workflow");
        bulk->add_option("--version", version, "only this version of it")->check(CLI::Range(1, 1'000'000));
        bulk->add_option("--created-after", created_after, "only sagas created at or after (RFC 3339)");
        bulk->add_option("--created-before", created_before, "only sagas created before (RFC 3339)");
        bulk->add_option("--reason", reason, "why, for every saga's history (required)");
        bulk->add_flag("--dry-run", dry_run, "count and sample the matches; do nothing");
        bulk->add_option("--confirm-count", confirm_count, "the number of sagas the filter matches (needed over "
                                                           "sagad's --bulk-confirm-over)")
            ->check(CLI::Range(0LL, 1'000'000'000'000LL));
        bulk->add_option("--rate", rate, "sagas a second at most (sagad clamps it)")->check(CLI::Range(1, 1'000'000));
        bulk->add_flag("--wait", wait, "wait for the job to finish (exit 5 if not within --timeout-ms)");
        app.add_subcommand("workers", "connected workers");
        app.add_subcommand("stats", "sagad's counters: API requests, worker-socket frames");
        auto* keygen = app.add_subcommand("keygen", "write a CURVE key pair: BASE.pub and BASE.secret (0600); no sagad needed");
        keygen->add_option("base", key_base, "path and name of the pair, e.g. keys/inventory-1")->required();
        auto* token = app.add_subcommand("token", "make an API token: writes it to --out (0600) and prints the "
                                                  "line for sagad's api_tokens file; no sagad needed");
        token->add_option("name", token_name, "who holds it (the audit trail names it)")->required();
        token->add_option("role", token_role, "viewer, operator or admin")->required()
            ->check(CLI::IsMember({"viewer", "operator", "admin"}));
        token->add_option("--out", token_out, "the file to write the token to (must not exist)")->required();
        auto* graph = app.add_subcommand("graph", "Graphviz DOT, the saga's path marked");
        graph->add_option("workflow", workflow, "the workflow's name")->required();
        graph->add_option("--saga", id, "mark this saga's path");
        graph->add_option("--version", version, "this version of the workflow (default: the latest)")
            ->check(CLI::Range(1, 1'000'000));
    }

    [[nodiscard]] std::string Command() const { return app.get_subcommands().front()->get_name(); }

    /// True when the command waits for a saga to end (its exit says how it ended).
    [[nodiscard]] bool Awaits() const { return Command() == "await" || (Command() == "start" && wait); }

    // Waits up to --timeout-ms; sagad may clamp one await to its maximum, so it is asked
    // again for the rest of the time.
    Result<json> Await(sagaflow::client::Client& sagad, const sagaflow::SagaId& saga) const {
        const auto total = std::chrono::milliseconds(timeout_option->count() > 0 ? timeout_ms : kDefaultAwaitMs);
        const auto until = std::chrono::steady_clock::now() + total;
        for (;;) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
            auto r = sagad.Await(saga, std::max(left, std::chrono::milliseconds(0)));
            if (!r.ok()) return r.status();
            if (r->done || !r->clamped || std::chrono::steady_clock::now() >= until) {
                json out = *r;
                out["timeout_ms"] = total.count();
                return out;
            }
        }
    }

    // bulk list | show JOB | ACTION FILTERS: the job (a dry run's count), waited for with --wait.
    Result<json> Bulk(sagaflow::client::Client& sagad) const {
        namespace api = sagaflow::api;
        auto as = [](auto r) -> Result<json> {
            if (!r.ok()) return r.status();
            return json(*r);
        };
        if (bulk_what == "list") return as(sagad.BulkJobs());
        if (bulk_what == "show") {
            if (id.empty()) throw Usage{"bulk show takes the job's id"};
            return as(sagad.BulkJob(id));
        }
        api::BulkRequest r;
        r.action = bulk_what;
        r.reason = reason;
        if (reason.empty()) throw Usage{"bulk " + bulk_what + " needs --reason"};
        if (!status.empty()) {
            r.status = sagaflow::ParseSagaStatus(status);
            if (!r.status) throw Usage{"--status: unknown status '" + status + "'"};
        }
        if (!workflow.empty()) r.workflow = workflow;
        if (version > 0) r.version = version;
        auto time = [](const std::string& flag, const std::string& text) {
            auto t = sagaflow::ParseTimestamp(text);
            if (!t) throw Usage{flag + ": '" + text + "' is not an RFC 3339 timestamp"};
            return *t;
        };
        if (!created_after.empty()) r.created_after = time("--created-after", created_after);
        if (!created_before.empty()) r.created_before = time("--created-before", created_before);
        r.dry_run = dry_run;
        if (confirm_count >= 0) r.confirm_count = confirm_count;
        if (rate > 0) r.rate = rate;
        auto job = sagad.Bulk(r);
        if (!job.ok() || !wait || dry_run) return as(job);
        const auto total = std::chrono::milliseconds(timeout_option->count() > 0 ? timeout_ms : kDefaultAwaitMs);
        const auto until = std::chrono::steady_clock::now() + total;
        std::cerr << "bulk job " << job->id << " made: " << job->matched << " sagas; waiting for it to finish\n";
        for (;;) {
            auto now = sagad.BulkJob(job->id);
            if (!now.ok()) return now.status();
            if (now->state == "finished" || std::chrono::steady_clock::now() >= until) return as(now);
            std::this_thread::sleep_for(std::chrono::milliseconds(250));  // a poll of a job's row; the job runs in sagad
        }
    }

    // Runs the parsed command through the client: the answer as JSON in the shape the
    // tables read, or the error. Throws Usage for values CLI11 cannot judge.
    Result<json> Run(sagaflow::client::Client& sagad) {
        namespace api = sagaflow::api;
        const std::string command = Command();
        auto as = [](auto r) -> Result<json> {
            if (!r.ok()) return r.status();
            return json(*r);
        };
        auto id_of = [&]() {
            auto parsed = sagaflow::ParseUuidId<sagaflow::SagaId>(id);
            if (!parsed) throw Usage{"'" + id + "' is not a saga id (a UUID)"};
            return *parsed;
        };
        if (command == "workflows") {
            auto r = as(sagad.Workflows());
            return r.ok() ? Result<json>((*r)["workflows"]) : r;
        }
        if (command == "start") {
            api::StartSaga start{workflow, json::parse(ReadInput(input), nullptr, false), std::nullopt, std::nullopt};
            if (start.input.is_discarded()) throw Usage{"--input is not valid JSON"};
            if (!start.input.is_object()) throw Usage{"--input must be a JSON object"};
            if (!key.empty()) start.business_key = key;
            if (version > 0) start.version = version;
            auto started = sagad.Start(start);
            if (!started.ok() || !wait) return as(started);
            std::cerr << "saga " << started->saga_id.str() << (started->created ? " started" : " (already started)")
                      << "; waiting for it to end\n";
            return Await(sagad, started->saga_id);
        }
        if (command == "list") {
            api::ListQuery q;
            if (!status.empty()) {
                q.status = sagaflow::ParseSagaStatus(status);
                if (!q.status) throw Usage{"--status: unknown status '" + status + "'"};
            }
            if (!workflow.empty()) q.workflow = workflow;
            if (limit > 0) q.limit = limit;
            auto page = sagad.List(q);
            if (!page.ok()) return page.status();
            if (page->clamped) {
                std::cerr << "sagactl: --limit clamped to " << page->limit << ", the largest page sagad serves\n";
            }
            return json(page->sagas);
        }
        if (command == "signal") {
            std::string name;
            sagaflow::SagaId saga;
            if (!key.empty()) {
                if (workflow.empty()) throw Usage{"signal --key needs --workflow"};
                if (signal_args.size() != 1) throw Usage{"signal --key K --workflow W takes only the signal's NAME"};
                auto found = sagad.FindByKey(workflow, key);
                if (!found.ok()) return found.status();
                saga = *found;
                name = signal_args[0];
            } else {
                if (signal_args.size() != 2) throw Usage{"signal takes the saga's ID and the signal's NAME (or --key)"};
                id = signal_args[0];
                saga = id_of();
                name = signal_args[1];
            }
            api::SendSignal g{name, std::nullopt, json::object()};
            if (!signal_id.empty()) g.id = signal_id;
            if (!signal_data.empty()) {
                g.data = json::parse(ReadInput(signal_data), nullptr, false);
                if (g.data.is_discarded()) throw Usage{"--data is not valid JSON"};
                if (!g.data.is_object()) throw Usage{"--data must be a JSON object"};
            }
            return as(sagad.Signal(saga, g));
        }
        if (command == "await") return Await(sagad, id_of());
        if (command == "show") return as(sagad.Show(id_of()));
        if (command == "compensate" && plan) {
            return as(sagad.CompensationPlan(id_of(), from_node.empty() ? std::nullopt : std::optional(from_node), force));
        }
        if (std::find(std::begin(api::kOperatorActions), std::end(api::kOperatorActions), command) !=
            std::end(api::kOperatorActions)) {
            api::OperatorRequest r;
            r.reason = reason.empty() && command == "compensate" ? "manual compensation via sagactl" : reason;
            if (!node.empty()) r.node = node;
            if (!from_node.empty()) r.from_node = from_node;
            if (!output.empty()) {
                r.output = json::parse(ReadInput(output), nullptr, false);
                if (r.output->is_discarded()) throw Usage{"--output is not valid JSON"};
                if (!r.output->is_object()) throw Usage{"--output must be a JSON object"};
            }
            r.force = force;
            if (!resolve_to.empty()) r.status = sagaflow::ParseSagaStatus(resolve_to);
            return as(sagad.Operate(id_of(), command, r));
        }
        if (command == "bulk") return Bulk(sagad);
        if (command == "workers") return as(sagad.Workers());
        if (command == "stats") return as(sagad.Stats());
        // graph
        std::optional<sagaflow::SagaId> saga;
        if (!id.empty()) saga = id_of();
        return as(sagad.Graph(workflow, version > 0 ? std::optional(version) : std::nullopt, saga));
    }
};

}  // namespace

int main(int argc, char** argv) {
    Cli cli;
    try {
        cli.app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int rc = cli.app.exit(e);
        return rc == 0 ? kOk : kUsage;
    }
    if (cli.app.get_subcommands().empty()) {
        std::cerr << "sagactl: a command is required\n\n" << cli.app.help();
        return kUsage;
    }
    if (cli.Command() == "keygen") return MakeKeys(cli.key_base);
    if (cli.Command() == "token") return MakeToken(cli.token_name, cli.token_role, cli.token_out);
    try {
        std::optional<sagaflow::client::Client> sagad;
        try {
            sagad.emplace(cli.endpoint, sagaflow::client::ClientOptions{std::chrono::milliseconds(cli.timeout_ms),
                                                                        TokenOf(cli.token_file), cli.ca_file});
        } catch (const sagaflow::Error& e) {
            throw Usage{std::string(cli.ca_file.empty() ? "bad --endpoint: " : "bad --endpoint or --ca-file: ") + e.what()};
        }
        const std::string command = cli.Command();
        const Result<json> result = cli.Run(*sagad);
        if (!result.ok()) {
            const sagaflow::Status st = result.status();
            if (cli.as_json) {
                std::cout << json{{"error", {{"code", sagaflow::ToString(st.code)}, {"message", st.message}}}}.dump() << "\n";
            } else {
                std::cerr << "sagactl: " << sagaflow::ToString(st.code) << ": " << st.message << "\n";
            }
            return sagaflow::IsRetryLater(st.code) ? kRetryLater : kSagadError;
        }
        if (cli.as_json) {
            std::cout << result->dump(2) << "\n";
        } else {
            PrintHuman(command, *result);
        }
        if (command == "bulk" && cli.wait && result->value("state", "") == "running") return kTimedOut;
        return cli.Awaits() ? AwaitExit(*result) : kOk;
    } catch (const Usage& u) {
        std::cerr << "sagactl: " << u.message << "\n\n" << cli.app.help();
        return kUsage;
    }
}
