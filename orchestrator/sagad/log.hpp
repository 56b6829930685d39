// One line per event on stderr, as text or as JSON lines.
#pragma once

#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

namespace sagaflow::sagad {

class Log {
public:
    Log(const std::string& level, bool json) : min_(Rank(level)), json_(json) {}
    void Write(const std::string& level, const std::string& event, const nlohmann::json& fields = {});

private:
    static int Rank(const std::string& level);
    int min_;
    bool json_;
    std::mutex mu_;
};

}  // namespace sagaflow::sagad
