// sagactl: a thin client of sagad's admin API. Human tables by default, --json for scripts.
// Exit codes: 0 ok; 1 an error reported by sagad; 2 usage; 3 cannot reach sagad.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "sagaflow/core/ids.hpp"
#include "socket.hpp"

namespace {

using nlohmann::json;

constexpr int kOk = 0, kSagadError = 1, kUsage = 2, kUnreachable = 3;

const char* kUsageText =
    "usage: sagactl [--endpoint E] [--json] [--timeout-ms N] COMMAND [ARGS]\n"
    "\n"
    "  workflows                                   definitions, versions and steps\n"
    "  start WORKFLOW --input JSON|@FILE [--key K] start a saga; prints its id\n"
    "  list [--status S] [--workflow W] [--limit N] sagas, newest first\n"
    "  show ID                                     status, step, input, context, attempts, history\n"
    "  compensate ID [--reason TEXT]               undo a running or completed saga\n"
    "  retry ID                                    re-run the compensation that failed\n"
    "  workers                                     connected workers\n"
    "  stats                                       sagad's counters: admin requests, worker-socket frames\n"
    "  graph WORKFLOW [--saga ID]                  Graphviz DOT, the saga's path marked\n"
    "\n"
    "  --endpoint  sagad's admin endpoint (default tcp://127.0.0.1:5556, or SAGACTL_ENDPOINT)\n"
    "  --json      machine-readable output\n"
    "exit codes: 0 ok, 1 sagad reported an error, 2 usage, 3 cannot reach sagad\n";

struct Usage {
    std::string message;
};

class Args {
public:
    explicit Args(std::vector<std::string> words) : words_(std::move(words)) {}
    // Takes "--name VALUE" out of the words; nullopt when absent.
    std::optional<std::string> Option(const std::string& name) {
        for (std::size_t i = 0; i < words_.size(); ++i) {
            if (words_[i] == name) {
                if (i + 1 >= words_.size()) throw Usage{name + " needs a value"};
                std::string v = words_[i + 1];
                words_.erase(words_.begin() + static_cast<long>(i), words_.begin() + static_cast<long>(i) + 2);
                return v;
            }
        }
        return std::nullopt;
    }
    bool Flag(const std::string& name) {
        for (std::size_t i = 0; i < words_.size(); ++i) {
            if (words_[i] == name) {
                words_.erase(words_.begin() + static_cast<long>(i));
                return true;
            }
        }
        return false;
    }
    std::string Positional(const char* what) {
        for (std::size_t i = 0; i < words_.size(); ++i) {
            if (words_[i].rfind("--", 0) != 0) {
                std::string v = words_[i];
                words_.erase(words_.begin() + static_cast<long>(i));
                return v;
            }
        }
        throw Usage{std::string("missing ") + what};
    }
    void ExpectEmpty() {
        if (!words_.empty()) throw Usage{"unexpected argument '" + words_.front() + "'"};
    }

private:
    std::vector<std::string> words_;
};

struct Reply {
    int exit_code;
    json body;
};

Reply Call(const std::string& endpoint, const json& request, int timeout_ms) {
    sagaflow::transport::Context ctx;
    sagaflow::transport::Socket req(ctx, sagaflow::transport::SocketKind::kReq);
    try {
        req.Connect(endpoint);
    } catch (const std::exception& e) {
        throw Usage{std::string("bad --endpoint: ") + e.what()};
    }
    if (!req.Send(request.dump())) return {kUnreachable, {}};
    if (!sagaflow::transport::Poll({&req}, std::chrono::milliseconds(timeout_ms))[0]) return {kUnreachable, {}};
    auto m = req.TryReceive();
    if (!m || m->frames.size() != 1) return {kUnreachable, {}};
    json body = json::parse(m->frames[0], nullptr, false);
    if (body.is_discarded()) return {kSagadError, {{"ok", false}, {"error", {{"code", "internal"}, {"message", "sagad sent a reply that is not JSON"}}}}};
    return {body.value("ok", false) ? kOk : kSagadError, body};
}

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
    } else if (command == "start") {
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
                  << "\ncreated   " << Cell(s["created_at"]) << "\nupdated   " << Cell(s["updated_at"])
                  << "\ninput     " << s["input"].dump() << "\ncontext   " << s["context"].dump() << "\n\nattempts\n";
        std::vector<std::vector<std::string>> rows;
        for (const auto& a : result["attempts"]) {
            rows.push_back({Cell(a["at"]), Cell(a["step"]), Cell(a["phase"]), Cell(a["attempt"]),
                            Cell(a["outcome"]), Cell(a["detail"])});
        }
        Table({"AT", "STEP", "PHASE", "ATTEMPT", "OUTCOME", "DETAIL"}, rows);
        std::cout << "\nhistory\n";
        rows.clear();
        for (const auto& h : result["history"]) {
            std::string what = h["detail"].contains("action") ? Cell(h["detail"]["action"]) : "";
            for (const char* k : {"outcome", "reason", "delay_ms", "why"}) {
                if (h["detail"].contains(k)) what += std::string(what.empty() ? "" : " ") + k + "=" + Cell(h["detail"][k]);
            }
            rows.push_back({Cell(h["at"]), Cell(h["kind"]), Cell(h["phase"]),
                            h["attempt"].get<int>() > 0 ? Cell(h["attempt"]) : "-", what});
        }
        Table({"AT", "EVENT", "PHASE", "ATTEMPT", "DETAIL"}, rows);
    } else if (command == "compensate" || command == "retry") {
        std::cout << command << " accepted for saga " << result["saga_id"].get<std::string>() << "\n";
    } else if (command == "workers") {
        std::vector<std::vector<std::string>> rows;
        for (const auto& w : result) {
            std::string queues;
            for (const auto& q : w["queues"]) queues += (queues.empty() ? "" : ",") + q.get<std::string>();
            rows.push_back({Cell(w["id"]), queues, Cell(w["capacity"]), Cell(w["in_flight"]), Cell(w["last_heartbeat"])});
        }
        Table({"WORKER", "QUEUES", "CAPACITY", "IN_FLIGHT", "LAST_HEARTBEAT"}, rows);
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

json BuildRequest(const std::string& command, Args& args) {
    json req{{"v", 1}, {"op", command}};
    if (command == "workflows" || command == "workers" || command == "stats") {
    } else if (command == "start") {
        req["workflow"] = args.Positional("WORKFLOW");
        auto input = args.Option("--input");
        if (!input) throw Usage{"start needs --input JSON or --input @FILE"};
        std::string text = *input;
        if (!text.empty() && text[0] == '@') {
            std::ifstream in(text.substr(1));
            if (!in) throw Usage{"cannot read " + text.substr(1)};
            std::stringstream ss;
            ss << in.rdbuf();
            text = ss.str();
        }
        req["input"] = json::parse(text, nullptr, false);
        if (req["input"].is_discarded()) throw Usage{"--input is not valid JSON"};
        if (!req["input"].is_object()) throw Usage{"--input must be a JSON object"};
        if (auto key = args.Option("--key")) req["key"] = *key;
    } else if (command == "list") {
        if (auto s = args.Option("--status")) req["status"] = *s;
        if (auto w = args.Option("--workflow")) req["workflow"] = *w;
        if (auto l = args.Option("--limit")) {
            try {
                std::size_t used = 0;
                const int n = std::stoi(*l, &used);
                if (used != l->size() || n < 1) throw std::invalid_argument(*l);
                req["limit"] = n;
            } catch (const std::exception&) {
                throw Usage{"--limit must be a positive integer"};
            }
        }
    } else if (command == "show" || command == "compensate" || command == "retry") {
        req["id"] = args.Positional("ID");
        if (!sagaflow::IsUuid(req["id"].get<std::string>())) throw Usage{"'" + req["id"].get<std::string>() + "' is not a saga id (a UUID)"};
        if (command == "compensate") req["reason"] = args.Option("--reason").value_or("manual compensation via sagactl");
    } else if (command == "graph") {
        req["workflow"] = args.Positional("WORKFLOW");
        if (auto id = args.Option("--saga")) req["id"] = *id;
    } else {
        throw Usage{"unknown command '" + command + "'"};
    }
    args.ExpectEmpty();
    return req;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        Args args(std::vector<std::string>(argv + 1, argv + argc));
        if (args.Flag("--help") || args.Flag("-h") || argc == 1) {
            std::cout << kUsageText;
            return argc == 1 ? kUsage : kOk;
        }
        const bool as_json = args.Flag("--json");
        const char* env_endpoint = std::getenv("SAGACTL_ENDPOINT");
        const std::string endpoint = args.Option("--endpoint").value_or(env_endpoint ? env_endpoint : "tcp://127.0.0.1:5556");
        int timeout_ms = 5000;
        if (auto t = args.Option("--timeout-ms")) {
            try {
                timeout_ms = std::stoi(*t);
            } catch (const std::exception&) {
                throw Usage{"--timeout-ms must be a number"};
            }
        }
        const std::string command = args.Positional("COMMAND");
        const json request = BuildRequest(command, args);
        const Reply reply = Call(endpoint, request, timeout_ms);
        if (reply.exit_code == kUnreachable) {
            std::cerr << "sagactl: cannot reach sagad at " << endpoint << " (no answer in " << timeout_ms << " ms)\n";
            return kUnreachable;
        }
        if (reply.exit_code != kOk) {
            const json& err = reply.body["error"];
            if (as_json) {
                std::cout << reply.body.dump() << "\n";
            } else {
                std::cerr << "sagactl: " << Cell(err["code"]) << ": " << Cell(err["message"]) << "\n";
            }
            return kSagadError;
        }
        if (as_json) {
            std::cout << reply.body["result"].dump(2) << "\n";
        } else {
            PrintHuman(command, reply.body["result"]);
        }
        return kOk;
    } catch (const Usage& u) {
        std::cerr << "sagactl: " << u.message << "\n\n" << kUsageText;
        return kUsage;
    }
}
