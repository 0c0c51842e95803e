// SPDX-License-Identifier: Apache-2.0
#include "varpulis/vpl/diagnostic.hpp"

#include <algorithm>

namespace varpulis::vpl {

bool has_errors(const Diagnostics& diagnostics) {
    return std::any_of(diagnostics.begin(), diagnostics.end(),
                       [](const Diagnostic& d) { return d.severity == Severity::Error; });
}

const Diagnostic* first_error(const Diagnostics& diagnostics) {
    auto it = std::find_if(diagnostics.begin(), diagnostics.end(),
                           [](const Diagnostic& d) { return d.severity == Severity::Error; });
    return it == diagnostics.end() ? nullptr : &*it;
}

std::string one_line(const Diagnostic& d) {
    return std::to_string(d.span.line) + ":" + std::to_string(d.span.column) + ": " + severity_name(d.severity) +
           "[" + d.code + "] " + d.message + (d.hint.empty() ? "" : " (hint: " + d.hint + ")");
}

const char* severity_name(Severity severity) {
    return severity == Severity::Error ? "error" : "warning";
}

std::string_view source_line(std::string_view source, uint32_t line) {
    if (line == 0) return {};
    size_t start = 0;
    for (uint32_t l = 1; l < line; ++l) {
        size_t nl = source.find('\n', start);
        if (nl == std::string_view::npos) return {};
        start = nl + 1;
    }
    size_t end = source.find('\n', start);
    std::string_view text = source.substr(start, end == std::string_view::npos ? source.size() - start : end - start);
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    return text;
}

namespace {

/// Build the caret line: keep tabs so the caret lines up under tab-indented code. Columns count
/// code points, so UTF-8 continuation bytes take no room.
std::string caret_line(std::string_view text, uint32_t column) {
    std::string out;
    uint32_t col = 1;
    for (size_t i = 0; i < text.size() && col < column; ++i) {
        unsigned char c = static_cast<unsigned char>(text[i]);
        if ((c & 0xC0) == 0x80) continue;
        out += c == '\t' ? '\t' : ' ';
        ++col;
    }
    while (col < column) {
        out += ' ';
        ++col;
    }
    return out + "^";
}

/// Make a source line safe to print: bytes that are not valid UTF-8, and control characters other
/// than tab, become '?' (one column each, as the position counts them). Each byte keeps its
/// position.
std::string printable(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size();) {
        auto c = static_cast<unsigned char>(text[i]);
        size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
        bool ok = len != 0 && i + len <= text.size();
        for (size_t k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(text[i + k]) & 0xC0) == 0x80;
        if (!ok || (c < 0x20 && c != '\t') || c == 0x7F) {
            out += '?';
            ++i;
            continue;
        }
        out.append(text.substr(i, len));
        i += len;
    }
    return out;
}

}  // namespace

std::string format_diagnostic(const Diagnostic& d, std::string_view source, std::string_view file) {
    std::string out;
    if (!file.empty()) out += std::string(file) + ":";
    out += std::to_string(d.span.line) + ":" + std::to_string(d.span.column) + ": " +
           severity_name(d.severity) + "[" + d.code + "] " + d.message + "\n";
    if (!d.hint.empty()) out += "  hint: " + d.hint + "\n";
    std::string_view line = source_line(source, d.span.line);
    if (d.span.known() && (!line.empty() || d.span.column <= 1)) {
        // Very long lines (minified input) are cut around the column, before they are made
        // printable: printing every diagnostic of a long line otherwise cost the whole line each
        // (printable keeps byte positions, so the cut is the same).
        constexpr size_t kMaxShown = 200;
        uint32_t column = d.span.column;
        if (line.size() > kMaxShown) {
            size_t from = column > kMaxShown / 2 ? column - kMaxShown / 2 : 0;
            line = line.substr(std::min(from, line.size()), kMaxShown);
            column -= static_cast<uint32_t>(from);
        }
        const std::string text = printable(line);
        std::string num = std::to_string(d.span.line);
        std::string pad(num.size(), ' ');
        out += " " + pad + " |\n";
        out += " " + num + " | " + text + "\n";
        out += " " + pad + " | " + caret_line(text, column) + "\n";
    }
    return out;
}

std::string format_diagnostics(const Diagnostics& ds, std::string_view source, std::string_view file) {
    std::string out;
    for (size_t i = 0; i < ds.size(); ++i) {
        if (i) out += "\n";
        out += format_diagnostic(ds[i], source, file);
    }
    return out;
}

}  // namespace varpulis::vpl
