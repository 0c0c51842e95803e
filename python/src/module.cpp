// SPDX-License-Identifier: Apache-2.0
// The _varpulis extension module. Each bind_*.cpp adds one area of the core.
#include <pybind11/pybind11.h>

#include "varpulis/common/version.hpp"
#include "varpulis/connectors/mqtt.hpp"

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
    varpulis::connectors::register_connectors();
    varpulis::python::bind_vpl(m);
    varpulis::python::bind_engine(m);
    varpulis::python::bind_server(m);
    varpulis::python::bind_cluster(m);
}
