// SPDX-License-Identifier: Apache-2.0
#pragma once

// The Prometheus text exposition format (version 0.0.4), written one way for the worker's and
// the coordinator's /metrics: a family's # HELP and # TYPE lines, then its samples.

#include <string>
#include <string_view>

namespace varpulis::server {

/// The content type of a Prometheus text body.
inline constexpr std::string_view kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

/// Escape a label value: backslash, double quote and newline.
inline std::string prometheus_label_value(std::string_view text) {
    std::string out;
    for (const char c : text) {
        if (c == '\\' || c == '"') out += '\\';
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out += c;
    }
    return out;
}

class PrometheusText {
  public:
    /// Start a metric family: type is counter, gauge or histogram.
    void family(std::string_view name, std::string_view type, std::string_view help) {
        append("# HELP ", name, " ", help);
        append("# TYPE ", name, " ", type);
    }
    /// One sample; `labels` is `a="x",b="y"` (already escaped) or empty.
    void sample(std::string_view name, std::string_view labels, std::string_view value) {
        if (labels.empty()) return append(name, " ", value, "");
        append(name, "{", labels, "} ", value);
    }
    /// Append samples written elsewhere (whole lines).
    void raw(std::string_view lines) { out_ += lines; }
    std::string take() { return std::move(out_); }

  private:
    void append(std::string_view a, std::string_view b, std::string_view c, std::string_view d, std::string_view e = {}) {
        out_.append(a).append(b).append(c).append(d).append(e).push_back('\n');
    }
    std::string out_;
};

}  // namespace varpulis::server
