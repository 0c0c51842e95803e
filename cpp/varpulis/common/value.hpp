// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace varpulis::common {

class Value;

/// Nanoseconds since the Unix epoch.
struct Timestamp {
    int64_t ns = 0;
    bool operator==(const Timestamp&) const = default;
};

/// A length of time in nanoseconds.
struct Duration {
    int64_t ns = 0;
    bool operator==(const Duration&) const = default;
};

using Array = std::vector<Value>;
/// Maps keep insertion order (output JSON follows it).
using Map = std::vector<std::pair<std::string, Value>>;

/// A dynamically typed VPL value. Arrays and maps are immutable and shared.
class Value {
  public:
    enum class Kind : uint8_t { Null, Bool, Int, Float, Str, Timestamp, Duration, Array, Map };

    Value() = default;
    explicit Value(bool b) : data_(b) {}
    explicit Value(int64_t i) : data_(i) {}
    explicit Value(int i) : data_(static_cast<int64_t>(i)) {}
    explicit Value(double d) : data_(d) {}
    explicit Value(std::string s) : data_(std::move(s)) {}
    explicit Value(const char* s) : data_(std::string(s)) {}
    explicit Value(Timestamp t) : data_(t) {}
    explicit Value(Duration d) : data_(d) {}
    // The array itself is not const, so `append` may grow it in place when it is not shared.
    explicit Value(Array a) : data_(std::shared_ptr<const Array>(std::make_shared<Array>(std::move(a)))) {}
    explicit Value(Map m) : data_(std::make_shared<const Map>(std::move(m))) {}

    Kind kind() const { return static_cast<Kind>(data_.index()); }
    bool is_null() const { return kind() == Kind::Null; }
    bool is_bool() const { return kind() == Kind::Bool; }
    bool is_int() const { return kind() == Kind::Int; }
    bool is_float() const { return kind() == Kind::Float; }
    bool is_number() const { return is_int() || is_float(); }
    bool is_string() const { return kind() == Kind::Str; }

    bool as_bool() const { return std::get<bool>(data_); }
    int64_t as_int() const { return std::get<int64_t>(data_); }
    double as_float() const { return std::get<double>(data_); }
    /// Return an int or float as a double.
    double as_number() const { return is_int() ? static_cast<double>(as_int()) : as_float(); }
    const std::string& as_string() const { return std::get<std::string>(data_); }
    Timestamp as_timestamp() const { return std::get<Timestamp>(data_); }
    Duration as_duration() const { return std::get<Duration>(data_); }
    const Array& as_array() const { return *std::get<std::shared_ptr<const Array>>(data_); }
    /// Append to this array: in place when no other value shares it, else on a copy (values stay
    /// immutable to everyone else). Requires kind() == Array.
    void append(Value item);
    const Map& as_map() const { return *std::get<std::shared_ptr<const Map>>(data_); }

    /// Return the VPL type name: "int", "float", "string", "bool", "array", "map", "null"...
    std::string_view type_name() const;

    /// Render for display: strings unquoted at the top level, floats as the shortest round trip.
    std::string to_display() const;
    /// Render as VPL source (strings quoted and escaped).
    std::string to_source() const;

    /// Structural equality with lenient numbers (1 == 1.0).
    bool operator==(const Value& other) const;

  private:
    std::variant<std::monostate, bool, int64_t, double, std::string, Timestamp, Duration,
                 std::shared_ptr<const Array>, std::shared_ptr<const Map>>
        data_;
};

/// Format a double as the shortest text that reads back to the same value ("25.5", "200.0").
std::string format_float(double d);

/// Escape a string for a double-quoted literal.
std::string quote_string(std::string_view s);

}  // namespace varpulis::common
