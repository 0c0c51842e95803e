// SPDX-License-Identifier: Apache-2.0
#pragma once

// The operations of a published REST contract (api/*.openapi.json) and of a route table, in one
// comparable form: "METHOD /path/{param} auth", auth being the contract's x-varpulis-auth
// (none, api_key, or the handler's own scheme, which a route table calls custom).

#include <gtest/gtest.h>

#include <cctype>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "varpulis/common/atomic_file.hpp"
#include "varpulis/server/route_table.hpp"

namespace varpulis::testing {

inline std::set<std::string> published_operations(const std::string& contract_file) {
    auto text = common::read_file(std::string(VARPULIS_SOURCE_DIR) + "/api/" + contract_file);
    EXPECT_TRUE(text.is_ok()) << text.status().message();
    if (!text.is_ok()) return {};
    const nlohmann::json contract = nlohmann::json::parse(*text);
    std::set<std::string> out;
    for (const auto& [path, operations] : contract["paths"].items()) {
        for (const auto& [method, operation] : operations.items()) {
            if (method == "parameters") continue;
            std::string upper = method;
            for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
            std::string auth = operation.value("x-varpulis-auth", "missing");
            if (auth != "none" && auth != "api_key") auth = "custom";
            out.insert(upper + " " + path + " " + auth);
        }
    }
    return out;
}

inline std::set<std::string> served_operations(const std::vector<server::RouteSpec>& routes) {
    std::set<std::string> out;
    for (const auto& route : routes) {
        const char* auth = route.auth == server::RouteAuth::None     ? "none"
                           : route.auth == server::RouteAuth::ApiKey ? "api_key"
                                                                     : "custom";
        out.insert(route.method + " " + route.pattern + " " + auth);
    }
    return out;
}

}  // namespace varpulis::testing
