// SPDX-License-Identifier: Apache-2.0
#include "varpulis/cluster/worker_node.hpp"

#include <fstream>

#include "varpulis/common/log.hpp"
#include "varpulis/common/uuid.hpp"

namespace varpulis::cluster {

using common::ErrorCode;
using common::Result;
using common::Status;

Result<std::unique_ptr<WorkerNode>> WorkerNode::start(WorkerNodeOptions options) {
    std::unique_ptr<WorkerNode> node(new WorkerNode());
    node->options_ = std::move(options);
    node->api_ = std::make_unique<server::WorkerApi>(node->options_.api);
    for (const auto& message : node->api_->restore()) log::warn("server", message);
    server::HttpServerOptions http = node->options_.http;
    node->api_->wire(http);
    server::WorkerApi* api = node->api_.get();
    VP_ASSIGN_OR_RETURN(node->http_, server::HttpServer::start(http, [api](const server::HttpRequest& req, server::HttpResponder respond) {
                            api->handle(req, respond);
                        }));
    if (node->options_.metrics_port) VP_RETURN_NOT_OK(node->start_metrics(*node->options_.metrics_port));
    if (!node->options_.coordinator_url.empty()) VP_RETURN_NOT_OK(node->start_agent());
    node->api_->set_ready(true);
    return node;
}

WorkerNode::~WorkerNode() { stop(); }

std::string WorkerNode::url() const {
    return std::string(tls() ? "https" : "http") + "://" + options_.http.bind + ":" + std::to_string(port());
}

std::optional<uint16_t> WorkerNode::metrics_port() const {
    if (!metrics_) return std::nullopt;
    return metrics_->port();
}

Status WorkerNode::start_metrics(uint16_t port) {
    server::HttpServerOptions m;
    m.bind = options_.http.bind;
    m.port = port;
    m.worker_threads = 1;
    server::WorkerApi* api = api_.get();
    // Whatever the path, this listener answers the metrics: it is a scrape target only.
    auto started = server::HttpServer::start(m, [api](const server::HttpRequest&, server::HttpResponder respond) {
        server::HttpRequest req;
        req.method = "GET";
        req.path = "/metrics";
        respond(api->handle(req));
    });
    if (!started) return started.status().with_context("metrics listener");
    metrics_ = std::move(*started);
    return Status::ok();
}

Status WorkerNode::start_agent() {
    WorkerAgentOptions a;
    a.coordinator_url = options_.coordinator_url;
    while (!a.coordinator_url.empty() && a.coordinator_url.back() == '/') a.coordinator_url.pop_back();
    a.worker_id = options_.worker_id.empty() ? common::new_uuid() : options_.worker_id;
    // An IPv6 bind address is bracketed in the URL ("http://[::1]:9000").
    const std::string& bind = options_.http.bind;
    std::string host = bind.find(':') != std::string::npos ? "[" + bind + "]" : bind;
    a.advertise_address = !options_.advertise_address.empty()
                              ? options_.advertise_address
                              : std::string(tls() ? "https" : "http") + "://" + host + ":" + std::to_string(port());
    a.api_key = options_.api.api_key;
    a.join_token = options_.join_token;
    a.instance_secret = api_->instance_secret();
    a.tls_ca_file = options_.tls_ca_file;
    if (!a.tls_ca_file.empty() && !std::ifstream(a.tls_ca_file)) {
        return Status(ErrorCode::Io, "cannot read the CA certificates " + a.tls_ca_file + " (--tls-ca)");
    }
    worker_id_ = a.worker_id;
    server::WorkerApi* api = api_.get();
    agent_ = std::make_unique<WorkerAgent>(a, [api] {
        return WorkerLoad{api->events_processed(), api->registry().size(), api->connector_summary()};
    });
    api_->set_ready_check([agent = agent_.get()] { return agent->registered(); });
    agent_->start();
    return Status::ok();
}

void WorkerNode::stop(std::chrono::milliseconds grace) {
    if (stopped_ || !api_) return;
    stopped_ = true;
    if (agent_) {
        api_->set_ready(false);  // out of a load balancer's rotation while the pipelines move
        agent_->stop();
        agent_->drain(options_.drain_timeout);
    }
    if (metrics_) metrics_->stop(std::chrono::milliseconds(1000));
    if (http_) http_->stop(grace);
    drain_pipelines();
}

void WorkerNode::drain_pipelines() {
    for (const auto& p : api_->registry().list()) {
        std::vector<engine::EventPtr> outputs;
        p->disconnect();                    // sources stop delivering before the final flush
        (void)p->runtime()->flush(outputs);  // close windows, flush sinks (errors are counted)
        p->close_subscribers();
    }
}

}  // namespace varpulis::cluster
