// SPDX-License-Identifier: Apache-2.0
// Bindings of the VPL front end: check, parse, format.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "errors.hpp"
#include "varpulis/vpl/ast_json.hpp"
#include "varpulis/vpl/frontend.hpp"

namespace py = pybind11;

namespace varpulis::python {

namespace {

/// A JSON document as Python objects, built here rather than by json.loads: a syntax tree the
/// depth budget allows (2,000 levels, twice as deep in JSON) is past Python's recursion limit.
py::object json_to_python(const nlohmann::json& j) {
    switch (j.type()) {
        case nlohmann::json::value_t::null: return py::none();
        case nlohmann::json::value_t::boolean: return py::bool_(j.get<bool>());
        case nlohmann::json::value_t::number_integer: return py::int_(j.get<int64_t>());
        case nlohmann::json::value_t::number_unsigned: return py::int_(j.get<uint64_t>());
        case nlohmann::json::value_t::number_float: return py::float_(j.get<double>());
        case nlohmann::json::value_t::string: return py::str(j.get_ref<const std::string&>());
        case nlohmann::json::value_t::array: {
            py::list out;
            for (const auto& item : j) out.append(json_to_python(item));
            return out;
        }
        case nlohmann::json::value_t::object: {
            py::dict out;
            for (const auto& [key, item] : j.items()) out[py::str(key)] = json_to_python(item);
            return out;
        }
        default: return py::none();  // binary and discarded values: not in a syntax tree
    }
}

py::list diagnostics_to_python(const vpl::Diagnostics& ds) {
    py::list out;
    for (const auto& d : ds) {
        out.append(py::make_tuple(vpl::severity_name(d.severity), d.code, d.span.line, d.span.column, d.message, d.hint));
    }
    return out;
}

}  // namespace

void bind_vpl(py::module_& m) {
    m.def(
        "check",
        [](const std::string& source) {
            vpl::ParseResult result;
            {
                py::gil_scoped_release release;
                result = vpl::check(source);
            }
            return diagnostics_to_python(result.diagnostics);
        },
        py::arg("source"),
        "Return the diagnostics of a VPL program as (severity, code, line, column, message, hint) tuples.");
    m.def(
        "parse_tree",
        [](const std::string& source) {
            vpl::ParseResult result;
            {
                py::gil_scoped_release release;
                result = vpl::check(source);
            }
            if (!result.ok()) throw_vpl_error(result.diagnostics);
            return json_to_python(vpl::to_json(*result.program));
        },
        py::arg("source"), "Return the syntax tree of a valid VPL program as dicts and lists.");
    m.def(
        "format_diagnostic",
        [](const std::string& source, const std::string& severity, const std::string& code, uint32_t line,
           uint32_t column, const std::string& message, const std::string& hint) {
            vpl::Diagnostic d{severity == "warning" ? vpl::Severity::Warning : vpl::Severity::Error, code, message, hint,
                              {line, column, line, column}};
            return vpl::format_diagnostic(d, source);
        },
        "Format one diagnostic with the source line and a caret, as `varpulis check` prints it.");
}

}  // namespace varpulis::python
