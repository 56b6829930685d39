// libFuzzer target: the decoders of what a stranger or a careless operator hands sagad:
// the Authorization header (TokenSet::Authenticate) and the tokens and allow-list files.
// The input's first line is the header, the rest a file's text, parsed as both kinds. A
// header may name a caller only if it carries a token whose hash is on a line; nothing
// may crash or throw.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "allow_list.hpp"
#include "tokens.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const std::size_t nl = input.find('\n');
    const std::string_view header = input.substr(0, nl);
    const std::string_view file = nl == std::string_view::npos ? std::string_view{} : input.substr(nl + 1);
    (void)sagaflow::security::AllowList::Parse(file, "fuzz");
    auto set = sagaflow::security::TokenSet::Parse(file, "fuzz");
    if (!set.ok()) return 0;
    auto who = set->Authenticate(header);
    if (who.ok()) {
        // Only a real token's line can match: the header must be "Bearer " and a token.
        const std::string_view token = header.substr(7);
        if (header.substr(0, 7) != "Bearer " || !sagaflow::security::CheckTokenShape(token).ok()) std::abort();
        const std::string line = sagaflow::security::TokenLine(who->name, who->role, std::string(token));
        // The file may separate its words with any blank, so look for the hash word alone.
        if (file.find(line.substr(line.find("sha256:"))) == std::string_view::npos) std::abort();
    }
    return 0;
}
