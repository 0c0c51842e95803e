// SPDX-License-Identifier: Apache-2.0
#include "varpulis/vpl/expand.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <variant>

namespace varpulis::vpl {

namespace {

struct Line {
    std::string text;
    LineOrigin origin;
};

size_t indentation(std::string_view s) {
    size_t i = 0;
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    return i;
}

bool is_blank(std::string_view s) { return indentation(s) == s.size(); }

std::vector<Line> split_lines(std::string_view source) {
    std::vector<Line> lines;
    size_t start = 0;
    uint32_t number = 1;
    while (start <= source.size()) {
        size_t nl = source.find('\n', start);
        size_t end = nl == std::string_view::npos ? source.size() : nl;
        std::string_view text = source.substr(start, end - start);
        if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
        lines.push_back({std::string(text), {number, 0}});
        if (nl == std::string_view::npos) break;
        start = nl + 1;
        ++number;
    }
    return lines;
}

/// Remove the indentation shared by every non-blank line (like Python's textwrap.dedent).
/// Block comments are rare enough that lines inside them count like code.
void dedent(std::vector<Line>& lines) {
    size_t common = std::string::npos;
    for (const auto& l : lines) {
        if (is_blank(l.text)) continue;
        common = std::min(common, indentation(l.text));
    }
    if (common == 0 || common == std::string::npos) return;
    for (auto& l : lines) {
        size_t n = std::min(common, indentation(l.text));
        l.text.erase(0, n);
        l.origin.column_shift += static_cast<uint32_t>(n);
    }
}

bool parse_int(std::string_view s, long long& out) {
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
    if (s.empty()) return false;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && p == s.data() + s.size();
}

/// A column-0 line `for V in a..b:` or `for V in a..=b:` with integer literal bounds.
struct LoopHeader {
    std::string var;
    long long from = 0;
    long long to = 0;  ///< exclusive
};

std::optional<LoopHeader> parse_header(std::string_view s) {
    if (!s.starts_with("for ")) return std::nullopt;
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    if (!s.ends_with(":")) return std::nullopt;
    s.remove_suffix(1);
    s.remove_prefix(4);
    size_t in = s.find(" in ");
    if (in == std::string_view::npos) return std::nullopt;
    std::string_view var = s.substr(0, in);
    while (!var.empty() && var.front() == ' ') var.remove_prefix(1);
    while (!var.empty() && var.back() == ' ') var.remove_suffix(1);
    if (var.empty() || !std::all_of(var.begin(), var.end(), [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
        })) {
        return std::nullopt;
    }
    std::string_view range = s.substr(in + 4);
    size_t dots = range.find("..");
    if (dots == std::string_view::npos) return std::nullopt;
    bool inclusive = dots + 2 < range.size() && range[dots + 2] == '=';
    LoopHeader h;
    h.var = std::string(var);
    if (!parse_int(range.substr(0, dots), h.from) ||
        !parse_int(range.substr(dots + (inclusive ? 3 : 2)), h.to)) {
        return std::nullopt;
    }
    if (inclusive) ++h.to;
    return h;
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
    for (size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size())) {
        s.replace(pos, from.size(), to);
    }
}

Diagnostic expand_error(const Line& at, std::string message, std::string hint) {
    Diagnostic d;
    d.code = "E000";
    d.message = std::move(message);
    d.hint = std::move(hint);
    d.span = {at.origin.line, at.origin.column_shift + 1, at.origin.line, at.origin.column_shift + 1};
    return d;
}

/// Expand every column-0 loop once. Sets `changed` when a loop was expanded.
std::variant<std::vector<Line>, Diagnostic> expand_pass(const std::vector<Line>& in, const ExpandLimits& limits,
                                                        bool& changed) {
    std::vector<Line> out;
    for (size_t i = 0; i < in.size(); ++i) {
        auto header = parse_header(in[i].text);
        if (!header) {
            out.push_back(in[i]);
            continue;
        }
        size_t end = i + 1;
        while (end < in.size() && (is_blank(in[end].text) || indentation(in[end].text) > 0)) ++end;
        long long count = header->to - header->from;
        if (count > limits.max_iterations) {
            return expand_error(in[i], "compile-time loop has " + std::to_string(count) + " iterations",
                                "the limit is " + std::to_string(limits.max_iterations));
        }
        size_t strip = 0;
        for (size_t j = i + 1; j < end; ++j) {
            if (!is_blank(in[j].text)) {
                strip = indentation(in[j].text);
                break;
            }
        }
        std::string placeholder = "{" + header->var + "}";
        for (long long v = header->from; v < header->to; ++v) {
            std::string value = std::to_string(v);
            for (size_t j = i + 1; j < end; ++j) {
                Line l = in[j];
                size_t n = std::min(strip, indentation(l.text));
                l.text.erase(0, n);
                l.origin.column_shift += static_cast<uint32_t>(n);
                replace_all(l.text, placeholder, value);
                out.push_back(std::move(l));
            }
            if (out.size() > limits.max_lines) {
                return expand_error(in[i], "compile-time loops expand to more than " +
                                               std::to_string(limits.max_lines) + " lines",
                                    "reduce the iteration counts");
            }
        }
        changed = true;
        i = end - 1;
    }
    return out;
}

}  // namespace

common::Span ExpandedSource::to_original(uint32_t line, uint32_t column) const {
    if (line == 0 || line > origins.size()) return {line, column, line, column};
    const LineOrigin& o = origins[line - 1];
    return {o.line, column + o.column_shift, o.line, column + o.column_shift};
}

std::variant<ExpandedSource, Diagnostic> expand_source(std::string_view source, const ExpandLimits& limits) {
    std::vector<Line> lines = split_lines(source);
    dedent(lines);
    for (int pass = 0; pass < limits.max_passes; ++pass) {
        bool changed = false;
        auto result = expand_pass(lines, limits, changed);
        if (auto* d = std::get_if<Diagnostic>(&result)) return *d;
        lines = std::move(std::get<std::vector<Line>>(result));
        if (!changed) break;
    }
    ExpandedSource out;
    out.origins.reserve(lines.size());
    size_t total = 0;
    for (const auto& l : lines) total += l.text.size() + 1;
    out.text.reserve(total);
    for (size_t i = 0; i < lines.size(); ++i) {
        out.text += lines[i].text;
        if (i + 1 < lines.size()) out.text += '\n';
        out.origins.push_back(lines[i].origin);
    }
    return out;
}

}  // namespace varpulis::vpl
