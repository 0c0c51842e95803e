// SPDX-License-Identifier: Apache-2.0
// libFuzzer target `evt_fuzz`: arbitrary bytes as an `.evt` file (engine/event_file.hpp). The
// stream reader stops at the first bad line; every line is then also parsed on its own, so the
// lines after a bad one are reached too. Each event is written back as JSON. It must answer an
// error naming the line, never crash, hang or leak.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <sstream>
#include <string>
#include <string_view>

#include "varpulis/engine/event_file.hpp"
#include "varpulis/engine/event_json.hpp"

namespace {

[[noreturn]] void finding(const std::string& what) {
    std::fprintf(stderr, "evt_fuzz finding: %s\n", what.c_str());
    __builtin_trap();
}

/// A refused line's error: Invalid, "line N: ...", and the span on that line.
void check_error(const varpulis::common::Status& st, uint32_t line) {
    const std::string prefix = "line " + std::to_string(line) + ": ";
    if (st.code() != varpulis::common::ErrorCode::Invalid || st.message().rfind(prefix, 0) != 0 || st.span().line != line) {
        finding("the error of line " + std::to_string(line) + " does not name it: " + st.message());
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);

    std::istringstream in(text);
    std::string json;
    (void)varpulis::engine::read_event_stream(in, [&json](varpulis::engine::EventPtr e) {
        json.clear();
        varpulis::engine::append_event_json(json, *e, true);
        return varpulis::common::Status::ok();
    });

    varpulis::engine::EventFileReader reader;
    std::string_view rest(text);
    for (uint32_t line = 1; !rest.empty(); ++line) {
        size_t nl = rest.find('\n');
        std::string_view one = rest.substr(0, nl);
        rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
        auto parsed = reader.parse_line(one, line);
        if (!parsed) {
            check_error(parsed.status(), line);
        } else if (*parsed) {
            (void)varpulis::engine::event_json(**parsed, true).dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
        }
    }
    return 0;
}
