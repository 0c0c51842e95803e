// SPDX-License-Identifier: Apache-2.0
// The worker API below HTTP: requests in, responses out, no sockets.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <thread>
#include <variant>
#include <vector>

#include "varpulis/connectors/register.hpp"
#include "varpulis/server/batch_parser.hpp"
#include "varpulis/server/json_http.hpp"
#include "varpulis/server/worker_api.hpp"
#include "support/openapi_support.hpp"

namespace varpulis::server {
namespace {

using nlohmann::json;

WorkerApiOptions worker_options(const std::string& key, double rate_limit = 0, size_t each_answer_budget = 16 << 20) {
    WorkerApiOptions o;
    o.api_key = key;
    o.rate_limit = rate_limit;
    o.each_answer_budget = each_answer_budget;
    return o;
}

class WorkerApiTest : public ::testing::Test {
  protected:
    WorkerApiTest() : api_(worker_options("secret")) { api_.set_ready(true); }

    HttpResponse call(const std::string& method, const std::string& path, const std::string& body = "",
                      const std::string& key = "secret") {
        HttpRequest req;
        req.method = method;
        req.path = path;
        req.target = path;
        req.body = body;
        if (!key.empty()) req.headers.emplace_back("x-api-key", key);
        return api_.handle(req);
    }
    static json body(const HttpResponse& r) { return json::parse(r.body); }

    std::string deploy(const std::string& source) {
        auto r = call("POST", "/api/v1/pipelines", json{{"name", "p"}, {"source", source}}.dump());
        EXPECT_EQ(r.status, 201) << r.body;
        return body(r)["id"];
    }

    WorkerApi api_;
};

TEST_F(WorkerApiTest, HealthReadyAndAuth) {
    EXPECT_EQ(call("GET", "/health", "", "").status, 200);
    EXPECT_EQ(call("GET", "/ready", "", "").status, 200);
    EXPECT_EQ(body(call("GET", "/api/v1/pipelines", "", ""))["code"], "unauthorized");
    EXPECT_EQ(call("GET", "/api/v1/pipelines", "", "secreT").status, 401);
    EXPECT_EQ(call("GET", "/api/v1/pipelines").status, 200);
}

TEST_F(WorkerApiTest, DeployInjectAndFlattenedOutputs) {
    std::string id = deploy("stream S = A .where(v > 1) .emit(v: v, tag: \"t\")");
    auto r = call("POST", "/api/v1/pipelines/" + id + "/events", R"({"event_type": "A", "fields": {"v": 2}})");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body, R"({"accepted":true,"output_events":[{"event_type":"S","v":2,"tag":"t"}]})");
}

TEST_F(WorkerApiTest, ParseErrorsCarryLineAndColumn) {
    auto r = call("POST", "/api/v1/pipelines", R"J({"name": "p", "source": "stream S = A\n  .where(x > )"})J");
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(body(r)["code"], "parse_error");
    EXPECT_EQ(body(r)["line"], 2);
    EXPECT_EQ(body(r)["column"], 14);
}

TEST_F(WorkerApiTest, RoutesAndMethods) {
    EXPECT_EQ(call("GET", "/nope").status, 404);
    EXPECT_EQ(call("PATCH", "/api/v1/pipelines").status, 405);
    EXPECT_EQ(call("POST", "/health").status, 405);
    EXPECT_EQ(body(call("GET", "/api/v1/pipelines/x"))["code"], "pipeline_not_found");
    std::string id = deploy("stream S = A .emit(v: v)");
    EXPECT_EQ(call("GET", "/api/v1/pipelines/" + id + "/events").status, 405);
    EXPECT_EQ(call("GET", "/api/v1/pipelines/" + id + "/frobnicate").status, 404);
    EXPECT_EQ(call("GET", "xapi/v1/pipelines").status, 404);  // a target that is not a path
    EXPECT_EQ(body(call("DELETE", "/api/v1/pipelines/" + id))["deleted"], true);
}

TEST_F(WorkerApiTest, BodyLimitsDependOnTheRoute) {
    EXPECT_EQ(api_.body_limit("/api/v1/pipelines/x/events"), 1u << 20);
    EXPECT_EQ(api_.body_limit("/api/v1/pipelines/x/events-batch"), 16u << 20);
    // Restore takes any checkpoint of state within the budget: 16 MiB + twice 64 MiB.
    EXPECT_EQ(api_.body_limit("/api/v1/pipelines/x/restore"), (16u << 20) + 2 * (64u << 20));
    EXPECT_EQ(api_.body_limit("/api/v1/pipelines/x/events-each"), 16u << 20);
}

TEST_F(WorkerApiTest, BadBodiesAre400) {
    std::string id = deploy("stream S = A .emit(v: v)");
    for (const char* bad : {"", "{", "[1]", "{\"event_type\": 5}", "{\"event_type\": \"A\", \"fields\": 3}",
                            "{\"event_type\": \"A\", \"timestamp\": \"now\"}"}) {
        auto r = call("POST", "/api/v1/pipelines/" + id + "/events", bad);
        EXPECT_EQ(r.status, 400) << bad;
        EXPECT_TRUE(body(r).contains("code")) << bad;
    }
}

// An engine error in a batch is that event's error, at its index; the events after it still
// run (before, the rest of the batch was skipped and the answer said every event was accepted).
TEST_F(WorkerApiTest, AnEngineErrorInABatchRejectsOnlyItsEvent) {
    const std::string functions = "fn down(n: int) -> int:\n    return down(n + 1)\n";
    for (const std::string& placement : {std::string(), std::string("context C\n")}) {
        std::string in = placement.empty() ? "" : " .context(C)";
        std::string id = deploy(placement + functions + "stream S = A" + in + " .where(go) .emit(v: down(0))\n" +
                                "stream T = A" + in + " .emit(n: n)");
        json batch = {{"events", json::array()}};
        for (int n = 0; n < 6; ++n) {
            batch["events"].push_back({{"event_type", n == 4 ? "" : "A"}, {"fields", {{"n", n}, {"go", n == 1}}}});
        }
        auto r = call("POST", "/api/v1/pipelines/" + id + "/events-batch", batch.dump());
        ASSERT_EQ(r.status, 200) << r.body;
        json answer = body(r);
        EXPECT_EQ(answer["accepted"], 4) << placement;
        EXPECT_EQ(answer["rejected"], 2);
        ASSERT_EQ(answer["errors"].size(), 2u);
        EXPECT_EQ(answer["errors"][0]["index"], 1);
        EXPECT_EQ(answer["errors"][0]["code"], "engine_error");
        EXPECT_NE(answer["errors"][0]["error"].get<std::string>().find("call depth exceeded"), std::string::npos);
        EXPECT_EQ(answer["errors"][1]["index"], 4);
        EXPECT_EQ(answer["errors"][1]["code"], "invalid_event");
        std::vector<int> seen;
        for (const auto& out : answer["output_events"]) {
            if (out["event_type"] == "T") seen.push_back(out["n"]);
        }
        std::sort(seen.begin(), seen.end());
        EXPECT_EQ(seen, (std::vector<int>{0, 1, 2, 3, 5}));
        auto metrics = body(call("GET", "/api/v1/pipelines/" + id + "/metrics"));
        EXPECT_EQ(metrics["errors"], 1) << metrics.dump();
    }
}

// A body nested 60,000 levels (under the size limits) crashed the JSON library's recursive
// copies; every body is checked for depth before it is parsed.
TEST_F(WorkerApiTest, DeeplyNestedBodiesAre400) {
    std::string id = deploy("stream S = A .emit(v: v)");
    const std::string deep = std::string(60'000, '[') + std::string(60'000, ']');
    for (const std::string& path : {std::string("/api/v1/pipelines"), "/api/v1/pipelines/" + id + "/restore",
                                    "/api/v1/pipelines/" + id + "/reload"}) {
        auto r = call("POST", path, "{\"name\": \"p\", \"source\": \"x\", \"routes\": " + deep + "}");
        EXPECT_EQ(r.status, 400) << path;
        EXPECT_EQ(body(r)["error"], "malformed JSON: nested deeper than 2048 levels") << path;
    }
    EXPECT_FALSE(json_nested_deeper_than("{\"a\": \"[[[[[[\"}", 2));
    EXPECT_TRUE(json_nested_deeper_than("[[[]]]", 2));
    EXPECT_FALSE(json_nested_deeper_than("[[]]", 2));
}

TEST_F(WorkerApiTest, SingleInjectErrorsNameTheirCause) {
    std::string id = deploy("stream S = A .emit(v: v)");
    auto events = "/api/v1/pipelines/" + id + "/events";
    auto malformed = call("POST", events, "{\"event_type\": \"A\",\n \"fields\": {]}");
    EXPECT_EQ(body(malformed)["code"], "invalid_json");
    EXPECT_NE(body(malformed)["error"].get<std::string>().find("line 2"), std::string::npos) << malformed.body;
    EXPECT_EQ(body(call("POST", events, R"({"fields": {}})"))["error"], "\"event_type\" must be a non-empty string");
    std::string many = R"({"event_type": "A", "fields": {)";
    for (int i = 0; i < 1025; ++i) many += (i ? ",\"f" : "\"f") + std::to_string(i) + "\": 1";
    EXPECT_EQ(body(call("POST", events, many + "}}"))["code"], "limit_exceeded");
    for (const char* cap : {"-1", "1.5", "\"3\"", "1000001"}) {
        auto r = call("POST", events, std::string(R"({"event_type": "A", "fields": {"v": 1}, "max_output_events": )") + cap + "}");
        EXPECT_EQ(r.status, 400) << cap;
        EXPECT_EQ(body(r)["code"], "invalid_request") << cap;
    }
}

TEST_F(WorkerApiTest, SingleInjectHonoursTimestampAndOutputCap) {
    std::string id = deploy("stream S = A .emit(v: v)");
    auto events = "/api/v1/pipelines/" + id + "/events";
    EXPECT_EQ(call("POST", events, "\xEF\xBB\xBF{\"event_type\": \"A\", \"fields\": {\"v\": 1}}").status, 200);  // a byte order mark
    auto capped = body(call("POST", events, R"({"event_type": "A", "fields": {"v": 1}, "max_output_events": 0})"));
    EXPECT_EQ(capped["output_events"], json::array());
    EXPECT_EQ(capped["output_count"], 1);
    EXPECT_EQ(call("POST", events, R"({"event_type": "A", "fields": {"v": 1}, "timestamp": 1700000000000000000})").status, 200);
    EXPECT_EQ(body(call("POST", events, R"({"event_type": "A", "fields": {"v": 1}, "timestamp": 1.5})"))["code"], "invalid_event");
}

TEST_F(WorkerApiTest, EventsEachAnswersEveryLineAsEventsWould) {
    std::string id = deploy("stream S = A .where(v > 1) .emit(v: v)");
    std::vector<std::string> lines = {R"({"event_type": "A", "fields": {"v": 2}})", R"({"event_type": "A", "fields": {"v": 1}})",
                                      "{\"event_type\": ", "", R"({"fields": {}})", R"({"event_type": "A", "fields": {"v": 3}})"};
    std::string each;
    for (const auto& l : lines) each += l + "\n";
    auto r = call("POST", "/api/v1/pipelines/" + id + "/events-each", each);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.content_type, "application/x-ndjson");
    // Line for line what POST .../events answers (the pipeline keeps no state between events).
    std::string expected;
    for (const auto& l : lines) {
        auto one = call("POST", "/api/v1/pipelines/" + id + "/events", l);
        expected += "{\"status\":" + std::to_string(one.status) + ",\"response\":" + one.body + "}\n";
    }
    EXPECT_EQ(r.body, expected);
    EXPECT_NE(r.body.find(R"({"status":200,"response":{"accepted":true,"output_events":[{"event_type":"S","v":3}]}})"), std::string::npos);
    // The last newline is optional; an empty body is refused.
    auto last = call("POST", "/api/v1/pipelines/" + id + "/events-each", lines[0]);
    EXPECT_EQ(last.body, R"({"status":200,"response":{"accepted":true,"output_events":[{"event_type":"S","v":2}]}})" "\n");
    auto empty = call("POST", "/api/v1/pipelines/" + id + "/events-each", "");
    EXPECT_EQ(empty.status, 400);
    EXPECT_EQ(body(empty)["code"], "invalid_request");
    EXPECT_EQ(call("GET", "/api/v1/pipelines/" + id + "/events-each").status, 405);
}

/// A worker API with one pipeline ("stream S = A .emit(v: v)"), deployed without an HTTP request.
struct OnePipeline {
    explicit OnePipeline(WorkerApiOptions o) : api(std::move(o)) {
        api.set_ready(true);
        auto deployed = api.registry().deploy("p", "stream S = A .emit(v: v)", std::nullopt, {});
        id = std::get<std::shared_ptr<Pipeline>>(deployed)->id;
    }
    HttpResponse each(const std::string& body) {
        HttpRequest req;
        req.method = "POST";
        req.path = req.target = "/api/v1/pipelines/" + id + "/events-each";
        req.body = body;
        req.client = "10.0.0.1";
        return api.handle(req);
    }
    WorkerApi api;
    std::string id;
};

std::string events_each_body(int n) {
    std::string body;
    for (int v = 0; v < n; ++v) body += R"({"event_type": "A", "fields": {"v": )" + std::to_string(v) + "}}\n";
    return body;
}

/// The status of each line of an events-each answer.
std::vector<int> line_statuses(const std::string& answer) {
    std::vector<int> out;
    std::istringstream lines(answer);
    for (std::string line; std::getline(lines, line);) out.push_back(json::parse(line)["status"].get<int>());
    return out;
}

TEST(WorkerApiRateTest, WrongKeysSpendTheClientsTokens) {
    WorkerApi api(worker_options("secret", 3));
    HttpRequest req;
    req.method = "GET";
    req.path = req.target = "/api/v1/pipelines";
    req.client = "10.0.0.9";
    req.headers.emplace_back("x-api-key", "guess");
    std::vector<int> statuses;
    for (int i = 0; i < 5; ++i) statuses.push_back(api.handle(req).status);
    EXPECT_EQ(statuses, (std::vector<int>{401, 401, 401, 429, 429}));  // a fresh bucket holds 3
    req.headers.back().second = "secret";
    EXPECT_EQ(api.handle(req).status, 429);  // the right key now waits like anyone else
    req.client = "10.0.0.10";
    EXPECT_EQ(api.handle(req).status, 200);  // another client is not affected
}

TEST(WorkerApiEachTest, LinesPastTheRateLimitsTokensAre429Each) {
    OnePipeline worker(worker_options("", 4));
    auto r = worker.each(events_each_body(6));  // a fresh bucket holds 4 tokens
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(line_statuses(r.body), (std::vector<int>{200, 200, 200, 200, 429, 429}));
}

TEST(WorkerApiEachTest, PastItsAnswerBudgetAGroupAnswersTheRestNotProcessed) {
    OnePipeline worker(worker_options("", 0, 1));  // a budget the first answer spends
    auto r = worker.each(events_each_body(3));
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(line_statuses(r.body), (std::vector<int>{200, 0, 0}));
    EXPECT_NE(r.body.find("not_processed"), std::string::npos) << r.body;
    EXPECT_EQ(worker.api.registry().get(worker.id)->counters.events_in, 1u);
}

HttpRequest inject_request(const std::string& id, const std::string& action, std::string body) {
    HttpRequest req;
    req.method = "POST";
    req.path = req.target = "/api/v1/pipelines/" + id + "/" + action;
    req.body = std::move(body);
    return req;
}

/// Record enough fast calls to make a pipeline proven cheap.
void prove_cheap(PipelineCounters& counters) {
    for (int64_t i = 0; i < PipelineCounters::kProvenCheap; ++i) counters.record_latency(1'000);
}

TEST(WorkerApiInlineTest, OnlyInjectsToAPipelineProvenCheapAreAnsweredOnTheIoThread) {
    OnePipeline worker(worker_options(""));
    HttpRequest inject = inject_request(worker.id, "events", R"({"event_type": "A", "fields": {"v": 1}})");
    std::optional<HttpResponse> answered;
    HttpResponder respond = [&answered](HttpResponse r) { answered = std::move(r); };
    EXPECT_FALSE(worker.api.answer_inline(inject, respond));  // no record yet: the pool
    EXPECT_FALSE(answered);
    // 1,000 fast calls make it proven cheap (a few more if the machine preempted some).
    int calls = 0;
    for (; calls < 5000 && !worker.api.answer_inline(inject, respond); ++calls) ASSERT_EQ(worker.api.handle(inject).status, 200);
    EXPECT_GE(calls, 1000);
    ASSERT_TRUE(answered) << "not answered inline after " << calls << " cheap calls";
    EXPECT_EQ(answered->body, R"({"accepted":true,"output_events":[{"event_type":"S","v":1}]})");
    HttpRequest batch = inject_request(worker.id, "events-batch", inject.body);
    EXPECT_FALSE(worker.api.answer_inline(batch, respond));  // batches can be long: the pool
    HttpRequest get = inject;
    get.method = "GET";
    EXPECT_FALSE(worker.api.answer_inline(get, respond));
    HttpRequest elsewhere = inject;
    elsewhere.path = elsewhere.target = "/other/v1/pipelines/" + worker.id + "/events";
    EXPECT_FALSE(worker.api.answer_inline(elsewhere, respond));
    // Probes are always answered there.
    HttpRequest health;
    health.method = "GET";
    health.path = health.target = "/health";
    ASSERT_TRUE(worker.api.answer_inline(health, respond));
    EXPECT_EQ(answered->status, 200);
    EXPECT_EQ(json::parse(answered->body)["status"], "healthy");
    health.path = health.target = "/ready";
    ASSERT_TRUE(worker.api.answer_inline(health, respond));
    EXPECT_EQ(json::parse(answered->body)["status"], "ready");
    health.method = "POST";
    EXPECT_FALSE(worker.api.answer_inline(health, respond));
}

TEST(WorkerApiInlineTest, SlowCallsSendAPipelineBackToThePool) {
    OnePipeline worker(worker_options(""));
    HttpRequest inject = inject_request(worker.id, "events", R"({"event_type": "A", "fields": {"v": 1}})");
    HttpResponder respond = [](HttpResponse) {};
    auto& counters = worker.api.registry().get(worker.id)->counters;
    prove_cheap(counters);
    prove_cheap(counters);  // at the score's cap, 2,000
    ASSERT_TRUE(worker.api.answer_inline(inject, respond));
    counters.record_latency(200'000);  // one call over 100 µs: a toll of 20, still cheap
    EXPECT_TRUE(worker.api.answer_inline(inject, respond));
    counters.record_latency(2'000'000);  // one over 1 ms: back to the start
    EXPECT_EQ(counters.cheapness.load(), 0);
    EXPECT_FALSE(worker.api.answer_inline(inject, respond));
    prove_cheap(counters);
    EXPECT_TRUE(worker.api.answer_inline(inject, respond));
}

TEST(WorkerApiInlineTest, AReloadedProgramProvesItselfAgain) {
    OnePipeline worker(worker_options(""));
    auto pipeline = worker.api.registry().get(worker.id);
    prove_cheap(pipeline->counters);
    ASSERT_FALSE(worker.api.registry().reload(pipeline, "stream S = A .where(v > 0) .emit(v: v)"));
    EXPECT_EQ(pipeline->counters.cheapness.load(), 0);
    EXPECT_FALSE(worker.api.answer_inline(inject_request(worker.id, "events", R"({"event_type": "A", "fields": {"v": 1}})"), [](HttpResponse) {}));
}

TEST(WorkerApiInlineTest, AnInjectWaitsInThePoolWhileAnotherCallHoldsTheEngine) {
    OnePipeline worker(worker_options(""));
    auto pipeline = worker.api.registry().get(worker.id);
    prove_cheap(pipeline->counters);
    HttpRequest inject = inject_request(worker.id, "events", R"({"event_type": "A", "fields": {"v": 1}})");
    // Another thread holds the engine (as a batch, a checkpoint or a source would) until told.
    std::atomic<bool> held{false}, release{false};
    std::thread holder([&] {
        auto lock = pipeline->runtime()->try_hold();  // as a pool thread's push holds it
        held = lock.owns_lock();
        while (held && !release) std::this_thread::yield();
    });
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!held && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
    ASSERT_TRUE(held);
    EXPECT_FALSE(worker.api.answer_inline(inject, [](HttpResponse) {}));
    release = true;
    holder.join();
    EXPECT_TRUE(worker.api.answer_inline(inject, [](HttpResponse) {}));
}

TEST(WorkerApiInlineTest, AReloadWaitsForAnInlineCallToEnd) {
    OnePipeline worker(worker_options(""));
    auto pipeline = worker.api.registry().get(worker.id);
    prove_cheap(pipeline->counters);
    auto before = pipeline->runtime();
    auto hold = pipeline->hold_for_inline();
    ASSERT_TRUE(hold);
    std::atomic<bool> reloaded{false};
    std::thread reloader([&] {
        EXPECT_FALSE(worker.api.registry().reload(pipeline, "stream S = A .where(v > 0) .emit(v: v)"));
        reloaded = true;
    });
    // Not a deadline for something to happen: 200 ms in which the reload must not get through
    // (a tiny program compiles in well under that).
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
    while (std::chrono::steady_clock::now() < until) {
        ASSERT_FALSE(reloaded);
        ASSERT_EQ(pipeline->runtime(), before);
        std::this_thread::yield();
    }
    hold.release();
    reloader.join();
    EXPECT_NE(pipeline->runtime(), before);
    EXPECT_FALSE(pipeline->hold_for_inline());  // the new program proves itself first
}

TEST(WorkerApiInlineTest, LongEventsEachGroupsGoToThePool) {
    OnePipeline worker(worker_options(""));
    prove_cheap(worker.api.registry().get(worker.id)->counters);
    std::optional<HttpResponse> answered;
    HttpResponder respond = [&answered](HttpResponse r) { answered = std::move(r); };
    EXPECT_FALSE(worker.api.answer_inline(inject_request(worker.id, "events-each", events_each_body(17)), respond));
    // a 17th line without its newline is a line too
    EXPECT_FALSE(worker.api.answer_inline(inject_request(worker.id, "events-each", events_each_body(16) + R"({"event_type": "A"})"), respond));
    ASSERT_TRUE(worker.api.answer_inline(inject_request(worker.id, "events-each", events_each_body(16)), respond));
    EXPECT_EQ(line_statuses(answered->body).size(), 16u);
}

/// A pipeline with contexts, sinks or publish routes is never answered inline, however cheap.
void expect_never_inline(const std::string& program, const PipelineRoutes& routes = {}) {
    WorkerApi api(worker_options(""));
    auto deployed = api.registry().deploy("p", program, std::nullopt, routes);
    ASSERT_TRUE(std::holds_alternative<std::shared_ptr<Pipeline>>(deployed))
        << program << ": " << std::get<DeployError>(deployed).status.message();
    auto pipeline = std::get<std::shared_ptr<Pipeline>>(deployed);
    prove_cheap(pipeline->counters);
    EXPECT_FALSE(api.answer_inline(inject_request(pipeline->id, "events", R"({"event_type": "A", "fields": {"v": 1}})"), [](HttpResponse) {}))
        << program;
}

TEST(WorkerApiInlineTest, PipelinesWithContextsSinksConsoleOrRoutesAreNeverAnsweredInline) {
    expect_never_inline("context a\nstream S = A .context(a) .emit(v: v)");
    expect_never_inline("connector Out = console()\nstream S = A .emit(v: v) .to(Out)");
    expect_never_inline("stream S = A .emit(v: v) .print()");
    expect_never_inline("stream S = A .emit(v: v) .log(level: \"info\")");
    // The route's client connects in the background: no broker is needed to deploy it.
    ASSERT_TRUE(connectors::register_all().is_ok());
    auto routes = PipelineRoutes::from_json(json::parse(R"({"publish": [{"broker": "127.0.0.1:1", "topic": "t", "event_types": ["S"]}]})"));
    ASSERT_TRUE(routes.is_ok()) << routes.status().message();
    expect_never_inline("stream S = A .emit(v: v)", *routes);
}

TEST(PipelineRoutesTest, ReadsTheFirstReleasesMqttSpellingAsAnMqttConnector) {
    auto routes = PipelineRoutes::from_json(json::parse(R"({
        "publish": [{"broker": "mq:1884", "topic": "a/b", "event_types": ["Alert*"]}, {"broker": "mq", "topic": "all"}],
        "subscribe": [{"broker": "127.0.0.1:1883", "topic": "c", "client_id": "g-p"}]})"));
    ASSERT_TRUE(routes.is_ok()) << routes.status().message();
    ASSERT_EQ(routes->publish.size(), 2u);
    const auto& first = routes->publish[0].connector;
    EXPECT_EQ(first.kind, "mqtt");
    EXPECT_EQ(first.params.at("host").as_string(), "mq");
    EXPECT_EQ(first.params.at("port").as_int(), 1884);
    EXPECT_EQ(first.params.at("qos").as_int(), 1);  // routes lose nothing across a broker restart
    EXPECT_EQ(routes->publish[1].connector.params.at("port").as_int(), 1883);
    EXPECT_EQ(routes->publish[1].event_types, std::vector<std::string>{"*"});
    EXPECT_EQ(routes->subscribe[0].topic, "c");
    EXPECT_EQ(routes->subscribe[0].connector.params.at("client_id").as_string(), "g-p");
    EXPECT_EQ(PipelineRoutes::from_json(routes->to_json())->to_json(), routes->to_json());
}

TEST(PipelineRoutesTest, ReadsAnyConnectorKindAndTopic) {
    auto routes = PipelineRoutes::from_json(json::parse(R"({
        "publish": [{"connector": {"kind": "nats", "params": {"url": "nats://h:4222", "jetstream": true, "timeout": 1.5}},
                     "topic": "orders.eu", "event_types": ["Order"]}],
        "subscribe": [{"connector": {"kind": "kafka", "params": {"brokers": "k:9092"}}, "topic": "t"}]})"));
    ASSERT_TRUE(routes.is_ok()) << routes.status().message();
    const auto& nats = routes->publish[0];
    EXPECT_EQ(nats.connector.kind, "nats");
    EXPECT_EQ(nats.connector.params.at("url").as_string(), "nats://h:4222");
    EXPECT_TRUE(nats.connector.params.at("jetstream").as_bool());
    EXPECT_EQ(nats.connector.params.at("timeout").as_float(), 1.5);
    EXPECT_EQ(nats.topic, "orders.eu");
    EXPECT_EQ(routes->subscribe[0].connector.kind, "kafka");
    EXPECT_EQ(routes->to_json()["publish"][0]["connector"]["params"]["jetstream"], true);
    EXPECT_EQ(PipelineRoutes::from_json(routes->to_json())->to_json(), routes->to_json());
}

TEST(PipelineRoutesTest, BadRoutesAreClearErrors) {
    auto error = [](const char* text) {
        auto r = PipelineRoutes::from_json(json::parse(text));
        return r.is_ok() ? std::string("ok") : r.status().message();
    };
    EXPECT_EQ(error(R"([])"), "routes: must be an object {\"publish\": [...], \"subscribe\": [...]}");
    EXPECT_EQ(error(R"({"publish": {}})"), "routes: publish must be an array");
    EXPECT_EQ(error(R"({"subscribe": [{"broker": "h:1"}]})"),
              "routes: every subscribe route needs a \"connector\" (or \"broker\": \"host:port\") and a non-empty \"topic\"");
    EXPECT_EQ(error(R"({"publish": [{"broker": "h:99999", "topic": "t"}]})"), "routes: broker 'h:99999' is not host:port");
    EXPECT_EQ(error(R"({"publish": [{"broker": "h:1", "topic": "t", "event_types": [1]}]})"),
              "routes: event_types must be an array of patterns");
    EXPECT_EQ(error(R"({"publish": [{"connector": {"params": {}}, "topic": "t"}]})"),
              "routes: a route's \"connector\" is {\"kind\": string, \"params\": {...}}");
    EXPECT_EQ(error(R"({"publish": [{"connector": {"kind": "mqtt", "params": {"host": ["x"]}}, "topic": "t"}]})"),
              "routes: connector parameter 'host' must be a string, a number or a boolean");
}

TEST_F(WorkerApiTest, DeployWithBadRoutesIs400AndDeploysNothing) {
    auto r = call("POST", "/api/v1/pipelines",
                  json{{"name", "p"}, {"source", "stream S = A .emit(v: 1)"}, {"routes", {{"publish", 5}}}}.dump());
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(body(r)["error"], "routes: publish must be an array");
    EXPECT_EQ(body(call("GET", "/api/v1/pipelines"))["total"], 0);
}

TEST_F(WorkerApiTest, ARouteOfAKindThisBuildLacksIsAConnectorError) {
    json routes = {{"publish", {{{"connector", {{"kind", "carrier-pigeon"}, {"params", json::object()}}}, {"topic", "t"}}}}};
    auto r = call("POST", "/api/v1/pipelines", json{{"name", "p"}, {"source", "stream S = A .emit(v: 1)"}, {"routes", routes}}.dump());
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(body(r)["code"], "connector_error");
    EXPECT_NE(body(r)["error"].get<std::string>().find("kind 'carrier-pigeon' is not available in this build (kinds: console, file"),
              std::string::npos)
        << body(r)["error"];
    EXPECT_EQ(body(call("GET", "/api/v1/pipelines"))["total"], 0);
}

TEST_F(WorkerApiTest, PrometheusLabelsEscapeThePipelineName) {
    auto r = call("POST", "/api/v1/pipelines", json{{"name", "a\"b\\c\nd"}, {"source", "stream S = A .emit(v: 1)"}}.dump());
    ASSERT_EQ(r.status, 201) << r.body;
    const std::string text = call("GET", "/metrics", "", "").body;
    EXPECT_NE(text.find(R"(varpulis_events_total{pipeline="a\"b\\c\nd",id=")"), std::string::npos) << text;
}

TEST(BatchParserTest, FieldNamesAreRightWhateverTheirOrderFromEventToEvent) {
    auto batch = parse_batch(R"({"events": [
        {"event_type": "A", "fields": {"x": 1, "y": 2}},
        {"event_type": "A", "fields": {"y": 3, "x": 4}},
        {"event_type": "B", "fields": {"": 5, "x": 6, "z": 7}},
        {"event_type": "A", "fields": {"x": 8}}]})",
                             0, engine::EventLimits{});
    ASSERT_TRUE(batch.is_ok()) << batch.status().message();
    std::vector<std::string> shapes;
    for (const auto& e : batch->events) shapes.push_back(engine::event_json(*e).dump());
    EXPECT_EQ(shapes, (std::vector<std::string>{R"({"event_type":"A","x":1,"y":2})", R"({"event_type":"A","y":3,"x":4})",
                                                R"({"event_type":"B","":5,"x":6,"z":7})", R"({"event_type":"A","x":8})"}));
}

}  // namespace
TEST(BatchParserTest, ANameGivenTwiceKeepsItsLastValueAndABadSecondTypeIsRefused) {
    auto batch = parse_batch(R"({"events": [
        {"event_type": "A", "fields": {"v": 1, "w": 2, "v": 3}},
        {"event_type": "A", "event_type": 5, "fields": {"v": 1}}]})",
                             0, engine::EventLimits{});
    ASSERT_TRUE(batch.is_ok()) << batch.status().message();
    ASSERT_EQ(batch->events.size(), 1u);
    const auto& fields = batch->events[0]->fields;
    ASSERT_EQ(fields.size(), 2u);
    EXPECT_EQ(fields[0].second.as_int(), 3);
    ASSERT_EQ(batch->errors.size(), 1u);
    EXPECT_EQ(batch->errors[0].index, 1u);
}

TEST(HttpRequestTest, HeaderIsTheLastValueOfARepeatedNameAndEmptyWhenAbsent) {
    HttpRequest req;
    req.headers = {{"x-api-key", "first"}, {"content-type", "application/json"}, {"x-api-key", "second"}};
    EXPECT_EQ(req.header("x-api-key"), "second");
    EXPECT_EQ(req.header("content-type"), "application/json");
    EXPECT_EQ(req.header("host"), "");
}

// The worker's route table and its published contract (api/worker.openapi.json) name the same
// operations with the same authentication: a route added or removed without the contract fails.
TEST_F(WorkerApiTest, RoutesAreTheOpenApiContract) {
    EXPECT_EQ(testing::served_operations(api_.routes()), testing::published_operations("worker.openapi.json"));
}


}  // namespace varpulis::server

