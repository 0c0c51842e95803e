// SPDX-License-Identifier: Apache-2.0
// Bindings of the coordinator: varpulis.Coordinator runs `varpulis coordinator` in-process.
#include <pybind11/pybind11.h>

#include "errors.hpp"
#include "varpulis/cluster/coordinator.hpp"

namespace py = pybind11;

namespace varpulis::python {

namespace {

class PyCoordinator {
  public:
    PyCoordinator(int port, const std::string& api_key, const std::string& bind, const std::string& join_token,
                  double heartbeat_interval, double heartbeat_timeout, const std::string& state_dir, int64_t busy_poll_us) {
        cluster::CoordinatorOptions options;
        options.api_key = api_key;
        options.join_token = join_token;
        options.heartbeat_interval = std::chrono::milliseconds(static_cast<int64_t>(heartbeat_interval * 1000));
        options.heartbeat_timeout = std::chrono::milliseconds(static_cast<int64_t>(heartbeat_timeout * 1000));
        options.state_dir = state_dir;
        options.busy_poll = std::chrono::microseconds(busy_poll_us);
        if (common::Status valid = options.validate(cluster::OptionSpelling::Keyword); !valid.is_ok()) {
            throw py::value_error(valid.message());
        }
        coordinator_ = std::make_unique<cluster::Coordinator>(options);
        common::Result<uint16_t> served = common::Status(common::ErrorCode::Internal, "not started");
        {
            py::gil_scoped_release release;
            served = coordinator_->serve(bind, static_cast<uint16_t>(port));
        }
        throw_if_error(served.status());
        port_ = *served;
        bind_ = bind;
    }
    ~PyCoordinator() { stop(); }

    int port() const { return port_; }
    std::string url() const { return "http://" + bind_ + ":" + std::to_string(port()); }

    void stop() {
        if (port_ == 0) return;
        py::gil_scoped_release release;
        coordinator_->stop();
        port_ = 0;
    }

  private:
    std::unique_ptr<cluster::Coordinator> coordinator_;
    int port_ = 0;
    std::string bind_;
};

}  // namespace

void bind_cluster(py::module_& m) {
    py::class_<PyCoordinator>(m, "Coordinator")
        .def(py::init<int, const std::string&, const std::string&, const std::string&, double, double, const std::string&, int64_t>(),
             py::arg("port") = 0, py::arg("api_key") = "", py::arg("bind") = "127.0.0.1", py::arg("join_token") = "",
             py::arg("heartbeat_interval") = 5.0, py::arg("heartbeat_timeout") = 15.0, py::arg("state_dir") = "",
             py::arg("busy_poll_us") = 0)
        .def_property_readonly("port", &PyCoordinator::port)
        .def_property_readonly("url", &PyCoordinator::url)
        .def("stop", &PyCoordinator::stop);
}

}  // namespace varpulis::python
