// SPDX-License-Identifier: Apache-2.0
#include "errors.hpp"

#include <pybind11/pybind11.h>

namespace py = pybind11;

namespace varpulis::python {

namespace {

const char* exception_class(common::ErrorCode code) {
    switch (code) {
        case common::ErrorCode::Syntax: return "VplSyntaxError";
        case common::ErrorCode::Invalid: return "VplError";
        case common::ErrorCode::NotFound: return "NotFoundError";
        case common::ErrorCode::Io:
        case common::ErrorCode::Unavailable: return "VarpulisIOError";
        case common::ErrorCode::Runtime: return "EngineError";
        case common::ErrorCode::LimitExceeded: return "LimitExceededError";
        default: return "VarpulisError";
    }
}

[[noreturn]] void raise(const char* class_name, py::tuple args, py::dict kwargs) {
    py::object cls = py::module_::import("varpulis.errors").attr(class_name);
    py::object instance = cls(*args, **kwargs);
    PyErr_SetObject(cls.ptr(), instance.ptr());
    throw py::error_already_set();
}

}  // namespace

void throw_if_error(const common::Status& status) {
    if (status.is_ok()) return;
    py::dict kwargs;
    kwargs["code"] = common::error_code_name(status.code());
    if (status.span().known()) {
        kwargs["line"] = status.span().line;
        kwargs["column"] = status.span().column;
    }
    raise(exception_class(status.code()), py::make_tuple(status.message()), kwargs);
}

void throw_vpl_error(const vpl::Diagnostics& ds) {
    const vpl::Diagnostic* first = vpl::first_error(ds);
    if (!first) raise("VplError", py::make_tuple("invalid program"), py::dict());
    py::dict kwargs;
    kwargs["line"] = first->span.line;
    kwargs["column"] = first->span.column;
    kwargs["code"] = first->code;
    kwargs["hint"] = first->hint;
    raise(first->code == "E000" ? "VplSyntaxError" : "VplError", py::make_tuple(first->message), kwargs);
}

}  // namespace varpulis::python
