// SPDX-License-Identifier: Apache-2.0
// Bindings of the worker server: varpulis.Server runs `varpulis server` in-process.
#include <pybind11/pybind11.h>

#include "errors.hpp"
#include "varpulis/server/worker_api.hpp"

namespace py = pybind11;

namespace varpulis::python {

namespace {

class PyServer {
  public:
    PyServer(int port, const std::string& api_key, const std::string& bind, const std::string& state_dir, int threads) {
        server::WorkerApiOptions options;
        options.api_key = api_key;
        options.state_dir = state_dir;
        api_ = std::make_unique<server::WorkerApi>(options);
        api_->restore();
        server::HttpServerOptions http;
        http.bind = bind;
        http.port = static_cast<uint16_t>(port);
        http.worker_threads = threads;
        auto* api = api_.get();
        api->wire(http);
        common::Result<std::unique_ptr<server::HttpServer>> started = common::Status(common::ErrorCode::Internal, "not started");
        {
            py::gil_scoped_release release;
            started = server::HttpServer::start(http, [api](const server::HttpRequest& req, server::HttpResponder respond) {
                api->handle(req, respond);
            });
        }
        throw_if_error(started.status());
        http_ = std::move(*started);
        api_->set_ready(true);
        bind_ = bind;
    }

    ~PyServer() { stop(); }

    int port() const { return http_ ? http_->port() : 0; }
    std::string url() const { return std::string(http_ && http_->tls() ? "https" : "http") + "://" + bind_ + ":" + std::to_string(port()); }

    void stop() {
        if (!http_) return;
        py::gil_scoped_release release;
        http_->stop(std::chrono::milliseconds(5000));
        for (const auto& p : api_->registry().list()) p->close_subscribers();
        http_.reset();
    }

  private:
    std::unique_ptr<server::WorkerApi> api_;
    std::unique_ptr<server::HttpServer> http_;
    std::string bind_;
};

}  // namespace

void bind_server(py::module_& m) {
    py::class_<PyServer>(m, "Server")
        .def(py::init<int, const std::string&, const std::string&, const std::string&, int>(), py::arg("port") = 0,
             py::arg("api_key") = "", py::arg("bind") = "127.0.0.1", py::arg("state_dir") = "", py::arg("threads") = 0)
        .def_property_readonly("port", &PyServer::port)
        .def_property_readonly("url", &PyServer::url)
        .def("stop", &PyServer::stop);
}

}  // namespace varpulis::python
