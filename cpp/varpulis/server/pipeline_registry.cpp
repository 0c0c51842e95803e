// SPDX-License-Identifier: Apache-2.0
#include "varpulis/server/pipeline_registry.hpp"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <thread>

#include "varpulis/common/atomic_file.hpp"
#include "varpulis/common/log.hpp"
#include "varpulis/common/time.hpp"
#include "varpulis/common/type_pattern.hpp"
#include "varpulis/common/uuid.hpp"
#include "varpulis/engine/event_json.hpp"

namespace varpulis::server {

using common::ErrorCode;
using common::Status;
using common::Value;
using nlohmann::json;

namespace fs = std::filesystem;

void PipelineCounters::record_latency(int64_t ns) {
    latency_ns_total += static_cast<uint64_t>(ns);
    if (ns > 1'000'000) {
        demote();
    } else {
        int64_t step = ns <= 100'000 ? 1 : -20;
        int64_t was = cheapness.load(std::memory_order_relaxed);
        while (!cheapness.compare_exchange_weak(was, std::clamp<int64_t>(was + step, 0, 2 * kProvenCheap), std::memory_order_relaxed)) {
        }
    }
    double seconds = static_cast<double>(ns) / 1e9;
    size_t i = 0;
    while (i < kLatencyBuckets.size() && seconds > kLatencyBuckets[i]) ++i;
    ++latency_buckets[i];
}

Pipeline::~Pipeline() { disconnect(); }

PipelineRoutes Pipeline::routes() const {
    std::lock_guard lock(links_mutex_);
    return routes_;
}

Status Pipeline::connect(const PipelineRoutes& routes) {
    std::lock_guard lifecycle(lifecycle_mutex_);
    disconnect_locked();
    return connect_locked(routes);
}

void Pipeline::disconnect() {
    std::lock_guard lifecycle(lifecycle_mutex_);
    disconnect_locked();
}

Status Pipeline::reload(std::string source, std::shared_ptr<engine::Runtime> runtime) {
    std::lock_guard lifecycle(lifecycle_mutex_);
    std::string old_source = this->source();
    auto old_runtime = this->runtime();
    disconnect_locked();
    replace(std::move(source), std::move(runtime));
    Status connected = connect_locked(routes_);
    if (!connected.is_ok()) {
        // The new program cannot start its sources: the old one goes on as it was.
        replace(std::move(old_source), std::move(old_runtime));
        (void)connect_locked(routes_);
    }
    return connected;
}

Status Pipeline::connect_locked(const PipelineRoutes& routes) {
    auto rt = runtime();
    // Events from sources are processed on the source's thread, one at a time, like an inject.
    engine::EventHandler handler = [this](engine::EventPtr e) {
        wait_for_sinks();
        std::vector<engine::EventPtr> outputs;
        // An HTTP inject answers its own errors; a source's event has no one to answer, so its
        // error is counted (errors_total) and logged, at most once a second per pipeline.
        auto failures = process({std::move(e)}, outputs);
        if (!failures.empty()) {
            source_errors_.write(log::Level::Warn, "server", "pipeline " + id + ": an event from a source failed: " +
                                                                 failures.front().status.message());
        }
    };
    auto sources = engine::start_sources(*rt, handler);
    if (!sources) return sources.status();
    auto outbound = std::make_shared<std::vector<Outbound>>();
    // A route's connector is named after the pipeline. An mqtt one without a client id gets one
    // from the pipeline id, so its subscription keeps a broker session across reconnects.
    auto route_connector = [&](const RouteLink& r) {
        engine::ConnectorConfig c = r.connector;
        c.name = "route-" + id;
        c.file_root = rt->file_root();
        if (c.kind == "mqtt" && !c.params.count("client_id")) c.params["client_id"] = Value("varpulis-route-" + id);
        return c;
    };
    for (const auto& r : routes.publish) {
        auto sink = engine::make_sink(route_connector(r));
        if (!sink) return sink.status();
        outbound->push_back({std::move(*sink), r});
    }
    for (const auto& r : routes.subscribe) {
        engine::SourceBinding binding{"route from " + r.topic, "", "route-" + id, {{"topic", Value(r.topic)}}};
        auto source = engine::make_source(route_connector(r), binding, handler);
        if (!source) return source.status();
        sources->push_back(std::move(*source));
    }
    auto sinks = collect_sinks(*rt, *outbound);
    std::lock_guard lock(links_mutex_);
    routes_ = routes;
    sources_ = std::move(*sources);  // empty before: disconnect_locked ran first
    outbound_ = outbound->empty() ? nullptr : std::move(outbound);
    sinks_ = std::move(sinks);
    return Status::ok();
}

void Pipeline::disconnect_locked() {
    std::vector<std::unique_ptr<engine::Source>> sources;
    std::shared_ptr<const std::vector<Outbound>> outbound;
    std::shared_ptr<const std::vector<engine::NamedSink>> sinks;  // the routes' sinks close with outbound
    {
        std::lock_guard lock(links_mutex_);
        sources.swap(sources_);
        outbound.swap(outbound_);
        sinks.swap(sinks_);
    }
    // Destroyed outside the lock: a source waits for its handler, which may be in forward()
    // or waiting for its sinks (which this flag ends).
    disconnecting_ = true;
    sources.clear();
    disconnecting_ = false;
}

std::shared_ptr<const std::vector<engine::NamedSink>> Pipeline::collect_sinks(const engine::Runtime& rt,
                                                                             const std::vector<Outbound>& outbound) {
    auto sinks = rt.sinks();
    for (const auto& o : outbound) sinks.push_back({"route to " + o.route.topic, o.sink});
    return std::make_shared<const std::vector<engine::NamedSink>>(std::move(sinks));
}

std::shared_ptr<const std::vector<engine::NamedSink>> Pipeline::all_sinks() const {
    static const auto none = std::make_shared<const std::vector<engine::NamedSink>>();
    std::lock_guard lock(links_mutex_);
    return sinks_ ? sinks_ : none;
}

bool Pipeline::sources_ready() const {
    std::lock_guard lock(links_mutex_);
    return std::all_of(sources_.begin(), sources_.end(), [](const auto& s) { return s->ready(); });
}

std::optional<std::string> Pipeline::blocked_sink() const {
    auto blocked = engine::blocked_sink(*all_sinks());
    if (blocked) return "pipeline " + id + ": " + *blocked;
    return std::nullopt;
}

bool Pipeline::wait_delivered(std::chrono::steady_clock::time_point deadline) const {
    return engine::wait_delivered(*all_sinks(), deadline);
}

void Pipeline::wait_for_sinks() {
    engine::wait_for_room(*all_sinks(), [this] { return disconnecting_.load(); }, source_waits_, "pipeline " + id + ": ");
}

std::vector<engine::ConnectorHealth> Pipeline::connector_health() const {
    auto health = runtime()->sink_health();
    std::shared_ptr<const std::vector<Outbound>> outbound;
    {
        std::lock_guard lock(links_mutex_);
        for (const auto& s : sources_) health.push_back(s->health());
        outbound = outbound_;
    }
    for (const auto& o : outbound ? *outbound : std::vector<Outbound>{}) {
        if (auto h = o.sink->health()) {
            h->connector = "route to " + o.route.topic;
            health.push_back(std::move(*h));
        }
    }
    return health;
}

void Pipeline::forward(const std::vector<engine::EventPtr>& outputs) {
    std::shared_ptr<const std::vector<Outbound>> outbound;
    {
        std::lock_guard lock(links_mutex_);
        outbound = outbound_;
    }
    if (!outbound) return;
    // Sent without the lock: a send may wait out a broker outage (block_timeout_ms), and metrics
    // and heartbeats read the links meanwhile.
    for (const auto& o : *outbound) {
        for (const auto& e : outputs) {
            const std::string& type = e->type_name();
            if (std::any_of(o.route.event_types.begin(), o.route.event_types.end(),
                            [&](const std::string& p) { return common::event_type_matches(p, type); })) {
                o.sink->send(*e, o.route.topic);
            }
        }
    }
}

void Pipeline::deliver(const std::vector<engine::EventPtr>& outputs, size_t from) {
    if (outputs.size() <= from) return;
    std::vector<engine::EventPtr> fresh(outputs.begin() + static_cast<std::ptrdiff_t>(from), outputs.end());
    broadcast(fresh);
    forward(fresh);
}

std::string Pipeline::source() const {
    std::lock_guard lock(mutex_);
    return source_;
}

std::shared_ptr<engine::Runtime> Pipeline::runtime() const {
    std::lock_guard lock(mutex_);
    return runtime_;
}

void Pipeline::replace(std::string source, std::shared_ptr<engine::Runtime> runtime) {
    std::lock_guard lock(mutex_);
    source_ = std::move(source);
    runtime_ = std::move(runtime);
    counters.demote();  // the new program proves itself
}

void Pipeline::InlineHold::release() {
    if (engine_.owns_lock()) engine_.unlock();
    runtime_.reset();
    if (lifecycle_.owns_lock()) lifecycle_.unlock();
}

Pipeline::InlineHold Pipeline::hold_for_inline() {
    InlineHold hold;
    if (!counters.proven_cheap()) return hold;
    // Held first: while a reload runs, the routes are briefly disconnected and the program
    // between two versions, and neither may be read as this call's.
    hold.lifecycle_ = std::unique_lock(lifecycle_mutex_, std::try_to_lock);
    if (!hold.lifecycle_.owns_lock()) return hold;
    hold.runtime_ = runtime();
    if (hold.runtime_->uses_contexts() || hold.runtime_->may_wait()) return hold;
    {
        std::lock_guard lock(links_mutex_);
        if (outbound_) return hold;
    }
    hold.engine_ = hold.runtime_->try_hold();
    return hold;
}

std::vector<engine::EventFailure> Pipeline::process(const std::vector<engine::EventPtr>& events,
                                                   std::vector<engine::EventPtr>& outputs) {
    auto rt = runtime();  // a reload swaps it; this call finishes on the one it started with
    size_t before = outputs.size();
    auto start = std::chrono::steady_clock::now();
    std::vector<engine::EventFailure> failures;
    if (events.size() == 1) {
        if (Status st = rt->push(events[0], outputs); !st.is_ok()) failures.push_back({0, std::move(st)});
    } else {
        rt->push_many(events, outputs, failures);
    }
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count();
    counters.events_in += events.size();
    counters.outputs += outputs.size() - before;
    counters.errors += failures.size();
    counters.record_latency(events.empty() ? 0 : ns / static_cast<int64_t>(events.size()));
    deliver(outputs, before);
    return failures;
}

std::shared_ptr<SseChannel> Pipeline::subscribe() {
    auto channel = std::make_shared<SseChannel>();
    std::lock_guard lock(mutex_);
    subscribers_.push_back(channel);
    return channel;
}

void Pipeline::close_subscribers() {
    std::vector<std::weak_ptr<SseChannel>> subs;
    {
        std::lock_guard lock(mutex_);
        subs.swap(subscribers_);
    }
    for (auto& w : subs) {
        if (auto s = w.lock()) s->close();
    }
}

void Pipeline::broadcast(const std::vector<engine::EventPtr>& outputs) {
    std::vector<std::shared_ptr<SseChannel>> live;
    {
        std::lock_guard lock(mutex_);
        std::erase_if(subscribers_, [&](const std::weak_ptr<SseChannel>& w) {
            auto s = w.lock();
            if (!s || s->closed()) return true;
            live.push_back(std::move(s));
            return false;
        });
    }
    if (live.empty()) return;
    for (const auto& e : outputs) {
        engine::OrderedJson data = engine::event_json(*e);
        data.erase("event_type");
        std::string line = engine::OrderedJson{{"event_type", e->type_name()}, {"timestamp", engine::rfc3339(e->timestamp)}, {"data", data}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        for (auto& s : live) s->push(line);
    }
}

void Pipeline::tick(int64_t now_ns) {
    auto rt = runtime();
    if (rt->timers().empty()) return;
    std::vector<engine::EventPtr> outputs;
    (void)rt->advance_time(now_ns, outputs);  // runtime errors are counted by the engine
    counters.outputs += outputs.size();
    deliver(outputs, 0);
}

PipelineRegistry::PipelineRegistry(std::string state_dir, engine::RuntimeOptions options)
    : state_dir_(std::move(state_dir)), runtime_options_(std::move(options)) {}

PipelineRegistry::~PipelineRegistry() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    timer_cv_.notify_all();
    if (timer_thread_.joinable()) timer_thread_.join();
}

void PipelineRegistry::start_timers() {
    timer_thread_ = std::thread([this] {
        std::unique_lock lock(mutex_);
        while (!timer_cv_.wait_for(lock, std::chrono::milliseconds(10), [this] { return stopping_; })) {
            auto pipelines = pipelines_;
            lock.unlock();
            int64_t now = common::wall_clock_ns();
            for (const auto& p : pipelines) p->tick(now);
            lock.lock();
        }
    });
}

std::variant<std::shared_ptr<Pipeline>, DeployError> PipelineRegistry::deploy(const std::string& name, const std::string& source,
                                                                             std::optional<std::string> id, const PipelineRoutes& routes,
                                                                             const DeployExtras& extras) {
    auto added = add(name, source, std::move(id), routes, extras);
    auto* p = std::get_if<std::shared_ptr<Pipeline>>(&added);
    if (!p) return added;
    // The answer waits for the file: a pipeline acknowledged is a pipeline restored.
    if (Status saved = save(); !saved.is_ok()) {
        remove((*p)->id);
        return DeployError{{}, saved};
    }
    return added;
}

std::variant<std::shared_ptr<Pipeline>, DeployError> PipelineRegistry::add(const std::string& name, const std::string& source,
                                                                          std::optional<std::string> id, const PipelineRoutes& routes,
                                                                          const DeployExtras& extras) {
    auto loaded = engine::Runtime::from_source(source, runtime_options_);
    if (!loaded.runtime) return DeployError{std::move(loaded.diagnostics), Status()};
    auto p = std::make_shared<Pipeline>();
    p->id = id.value_or(common::new_uuid());
    p->name = name;
    p->group_id = extras.group_id;
    p->created_at_ms = common::wall_clock_ms();
    p->replace(source, std::shared_ptr<engine::Runtime>(std::move(loaded.runtime)));
    if (extras.checkpoint) {
        if (Status restored = p->runtime()->restore(*extras.checkpoint); !restored.is_ok()) {
            return DeployError{{}, restored, true};
        }
    }
    if (Status connected = p->connect(routes); !connected.is_ok()) return DeployError{{}, connected};
    {
        std::lock_guard lock(mutex_);
        pipelines_.push_back(p);
    }
    return p;
}

std::shared_ptr<Pipeline> PipelineRegistry::get(const std::string& id) const {
    std::lock_guard lock(mutex_);
    for (const auto& p : pipelines_) {
        if (p->id == id) return p;
    }
    return nullptr;
}

std::vector<std::shared_ptr<Pipeline>> PipelineRegistry::list() const {
    std::lock_guard lock(mutex_);
    return pipelines_;
}

size_t PipelineRegistry::size() const {
    std::lock_guard lock(mutex_);
    return pipelines_.size();
}

bool PipelineRegistry::remove(const std::string& id) {
    std::shared_ptr<Pipeline> gone;
    {
        std::lock_guard lock(mutex_);
        auto it = std::find_if(pipelines_.begin(), pipelines_.end(), [&](const auto& p) { return p->id == id; });
        if (it == pipelines_.end()) return false;
        gone = *it;
        pipelines_.erase(it);
    }
    gone->disconnect();
    gone->close_subscribers();
    if (Status saved = save(); !saved.is_ok()) log::error("server", "pipeline " + id + " removed, but " + saved.message());
    return true;
}

std::optional<DeployError> PipelineRegistry::reload(const std::shared_ptr<Pipeline>& pipeline, const std::string& source) {
    auto loaded = engine::Runtime::from_source(source, runtime_options_);
    if (!loaded.runtime) return DeployError{std::move(loaded.diagnostics), Status()};
    if (Status reloaded = pipeline->reload(source, std::shared_ptr<engine::Runtime>(std::move(loaded.runtime))); !reloaded.is_ok()) {
        return DeployError{{}, reloaded};
    }
    Status saved = save();
    if (!saved.is_ok()) return DeployError{{}, saved};
    return std::nullopt;
}

Status PipelineRegistry::save() const {
    if (state_dir_.empty()) return Status::ok();
    std::lock_guard one_writer(save_mutex_);
    json doc = {{"version", 1}, {"pipelines", json::array()}};
    for (const auto& p : list()) {
        json item = {{"id", p->id}, {"name", p->name}, {"source", p->source()}, {"created_at_ms", p->created_at_ms}};
        if (const auto routes = p->routes(); !routes.empty()) item["routes"] = routes.to_json();
        if (!p->group_id.empty()) item["group_id"] = p->group_id;
        doc["pipelines"].push_back(std::move(item));
    }
    return common::write_file_atomically((fs::path(state_dir_) / "pipelines.json").string(), doc.dump(2));
}

std::vector<std::string> PipelineRegistry::restore() {
    std::vector<std::string> messages;
    if (state_dir_.empty()) return messages;
    fs::path file = fs::path(state_dir_) / "pipelines.json";
    if (size_t removed = common::remove_interrupted_writes(file.string())) {
        messages.push_back("removed " + std::to_string(removed) + " temporary file(s) of interrupted writes of " + file.string());
    }
    auto text = common::read_file(file.string());
    if (!text) {
        if (text.status().code() != ErrorCode::NotFound) messages.push_back(text.status().message());
        return messages;
    }
    json doc = json::parse(*text, nullptr, false);
    if (doc.is_discarded() || !doc.is_object() || !doc.contains("pipelines") || !doc["pipelines"].is_array()) {
        fs::path aside = file;
        aside += ".corrupt-" + std::to_string(common::wall_clock_ms());
        std::error_code ec;
        fs::rename(file, aside, ec);
        messages.push_back("state file " + file.string() + " is corrupt; moved it to " + aside.string() +
                           " and started with no pipelines");
        return messages;
    }
    for (const auto& item : doc["pipelines"]) {
        if (!item.is_object() || !item.value("id", json()).is_string() || !item.value("source", json()).is_string()) {
            messages.push_back("skipped a malformed pipeline entry in " + file.string());
            continue;
        }
        auto routes = PipelineRoutes::from_json(item.value("routes", json::object()));
        if (!routes) {
            messages.push_back("pipeline " + item["id"].get<std::string>() + ": " + routes.status().message() + "; deployed without routes");
            routes = PipelineRoutes{};
        }
        DeployExtras extras;
        if (item.value("group_id", json()).is_string()) extras.group_id = item["group_id"].get<std::string>();
        auto r = add(item.value("name", ""), item["source"].get<std::string>(), item["id"].get<std::string>(), *routes, extras);
        if (auto* err = std::get_if<DeployError>(&r)) {
            messages.push_back("pipeline " + item["id"].get<std::string>() + " could not be restored: " +
                               (err->diagnostics.empty() ? err->status.message() : err->diagnostics[0].message));
        } else {
            std::get<std::shared_ptr<Pipeline>>(r)->created_at_ms = item.value("created_at_ms", common::wall_clock_ms());
        }
    }
    if (Status saved = save(); !saved.is_ok()) messages.push_back(saved.message());
    return messages;
}

}  // namespace varpulis::server
