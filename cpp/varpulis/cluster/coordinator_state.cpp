// SPDX-License-Identifier: Apache-2.0
// The coordinator's state directory: workers, groups, placements and tombstones written
// atomically after every change and read back at start-up.
#include "varpulis/cluster/coordinator.hpp"

#include <filesystem>

#include "varpulis/common/atomic_file.hpp"
#include "varpulis/common/log.hpp"
#include "varpulis/common/time.hpp"

namespace varpulis::cluster {

using json = nlohmann::ordered_json;

common::Status Coordinator::save() const {
    if (options_.state_dir.empty()) return common::Status::ok();
    json doc = {{"version", 1}, {"workers", json::array()}, {"groups", json::array()}, {"tombstones", json::object()},
                {"stale", json::array()}, {"next_order", 0}, {"round_robin", 0}};
    {
        std::lock_guard lock(mutex_);
        for (const auto& [id, w] : workers_) {
            doc["workers"].push_back({{"id", id}, {"address", w.address}, {"api_key", w.api_key}, {"max_pipelines", w.max_pipelines},
                                      {"order", w.order}});
        }
        for (const auto& g : groups_) {
            json pipelines = json::array(), routes = json::array(), placements = json::array();
            for (const auto& p : g->pipelines) pipelines.push_back({{"name", p.name}, {"source", p.source}, {"worker_affinity", p.worker_affinity}});
            for (const auto& r : g->routes) {
                routes.push_back({{"from_pipeline", r.from_pipeline}, {"to_pipeline", r.to_pipeline}, {"event_types", r.event_types},
                                  {"mqtt_topic", r.mqtt_topic}});
            }
            for (const auto& p : g->placements) {
                placements.push_back({{"pipeline_name", p.pipeline_name}, {"worker_id", p.worker_id}, {"worker_address", p.worker_address},
                                      {"pipeline_id", p.pipeline_id}, {"status", p.status}, {"epoch", p.epoch}});
            }
            doc["groups"].push_back({{"id", g->id}, {"name", g->name}, {"placement", g->placement}, {"pipelines", pipelines},
                                     {"routes", routes}, {"placements", placements}});
        }
        for (const auto& [id, why] : deregistered_) doc["tombstones"][id] = why;
        for (const auto& s : stale_) doc["stale"].push_back({{"worker_id", s.worker_id}, {"pipeline_id", s.pipeline_id}});
        doc["next_order"] = next_order_;
        doc["round_robin"] = round_robin_;
    }
    // 0600: the file holds the workers' API keys.
    return common::write_file_atomically((std::filesystem::path(options_.state_dir) / "coordinator.json").string(), doc.dump(2),
                                         0600);
}

void Coordinator::save_or_log(const std::string& change) const {
    if (common::Status saved = save(); !saved.is_ok()) log::error("cluster", change + ", but the state was not saved: " + saved.message());
}

void Coordinator::load() {
    if (options_.state_dir.empty()) return;
    namespace fs = std::filesystem;
    fs::path file = fs::path(options_.state_dir) / "coordinator.json";
    auto text = common::read_file(file.string());
    if (!text) {
        if (text.status().code() != common::ErrorCode::NotFound) log::error("cluster", text.status().message());
        return;
    }
    json doc = json::parse(*text, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) {
        fs::path aside = file.string() + ".corrupt-" + std::to_string(common::wall_clock_ms());
        std::error_code ec;
        fs::rename(file, aside, ec);
        log::error("cluster", "state file " + file.string() + " is corrupt; moved it to " + aside.string() + " and started empty");
        return;
    }
    try {
        // Workers come back as unhealthy until their next heartbeat (they have new tokens to get).
        for (const auto& w : doc.value("workers", json::array())) {
            WorkerInfo info;
            info.id = w.at("id");
            info.address = w.at("address");
            info.api_key = w.value("api_key", std::string());
            info.max_pipelines = w.value("max_pipelines", size_t{100});
            info.order = w.value("order", uint64_t{0});
            info.status = WorkerStatus::Unhealthy;
            info.last_heartbeat = std::chrono::steady_clock::now();
            workers_[info.id] = info;
        }
        for (const auto& g : doc.value("groups", json::array())) {
            auto group = std::make_shared<PipelineGroup>();
            group->id = g.at("id");
            group->name = g.at("name");
            group->placement = g.value("placement", std::string("round_robin"));
            for (const auto& p : g.at("pipelines")) group->pipelines.push_back({p.at("name"), p.at("source"), p.value("worker_affinity", std::string())});
            for (const auto& r : g.at("routes")) {
                group->routes.push_back({r.at("from_pipeline"), r.at("to_pipeline"), r.at("event_types").get<std::vector<std::string>>(),
                                         r.value("mqtt_topic", std::string())});
            }
            for (const auto& p : g.at("placements")) {
                group->placements.push_back({p.at("pipeline_name"), p.at("worker_id"), p.at("worker_address"), p.at("pipeline_id"),
                                             p.value("status", std::string("running")), p.value("epoch", uint64_t{1})});
            }
            groups_.push_back(group);
        }
        const json tombstones = doc.value("tombstones", json::object());  // a named copy: items() must not outlive it
        for (const auto& [id, why] : tombstones.items()) deregistered_[id] = why.get<std::string>();
        for (const auto& s : doc.value("stale", json::array())) stale_.push_back({s.at("worker_id"), s.at("pipeline_id")});
        next_order_ = doc.value("next_order", uint64_t{0});
        round_robin_ = doc.value("round_robin", uint64_t{0});
    } catch (const std::exception& e) {
        log::error("cluster", "state file " + file.string() + " has an entry of the wrong shape (" + e.what() + "); started empty");
        workers_.clear();
        groups_.clear();
    }
}

}  // namespace varpulis::cluster
