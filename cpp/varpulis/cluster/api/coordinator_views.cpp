// SPDX-License-Identifier: Apache-2.0
#include "varpulis/cluster/api/coordinator_views.hpp"

#include <map>

#include "varpulis/cluster/groups/group_routes.hpp"
#include "varpulis/server/json_http.hpp"
#include "varpulis/server/prometheus_text.hpp"

namespace varpulis::cluster {

using json = nlohmann::ordered_json;

json worker_json(const WorkerInfo& w, const GroupTable& groups) {
    json pipelines = json::array();
    for (const auto& g : groups.all()) {
        for (const auto& p : g->placements) {
            if (p.worker_id == w.id) pipelines.push_back(p.pipeline_name);
        }
    }
    WorkerStatus status = w.status == WorkerStatus::Ready && pipelines.size() >= w.max_pipelines ? WorkerStatus::Busy : w.status;
    json out = {{"id", w.id}, {"address", w.address}, {"status", worker_status_name(status)},
                {"pipelines_running", pipelines.size()}, {"max_pipelines", w.max_pipelines},
                {"assigned_pipelines", pipelines}, {"events_processed", w.events_processed}};
    // Only workers whose pipelines hold broker connections say so; others keep the tutorial's shape.
    if (w.connectors.total > 0) out["connectors"] = server::connector_totals_json(w.connectors);
    return out;
}

json group_json(const PipelineGroup& g) {
    json placements = json::array();
    size_t running = 0;
    for (const auto& p : g.placements) {
        running += p.status == "running";
        placements.push_back({{"pipeline_name", p.pipeline_name}, {"worker_id", p.worker_id}, {"worker_address", p.worker_address},
                              {"pipeline_id", p.pipeline_id}, {"status", p.status}, {"epoch", p.epoch}});
    }
    std::string status = running == g.pipelines.size() ? "running" : running == 0 ? "failed" : "partially_running";
    return {{"id", g.id}, {"name", g.name}, {"status", status}, {"pipeline_count", g.pipelines.size()}, {"placements", placements}};
}

namespace {

json route_json(const PipelineGroup& g, const Route& r, const RouteConnector& connector) {
    json route = {{"from_pipeline", r.from_pipeline}, {"to_pipeline", r.to_pipeline}, {"event_types", r.event_types}};
    // Named mqtt_topic whatever the connector: the topology's shape of the first release.
    if (!r.topic.empty()) route["mqtt_topic"] = r.topic;
    if (r.from_pipeline != "_external" && !connector.empty()) {
        route["mqtt_topic"] = route_topic(g, r);
        route["transport"] = connector.transport;
    }
    return route;
}

}  // namespace

json topology_json(const GroupTable& groups, const RouteConnector& connector) {
    json out = json::array();
    for (const auto& g : groups.all()) {
        json pipelines = json::array(), routes = json::array();
        for (const auto& p : g->placements) {
            pipelines.push_back({{"name", p.pipeline_name}, {"worker_id", p.worker_id}, {"worker_address", p.worker_address}});
        }
        for (const auto& r : g->routes) routes.push_back(route_json(*g, r, connector));
        out.push_back({{"group_id", g->id}, {"group_name", g->name}, {"pipelines", pipelines}, {"routes", routes}});
    }
    return {{"groups", out}};
}

std::string prometheus_text(const WorkerTable& workers, const GroupTable& groups, const CoordinatorCounters& counters) {
    server::PrometheusText out;
    auto metric = [&](const std::string& name, const std::string& type, const std::string& help, const std::string& value) {
        out.family(name, type, help);
        out.sample(name, "", value);
    };
    std::map<std::string, size_t> by_status = {{"registering", 0}, {"ready", 0}, {"busy", 0}, {"unhealthy", 0}, {"draining", 0}};
    for (const auto& [id, w] : workers.workers()) ++by_status[worker_status_name(w.status)];
    out.family("varpulis_cluster_workers", "gauge", "Workers known to the coordinator, by status.");
    for (const auto& [status, n] : by_status) out.sample("varpulis_cluster_workers", "status=\"" + status + "\"", std::to_string(n));
    metric("varpulis_cluster_pipeline_groups", "gauge", "Pipeline groups deployed.", std::to_string(groups.all().size()));
    metric("varpulis_cluster_placements", "gauge", "Pipelines placed on workers.", std::to_string(groups.placements()));
    metric("varpulis_cluster_injects_total", "counter", "Inject requests routed.", std::to_string(counters.injects));
    metric("varpulis_cluster_heartbeats_total", "counter", "Heartbeats accepted.", std::to_string(counters.heartbeats));
    metric("varpulis_cluster_failovers_total", "counter", "Pipelines placed again after their worker failed or drained.",
           std::to_string(counters.failovers));
    metric("varpulis_cluster_workers_found_gone_total", "counter",
           "Workers marked unhealthy at once: a connection refused, then their /health did not answer.",
           std::to_string(counters.workers_found_gone));
    metric("varpulis_cluster_injects_held_total", "counter", "Forwards a worker refused, held until their pipeline moved.",
           std::to_string(counters.injects_held));
    metric("varpulis_cluster_injects_rerouted_total", "counter", "Held forwards sent again where their pipeline moved.",
           std::to_string(counters.injects_rerouted));
    metric("varpulis_cluster_injects_given_up_total", "counter", "Held forwards answered 502: their pipeline did not move in time.",
           std::to_string(counters.injects_given_up));
    metric("varpulis_cluster_pipeline_moves_total", "counter", "Pipelines moved off a live worker with their state (drain, return to affinity).",
           std::to_string(counters.moves));
    metric("varpulis_cluster_checkpoints_total", "counter", "Pipeline checkpoints taken and kept by the coordinator.",
           std::to_string(counters.checkpoints_taken));
    metric("varpulis_cluster_checkpoint_failures_total", "counter", "Checkpoints that could not be taken, kept or restored.",
           std::to_string(counters.checkpoint_failures));
    metric("varpulis_cluster_checkpoint_restores_total", "counter", "Failed-over pipelines started from their last checkpoint.",
           std::to_string(counters.restores));
    metric("varpulis_cluster_orphans_removed_total", "counter", "Pipelines on workers that no placement named, removed after the grace.",
           std::to_string(counters.orphans_removed));
    metric("varpulis_uptime_seconds", "gauge", "Seconds since the coordinator started.", std::to_string(counters.uptime_seconds));
    return out.take();
}

}  // namespace varpulis::cluster
