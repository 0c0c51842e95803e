// SPDX-License-Identifier: Apache-2.0
#include "varpulis/common/log.hpp"

#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>

#include "varpulis/common/json_text.hpp"

namespace varpulis::log {
namespace {

std::atomic<int> g_threshold{static_cast<int>(Level::Info)};
std::atomic<Format> g_format{Format::Text};

constexpr std::string_view kLevelNames[] = {"ERROR", "WARN", "INFO", "DEBUG", "TRACE"};

std::string lower(std::string_view text) {
    std::string out(text);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

/// RFC 3339 UTC time with milliseconds: 2026-12-01T01:02:03.456Z.
std::string timestamp() {
    const auto now = std::chrono::system_clock::now();
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
    const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char buffer[32];
    const size_t n = std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%S", &utc);
    std::snprintf(buffer + n, sizeof buffer - n, ".%03dZ", static_cast<int>(ms % 1000));
    return buffer;
}

}  // namespace

common::Result<Level> parse_level(std::string_view text) {
    const std::string name = lower(text);
    if (name == "error") return Level::Error;
    if (name == "warn" || name == "warning") return Level::Warn;
    if (name == "info") return Level::Info;
    if (name == "debug") return Level::Debug;
    if (name == "trace") return Level::Trace;
    return common::Status(common::ErrorCode::Invalid, "unknown log level '" + std::string(text) + "' (expected error, warn, info, debug or trace)");
}

common::Result<Format> parse_format(std::string_view text) {
    const std::string name = lower(text);
    if (name == "text") return Format::Text;
    if (name == "json") return Format::Json;
    return common::Status(common::ErrorCode::Invalid, "unknown log format '" + std::string(text) + "' (expected text or json)");
}

void configure(Level threshold, Format format) {
    g_threshold.store(static_cast<int>(threshold), std::memory_order_relaxed);
    g_format.store(format, std::memory_order_relaxed);
}

bool enabled(Level level) { return static_cast<int>(level) <= g_threshold.load(std::memory_order_relaxed); }

void write(Level level, std::string_view component, std::string_view message) {
    if (!enabled(level)) return;
    const std::string_view level_name = kLevelNames[static_cast<int>(level)];
    std::string line;
    line.reserve(64 + message.size());
    if (g_format.load(std::memory_order_relaxed) == Format::Json) {
        line += "{\"ts\":\"" + timestamp() + "\",\"level\":\"";
        line += lower(level_name);
        line += "\",\"component\":";
        common::append_json_string(line, component);
        line += ",\"msg\":";
        common::append_json_string(line, message);
        line += "}\n";
    } else {
        line += timestamp();
        line += ' ';
        line += level_name;
        line += ' ';
        line += component;
        line += ": ";
        line += message;
        line += '\n';
    }
    // One write(2) per record: lines from different threads never interleave.
    size_t written = 0;
    while (written < line.size()) {
        const ssize_t n = ::write(STDERR_FILENO, line.data() + written, line.size() - written);
        if (n <= 0) break;
        written += static_cast<size_t>(n);
    }
}

void Throttle::write(Level level, std::string_view component, std::string_view message) {
    if (!enabled(level)) return;
    uint64_t held = 0;
    {
        std::lock_guard lock(mutex_);
        auto now = std::chrono::steady_clock::now();
        if (last_ != std::chrono::steady_clock::time_point{} && now - last_ < interval_) {
            ++held_;
            return;
        }
        last_ = now;
        held = held_;
        held_ = 0;
    }
    if (held == 0) return log::write(level, component, message);
    log::write(level, component, std::string(message) + " (and " + std::to_string(held) + " more like it since the last such record)");
}

}  // namespace varpulis::log
