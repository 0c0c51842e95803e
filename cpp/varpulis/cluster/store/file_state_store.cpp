// SPDX-License-Identifier: Apache-2.0
#include "varpulis/cluster/store/file_state_store.hpp"

#include <filesystem>

#include <nlohmann/json.hpp>

#include "varpulis/common/atomic_file.hpp"
#include "varpulis/common/time.hpp"

namespace varpulis::cluster {

using json = nlohmann::ordered_json;

namespace {

json group_json(const PipelineGroup& g) {
    json pipelines = json::array(), routes = json::array(), placements = json::array();
    for (const auto& p : g.pipelines) pipelines.push_back({{"name", p.name}, {"source", p.source}, {"worker_affinity", p.worker_affinity}});
    for (const auto& r : g.routes) {
        routes.push_back({{"from_pipeline", r.from_pipeline}, {"to_pipeline", r.to_pipeline}, {"event_types", r.event_types},
                          {"mqtt_topic", r.topic}});
    }
    for (const auto& p : g.placements) {
        placements.push_back({{"pipeline_name", p.pipeline_name}, {"worker_id", p.worker_id}, {"worker_address", p.worker_address},
                              {"pipeline_id", p.pipeline_id}, {"status", p.status}, {"epoch", p.epoch}});
    }
    return {{"id", g.id}, {"name", g.name}, {"placement", g.placement}, {"rebalance", g.rebalance}, {"pipelines", pipelines}, {"routes", routes},
            {"placements", placements}};
}

/// The file's shape (version 1), which earlier releases wrote and read.
json snapshot_json(const CoordinatorSnapshot& s) {
    json doc = {{"version", 1}, {"workers", json::array()}, {"groups", json::array()}, {"tombstones", json::object()},
                {"stale", json::array()}, {"next_order", s.membership.next_order}, {"round_robin", s.round_robin}};
    for (const auto& w : s.membership.workers) {
        doc["workers"].push_back({{"id", w.id}, {"address", w.address}, {"api_key", w.api_key}, {"max_pipelines", w.max_pipelines},
                                  {"order", w.order}});
    }
    for (const auto& g : s.groups.groups) doc["groups"].push_back(group_json(g));
    for (const auto& [id, why] : s.membership.tombstones) doc["tombstones"][id] = why;
    for (const auto& c : s.groups.stale) doc["stale"].push_back({{"worker_id", c.worker_id}, {"pipeline_id", c.pipeline_id}});
    return doc;
}

WorkerInfo worker_of(const json& w) {
    WorkerInfo info;
    info.id = w.at("id");
    info.address = w.at("address");
    info.api_key = w.value("api_key", std::string());
    info.max_pipelines = w.value("max_pipelines", size_t{100});
    info.order = w.value("order", uint64_t{0});
    return info;
}

PipelineGroup group_of(const json& g) {
    PipelineGroup group;
    group.id = g.at("id");
    group.name = g.at("name");
    group.placement = g.value("placement", std::string("round_robin"));
    group.rebalance = g.value("rebalance", true);
    for (const auto& p : g.at("pipelines")) group.pipelines.push_back({p.at("name"), p.at("source"), p.value("worker_affinity", std::string())});
    for (const auto& r : g.at("routes")) {
        group.routes.push_back({r.at("from_pipeline"), r.at("to_pipeline"), r.at("event_types").get<std::vector<std::string>>(),
                                r.value("mqtt_topic", std::string())});
    }
    for (const auto& p : g.at("placements")) {
        group.placements.push_back({p.at("pipeline_name"), p.at("worker_id"), p.at("worker_address"), p.at("pipeline_id"),
                                    p.value("status", std::string("running")), p.value("epoch", uint64_t{1})});
    }
    return group;
}

/// Read a parsed file; throws (nlohmann) on an entry of the wrong shape.
CoordinatorSnapshot snapshot_of(const json& doc) {
    CoordinatorSnapshot s;
    for (const auto& w : doc.value("workers", json::array())) s.membership.workers.push_back(worker_of(w));
    for (const auto& g : doc.value("groups", json::array())) s.groups.groups.push_back(group_of(g));
    const json tombstones = doc.value("tombstones", json::object());  // a named copy: items() must not outlive it
    for (const auto& [id, why] : tombstones.items()) s.membership.tombstones[id] = why.get<std::string>();
    for (const auto& c : doc.value("stale", json::array())) s.groups.stale.push_back({c.at("worker_id"), c.at("pipeline_id")});
    s.membership.next_order = doc.value("next_order", uint64_t{0});
    s.round_robin = doc.value("round_robin", uint64_t{0});
    return s;
}

}  // namespace

FileStateStore::FileStateStore(const std::string& dir) : path_((std::filesystem::path(dir) / "coordinator.json").string()) {}

common::Result<CoordinatorSnapshot> FileStateStore::load() {
    common::remove_interrupted_writes(path_);
    auto text = common::read_file(path_);
    if (!text) {
        if (text.status().code() == common::ErrorCode::NotFound) return CoordinatorSnapshot{};
        return text.status();
    }
    json doc = json::parse(*text, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) {
        const std::string aside = path_ + ".corrupt-" + std::to_string(common::wall_clock_ms());
        std::error_code ec;
        std::filesystem::rename(path_, aside, ec);
        return common::Status(common::ErrorCode::Invalid, "state file " + path_ + " is corrupt; moved it to " + aside);
    }
    try {
        return snapshot_of(doc);
    } catch (const std::exception& e) {
        return common::Status(common::ErrorCode::Invalid, "state file " + path_ + " has an entry of the wrong shape (" + e.what() + ")");
    }
}

common::Status FileStateStore::save(const CoordinatorSnapshot& snapshot) {
    return common::write_file_atomically(path_, snapshot_json(snapshot).dump(2), 0600);
}

}  // namespace varpulis::cluster
