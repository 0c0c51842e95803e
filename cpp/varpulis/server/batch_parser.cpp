// SPDX-License-Identifier: Apache-2.0
// Batch bodies are the largest JSON the worker reads (up to 16 MiB): parsed with simdjson, at
// several hundred MB/s, straight into events.
#include "varpulis/server/batch_parser.hpp"

#include <algorithm>
#include <array>

#include <simdjson.h>

#include "varpulis/common/string_hash.hpp"

namespace varpulis::server {

using common::ErrorCode;
using common::Result;
using common::Status;
using engine::Value;
namespace dom = simdjson::dom;

namespace {

/// Converts one event object; fills `error`/`code` instead of throwing.
class EventReader {
  public:
    explicit EventReader(const engine::EventLimits& limits) : limits_(limits) {}

    engine::EventPtr read(dom::element item, int64_t default_ts, std::string& error, std::string& code) {
        dom::object obj;
        if (item.get(obj) != simdjson::SUCCESS) {
            error = "an event is a JSON object {\"event_type\": ..., \"fields\": {...}}";
            code = "invalid_event";
            return nullptr;
        }
        auto e = std::make_shared<engine::Event>();
        e->timestamp = default_ts;
        bool has_type = false;
        for (auto [key, value] : obj) {
            if (key == "event_type") {
                std::string_view type;
                if (value.get(type) != simdjson::SUCCESS || type.empty()) {
                    has_type = false;
                    break;
                }
                e->type = symbol(type);
                has_type = true;
            } else if (key == "timestamp") {
                int64_t ts = 0;
                if (value.get(ts) != simdjson::SUCCESS) {
                    error = "\"timestamp\" must be integer nanoseconds since the epoch";
                    code = "invalid_event";
                    return nullptr;
                }
                e->timestamp = ts;
            } else if (key == "fields") {
                dom::object fields;
                if (value.get(fields) != simdjson::SUCCESS) {
                    error = "\"fields\" must be a JSON object";
                    code = "invalid_event";
                    return nullptr;
                }
                e->fields.reserve(std::min<size_t>(fields.size(), limits_.max_fields));
                for (auto [name, v] : fields) {
                    if (e->fields.size() >= limits_.max_fields) {
                        error = "event has more than " + std::to_string(limits_.max_fields) + " fields";
                        code = "limit_exceeded";
                        return nullptr;
                    }
                    auto converted = convert(v, 1);
                    if (!converted) {
                        error = "field '" + std::string(name) + "': " + converted.status().message();
                        code = "limit_exceeded";
                        return nullptr;
                    }
                    add_field(*e, field_symbol(name, e->fields.size()), std::move(*converted));
                }
            }
        }
        if (!has_type) {
            error = "\"event_type\" must be a non-empty string";
            code = "invalid_event";
            return nullptr;
        }
        if (has_unknown_name(*e)) {
            error = engine::event_names_full_message();
            code = "limit_exceeded";
            return nullptr;
        }
        return e;
    }

  private:
    /// True when intern_event_name refused one of the event's names.
    static bool has_unknown_name(const engine::Event& e) {
        if (e.type == engine::kNoSymbol) return true;
        for (const auto& field : e.fields) {
            if (field.first == engine::kNoSymbol) return true;
        }
        return false;
    }

    /// A name given twice keeps its last value, as JSON libraries read such objects.
    static void add_field(engine::Event& e, engine::Symbol name, Value value) {
        for (auto& [existing, old] : e.fields) {
            if (existing == name) {
                old = std::move(value);
                return;
            }
        }
        e.fields.emplace_back(name, std::move(value));
    }

    Result<Value> convert(dom::element v, size_t depth) {
        if (depth > limits_.max_depth) {
            return Status(ErrorCode::LimitExceeded, "value nested deeper than " + std::to_string(limits_.max_depth) + " levels");
        }
        switch (v.type()) {
            case dom::element_type::NULL_VALUE: return Value();
            case dom::element_type::BOOL: return Value(bool(v.get_bool()));
            case dom::element_type::INT64: return Value(int64_t(v.get_int64()));
            case dom::element_type::UINT64: return Value(static_cast<double>(uint64_t(v.get_uint64())));
            case dom::element_type::DOUBLE: return Value(double(v.get_double()));
            case dom::element_type::STRING: {
                std::string_view s = v.get_string();
                if (s.size() > limits_.max_string_bytes) {
                    return Status(ErrorCode::LimitExceeded, "string of " + std::to_string(s.size()) + " bytes exceeds the limit of " +
                                                                std::to_string(limits_.max_string_bytes));
                }
                return Value(std::string(s));
            }
            case dom::element_type::ARRAY: {
                common::Array out;
                for (dom::element item : dom::array(v.get_array())) {
                    VP_ASSIGN_OR_RETURN(auto x, convert(item, depth + 1));
                    out.push_back(std::move(x));
                }
                return Value(std::move(out));
            }
            case dom::element_type::OBJECT: {
                common::Map out;
                for (auto [k, item] : dom::object(v.get_object())) {
                    VP_ASSIGN_OR_RETURN(auto x, convert(item, depth + 1));
                    out.emplace_back(std::string(k), std::move(x));
                }
                return Value(std::move(out));
            }
        }
        return Value();
    }

    engine::Symbol symbol(std::string_view name) {
        auto it = symbols_.find(name);
        if (it != symbols_.end()) return it->second;
        engine::Symbol s = engine::intern_event_name(name);
        if (s == engine::kNoSymbol) return s;  // read() refuses the event
        symbols_.emplace(std::string(name), s);
        return s;
    }

    /// Events of a batch usually repeat their field names in the same order: the name at each
    /// position is compared with the previous event's before it is hashed.
    engine::Symbol field_symbol(std::string_view name, size_t position) {
        if (position >= recent_.size()) return symbol(name);
        RecentName& recent = recent_[position];
        if (!recent.set || recent.name != name) {
            recent.name.assign(name);
            recent.symbol = symbol(name);
            recent.set = true;
        }
        return recent.symbol;
    }

    struct RecentName {
        std::string name;
        engine::Symbol symbol{};
        bool set = false;
    };

    const engine::EventLimits& limits_;
    common::StringMap<engine::Symbol> symbols_;
    std::array<RecentName, 16> recent_{};
};

dom::parser& thread_parser() {
    thread_local dom::parser parser;  // keeps its buffers between requests
    return parser;
}

/// A UTF-8 byte order mark before the JSON is allowed (RFC 8259 lets parsers ignore it).
std::string_view without_bom(std::string_view body) {
    return body.starts_with("\xEF\xBB\xBF") ? body.substr(3) : body;
}

}  // namespace

Result<ParsedEvent> parse_event_body(std::string_view body, int64_t default_ts, const engine::EventLimits& limits, std::string& code) {
    body = without_bom(body);
    dom::element doc;
    if (auto err = thread_parser().parse(body.data(), body.size()).get(doc); err) {
        code = "invalid_json";
        return Status(ErrorCode::Invalid, std::string("malformed JSON: ") + simdjson::error_message(err));
    }
    ParsedEvent out;
    std::string error;
    EventReader reader(limits);
    out.event = reader.read(doc, default_ts, error, code);
    if (!out.event) return Status(code == "limit_exceeded" ? ErrorCode::LimitExceeded : ErrorCode::Invalid, error);
    dom::element cap;
    if (doc.type() == dom::element_type::OBJECT && doc["max_output_events"].get(cap) == simdjson::SUCCESS) {
        uint64_t n = 0;
        if (cap.get(n) == simdjson::SUCCESS) {
            out.max_output_events = n;
        } else {
            out.max_output_events_invalid = true;
        }
    }
    return out;
}

Result<ParsedBatch> parse_batch(std::string_view body, int64_t default_ts, const engine::EventLimits& limits) {
    dom::parser& parser = thread_parser();
    body = without_bom(body);
    dom::element doc;
    if (auto err = parser.parse(body.data(), body.size()).get(doc); err) {
        return Status(ErrorCode::Invalid, std::string("malformed JSON: ") + simdjson::error_message(err));
    }
    dom::array events;
    if (doc["events"].get(events) != simdjson::SUCCESS) {
        return Status(ErrorCode::NotFound, "a batch is {\"events\": [{\"event_type\": ..., \"fields\": {...}}, ...]}");
    }
    ParsedBatch out;
    EventReader reader(limits);
    out.events.reserve(events.size());
    for (dom::element item : events) {
        std::string error, code;
        engine::EventPtr e = reader.read(item, default_ts, error, code);
        if (e) {
            out.events.push_back(std::move(e));
            out.positions.push_back(out.total);
        } else {
            out.errors.push_back({out.total, error, code});
        }
        ++out.total;
    }
    return out;
}

}  // namespace varpulis::server
