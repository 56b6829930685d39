#include "web/assets.hpp"

#include <array>

// Each file is placed in .rodata by the assembler (.incbin), between two symbols: no
// generated source, no copy at start-up. SAGAFLOW_WEB_DIR is web/'s absolute path.
#define SAGAFLOW_EMBED(symbol, file)                                                       \
    asm(".section .rodata\n"                                                               \
        ".global " #symbol "\n" #symbol ":\n"                                              \
        ".incbin \"" SAGAFLOW_WEB_DIR "/" file "\"\n"                                      \
        ".global " #symbol "_end\n" #symbol "_end:\n"                                      \
        ".byte 0\n"                                                                        \
        ".previous\n");                                                                    \
    extern "C" const char symbol[];                                                        \
    extern "C" const char symbol##_end[];

SAGAFLOW_EMBED(sagaflow_web_index_html, "index.html")
SAGAFLOW_EMBED(sagaflow_web_app_js, "app.js")
SAGAFLOW_EMBED(sagaflow_web_app_css, "app.css")
SAGAFLOW_EMBED(sagaflow_web_viz_js, "vendor/viz-global.js")

namespace sagaflow::web {
namespace {

std::string_view Between(const char* begin, const char* end) {
    return {begin, static_cast<std::size_t>(end - begin)};
}

}  // namespace

const Asset* FindAsset(std::string_view name) {
    static const std::array<Asset, 4> kAssets{{
        {"index.html", "text/html; charset=utf-8", Between(sagaflow_web_index_html, sagaflow_web_index_html_end)},
        {"app.js", "text/javascript; charset=utf-8", Between(sagaflow_web_app_js, sagaflow_web_app_js_end)},
        {"app.css", "text/css; charset=utf-8", Between(sagaflow_web_app_css, sagaflow_web_app_css_end)},
        {"viz-global.js", "text/javascript; charset=utf-8", Between(sagaflow_web_viz_js, sagaflow_web_viz_js_end)},
    }};
    for (const Asset& a : kAssets) {
        if (a.name == name) return &a;
    }
    return nullptr;
}

}  // namespace sagaflow::web
