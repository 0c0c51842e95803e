// SPDX-License-Identifier: Apache-2.0
// Bindings of the worker server: varpulis.Server runs `varpulis server` in-process, through the
// same assembly (cluster::WorkerNode) as the executable.
#include <pybind11/pybind11.h>

#include "errors.hpp"
#include "varpulis/cluster/worker_node.hpp"

namespace py = pybind11;

namespace varpulis::python {

namespace {

class PyServer {
  public:
    PyServer(int port, const std::string& api_key, const std::string& bind, const std::string& state_dir, int threads,
             const std::string& coordinator, const std::string& worker_id, const std::string& join_token,
             const std::string& file_root) {
        if (port < 0 || port > 65535) throw py::value_error("port must be from 0 to 65535");
        if (threads < 0) throw py::value_error("threads must be 0 or more");
        cluster::WorkerNodeOptions options;
        options.api.api_key = api_key;
        options.api.state_dir = state_dir;
        options.api.file_root = file_root;
        options.http.bind = bind;
        options.http.port = static_cast<uint16_t>(port);
        options.http.worker_threads = threads;
        options.coordinator_url = coordinator;
        options.worker_id = worker_id;
        options.join_token = join_token;
        common::Result<std::unique_ptr<cluster::WorkerNode>> started = common::Status(common::ErrorCode::Internal, "not started");
        {
            py::gil_scoped_release release;
            started = cluster::WorkerNode::start(std::move(options));
        }
        throw_if_error(started.status());
        node_ = std::move(*started);
    }

    ~PyServer() { stop(); }

    int port() const { return node_ ? node_->port() : 0; }
    std::string url() const { return node_ ? node_->url() : ""; }
    std::string worker_id() const { return node_ ? node_->worker_id() : ""; }

    void stop() {
        if (!node_) return;
        py::gil_scoped_release release;
        node_->stop(std::chrono::milliseconds(5000));
        node_.reset();
    }

  private:
    std::unique_ptr<cluster::WorkerNode> node_;
};

}  // namespace

void bind_server(py::module_& m) {
    py::class_<PyServer>(m, "Server")
        .def(py::init<int, const std::string&, const std::string&, const std::string&, int, const std::string&, const std::string&,
                      const std::string&, const std::string&>(),
             py::arg("port") = 0, py::arg("api_key") = "", py::arg("bind") = "127.0.0.1", py::arg("state_dir") = "",
             py::arg("threads") = 0, py::arg("coordinator") = "", py::arg("worker_id") = "", py::arg("join_token") = "",
             py::arg("file_root") = "")
        .def_property_readonly("port", &PyServer::port)
        .def_property_readonly("url", &PyServer::url)
        .def_property_readonly("worker_id", &PyServer::worker_id)
        .def("stop", &PyServer::stop);
}

}  // namespace varpulis::python
