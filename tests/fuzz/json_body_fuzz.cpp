// SPDX-License-Identifier: Apache-2.0
// libFuzzer target `json_body_fuzz`: the bodies of every endpoint of both HTTP APIs, in process
// and without sockets. The first byte of the input picks a route (method and path; the `{id}`
// routes name a pipeline, a worker or a group that exists), the rest is the body.
//
// - The worker: a WorkerApi with pipeline `p1` deployed, called as its HTTP server calls it
//   (answer_inline, else handle).
// - The coordinator: its own route table (CoordinatorRoutes) over a Coordinator that never serves.
//   Two of them, so that nothing an input does makes the coordinator call an address the input
//   chose: `plain` has worker `w1` registered and no group (registrations, heartbeats, drains and
//   deletes go there: with no group placed, none calls the worker); `groups` has group `g1`
//   placed on `w1` at a closed local port and no worker ready (deploys, teardowns and injects go
//   there: a deploy stops at placement, an inject at the forwarder, which only serving starts).
//
// After an input that changed something, the state it changed is built again, so each input is
// answered from the same start and a finding replays alone.
//
// A finding: any crash, sanitizer report or leak, and any 5xx answer (an events-each line's
// included) whose code is not one of the few the APIs answer on purpose (kExpected5xx): above
// all a 500 `internal_error`, which is an exception out of a handler (for example the JSON
// library's type_error on a body of the wrong shape). The answer is printed, then the target
// traps, so libFuzzer keeps the input.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "varpulis/cluster/api/coordinator_routes.hpp"
#include "varpulis/cluster/coordinator.hpp"
#include "varpulis/cluster/store/state_store.hpp"
#include "varpulis/common/log.hpp"
#include "varpulis/engine/runtime.hpp"
#include "varpulis/server/json_http.hpp"
#include "varpulis/server/pipeline_routes.hpp"
#include "varpulis/server/worker_api.hpp"

namespace {

using varpulis::server::HttpRequest;
using varpulis::server::HttpResponse;
namespace cluster = varpulis::cluster;
namespace server = varpulis::server;

// The pipeline every worker `{id}` route names: windows, a partitioned aggregate, a sequence, a
// distinct set and a variable, so that events, checkpoints and restores have state to work on.
constexpr const char* kPipelineId = "p1";
constexpr const char* kPipelineSource = R"(var seen = 0
stream Hot = Reading .where(value > 10) .emit(sensor: sensor, value: value)
stream Avg = Reading .partition_by(sensor) .window(3) .aggregate(n: count(), s: sum(value)) .emit(n: n, s: s)
stream Fresh = Reading .distinct(sensor) .emit(sensor: sensor)
stream Pair = Login as a -> Failure as b .within(5m) .emit(user: a.user)
)";
constexpr const char* kWorkerId = "w1";
constexpr const char* kWorkerAddress = "http://127.0.0.1:9";  // nothing listens: a call fails at once
constexpr const char* kGroupId = "g1";

/// Which server answers a route, and what the answer leaves to rebuild.
enum class Target { Worker, Plain, Groups };

struct Route {
    Target target;
    const char* method;
    const char* path;
    bool resets;  ///< the state the route changes is rebuilt after it
};

// Every route of api/worker.openapi.json and api/coordinator.openapi.json; 32 of them, so that
// the first byte picks one evenly.
constexpr Route kRoutes[] = {
    {Target::Worker, "GET", "/health", false},
    {Target::Worker, "GET", "/ready", false},
    {Target::Worker, "GET", "/metrics", false},
    {Target::Worker, "GET", "/api/v1/usage", false},
    {Target::Worker, "POST", "/api/v1/pipelines", true},
    {Target::Worker, "GET", "/api/v1/pipelines", false},
    {Target::Worker, "GET", "/api/v1/pipelines/p1", false},
    {Target::Worker, "DELETE", "/api/v1/pipelines/p1", true},
    {Target::Worker, "POST", "/api/v1/pipelines/p1/events", true},
    {Target::Worker, "POST", "/api/v1/pipelines/p1/events-each", true},
    {Target::Worker, "POST", "/api/v1/pipelines/p1/events-batch", true},
    {Target::Worker, "POST", "/api/v1/pipelines/p1/reload", true},
    {Target::Worker, "POST", "/api/v1/pipelines/p1/checkpoint", false},
    {Target::Worker, "POST", "/api/v1/pipelines/p1/restore", true},
    {Target::Worker, "GET", "/api/v1/pipelines/p1/metrics", false},
    {Target::Worker, "GET", "/api/v1/pipelines/p1/logs", true},
    {Target::Groups, "GET", "/health", false},
    {Target::Groups, "GET", "/ready", false},
    {Target::Groups, "GET", "/metrics", false},
    {Target::Groups, "GET", "/api/v1/cluster/topology", false},
    {Target::Plain, "GET", "/api/v1/cluster/workers", false},
    {Target::Plain, "POST", "/api/v1/cluster/workers/register", true},
    {Target::Plain, "GET", "/api/v1/cluster/workers/w1", false},
    {Target::Plain, "DELETE", "/api/v1/cluster/workers/w1", true},
    {Target::Plain, "POST", "/api/v1/cluster/workers/w1/heartbeat", true},
    {Target::Plain, "POST", "/api/v1/cluster/workers/w1/drain", true},
    {Target::Groups, "POST", "/api/v1/cluster/pipeline-groups", true},
    {Target::Groups, "GET", "/api/v1/cluster/pipeline-groups", false},
    {Target::Groups, "GET", "/api/v1/cluster/pipeline-groups/g1", false},
    {Target::Groups, "DELETE", "/api/v1/cluster/pipeline-groups/g1", true},
    {Target::Groups, "POST", "/api/v1/cluster/pipeline-groups/g1/inject", false},
    {Target::Groups, "POST", "/api/v1/cluster/pipeline-groups/g1/inject-batch", false},
};
static_assert(std::size(kRoutes) == 32);

/// The 5xx answers given on purpose, for conditions an input may bring about.
struct Expected {
    int status;
    const char* code;
};
constexpr Expected kExpected5xx[] = {
    {503, "not_ready"},             // worker: not serving yet
    {503, "no_workers_available"},  // coordinator: a deploy with no worker ready
    {503, "not_serving"},           // coordinator: an inject while not serving
    {503, "pipeline_unavailable"},  // coordinator: an inject no placed pipeline takes
    {502, "deploy_failed"},         // coordinator: a worker refused a deploy
};

/// A coordinator that never serves, with its route table. The table is built over the
/// coordinator's operations: a C-style cast reaches the private base the coordinator's own
/// table uses, and CoordinatorRoutes dispatches to them as the served coordinator does.
struct Coordinator {
    explicit Coordinator(const cluster::CoordinatorSnapshot& start) {
        auto store = std::make_unique<cluster::MemoryStateStore>();
        (void)store->save(start);
        coordinator = std::make_unique<cluster::Coordinator>(cluster::CoordinatorOptions{}, std::move(store));
        routes = std::make_unique<cluster::CoordinatorRoutes>((cluster::CoordinatorEndpoints&)(*coordinator), "");
    }
    HttpResponse handle(const HttpRequest& req) const {
        std::optional<HttpResponse> answer;
        routes->handle(req, [&answer](HttpResponse r) { answer = std::move(r); });
        if (!answer) {  // only a forward answers later, and nothing here serves
            std::fprintf(stderr, "json_body_fuzz: %s %s was not answered\n", req.method.c_str(), req.path.c_str());
            __builtin_trap();
        }
        return std::move(*answer);
    }

    std::unique_ptr<cluster::Coordinator> coordinator;
    std::unique_ptr<cluster::CoordinatorRoutes> routes;
};

HttpRequest request(const char* method, const char* path, std::string body) {
    HttpRequest req;
    req.method = method;
    req.path = path;
    req.target = path;
    req.body = std::move(body);
    req.client = "127.0.0.1";
    return req;
}

cluster::CoordinatorSnapshot groups_start() {
    cluster::CoordinatorSnapshot s;
    cluster::WorkerInfo w;
    w.id = kWorkerId;
    w.address = kWorkerAddress;
    w.api_key = "worker-key";
    s.membership.workers.push_back(w);
    s.membership.next_order = 1;
    cluster::PipelineGroup g;
    g.id = kGroupId;
    g.name = "fuzz";
    g.pipelines = {{"a", "stream A = X .emit(v: 1)", ""}, {"b", "stream B = Y .emit(v: 2)", ""}};
    g.routes = {{"_external", "a", {"X"}, ""}, {"_external", "b", {"Y*"}, ""}, {"a", "b", {"A"}, ""}};
    g.placements = {{"a", kWorkerId, kWorkerAddress, "pa", "running", 1}, {"b", kWorkerId, kWorkerAddress, "pb", "running", 1}};
    s.groups.groups.push_back(g);
    return s;
}

class Fixture {
  public:
    Fixture() {
        varpulis::log::configure(varpulis::log::Level::Error, varpulis::log::Format::Text);
        worker_ = std::make_unique<server::WorkerApi>(server::WorkerApiOptions{});
        worker_->set_ready(true);
        reset_worker();
        reset_plain();
        reset_groups();
    }

    void run(const Route& route, std::string body) {
        HttpRequest req = request(route.method, route.path, std::move(body));
        if (route.target == Target::Plain) req.headers.emplace_back("x-worker-token", heartbeat_token_);
        if (route.target == Target::Worker && touches_files(route, req.body)) return;
        HttpResponse r = answer(route.target, req);
        check(route, r);
        if (!route.resets) return;
        switch (route.target) {
            case Target::Worker: reset_worker(); break;
            case Target::Plain: reset_plain(); break;
            case Target::Groups: reset_groups(); break;
        }
    }

  private:
    HttpResponse answer(Target target, const HttpRequest& req) {
        switch (target) {
            case Target::Worker: {
                std::optional<HttpResponse> inline_answer;
                if (worker_->answer_inline(req, [&inline_answer](HttpResponse r) { inline_answer = std::move(r); })) {
                    return std::move(*inline_answer);
                }
                return worker_->handle(req);
            }
            case Target::Plain: return plain_->handle(req);
            case Target::Groups: return groups_->handle(req);
        }
        __builtin_unreachable();
    }

    /// True when a deploy or reload body would open a `file` connector (a sink, or a route's):
    /// the path is the input's, and the fuzzer must not write files where it likes. The body is
    /// read as the worker reads it, and the program compiled as its deploy compiles it.
    static bool touches_files(const Route& route, const std::string& body) {
        std::string_view path = route.path;
        if (!(path == "/api/v1/pipelines" || path.ends_with("/reload"))) return false;
        HttpResponse error;
        auto json = server::parse_json_body(body, error);
        if (!json || !json->is_object()) return false;
        if (auto source = json->find("source"); source != json->end() && source->is_string()) {
            auto compiled = varpulis::engine::Runtime::compile(source->get<std::string>());
            if (compiled.plan) {
                auto names_file = [](const varpulis::engine::Plan& plan) {
                    for (const auto& [name, config] : plan.connectors) {
                        if (config.kind == "file") return true;
                    }
                    return false;
                };
                if (names_file(compiled.plan->program)) return true;
                for (const auto& context : compiled.plan->contexts) {
                    if (names_file(context.plan)) return true;
                }
            }
        }
        if (auto routes = json->find("routes"); routes != json->end()) {
            auto links = server::PipelineRoutes::from_json(*routes);
            if (links) {
                for (const auto* list : {&links->publish, &links->subscribe}) {
                    for (const auto& link : *list) {
                        if (link.connector.kind == "file") return true;
                    }
                }
            }
        }
        return false;
    }

    static std::string code_of(std::string_view body) {
        auto j = nlohmann::json::parse(body, nullptr, false);
        if (!j.is_object()) return "";
        auto code = j.find("code");
        return code != j.end() && code->is_string() ? code->get<std::string>() : "";
    }

    static void check_one(const Route& route, int status, std::string_view body) {
        if (status < 500) return;
        std::string code = code_of(body);
        for (const auto& e : kExpected5xx) {
            if (e.status == status && code == e.code) return;
        }
        std::fprintf(stderr, "json_body_fuzz finding: %s %s answered %d: %.*s\n", route.method, route.path, status,
                     static_cast<int>(std::min<size_t>(body.size(), 2000)), body.data());
        __builtin_trap();
    }

    /// The answer, and each line of an events-each answer ({"status": n, "response": {...}}).
    static void check(const Route& route, const HttpResponse& r) {
        check_one(route, r.status, r.body);
        if (r.content_type != "application/x-ndjson") return;
        std::string_view rest = r.body;
        while (!rest.empty()) {
            size_t nl = rest.find('\n');
            std::string_view line = rest.substr(0, nl);
            rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
            auto j = nlohmann::json::parse(line, nullptr, false);
            if (!j.is_object() || !j.contains("status") || !j["status"].is_number_integer()) {
                check_one(route, 599, line);  // an unreadable line of the answer is a finding too
                continue;
            }
            check_one(route, j["status"].get<int>(), j.contains("response") ? j["response"].dump() : "");
        }
    }

    void reset_worker() {
        for (const auto& p : worker_->registry().list()) worker_->registry().remove(p->id);
        auto deployed = worker_->registry().deploy("fuzz", kPipelineSource, std::string(kPipelineId), {});
        if (auto* err = std::get_if<server::DeployError>(&deployed)) {
            std::fprintf(stderr, "json_body_fuzz: the fixture's pipeline does not deploy: %s\n",
                         err->diagnostics.empty() ? err->status.message().c_str() : err->diagnostics[0].message.c_str());
            std::abort();
        }
    }

    void reset_plain() {
        plain_.reset();
        plain_ = std::make_unique<Coordinator>(cluster::CoordinatorSnapshot{});
        nlohmann::json body = {{"worker_id", kWorkerId}, {"address", kWorkerAddress}, {"api_key", "worker-key"}};
        HttpResponse r = plain_->handle(request("POST", "/api/v1/cluster/workers/register", body.dump()));
        auto j = nlohmann::json::parse(r.body, nullptr, false);
        if (r.status != 200 || !j.is_object() || !j.contains("heartbeat_token")) {
            std::fprintf(stderr, "json_body_fuzz: the fixture's worker does not register: %s\n", r.body.c_str());
            std::abort();
        }
        heartbeat_token_ = j["heartbeat_token"].get<std::string>();
    }

    void reset_groups() {
        groups_.reset();
        groups_ = std::make_unique<Coordinator>(groups_start());
    }

    std::unique_ptr<server::WorkerApi> worker_;
    std::unique_ptr<Coordinator> plain_, groups_;
    std::string heartbeat_token_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    // Never destroyed: the process ends with libFuzzer's exit, and the worker's timer thread and
    // the coordinators' clients need not stop in any order then.
    static Fixture* fixture = new Fixture();
    if (size == 0) return 0;
    fixture->run(kRoutes[data[0] % std::size(kRoutes)], std::string(reinterpret_cast<const char*>(data) + 1, size - 1));
    return 0;
}
