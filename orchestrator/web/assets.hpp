// The web view's files (web/), embedded in the binary at build time: sagad serves them
// with no build step and nothing to install beside it.
#pragma once

#include <string_view>

namespace sagaflow::web {

struct Asset {
    std::string_view name;          ///< "index.html", "app.js", ...
    std::string_view content_type;
    std::string_view body;
};

/// The embedded file called `name`; nullptr for any other name.
[[nodiscard]] const Asset* FindAsset(std::string_view name);

}  // namespace sagaflow::web
