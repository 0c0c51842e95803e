// SPDX-License-Identifier: Apache-2.0
// The _varpulis extension module. Each bind_*.cpp adds one area of the core.
#include <pybind11/pybind11.h>

#include <stdexcept>

#include "varpulis/common/version.hpp"
#include "varpulis/connectors/register.hpp"

namespace py = pybind11;

namespace varpulis::python {
void bind_vpl(py::module_& m);
void bind_engine(py::module_& m);
void bind_server(py::module_& m);
void bind_cluster(py::module_& m);
}  // namespace varpulis::python

PYBIND11_MODULE(_varpulis, m) {
    m.doc() = "Native core of Varpulis (use the varpulis package, not this module)";
    m.attr("__version__") = varpulis::common::kVersion;
    if (auto registered = varpulis::connectors::register_all(); !registered.is_ok()) {
        throw std::runtime_error(registered.message());  // a broken build: the import fails
    }
    varpulis::python::bind_vpl(m);
    varpulis::python::bind_engine(m);
    varpulis::python::bind_server(m);
    varpulis::python::bind_cluster(m);
}
