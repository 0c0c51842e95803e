// SPDX-License-Identifier: Apache-2.0
#include "convert.hpp"

namespace py = pybind11;

namespace varpulis::python {

using common::Value;

Value to_value(const py::handle& obj, int depth) {
    if (depth > 32) throw py::value_error("value nested deeper than 32 levels");
    if (obj.is_none()) return {};
    if (py::isinstance<py::bool_>(obj)) return Value(obj.cast<bool>());
    if (py::isinstance<py::int_>(obj)) {
        try {
            return Value(obj.cast<int64_t>());
        } catch (const py::cast_error&) {
            return Value(obj.cast<double>());  // beyond 64 bits
        }
    }
    if (py::isinstance<py::float_>(obj)) return Value(obj.cast<double>());
    if (py::isinstance<py::str>(obj)) return Value(obj.cast<std::string>());
    if (py::isinstance<py::list>(obj) || py::isinstance<py::tuple>(obj)) {
        common::Array out;
        for (auto item : obj) out.push_back(to_value(item, depth + 1));
        return Value(std::move(out));
    }
    if (py::isinstance<py::dict>(obj)) {
        common::Map out;
        for (auto [k, v] : obj.cast<py::dict>()) out.emplace_back(py::str(k).cast<std::string>(), to_value(v, depth + 1));
        return Value(std::move(out));
    }
    throw py::type_error("cannot use a " + std::string(py::str(obj.get_type().attr("__name__"))) + " as a VPL value");
}

py::object from_value(const Value& v) {
    switch (v.kind()) {
        case Value::Kind::Null: return py::none();
        case Value::Kind::Bool: return py::bool_(v.as_bool());
        case Value::Kind::Int: return py::int_(v.as_int());
        case Value::Kind::Float: return py::float_(v.as_float());
        case Value::Kind::Str: return py::str(v.as_string());
        case Value::Kind::Timestamp: return py::int_(v.as_timestamp().ns);
        case Value::Kind::Duration: return py::int_(v.as_duration().ns);
        case Value::Kind::Array: {
            py::list out;
            for (const auto& item : v.as_array()) out.append(from_value(item));
            return std::move(out);
        }
        case Value::Kind::Map: {
            py::dict out;
            for (const auto& [k, item] : v.as_map()) out[py::str(k)] = from_value(item);
            return std::move(out);
        }
    }
    return py::none();
}

engine::EventPtr to_event(const std::string& type, const py::handle& fields, int64_t timestamp) {
    if (type.empty()) throw py::value_error("event_type must be a non-empty string");
    auto e = std::make_shared<engine::Event>();
    e->type = engine::intern(type);
    e->timestamp = timestamp;
    if (!fields.is_none()) {
        if (!py::isinstance<py::dict>(fields)) throw py::type_error("fields must be a dict");
        for (auto [k, v] : fields.cast<py::dict>()) {
            e->fields.emplace_back(engine::intern(py::str(k).cast<std::string>()), to_value(v, 1));
        }
    }
    return e;
}

py::dict event_to_dict(const engine::Event& e) {
    py::dict out;
    out["event_type"] = e.type_name();
    for (const auto& [name, value] : e.fields) out[py::str(engine::symbol_name(name))] = from_value(value);
    return out;
}

}  // namespace varpulis::python
