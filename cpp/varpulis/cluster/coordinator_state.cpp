// SPDX-License-Identifier: Apache-2.0
// The coordinator's state directory: workers, groups, placements and tombstones written
// atomically after every change and read back at start-up.
#include "varpulis/cluster/coordinator.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <fcntl.h>
#include <unistd.h>


namespace varpulis::cluster {

using json = nlohmann::ordered_json;

void Coordinator::save() const {
    if (options_.state_dir.empty()) return;
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
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::create_directories(options_.state_dir, ec);
    fs::path target = fs::path(options_.state_dir) / "coordinator.json";
    fs::path temp = fs::path(options_.state_dir) / "coordinator.json.tmp";
    std::string text = doc.dump(2);
    int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);  // holds worker keys
    if (fd < 0) return;
    bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
    ::close(fd);
    if (ok) fs::rename(temp, target, ec);
}

void Coordinator::load() {
    if (options_.state_dir.empty()) return;
    namespace fs = std::filesystem;
    fs::path file = fs::path(options_.state_dir) / "coordinator.json";
    std::ifstream in(file);
    if (!in) return;
    std::stringstream text;
    text << in.rdbuf();
    json doc = json::parse(text.str(), nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) {
        std::error_code ec;
        fs::rename(file, fs::path(file.string() + ".corrupt"), ec);
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
    } catch (const std::exception&) {
        workers_.clear();
        groups_.clear();
    }
}

}  // namespace varpulis::cluster
