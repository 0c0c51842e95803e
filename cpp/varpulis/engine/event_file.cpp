// SPDX-License-Identifier: Apache-2.0
#include "varpulis/engine/event_file.hpp"

#include <algorithm>

#include <array>
#include <cerrno>
#include <cstring>
#include <charconv>
#include <fstream>

#include <nlohmann/json.hpp>

#include "varpulis/engine/event_json.hpp"

namespace varpulis::engine {

using common::ErrorCode;
using common::Result;
using common::Status;

namespace {

// ASCII classes without the locale lookups of <cctype>, which cost more than the rest of a line's
// scan: the same answers in the "C" locale.
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool is_word(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'; }

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    return s;
}

/// Split on commas that are not inside quotes or brackets, into `parts` (cleared first; reused
/// from line to line).
void split_top_level(std::string_view s, std::vector<std::string_view>& parts) {
    parts.clear();
    // Most characters are none of these: one table lookup passes them.
    static constexpr auto kSpecial = [] {
        std::array<bool, 256> t{};
        for (unsigned char c : std::string_view("\"'\\[{(]}),")) t[c] = true;
        return t;
    }();
    int depth = 0;
    char quote = 0;
    size_t start = 0;
    for (size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (!kSpecial[static_cast<unsigned char>(c)]) continue;
        if (quote) {
            if (c == '\\') ++i;
            else if (c == quote) quote = 0;
        } else if (c == '"' || c == '\'') {
            quote = c;
        } else if (c == '[' || c == '{' || c == '(') {
            ++depth;
        } else if (c == ']' || c == '}' || c == ')') {
            --depth;
        } else if (c == ',' && depth == 0) {
            parts.push_back(s.substr(start, i - start));
            start = i + 1;
        }
    }
    if (start < s.size() || !parts.empty()) parts.push_back(s.substr(start));
}

std::string unescape(std::string_view body) {
    std::string out;
    out.reserve(body.size());
    for (size_t i = 0; i < body.size(); ++i) {
        if (body[i] != '\\' || i + 1 == body.size()) {
            out += body[i];
            continue;
        }
        char n = body[++i];
        out += n == 'n' ? '\n' : n == 't' ? '\t' : n == 'r' ? '\r' : n;
    }
    return out;
}

Status line_error(uint32_t line, std::string message) {
    return Status(ErrorCode::Invalid, "line " + std::to_string(line) + ": " + std::move(message), {line, 1, line, 1});
}

/// `@100ms`, `@2s`, `@1m`, `@250` (milliseconds).
std::optional<int64_t> parse_offset(std::string_view s) {
    int64_t n = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec != std::errc() || n < 0) return std::nullopt;
    std::string_view unit = s.substr(static_cast<size_t>(p - s.data()));
    int64_t scale = 0;
    if (unit.empty() || unit == "ms") scale = 1'000'000;
    else if (unit == "s") scale = 1'000'000'000;
    else if (unit == "m") scale = 60'000'000'000;
    else if (unit == "us") scale = 1'000;
    else if (unit == "ns") scale = 1;
    else return std::nullopt;
    // An offset past ~292 years in nanoseconds does not fit: refused, not wrapped (evt_fuzz).
    int64_t ns = 0;
    if (__builtin_mul_overflow(n, scale, &ns)) return std::nullopt;
    return ns;
}

}  // namespace

Value parse_evt_value(std::string_view text, int depth) {
    std::string_view s = trim(text);
    if (s == "true") return Value(true);
    if (s == "false") return Value(false);
    if (s == "null" || s == "nil") return Value();
    if (s.size() >= 2 && (s.front() == '"' || s.front() == '\'') && s.back() == s.front()) {
        return Value(unescape(s.substr(1, s.size() - 2)));
    }
    int64_t i = 0;
    if (auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), i); ec == std::errc() && p == s.data() + s.size()) {
        return Value(i);
    }
    double d = 0;
    if (auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), d); ec == std::errc() && p == s.data() + s.size()) {
        return Value(d);
    }
    if (s.size() >= 2 && s.front() == '[' && s.back() == ']' && depth < 32) {
        common::Array items;
        std::string_view inner = trim(s.substr(1, s.size() - 2));
        if (!inner.empty()) {
            std::vector<std::string_view> parts;
            split_top_level(inner, parts);
            for (auto part : parts) items.push_back(parse_evt_value(part, depth + 1));
        }
        return Value(std::move(items));
    }
    return Value(std::string(s));
}

Symbol EventFileReader::symbol(std::string_view name) {
    auto it = symbols_.find(name);
    if (it != symbols_.end()) return it->second;
    Symbol s = intern_event_name(name);
    if (s == kNoSymbol) return s;  // parse_line refuses the line
    symbols_.emplace(std::string(name), s);
    return s;
}

Symbol EventFileReader::symbol_at(size_t position, std::string_view name) {
    if (position < recent_.size() && recent_[position].first == name) return recent_[position].second;
    Symbol s = symbol(name);
    if (position >= recent_.size()) recent_.resize(position + 1);
    recent_[position] = {std::string(name), s};
    return s;
}

Result<EventPtr> EventFileReader::parse_line(std::string_view raw, uint32_t line_number) {
    std::string_view line = trim(raw);
    if (line.empty() || line.starts_with('#') || line.starts_with("//")) return EventPtr();
    if (line.starts_with("BATCH")) {
        auto offset = parse_offset(trim(line.substr(5)));
        if (!offset || trim(line.substr(5)).find_first_not_of("0123456789") != std::string_view::npos) {
            return line_error(line_number, "BATCH needs a number of milliseconds");
        }
        batch_offset_ns_ = *offset;
        return EventPtr();
    }
    int64_t offset = batch_offset_ns_;
    if (line.starts_with('@')) {
        size_t space = line.find_first_of(" \t");
        if (space == std::string_view::npos) return line_error(line_number, "an @offset needs an event after it");
        auto parsed = parse_offset(line.substr(1, space - 1));
        if (!parsed) return line_error(line_number, "invalid offset '" + std::string(line.substr(0, space)) + "' (e.g. @100ms, @2s)");
        offset = *parsed;
        line = trim(line.substr(space));
    }
    if (line.starts_with('{')) {
        auto j = OrderedJson::parse(line, nullptr, false);
        if (j.is_discarded() || !j.is_object() || !j.contains("event_type") || !j["event_type"].is_string()) {
            return line_error(line_number, "a JSON event needs a string \"event_type\"");
        }
        OrderedJson fields = j.contains("data") ? j["data"] : j;
        if (!j.contains("data")) {
            fields.erase("event_type");
            fields.erase("timestamp");
        }
        auto e = event_from_json(j["event_type"].get<std::string>(), fields, offset);
        if (!e) return line_error(line_number, e.status().message());
        return std::move(*e);
    }
    if (line.ends_with(';')) line = trim(line.substr(0, line.size() - 1));
    size_t open = 0;  // a loop, not find_first_of: that searches the set once per character
    while (open < line.size() && line[open] != '{' && line[open] != '(') ++open;
    if (open == line.size() || open == 0) return line_error(line_number, "expected `Type { field: value, ... }`");
    char close = line[open] == '{' ? '}' : ')';
    if (line.back() != close) return line_error(line_number, std::string("missing closing '") + close + "'");
    std::string_view type = trim(line.substr(0, open));
    for (char c : type) {
        if (!is_word(c)) {
            return line_error(line_number, "invalid event type '" + std::string(type) + "'");
        }
    }
    auto e = std::make_shared<Event>();
    e->type = symbol_at(0, type);
    e->timestamp = offset;
    std::string_view body = trim(line.substr(open + 1, line.size() - open - 2));
    if (!body.empty()) {
        auto& parts = parts_;
        split_top_level(body, parts);
        e->fields.reserve(parts.size());
        for (size_t i = 0; i < parts.size(); ++i) {
            std::string_view part = trim(parts[i]);
            if (close == ')') {
                e->fields.emplace_back(symbol("field_" + std::to_string(i)), parse_evt_value(part));
                continue;
            }
            size_t colon = part.find(':');
            if (colon == std::string_view::npos) return line_error(line_number, "field '" + std::string(part) + "' needs name: value");
            std::string_view name = trim(part.substr(0, colon));
            if (name.empty()) return line_error(line_number, "a field has no name");
            e->set(symbol_at(i + 1, name), parse_evt_value(part.substr(colon + 1)));
        }
    }
    if (e->type == kNoSymbol || std::any_of(e->fields.begin(), e->fields.end(), [](const auto& f) { return f.first == kNoSymbol; })) {
        return line_error(line_number, event_names_full_message());
    }
    return EventPtr(std::move(e));
}

Status read_event_stream(std::istream& in, const std::function<Status(EventPtr)>& on_event) {
    EventFileReader reader;
    std::string line;
    uint32_t number = 0;
    while (std::getline(in, line)) {
        ++number;
        VP_ASSIGN_OR_RETURN(EventPtr e, reader.parse_line(line, number));
        if (e) VP_RETURN_NOT_OK(on_event(std::move(e)));
    }
    return Status::ok();
}

Status read_event_file(const std::string& path, const std::function<Status(EventPtr)>& on_event) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Status(ErrorCode::Io, "cannot read " + path + ": " + std::strerror(errno));
    return read_event_stream(in, on_event);
}

}  // namespace varpulis::engine
