// SPDX-License-Identifier: Apache-2.0
// `varpulis check FILE` and `varpulis parse FILE`.
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "args.hpp"
#include "commands.hpp"
#include "varpulis/vpl/ast_json.hpp"
#include "varpulis/vpl/frontend.hpp"

namespace varpulis::apps {

namespace {

/// Read a whole file, or standard input for "-".
bool read_source(const std::string& path, std::string& out) {
    std::ostringstream buffer;
    if (path == "-") {
        buffer << std::cin.rdbuf();
    } else {
        std::ifstream in(path, std::ios::binary);
        if (!in) return false;
        buffer << in.rdbuf();
    }
    out = buffer.str();
    return true;
}

nlohmann::json diagnostics_json(const vpl::Diagnostics& ds) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& d : ds) {
        out.push_back({{"severity", vpl::severity_name(d.severity)}, {"code", d.code}, {"line", d.span.line},
                       {"column", d.span.column}, {"message", d.message}, {"hint", d.hint}});
    }
    return out;
}

int load(const CommandSpec& spec, const std::vector<std::string>& args, ParsedArgs& parsed, std::string& source) {
    int exit_code = kExitOk;
    auto result = parse_command(spec, args, exit_code);
    if (!result) return exit_code == kExitOk ? -1 : exit_code;
    parsed = std::move(*result);
    const std::string& path = parsed.positionals()[0];
    if (!read_source(path, source)) {
        std::cerr << "error: cannot read " << path << ": " << std::strerror(errno) << "\n";
        return kExitUsage;
    }
    return kExitOk;
}

}  // namespace

int cmd_check(const std::vector<std::string>& args) {
    CommandSpec spec{"varpulis check", "Check a VPL program for syntax and semantic errors", {"FILE"},
                     {{"json", 0, "", "Print the diagnostics as JSON", "", ""}}};
    ParsedArgs parsed;
    std::string source;
    if (int rc = load(spec, args, parsed, source); rc != kExitOk) return rc < 0 ? kExitOk : rc;
    const std::string& path = parsed.positionals()[0];
    vpl::ParseResult result = vpl::check(source);
    bool ok = result.ok();
    if (parsed.has("json")) {
        nlohmann::json out = {{"ok", ok}, {"diagnostics", diagnostics_json(result.diagnostics)}};
        if (result.program) out["statements"] = result.program->statements.size();
        std::cout << out.dump(2) << "\n";
        return ok ? kExitOk : kExitInvalid;
    }
    if (!ok) {
        std::cerr << vpl::format_diagnostics(result.diagnostics, source, path);
        size_t errors = std::count_if(result.diagnostics.begin(), result.diagnostics.end(),
                                      [](const auto& d) { return d.severity == vpl::Severity::Error; });
        std::cerr << "\n" << errors << (errors == 1 ? " error" : " errors") << " in " << path << "\n";
        return kExitInvalid;
    }
    std::cout << "Syntax OK\n   Statements: " << result.program->statements.size() << "\n";
    if (!result.diagnostics.empty()) {
        std::cout << "   Warnings: " << result.diagnostics.size() << "\n\n"
                  << vpl::format_diagnostics(result.diagnostics, source, path);
    }
    return kExitOk;
}

int cmd_parse(const std::vector<std::string>& args) {
    CommandSpec spec{"varpulis parse", "Parse a VPL program and print its syntax tree as JSON", {"FILE"}, {}};
    ParsedArgs parsed;
    std::string source;
    if (int rc = load(spec, args, parsed, source); rc != kExitOk) return rc < 0 ? kExitOk : rc;
    vpl::ParseResult result = vpl::parse(source);
    if (!result.program) {
        std::cerr << vpl::format_diagnostics(result.diagnostics, source, parsed.positionals()[0]);
        return kExitInvalid;
    }
    std::cout << vpl::to_json(*result.program).dump(2) << "\n";
    return kExitOk;
}

}  // namespace varpulis::apps
