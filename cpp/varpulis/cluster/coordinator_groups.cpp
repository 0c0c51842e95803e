// SPDX-License-Identifier: Apache-2.0
// The coordinator's pipeline groups: a deploy validated, planned, performed and rolled back when
// a worker refuses; teardown; the calls to workers; and the routing of injects.
#include <algorithm>

#include "varpulis/cluster/api/coordinator_views.hpp"
#include "varpulis/cluster/coordinator.hpp"
#include "varpulis/cluster/coordinator_internal.hpp"
#include "varpulis/cluster/groups/group_routes.hpp"
#include "varpulis/cluster/routing/inject_request.hpp"
#include "varpulis/common/log.hpp"
#include "varpulis/common/uuid.hpp"
#include "varpulis/server/body_fields.hpp"
#include "varpulis/vpl/frontend.hpp"

namespace varpulis::cluster {

namespace {

/// The 400 answer to a pipeline whose program does not check; none when it does.
std::optional<HttpResponse> source_error(const PipelineSpec& spec) {
    auto checked = vpl::check(spec.source);
    if (checked.ok()) return std::nullopt;
    return server::vpl_error_response(checked.diagnostics, spec.name);
}

/// Read the group's pipelines, each checked before the next is read: a bad program leaves
/// nothing deployed. False, with `error` set, at the first that is not right.
bool read_pipelines(const json& list, PipelineGroup& group, HttpResponse& error) {
    for (size_t i = 0; i < list.size(); ++i) {
        server::BodyFields fields(list[i], "pipelines[" + std::to_string(i) + "]");
        auto name = fields.string("name", true);
        auto source = fields.string("source", true);
        auto affinity = fields.string("worker_affinity");
        if (!fields.ok()) {
            error = fields.error();
            return false;
        }
        PipelineSpec spec{*name, *source, affinity.value_or("")};
        if (auto bad = source_error(spec)) {
            error = std::move(*bad);
            return false;
        }
        group.pipelines.push_back(std::move(spec));
    }
    return true;
}

/// One route of a deploy body; none, with `fields` failed, when a field has the wrong type.
std::optional<Route> read_route(server::BodyFields& fields) {
    auto from = fields.string("from_pipeline");
    auto to = fields.string("to_pipeline");
    // `mqtt_topic` is the first release's name of `topic`; it wins when a spec has both.
    auto legacy_topic = fields.string("mqtt_topic");
    auto topic = fields.string("topic");
    const json* types = fields.array("event_types");
    if (!fields.ok()) return std::nullopt;
    Route route{from.value_or("_external"), to.value_or(""), {}, legacy_topic ? *legacy_topic : topic.value_or("")};
    for (size_t i = 0; types && i < types->size(); ++i) {
        if (!(*types)[i].is_string()) {
            fields.fail("field \"" + fields.field_name("event_types") + "\" must be an array of strings");
            return std::nullopt;
        }
        route.event_types.push_back((*types)[i]);
    }
    return route;
}

/// Read and check the group's routes. False, with `error` set, at the first that is not right.
bool read_routes(const json& list, PipelineGroup& group, bool carried, HttpResponse& error) {
    for (size_t i = 0; i < list.size(); ++i) {
        server::BodyFields fields(list[i], "routes[" + std::to_string(i) + "]");
        auto route = read_route(fields);
        if (!route) {
            error = fields.error();
            return false;
        }
        if (common::Status checked = check_route(group, *route); !checked.is_ok()) {
            error = error_response(400, "invalid_request", checked.message());
            return false;
        }
        if (route->from_pipeline != "_external" && !carried) {
            log::warn("cluster", "group '" + group.name + "': the route from '" + route->from_pipeline + "' to '" + route->to_pipeline +
                                     "' carries nothing: start the coordinator with --mqtt-broker");
        }
        group.routes.push_back(std::move(*route));
    }
    return true;
}

/// Validate a deploy body into a group with a new id and no placements; null, with `error`
/// set, when it is not right. `carried`: routes between pipelines have a connector to travel on.
std::shared_ptr<PipelineGroup> read_group(const json& body, bool carried, HttpResponse& error) {
    server::BodyFields fields(body);
    auto name = fields.string("name", true);
    const json* pipelines = fields.array("pipelines", true);
    auto placement = fields.string("placement");
    auto rebalance = fields.boolean("rebalance");
    const json* routes = fields.array("routes");
    if (fields.ok() && pipelines->empty()) fields.fail("field \"pipelines\" must list at least one pipeline");
    if (!fields.ok()) {
        error = fields.error();
        return nullptr;
    }
    auto group = std::make_shared<PipelineGroup>();
    group->id = common::new_uuid();
    group->name = *name;
    group->placement = placement.value_or("round_robin");
    group->rebalance = rebalance.value_or(true);
    if (!read_pipelines(*pipelines, *group, error) || !read_routes(routes ? *routes : json::array(), *group, carried, error)) {
        return nullptr;
    }
    return group;
}

}  // namespace

HttpResponse Coordinator::deploy_group(const HttpRequest& req) {
    HttpResponse error;
    auto body = parse_json_body(req, error);
    if (!body) return error;
    auto group = read_group(*body, !options_.route_connector.empty(), error);
    if (!group) return error;
    if (auto unknown = unknown_affinity(*group)) return error_response(400, "unknown_worker_affinity", *unknown);
    auto planned = plan(group);
    if (!planned && planned.status().code() == common::ErrorCode::NotFound) {
        return error_response(503, "no_workers_available", planned.status().message());
    }
    if (!planned) return error_response(400, "invalid_request", planned.status().message());
    {
        // Its pipelines are on workers before the group is in the table: not orphans.
        std::lock_guard lock(mutex_);
        deploying_.insert(group->id);
    }
    json failures = perform(*planned);
    if (!failures.empty()) rollback(*planned);
    {
        std::lock_guard lock(mutex_);
        deploying_.erase(group->id);
        if (failures.empty()) groups_.add(group);
    }
    if (!failures.empty()) {
        return json_response(502, {{"error", "deploy failed; pipelines already placed were removed"}, {"code", "deploy_failed"},
                                   {"failures", failures}});
    }
    log::info("cluster", "pipeline group '" + group->name + "' deployed (" + std::to_string(planned->size()) + " pipelines)");
    if (common::Status saved = save(); !saved.is_ok()) return state_error(saved);
    std::lock_guard lock(mutex_);
    return json_response(201, group_json(*group));
}

std::optional<std::string> Coordinator::unknown_affinity(const PipelineGroup& group) const {
    std::lock_guard lock(mutex_);
    if (workers_.workers().empty()) return std::nullopt;  // no workers at all is the 503 of plan()
    for (const auto& p : group.pipelines) {
        if (p.worker_affinity.empty() || workers_.find(p.worker_affinity)) continue;
        std::string known;
        for (const WorkerInfo* w : workers_.in_order()) known += (known.empty() ? "" : ", ") + w->id;
        return "pipeline '" + p.name + "': worker_affinity '" + p.worker_affinity + "' names no worker this coordinator knows (workers: " +
               (known.empty() ? "none" : known) + ")";
    }
    return std::nullopt;
}

common::Result<std::vector<Coordinator::Deployment>> Coordinator::plan(const std::shared_ptr<PipelineGroup>& group) {
    VP_RETURN_NOT_OK(check_no_cycle(*group));
    // Placement under the lock; deploys (HTTP) without it.
    std::lock_guard lock(mutex_);
    VP_ASSIGN_OR_RETURN(const std::vector<std::string> chosen, planner_.plan_group(loads(), *group));
    std::vector<Deployment> deployments;
    for (size_t i = 0; i < chosen.size(); ++i) {
        const WorkerInfo& w = *workers_.find(chosen[i]);
        group->placements.push_back({group->pipelines[i].name, w.id, w.address, "", "pending", 1});
        deployments.push_back({group, i, group->pipelines[i], w, ""});
    }
    return deployments;
}

json Coordinator::perform(const std::vector<Deployment>& plan) {
    json failures = json::array();
    for (const auto& d : plan) {
        auto id = deploy_on(d.worker, *d.group, d.spec);
        if (id) {
            d.group->placements[d.index].pipeline_id = *id;
            d.group->placements[d.index].status = "running";
        } else {
            failures.push_back({{"pipeline", d.spec.name}, {"worker_id", d.worker.id}, {"error", id.status().message()}});
        }
    }
    return failures;
}

void Coordinator::rollback(const std::vector<Deployment>& plan) {
    for (const auto& d : plan) {
        const std::string& deployed = d.group->placements[d.index].pipeline_id;
        if (!deployed.empty()) remove_from(d.worker, deployed);
    }
}

HttpResponse Coordinator::list_groups() const {
    std::lock_guard lock(mutex_);
    json list = json::array();
    for (const auto& g : groups_.all()) list.push_back(group_json(*g));
    return json_response(200, {{"groups", list}, {"total", list.size()}});
}

HttpResponse Coordinator::get_group(const std::string& id) const {
    std::lock_guard lock(mutex_);
    if (const PipelineGroup* g = groups_.find(id)) return json_response(200, group_json(*g));
    return error_response(404, "group_not_found", "unknown pipeline group " + id);
}

HttpResponse Coordinator::teardown_group(const std::string& id) {
    std::shared_ptr<PipelineGroup> group;
    std::vector<std::pair<WorkerInfo, std::string>> removals;
    {
        std::lock_guard lock(mutex_);
        group = groups_.remove(id);
        if (!group) return error_response(404, "group_not_found", "unknown pipeline group " + id);
        for (const auto& p : group->placements) {
            const WorkerInfo* w = workers_.find(p.worker_id);
            if (w && !p.pipeline_id.empty()) removals.emplace_back(*w, p.pipeline_id);
        }
    }
    for (const auto& [w, pid] : removals) remove_from(w, pid);
    for (const auto& p : group->pipelines) checkpoints_.erase(group->id, p.name);
    log::info("cluster", "pipeline group '" + group->name + "' torn down");
    if (common::Status saved = save(); !saved.is_ok()) return state_error(saved);
    return json_response(200, {{"torn_down", true}});
}

common::Result<std::string> Coordinator::deploy_on(const WorkerInfo& w, const PipelineGroup& group, const PipelineSpec& spec,
                                                   const std::string* checkpoint) {
    json body = {{"name", spec.name}, {"source", spec.source}, {"group_id", group.id}};
    json routes = routes_for(group, spec.name, options_.route_connector);
    if (!routes["publish"].empty() || !routes["subscribe"].empty()) body["routes"] = std::move(routes);
    std::string text = body.dump();
    if (checkpoint) {
        // The checkpoint's text goes in as it was kept, not parsed again.
        text.pop_back();
        text += ",\"checkpoint\":" + *checkpoint + "}";
    }
    auto r = client_.request("POST", w.address + "/api/v1/pipelines", text, {{"x-api-key", w.api_key}});
    if (!r) return r.status();
    if (r->status != 201) {
        std::string message = r->body;
        try {
            message = json::parse(r->body).value("error", r->body);
        } catch (...) {
        }
        return common::Status(common::ErrorCode::Invalid, "worker " + w.id + " answered " + std::to_string(r->status) + ": " + message);
    }
    try {
        return json::parse(r->body).at("id").get<std::string>();
    } catch (...) {
        return common::Status(common::ErrorCode::Invalid, "worker " + w.id + " sent an unreadable deploy answer");
    }
}

void Coordinator::remove_from(const WorkerInfo& w, const std::string& pipeline_id) {
    (void)client_.request("DELETE", w.address + "/api/v1/pipelines/" + pipeline_id, {}, {{"x-api-key", w.api_key}});
}

std::optional<std::vector<Coordinator::Running>> Coordinator::running_on(const WorkerInfo& w) {
    auto r = client_.request("GET", w.address + "/api/v1/pipelines?limit=1000", {}, {{"x-api-key", w.api_key}});
    if (!r || r->status != 200) return std::nullopt;
    std::vector<Running> running;
    try {
        // Named: a range-for over a member of a temporary would read the temporary after its end.
        const json listed = json::parse(r->body);
        for (const auto& p : listed.at("pipelines")) running.push_back({p.at("id"), p.value("group_id", std::string())});
    } catch (...) {
        return std::nullopt;
    }
    return running;
}

std::optional<InjectTarget> Coordinator::inject_target(const PipelineGroup& group, std::string_view type) const {
    const Placement* p = type.empty() ? nullptr : inject_placement(group, type);
    const WorkerInfo* w = p ? workers_.find(p->worker_id) : nullptr;
    if (!w || p->pipeline_id.empty()) return std::nullopt;
    return InjectTarget{p->pipeline_name, p->worker_id, w->address, w->api_key, p->pipeline_id, group.id, p->status == "moving"};
}

std::optional<HttpResponse> Coordinator::inject(const HttpRequest& req, const std::string& group_id, bool batch,
                                                const server::HttpResponder& respond) {
    // Only the event types are read here: bodies go to the workers as they came.
    HttpResponse error;
    auto parsed = parse_inject(req.body, batch, error);
    if (!parsed) return error;
    ++injects_;
    std::vector<std::optional<InjectTarget>> targets;
    std::shared_ptr<InjectForwarder> forwarder;
    {
        std::lock_guard lock(mutex_);
        forwarder = forwarder_;
        const PipelineGroup* group = groups_.find(group_id);
        if (!group) return error_response(404, "group_not_found", "unknown pipeline group " + group_id);
        for (auto t : parsed->types) targets.push_back(inject_target(*group, t));
    }
    if (!forwarder) return error_response(503, "not_serving", "the coordinator is starting or stopping");
    if (batch) {
        forwarder->forward_batch(req.body, *parsed, targets, respond);
    } else if (targets[0]) {
        forwarder->forward_event(std::move(*targets[0]), req.body, respond);
    } else {
        return error_response(503, "pipeline_unavailable", "no running pipeline for " + std::string(parsed->types[0]));
    }
    return std::nullopt;
}

}  // namespace varpulis::cluster
