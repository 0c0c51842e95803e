// SPDX-License-Identifier: Apache-2.0
#include "varpulis/server/worker_api.hpp"

#include <algorithm>
#include <filesystem>
#include <thread>
#include <nlohmann/json.hpp>

#include "varpulis/common/path.hpp"
#include "varpulis/common/secret.hpp"
#include "varpulis/common/time.hpp"
#include "varpulis/common/version.hpp"
#include "varpulis/server/body_fields.hpp"
#include "varpulis/server/json_http.hpp"
#include "varpulis/server/prometheus_text.hpp"
#include "varpulis/server/batch_parser.hpp"

namespace varpulis::server {

using json = engine::OrderedJson;

namespace {

/// Order a batch's errors by the position of their event (parse errors and engine errors are
/// found in two passes).
void sort_by_index(json& errors) {
    std::stable_sort(errors.begin(), errors.end(),
                     [](const json& a, const json& b) { return a["index"].get<size_t>() < b["index"].get<size_t>(); });
}



HttpResponse deploy_error(const DeployError& err) {
    if (!err.diagnostics.empty()) return vpl_error_response(err.diagnostics);
    if (err.bad_checkpoint) return error_response(400, "invalid_checkpoint", err.status.message());
    // A connector that cannot start (bad topic, unknown source kind) is the request's fault.
    if (err.status.code() == common::ErrorCode::Invalid) return error_response(400, "connector_error", err.status.message());
    return error_response(500, "state_error", err.status.message());
}

constexpr size_t kMaxOutputsPerResponse = 1'000'000;
/// An events-each group of more lines is not answered on the I/O thread that read it.
constexpr size_t kInlineLines = 16;
/// An events-each group stops taking lines after this long (the coordinator gives an exchange
/// 10 s); its answer, past WorkerApiOptions::each_answer_budget (the coordinator takes answers of
/// up to 64 MiB).
constexpr auto kEachTimeBudget = std::chrono::seconds(1);

/// A 200 answer: `head` plus "output_events" (at most `max`) and, when capped,
/// "output_events_truncated" and "output_count". The outputs are written without a JSON tree: a
/// batch answers with up to 10,000 of them, and the tree cost more than the batch's processing.
HttpResponse response_with_outputs(const json& head, const std::vector<engine::EventPtr>& outputs, size_t max) {
    HttpResponse r;
    r.body = head.dump(-1, ' ', false, json::error_handler_t::replace);
    r.body.pop_back();  // the closing brace
    r.body += ",\"output_events\":[";
    for (size_t i = 0; i < outputs.size() && i < max; ++i) {
        if (i > 0) r.body += ',';
        engine::append_event_json(r.body, *outputs[i]);
    }
    r.body += ']';
    if (outputs.size() > max) r.body += ",\"output_events_truncated\":true,\"output_count\":" + std::to_string(outputs.size());
    r.body += '}';
    return r;
}

/// "running", or "connecting" while a source's subscription is not yet acknowledged.
std::string pipeline_status(const Pipeline& p) { return p.sources_ready() ? "running" : "connecting"; }

json pipeline_json(const Pipeline& p) {
    auto rt = p.runtime();
    return {{"id", p.id},
            {"name", p.name},
            {"group_id", p.group_id},
            {"status", pipeline_status(p)},
            {"source", p.source()},
            {"streams", rt->stream_names()},
            {"contexts", rt->contexts().size()},
            {"created_at_ms", p.created_at_ms},
            {"uptime_secs", static_cast<double>(common::wall_clock_ms() - p.created_at_ms) / 1000.0}};
}

/// A Prometheus label value: backslash, double quote and newline escaped (names are user input).
std::string pipeline_labels(const Pipeline& p) { return "pipeline=\"" + prometheus_label_value(p.name) + "\",id=\"" + p.id + "\""; }

json connectors_json(const Pipeline& p) {
    json out = json::array();
    for (const auto& h : p.connector_health()) {
        out.push_back({{"name", h.connector}, {"kind", h.kind}, {"role", h.role}, {"target", h.target}, {"connected", h.connected},
                       {"last_error", h.last_error}, {"messages", h.messages}, {"failures", h.failures}, {"spooled", h.spooled},
                       {"redelivered", h.redelivered}});
    }
    return out;
}

/// Take the next line of an events-each body (one event per line, a last newline optional) off
/// its front.
std::string_view take_line(std::string_view& body) {
    size_t nl = body.find('\n');
    std::string_view line = body.substr(0, nl);
    body.remove_prefix(nl == std::string_view::npos ? body.size() : nl + 1);
    return line;
}

/// The events of an events-each body.
std::vector<std::string_view> each_lines(std::string_view body) {
    std::vector<std::string_view> lines;
    while (!body.empty()) lines.push_back(take_line(body));
    return lines;
}

/// True when an events-each body has more than `n` lines, found without reading past line n + 1.
bool more_lines_than(std::string_view body, size_t n) {
    size_t lines = 0;
    while (!body.empty()) {
        if (++lines > n) return true;
        take_line(body);
    }
    return false;
}

/// The 503 of an inject processed whose outputs an at-least-once sink's broker has not
/// acknowledged within the delivery timeout.
HttpResponse not_acknowledged_response(const Pipeline& p) {
    auto r = error_response(503, "not_acknowledged",
                            "pipeline " + p.id + ": the events were processed, but the broker has not acknowledged their outputs yet; "
                            "they stay spooled and go when it answers, so sending the events again may deliver them twice");
    r.headers.emplace_back("Retry-After", "1");
    return r;
}

}  // namespace

namespace {

/// The pipelines' runtime options: file connectors confined to the file root, made absolute
/// and canonical here (the folder itself is made at the first file opened in it).
engine::RuntimeOptions pipeline_runtime_options(WorkerApiOptions& options) {
    namespace fs = std::filesystem;
    if (options.file_root.empty()) {
        options.file_root = options.state_dir.empty() ? "varpulis-files" : (fs::path(options.state_dir) / "files").string();
    }
    std::error_code ec;
    fs::path root = fs::weakly_canonical(fs::absolute(options.file_root, ec), ec);
    options.file_root = root.lexically_normal().string();
    while (options.file_root.size() > 1 && options.file_root.back() == '/') options.file_root.pop_back();
    engine::RuntimeOptions runtime;
    runtime.file_root = options.file_root;
    runtime.engine.max_state_bytes = options.max_state_bytes;
    return runtime;
}

}  // namespace

WorkerApi::WorkerApi(WorkerApiOptions options)
    : options_(std::move(options)), registry_(options_.state_dir, pipeline_runtime_options(options_)) {
    add_routes();
    registry_.start_timers();
}

void WorkerApi::add_routes() {
    using A = RouteAuth;
    auto route = [this](const char* method, const char* pattern, RouteAuth auth, WorkerHandler handler) {
        routes_.add(method, pattern, auth, std::move(handler));
    };
    route("GET", "/health", A::None, [this](const WorkerCall&) { return health(); });
    route("GET", "/ready", A::None, [this](const WorkerCall&) { return ready(); });
    route("GET", "/metrics", A::None, [this](const WorkerCall&) { return prometheus(); });
    route("GET", "/api/v1/usage", A::ApiKey, [this](const WorkerCall&) { return usage(); });
    route("POST", "/api/v1/pipelines", A::ApiKey, [this](const WorkerCall& c) { return deploy(c.req); });
    route("GET", "/api/v1/pipelines", A::ApiKey, [this](const WorkerCall& c) { return list(c.req); });
    route("GET", "/api/v1/pipelines/{id}", A::ApiKey, [this](const WorkerCall& c) { return json_response(200, pipeline_json(*c.pipeline)); });
    route("DELETE", "/api/v1/pipelines/{id}", A::ApiKey, [this](const WorkerCall& c) {
        registry_.remove(c.pipeline->id);
        return json_response(200, {{"deleted", true}});
    });
    route("POST", "/api/v1/pipelines/{id}/events", A::ApiKey,
          [this](const WorkerCall& c) { return delivered(*c.pipeline, [&] { return inject(c.req.body, *c.pipeline); }); });
    route("POST", "/api/v1/pipelines/{id}/events-each", A::ApiKey,
          [this](const WorkerCall& c) { return inject_each(c.req, *c.pipeline, c.granted); });
    route("POST", "/api/v1/pipelines/{id}/events-batch", A::ApiKey,
          [this](const WorkerCall& c) { return delivered(*c.pipeline, [&] { return inject_batch(c.req, *c.pipeline); }); });
    route("POST", "/api/v1/pipelines/{id}/reload", A::ApiKey, [this](const WorkerCall& c) { return reload(c.req, *c.pipeline); });
    route("POST", "/api/v1/pipelines/{id}/checkpoint", A::ApiKey, [this](const WorkerCall& c) { return checkpoint(*c.pipeline); });
    route("POST", "/api/v1/pipelines/{id}/restore", A::ApiKey,
          [this](const WorkerCall& c) { return restore_checkpoint(c.req, *c.pipeline); });
    route("GET", "/api/v1/pipelines/{id}/metrics", A::ApiKey, [this](const WorkerCall& c) { return metrics(*c.pipeline); });
    route("GET", "/api/v1/pipelines/{id}/logs", A::ApiKey, [](const WorkerCall& c) {
        HttpResponse r;
        r.sse = c.pipeline->subscribe();
        return r;
    });
}

std::vector<std::string> WorkerApi::restore() { return registry_.restore(); }

size_t WorkerApi::body_limit(std::string_view path) const {
    if (path.ends_with("/restore")) return restore_body_limit();
    // A deploy may carry the checkpoint it starts from (a pipeline moved by the coordinator):
    // the batch limit; a larger checkpoint moves without state (coordinator_moves.cpp).
    bool large = path.ends_with("/events-batch") || path.ends_with("/events-each") || path == "/api/v1/pipelines";
    return large ? options_.large_body_limit : options_.json_body_limit;
}

void WorkerApi::wire(HttpServerOptions& http) {
    http.body_limit = [this](std::string_view path) { return body_limit(path); };
    http.fast_path = [this](const HttpRequest& req, const HttpResponder& respond) { return answer_inline(req, respond); };
    http.counters = connection_counters_;
}

bool WorkerApi::answer_inline(const HttpRequest& req, const HttpResponder& respond) {
    // Probes wait on nothing: answered where they were read, they do not queue behind engine
    // work in the pool, and a busy worker still looks alive to its load balancer.
    if (req.is_probe()) {
        respond(handle(req));
        return true;
    }
    bool each = req.path.ends_with("/events-each");
    if (req.method != "POST" || !(each || req.path.ends_with("/events"))) return false;
    auto parts = common::split_path(req.path);  // api, v1, pipelines, ID, action
    if (parts.size() != 5 || parts[0] != "api" || parts[1] != "v1" || parts[2] != "pipelines") return false;
    auto pipeline = registry_.get(parts[3]);
    if (!pipeline) return false;
    auto hold = pipeline->hold_for_inline();
    if (!hold || (each && more_lines_than(req.body, kInlineLines))) return false;
    // The whole request counts, parsing and answer included: one over 1 ms sends the pipeline's
    // next requests to the pool until it proves cheap again.
    auto start = std::chrono::steady_clock::now();
    HttpResponse r = handle(req);
    if (std::chrono::steady_clock::now() - start > std::chrono::milliseconds(1)) pipeline->counters.demote();
    hold.release();  // the pipeline is free before the answer is written
    respond(std::move(r));
    return true;
}

engine::ConnectorTotals WorkerApi::connector_summary() const {
    engine::ConnectorTotals totals;
    for (const auto& p : registry_.list()) {
        for (const auto& h : p->connector_health()) totals.add(h);
    }
    return totals;
}

uint64_t WorkerApi::events_processed() const {
    uint64_t n = 0;
    for (const auto& p : registry_.list()) n += p->counters.events_in;
    return n;
}

void WorkerApi::count(int status) {
    std::lock_guard lock(stats_mutex_);
    ++requests_by_status_[status];
}

void WorkerApi::handle(const HttpRequest& req, const HttpResponder& respond) { respond(handle(req)); }

HttpResponse WorkerApi::handle(const HttpRequest& req) {
    HttpResponse r;
    try {
        r = route(req);
    } catch (const std::exception& e) {
        r = internal_error_response(e);
    }
    count(r.status);
    return r;
}

bool WorkerApi::authorised(const HttpRequest& req) const {
    if (options_.api_key.empty()) return true;
    return common::constant_time_equal(req.header("x-api-key"), options_.api_key);
}

size_t WorkerApi::take_tokens(const std::string& client, size_t wanted) {
    if (options_.rate_limit <= 0) return wanted;
    std::lock_guard lock(rate_mutex_);
    auto now = std::chrono::steady_clock::now();
    if (buckets_.size() > 10'000) buckets_.clear();  // bounded memory under address scans
    auto [it, fresh] = buckets_.try_emplace(client, Bucket{options_.rate_limit, now});
    Bucket& b = it->second;
    b.tokens = std::min(options_.rate_limit, b.tokens + options_.rate_limit * std::chrono::duration<double>(now - b.last).count());
    b.last = now;
    size_t granted = std::min(wanted, static_cast<size_t>(std::max(0.0, b.tokens)));
    b.tokens -= static_cast<double>(granted);
    return granted;
}

HttpResponse WorkerApi::route(const HttpRequest& req) {
    const RouteMatch m = routes_.match(req.method, req.path);
    const bool open = m.kind == RouteMatch::Kind::Found && routes_.spec(m).auth == RouteAuth::None;
    // Under /api/v1/ the key comes first: a caller without it learns nothing, not even 404 or 405.
    size_t granted = 1;
    if (!open && req.path.starts_with("/api/v1/")) {
        if (!authorised(req)) {
            // A wrong key costs a token like any request, so guessing keys is throttled too.
            if (take_tokens(req.client, 1) == 0) return error_response(429, "rate_limited", "too many requests from " + req.client);
            return error_response(401, "unauthorized", req.header("x-api-key").empty() ? "missing x-api-key header" : "invalid API key");
        }
        // events-each carries one request per line and is charged like them: the lines past the
        // tokens left are answered 429 each, as they would have been one by one.
        bool each = req.path.ends_with("/events-each");
        granted = take_tokens(req.client, each ? std::max<size_t>(1, each_lines(req.body).size()) : 1);
        if (granted == 0) return error_response(429, "rate_limited", "too many requests from " + req.client);
    }
    if (m.kind == RouteMatch::Kind::NotFound) return route_not_found(req);
    WorkerCall call{req, nullptr, granted};
    if (m.param_count > 0) {  // every {id} is a pipeline: an unknown one is 404 whatever the method
        call.pipeline = registry_.get(std::string(m.id()));
        if (!call.pipeline) return error_response(404, "pipeline_not_found", "pipeline not found: " + std::string(m.id()));
    }
    if (m.kind == RouteMatch::Kind::MethodNotAllowed) return method_not_allowed(req, m);
    return routes_.handler(m)(call);
}

HttpResponse WorkerApi::health() const {
    double uptime = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    return json_response(200, {{"status", "healthy"}, {"uptime_seconds", uptime}, {"version", common::kVersion}, {"instance", instance_digest_}});
}

HttpResponse WorkerApi::ready() const {
    bool ok = ready_ && (!ready_check_ || ready_check_());
    if (!ok) {
        return json_response(503, {{"status", "not_ready"},
                                   {"reason", ready_ ? "not registered with the coordinator yet" : "starting, or draining to stop"}});
    }
    return json_response(200, {{"status", "ready"}, {"pipelines", registry_.size()}});
}

HttpResponse WorkerApi::deploy(const HttpRequest& req) {
    HttpResponse error;
    auto body = parse_json_body(req, error);
    if (!body) return error;
    BodyFields fields(*body);
    auto name = fields.string("name", true);
    auto source = fields.string("source", true);
    const json* routes_json = fields.object("routes");
    auto group_id = fields.string("group_id");
    const json* checkpoint = fields.object("checkpoint");
    if (!fields.ok()) return fields.error();
    if (name->empty()) return error_response(400, "invalid_request", "field \"name\" must be a non-empty string");
    // A checkpoint-sized body is taken for this route; only the checkpoint may use it.
    if (!checkpoint && req.body.size() > options_.json_body_limit) {
        return error_response(413, "payload_too_large",
                              "a deploy without a checkpoint takes at most " + std::to_string(options_.json_body_limit) + " bytes");
    }
    auto routes = PipelineRoutes::from_json(routes_json ? *routes_json : json::object());
    if (!routes) return error_response(400, "invalid_request", routes.status().message());
    auto result = registry_.deploy(*name, *source, std::nullopt, *routes, DeployExtras{group_id.value_or(""), checkpoint});
    if (auto* err = std::get_if<DeployError>(&result)) return deploy_error(*err);
    auto p = std::get<std::shared_ptr<Pipeline>>(result);
    // Answered once the broker acknowledged the subscriptions, so what is published after the
    // answer reaches the pipeline; past the wait (a broker away), "connecting", to poll.
    auto deadline = std::chrono::steady_clock::now() + options_.subscribe_wait;
    while (!p->sources_ready() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    return json_response(201, {{"id", p->id}, {"name", p->name}, {"status", pipeline_status(*p)}});
}

HttpResponse WorkerApi::list(const HttpRequest& req) const {
    auto number = [&](const char* key, size_t fallback) -> std::optional<size_t> {
        auto it = req.query.find(key);
        if (it == req.query.end()) return fallback;
        try {
            size_t used = 0;
            long long v = std::stoll(it->second, &used);
            if (used != it->second.size() || v < 0) return std::nullopt;
            return static_cast<size_t>(v);
        } catch (...) {
            return std::nullopt;
        }
    };
    auto limit = number("limit", 50), offset = number("offset", 0);
    if (!limit || !offset) return error_response(400, "invalid_query", "limit and offset must be non-negative integers");
    if (*limit > 1000) return error_response(400, "invalid_limit", "limit must not exceed 1000");
    auto all = registry_.list();
    json items = json::array();
    for (size_t i = *offset; i < all.size() && i < *offset + *limit; ++i) items.push_back(pipeline_json(*all[i]));
    return json_response(200, {{"pipelines", items},
                               {"total", all.size()},
                               {"pagination",
                                {{"total", all.size()}, {"limit", *limit}, {"offset", *offset}, {"has_more", *offset + *limit < all.size()}}}});
}

HttpResponse WorkerApi::inject(std::string_view body, Pipeline& p) {
    int64_t now = common::wall_clock_ns();
    std::string code;
    auto parsed = parse_event_body(body, now, options_.event_limits, code);
    if (!parsed) {
        HttpResponse error;
        // simdjson says what is wrong but not where: the JSON library's message has the line and column.
        if (code == "invalid_json" && !parse_json_body(body, error)) return error;
        return error_response(400, code, parsed.status().message());
    }
    // A client that wants every output (the Mandelbrot demo's 62,500 pixels per tile) may raise
    // the cap per request, up to the server's hard limit.
    size_t cap = options_.max_outputs_in_response;
    if (parsed->max_output_events_invalid || parsed->max_output_events.value_or(0) > kMaxOutputsPerResponse) {
        return error_response(400, "invalid_request", "max_output_events must be an integer from 0 to " + std::to_string(kMaxOutputsPerResponse));
    }
    if (parsed->max_output_events) cap = *parsed->max_output_events;
    std::vector<engine::EventPtr> outputs;
    auto failures = p.process({parsed->event}, outputs);
    if (!failures.empty()) return error_response(422, "engine_error", failures.front().status.message());
    static const json accepted = {{"accepted", true}};
    return response_with_outputs(accepted, outputs, cap);
}

HttpResponse WorkerApi::inject_each(const HttpRequest& req, Pipeline& p, size_t allowed) {
    auto lines = each_lines(req.body);
    if (lines.empty()) return error_response(400, "invalid_request", "events-each takes one event per line (JSON lines), and the body is empty");
    std::vector<HttpResponse> answers;
    size_t answer_bytes = 0;
    auto start = std::chrono::steady_clock::now();
    for (size_t i = 0; i < lines.size(); ++i) {
        // Past its budget the group stops: the rest are answered "not processed" (status 0),
        // and the coordinator sends them again, so no answer outgrows its limit and no
        // group outlasts its deadline.
        if (i > 0 && (answer_bytes > options_.each_answer_budget || std::chrono::steady_clock::now() - start > kEachTimeBudget)) {
            answers.push_back(error_response(0, "not_processed", "not processed: the group's answer or time budget is spent; send it again"));
        } else if (i >= allowed) {
            answers.push_back(error_response(429, "rate_limited", "too many requests from " + req.client));
        } else if (auto blocked = p.blocked_sink()) {
            answers.push_back(sink_unavailable(p, *blocked));
        } else {
            try {
                answers.push_back(inject(lines[i], p));
            } catch (const std::exception& e) {
                answers.push_back(internal_error_response(e));
            }
        }
        answer_bytes += answers.back().body.size();
    }
    // One wait for the whole group: its accepted events answer 200 only once acknowledged.
    bool accepted = std::any_of(answers.begin(), answers.end(), [](const HttpResponse& a) { return a.status >= 200 && a.status < 300; });
    if (accepted && !p.wait_delivered(std::chrono::steady_clock::now() + options_.delivery_timeout)) {
        ++p.counters.not_acknowledged;
        for (auto& a : answers) {
            if (a.status >= 200 && a.status < 300) a = not_acknowledged_response(p);
        }
    }
    HttpResponse r;
    r.content_type = "application/x-ndjson";
    for (const auto& one : answers) {
        r.body += "{\"status\":";
        r.body += std::to_string(one.status);
        r.body += ",\"response\":";
        r.body += one.body;
        r.body += "}\n";
    }
    return r;
}

HttpResponse WorkerApi::sink_unavailable(Pipeline& p, const std::string& why) {
    ++p.counters.refused_sink_unavailable;
    auto r = error_response(503, "sink_unavailable", why + "; nothing was processed: send it again later");
    r.headers.emplace_back("Retry-After", "1");
    return r;
}

HttpResponse WorkerApi::delivered(Pipeline& p, const std::function<HttpResponse()>& inject) {
    if (auto blocked = p.blocked_sink()) return sink_unavailable(p, *blocked);
    HttpResponse r = inject();
    if (r.status >= 300 || p.wait_delivered(std::chrono::steady_clock::now() + options_.delivery_timeout)) return r;
    ++p.counters.not_acknowledged;
    return not_acknowledged_response(p);
}

HttpResponse WorkerApi::inject_batch(const HttpRequest& req, Pipeline& p) {
    int64_t now = common::wall_clock_ns();
    auto parsed = parse_batch(req.body, now, options_.event_limits);
    if (!parsed) {
        bool shape = parsed.status().code() == common::ErrorCode::NotFound;
        return error_response(400, shape ? "invalid_request" : "invalid_json", parsed.status().message());
    }
    json errors = json::array();
    for (const auto& e : parsed->errors) errors.push_back({{"index", e.index}, {"error", e.message}, {"code", e.code}});
    auto start = std::chrono::steady_clock::now();
    std::vector<engine::EventPtr> outputs;
    // An engine error is its event's: the event is rejected at its index, and the rest of the
    // batch is still processed.
    auto failures = p.process(parsed->events, outputs);
    for (const auto& f : failures) {
        errors.push_back({{"index", parsed->positions[f.index]}, {"error", f.status.message()}, {"code", "engine_error"}});
    }
    sort_by_index(errors);
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start).count();
    size_t rejected = parsed->errors.size() + failures.size();
    return response_with_outputs({{"accepted", parsed->total - rejected}, {"rejected", rejected}, {"errors", errors},
                                  {"processing_time_us", us}},
                                 outputs, options_.max_outputs_in_response);
}

HttpResponse WorkerApi::metrics(const Pipeline& p) const {
    const auto& c = p.counters;
    uint64_t n = c.events_in;
    json buckets = json::object();
    uint64_t cumulative = 0;
    for (size_t i = 0; i < kLatencyBuckets.size(); ++i) {
        cumulative += c.latency_buckets[i];
        buckets[std::to_string(kLatencyBuckets[i])] = cumulative;
    }
    auto rt = p.runtime()->stats();
    return json_response(200, {{"pipeline_id", p.id},
                               {"events_processed", n},
                               {"output_events_emitted", c.outputs.load()},
                               {"errors", c.errors.load()},
                               {"refused_sink_unavailable", c.refused_sink_unavailable.load()},
                               {"not_acknowledged", c.not_acknowledged.load()},
                               {"latency_mean_us", n ? static_cast<double>(c.latency_ns_total) / static_cast<double>(n) / 1000.0 : 0.0},
                               {"latency_buckets_seconds", buckets},
                               {"state_held", rt.held},
                               {"state_evicted", rt.evicted},
                               {"state_bytes", rt.state_bytes},
                               {"dropped_by_depth", rt.dropped_by_depth},
                               {"connectors", connectors_json(p)}});
}

HttpResponse WorkerApi::reload(const HttpRequest& req, Pipeline& p) {
    HttpResponse error;
    auto body = parse_json_body(req, error);
    if (!body) return error;
    BodyFields fields(*body);
    auto source = fields.string("source", true);
    if (!fields.ok()) return fields.error();
    auto pipeline = registry_.get(p.id);
    if (!pipeline) return error_response(404, "pipeline_not_found", "pipeline not found: " + p.id);
    if (auto err = registry_.reload(pipeline, *source)) return deploy_error(*err);
    return json_response(200, {{"reloaded", true}, {"id", p.id}});
}

HttpResponse WorkerApi::checkpoint(Pipeline& p) {
    auto rt = p.runtime();
    auto snapshot = rt->checkpoint();
    if (!snapshot) return error_response(500, "engine_error", snapshot.status().message());
    // A checkpoint is only handed out when restore can take it back (its body limit): an answer
    // that cannot be restored would look like a backup and not be one.
    const size_t size = snapshot->dump().size();
    if (size + 1024 > restore_body_limit()) {
        return error_response(422, "checkpoint_too_large",
                              "the checkpoint is " + std::to_string(size) + " bytes; restore takes at most " +
                                  std::to_string(restore_body_limit()) + " (shrink the windows, partitions or sequence runs it holds)");
    }
    return json_response(200, {{"pipeline_id", p.id}, {"checkpoint", *snapshot}, {"events_processed", p.counters.events_in.load()}});
}

HttpResponse WorkerApi::restore_checkpoint(const HttpRequest& req, Pipeline& p) {
    HttpResponse error;
    auto body = parse_json_body(req, error);
    if (!body) return error;
    BodyFields fields(*body);
    const json* checkpoint = fields.any("checkpoint", true);
    if (!fields.ok()) return fields.error();
    common::Status st = p.runtime()->restore(*checkpoint);
    if (!st.is_ok()) return error_response(400, "invalid_checkpoint", st.message());
    return json_response(200, {{"pipeline_id", p.id}, {"restored", true}});
}

HttpResponse WorkerApi::usage() const {
    uint64_t events = 0, outputs = 0;
    auto all = registry_.list();
    for (const auto& p : all) {
        events += p->counters.events_in;
        outputs += p->counters.outputs;
    }
    return json_response(200, {{"events_processed", events}, {"output_events_emitted", outputs}, {"active_pipelines", all.size()}});
}

HttpResponse WorkerApi::prometheus() const {
    PrometheusText out;
    auto count = [](uint64_t n) { return std::to_string(n); };
    out.family("varpulis_uptime_seconds", "gauge", "Seconds since the server started.");
    out.sample("varpulis_uptime_seconds", "", std::to_string(std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count()));
    auto all = registry_.list();
    out.family("varpulis_pipelines", "gauge", "Pipelines deployed.");
    out.sample("varpulis_pipelines", "", count(all.size()));
    out.family("varpulis_events_total", "counter", "Events processed, by pipeline.");
    for (const auto& p : all) out.sample("varpulis_events_total", pipeline_labels(*p), count(p->counters.events_in.load()));
    out.family("varpulis_output_events_total", "counter", "Output events produced, by pipeline.");
    for (const auto& p : all) out.sample("varpulis_output_events_total", pipeline_labels(*p), count(p->counters.outputs.load()));
    out.family("varpulis_errors_total", "counter", "Events that failed, by pipeline.");
    for (const auto& p : all) out.sample("varpulis_errors_total", pipeline_labels(*p), count(p->counters.errors.load()));
    out.family("varpulis_processing_latency_seconds", "histogram", "Time to process one event.");
    for (const auto& p : all) {
        std::string labels = pipeline_labels(*p);
        uint64_t cumulative = 0;
        for (size_t i = 0; i < kLatencyBuckets.size(); ++i) {
            cumulative += p->counters.latency_buckets[i];
            char le[32];
            std::snprintf(le, sizeof le, "%g", kLatencyBuckets[i]);
            out.sample("varpulis_processing_latency_seconds_bucket", labels + ",le=\"" + le + "\"", count(cumulative));
        }
        cumulative += p->counters.latency_buckets[kLatencyBuckets.size()];
        out.sample("varpulis_processing_latency_seconds_bucket", labels + ",le=\"+Inf\"", count(cumulative));
        out.sample("varpulis_processing_latency_seconds_sum", labels, std::to_string(static_cast<double>(p->counters.latency_ns_total) / 1e9));
        out.sample("varpulis_processing_latency_seconds_count", labels, count(cumulative));
    }
    std::vector<engine::RuntimeStats> stats;  // one walk of each pipeline's state
    stats.reserve(all.size());
    for (const auto& p : all) stats.push_back(p->runtime()->stats());
    out.family("varpulis_state_bytes", "gauge", "Bytes held by windows, joins and distinct sets, as the state budget counts them, by pipeline.");
    for (size_t i = 0; i < all.size(); ++i) out.sample("varpulis_state_bytes", pipeline_labels(*all[i]), count(stats[i].state_bytes));
    out.family("varpulis_state_evicted_total", "counter",
               "Events, keys and sequence runs dropped at a state limit (the state budget, run caps), by pipeline.");
    for (size_t i = 0; i < all.size(); ++i) out.sample("varpulis_state_evicted_total", pipeline_labels(*all[i]), count(stats[i].evicted));
    out.family("varpulis_connector_connected", "gauge", "1 when a connector of a pipeline is connected to its broker.");
    PrometheusText messages, failures, spooled, redelivered;  // their families follow this one's samples
    for (const auto& p : all) {
        for (const auto& h : p->connector_health()) {
            std::string labels = pipeline_labels(*p) + ",connector=\"" + prometheus_label_value(h.connector) + "\",role=\"" + h.role + "\"";
            out.sample("varpulis_connector_connected", labels, h.connected ? "1" : "0");
            messages.sample("varpulis_connector_messages_total", labels, count(h.messages));
            failures.sample("varpulis_connector_failures_total", labels, count(h.failures));
            if (h.role == "sink") {
                spooled.sample("varpulis_connector_spooled", labels, count(h.spooled));
                redelivered.sample("varpulis_connector_redelivered_total", labels, count(h.redelivered));
            }
        }
    }
    out.family("varpulis_connector_messages_total", "counter",
               "Messages sent (sinks: acknowledged by the broker at QoS 1/2) or received (sources) by a connector.");
    out.raw(messages.take());
    out.family("varpulis_connector_failures_total", "counter", "Messages dropped (sinks) or malformed (sources).");
    out.raw(failures.take());
    out.family("varpulis_connector_spooled", "gauge", "Messages a sink at QoS 1/2 keeps until its broker acknowledges them.");
    out.raw(spooled.take());
    out.family("varpulis_connector_redelivered_total", "counter", "Messages a sink at QoS 1/2 sent again after a reconnect.");
    out.raw(redelivered.take());
    out.family("varpulis_inject_refused_total", "counter",
               "Injects answered 503 by a pipeline's delivery guarantee: sink_unavailable (nothing processed), "
               "not_acknowledged (processed, outputs still spooled).");
    for (const auto& p : all) {
        out.sample("varpulis_inject_refused_total", pipeline_labels(*p) + ",reason=\"sink_unavailable\"", count(p->counters.refused_sink_unavailable));
        out.sample("varpulis_inject_refused_total", pipeline_labels(*p) + ",reason=\"not_acknowledged\"", count(p->counters.not_acknowledged));
    }
    out.family("varpulis_http_requests_total", "counter", "HTTP requests answered, by status.");
    {
        std::lock_guard lock(stats_mutex_);
        for (const auto& [status, n] : requests_by_status_) out.sample("varpulis_http_requests_total", "status=\"" + std::to_string(status) + "\"", count(n));
    }
    out.raw(connection_metrics_text(*connection_counters_));
    HttpResponse r;
    r.content_type = std::string(kPrometheusContentType);
    r.body = out.take();
    return r;
}

}  // namespace varpulis::server
