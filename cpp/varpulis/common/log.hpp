// SPDX-License-Identifier: Apache-2.0
#pragma once

// Operational log of the long-running processes (server, coordinator, worker agent, connectors):
// one line per record on stderr, as text or as JSON, filtered by level. Command-line usage errors
// are not log records; commands print those themselves.

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include "varpulis/common/status.hpp"

namespace varpulis::log {

enum class Level { Error = 0, Warn = 1, Info = 2, Debug = 3, Trace = 4 };
enum class Format { Text, Json };

/// Parse "error", "warn", "info", "debug" or "trace" (case-insensitive; "warning" is accepted).
common::Result<Level> parse_level(std::string_view text);
/// Parse "text" or "json".
common::Result<Format> parse_format(std::string_view text);

/// Set the process-wide threshold and line format. Default: Info, Text.
void configure(Level threshold, Format format);

/// True when records at `level` are written; check before building an expensive message.
bool enabled(Level level);

/// Write one record. `component` names the part of the system ("server", "cluster", "mqtt").
/// Thread-safe; a record is one write, so lines from threads never interleave.
void write(Level level, std::string_view component, std::string_view message);

inline void error(std::string_view component, std::string_view message) { write(Level::Error, component, message); }
inline void warn(std::string_view component, std::string_view message) { write(Level::Warn, component, message); }
inline void info(std::string_view component, std::string_view message) { write(Level::Info, component, message); }
inline void debug(std::string_view component, std::string_view message) { write(Level::Debug, component, message); }

/// A log site that an event stream or a client can hit thousands of times a second (a failing
/// event, a refused request): it writes at most one record per `interval`, and the next record
/// it writes says how many it held back. What it holds back is still counted in metrics by the
/// caller; the log only says that it happens and what it looks like.
class Throttle {
  public:
    explicit Throttle(std::chrono::milliseconds interval = std::chrono::seconds(1)) : interval_(interval) {}
    void write(Level level, std::string_view component, std::string_view message);

  private:
    std::mutex mutex_;
    std::chrono::milliseconds interval_;
    std::chrono::steady_clock::time_point last_{};
    uint64_t held_ = 0;
};

}  // namespace varpulis::log
