// SPDX-License-Identifier: Apache-2.0
// libFuzzer entry point: any byte string through the whole front end (expand, parse, fold,
// validate, format). It must return diagnostics, never crash, hang or leak.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "varpulis/vpl/frontend.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view source(reinterpret_cast<const char*>(data), size);
    auto result = varpulis::vpl::check(source);
    if (!result.diagnostics.empty()) {
        (void)varpulis::vpl::format_diagnostics(result.diagnostics, source);
    }
    return 0;
}
