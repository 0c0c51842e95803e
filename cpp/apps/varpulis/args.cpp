// SPDX-License-Identifier: Apache-2.0
#include "args.hpp"

#include <cstdlib>
#include <iostream>

#include "varpulis/common/log.hpp"

namespace varpulis::apps {

std::string ParsedArgs::get(const std::string& flag, const std::string& fallback) const {
    auto it = values_.find(flag);
    return it == values_.end() ? fallback : it->second;
}

namespace {

const FlagSpec* find_flag(const CommandSpec& spec, const std::string& arg) {
    for (const auto& f : spec.flags) {
        if (arg == "--" + f.long_name || (f.short_name && arg == std::string("-") + f.short_name)) return &f;
    }
    return nullptr;
}

}  // namespace

std::optional<ParsedArgs> parse_args(const CommandSpec& spec, const std::vector<std::string>& args, std::string& error) {
    ParsedArgs out;
    for (size_t i = 0; i < args.size(); ++i) {
        std::string arg = args[i];
        if (arg == "--help" || arg == "-h") {
            out.values_["help"] = "1";
            return out;
        }
        if (arg.size() < 2 || arg[0] != '-' || arg == "-") {
            out.positionals_.push_back(arg);
            continue;
        }
        std::optional<std::string> inline_value;
        if (auto eq = arg.find('='); eq != std::string::npos && arg.starts_with("--")) {
            inline_value = arg.substr(eq + 1);
            arg = arg.substr(0, eq);
        }
        const FlagSpec* flag = find_flag(spec, arg);
        if (!flag) {
            error = "unknown option '" + arg + "' (see " + spec.name + " --help)";
            return std::nullopt;
        }
        if (flag->value_name.empty()) {
            out.values_[flag->long_name] = inline_value.value_or("1");
            continue;
        }
        if (inline_value) {
            out.values_[flag->long_name] = *inline_value;
        } else if (i + 1 < args.size()) {
            out.values_[flag->long_name] = args[++i];
        } else {
            error = "option '" + arg + "' needs a value " + flag->value_name;
            return std::nullopt;
        }
    }
    for (const auto& f : spec.flags) {
        if (out.values_.count(f.long_name)) continue;
        const char* env = f.env.empty() ? nullptr : std::getenv(f.env.c_str());
        if (env && *env) {
            out.values_[f.long_name] = env;
        } else if (!f.default_value.empty()) {
            out.values_[f.long_name] = f.default_value;
        }
    }
    if (out.positionals_.size() > spec.positionals.size()) {
        error = "unexpected argument '" + out.positionals_[spec.positionals.size()] + "'";
        return std::nullopt;
    }
    if (out.positionals_.size() < spec.positionals.size()) {
        error = "missing argument " + spec.positionals[out.positionals_.size()] + " (see " + spec.name + " --help)";
        return std::nullopt;
    }
    return out;
}

std::optional<ParsedArgs> parse_command(const CommandSpec& spec, const std::vector<std::string>& args, int& exit_code) {
    std::string error;
    auto parsed = parse_args(spec, args, error);
    if (!parsed) {
        std::cerr << "error: " << error << "\n";
        exit_code = 2;
        return std::nullopt;
    }
    if (parsed->has("help")) {
        std::cout << help_text(spec);
        exit_code = 0;
        return std::nullopt;
    }
    return parsed;
}

std::string help_text(const CommandSpec& spec) {
    std::string out = spec.summary + "\n\nUsage: " + spec.name + " [OPTIONS]";
    for (const auto& p : spec.positionals) out += " " + p;
    out += "\n\nOptions:\n";
    for (const auto& f : spec.flags) {
        std::string left = "  ";
        left += f.short_name ? std::string("-") + f.short_name + ", " : "    ";
        left += "--" + f.long_name;
        if (!f.value_name.empty()) left += " <" + f.value_name + ">";
        if (left.size() < 32) left.resize(32, ' ');
        else left += "  ";
        out += left + f.help;
        if (!f.default_value.empty()) out += " [default: " + f.default_value + "]";
        if (!f.env.empty()) out += " [env: " + f.env + "]";
        out += "\n";
    }
    out += "  -h, --help                    Print help\n";
    return out;
}

std::vector<FlagSpec> log_flags() {
    return {{"log-level", 0, "LEVEL", "Log records at this level and above: error, warn, info, debug, trace", "VARPULIS_LOG_LEVEL",
             "info"},
            {"log-format", 0, "FORMAT", "Log line format: text, or json (one object per line)", "VARPULIS_LOG_FORMAT", "text"}};
}

std::vector<FlagSpec> connection_flags() {
    return {{"max-connections", 0, "N", "Open connections at most (lowered to what the open-file limit allows); 64 more answer probes only",
             "VARPULIS_MAX_CONNECTIONS", "4096"},
            {"max-connections-per-client", 0, "N", "Open connections from one client address at most", "VARPULIS_MAX_CONNECTIONS_PER_CLIENT",
             "256"},
            {"header-timeout", 0, "SECONDS", "Time a new connection has to send its request headers", "", "10"}};
}

bool apply_connection_flags(const ParsedArgs& parsed, server::ConnectionLimits& limits) {
    try {
        const long long total = std::stoll(parsed.get("max-connections"));
        const long long per_client = std::stoll(parsed.get("max-connections-per-client"));
        const long long header = std::stoll(parsed.get("header-timeout"));
        if (total < 1 || per_client < 1 || header < 1) throw std::out_of_range("below 1");
        limits.max_connections = static_cast<size_t>(total);
        limits.per_client = static_cast<size_t>(per_client);
        limits.header_timeout = std::chrono::seconds(header);
        return true;
    } catch (const std::exception&) {
        std::cerr << "error: --max-connections, --max-connections-per-client and --header-timeout take whole numbers of 1 or more\n";
        return false;
    }
}

bool apply_log_flags(const ParsedArgs& parsed) {
    const auto level = log::parse_level(parsed.get("log-level"));
    const auto format = log::parse_format(parsed.get("log-format"));
    for (const auto* status : {&level.status(), &format.status()}) {
        if (!status->is_ok()) {
            std::cerr << "error: " << status->message() << "\n";
            return false;
        }
    }
    log::configure(*level, *format);
    return true;
}

}  // namespace varpulis::apps
