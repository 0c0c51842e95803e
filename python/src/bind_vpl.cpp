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
        "parse_json",
        [](const std::string& source) {
            vpl::ParseResult result;
            {
                py::gil_scoped_release release;
                result = vpl::check(source);
            }
            if (!result.ok()) throw_vpl_error(result.diagnostics);
            return vpl::to_json(*result.program).dump();
        },
        py::arg("source"), "Return the syntax tree of a valid VPL program as a JSON string.");
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
