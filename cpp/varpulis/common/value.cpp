// SPDX-License-Identifier: Apache-2.0
#include "varpulis/common/value.hpp"

#include <atomic>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace varpulis::common {

std::string_view Value::type_name() const {
    switch (kind()) {
        case Kind::Null: return "null";
        case Kind::Bool: return "bool";
        case Kind::Int: return "int";
        case Kind::Float: return "float";
        case Kind::Str: return "string";
        case Kind::Timestamp: return "timestamp";
        case Kind::Duration: return "duration";
        case Kind::Array: return "array";
        case Kind::Map: return "map";
    }
    return "null";
}

std::string format_float(double d) {
    if (std::isnan(d)) return "NaN";
    if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
    char buf[64];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
    std::string s(buf, end);
    // Keep a float recognisable as a float: "200" reads back as an int.
    if (s.find_first_of(".eE") == std::string::npos) s += ".0";
    return s;
}

std::string quote_string(std::string_view s) {
    std::string out = "\"";
    for (char c : s) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\t': out += "\\t"; break;
            case '\r': out += "\\r"; break;
            default: out += c;
        }
    }
    out += '"';
    return out;
}

namespace {

std::string render(const Value& v, bool quote_strings) {
    switch (v.kind()) {
        case Value::Kind::Null: return "null";
        case Value::Kind::Bool: return v.as_bool() ? "true" : "false";
        case Value::Kind::Int: return std::to_string(v.as_int());
        case Value::Kind::Float: return format_float(v.as_float());
        case Value::Kind::Str: return quote_strings ? quote_string(v.as_string()) : v.as_string();
        case Value::Kind::Timestamp: return "@" + std::to_string(v.as_timestamp().ns) + "ns";
        case Value::Kind::Duration: return std::to_string(v.as_duration().ns) + "ns";
        case Value::Kind::Array: {
            std::string out = "[";
            const auto& a = v.as_array();
            for (size_t i = 0; i < a.size(); ++i) {
                if (i) out += ", ";
                out += render(a[i], true);
            }
            return out + "]";
        }
        case Value::Kind::Map: {
            std::string out = "{";
            const auto& m = v.as_map();
            for (size_t i = 0; i < m.size(); ++i) {
                if (i) out += ", ";
                out += quote_string(m[i].first) + ": " + render(m[i].second, true);
            }
            return out + "}";
        }
    }
    return "null";
}

}  // namespace

std::string Value::to_display() const { return render(*this, false); }
std::string Value::to_source() const { return render(*this, true); }

bool Value::operator==(const Value& other) const {
    if (is_number() && other.is_number()) {
        if (is_int() && other.is_int()) return as_int() == other.as_int();
        return as_number() == other.as_number();
    }
    if (kind() != other.kind()) return false;
    switch (kind()) {
        case Kind::Null: return true;
        case Kind::Bool: return as_bool() == other.as_bool();
        case Kind::Str: return as_string() == other.as_string();
        case Kind::Timestamp: return as_timestamp() == other.as_timestamp();
        case Kind::Duration: return as_duration() == other.as_duration();
        case Kind::Array: return as_array() == other.as_array();
        case Kind::Map: return as_map() == other.as_map();
        default: return false;
    }
}

void Value::append(Value item) {
    auto& array = std::get<std::shared_ptr<const Array>>(data_);
    if (array.use_count() == 1) {
        // The last other owner may have let go on another thread: see its writes first.
        std::atomic_thread_fence(std::memory_order_acquire);
        // Sole owner of an array created non-const (see the constructor): growing it is safe.
        const_cast<Array&>(*array).push_back(std::move(item));
        return;
    }
    auto copy = std::make_shared<Array>(*array);
    copy->push_back(std::move(item));
    array = std::move(copy);
}

}  // namespace varpulis::common
