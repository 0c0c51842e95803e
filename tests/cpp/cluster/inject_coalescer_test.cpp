// SPDX-License-Identifier: Apache-2.0
// The coordinator's coalescing of single injects, against a real worker (WorkerApi behind an
// HttpServer on 127.0.0.1): injects submitted in one turn of the I/O loop while one is in flight
// reach the worker as one events-each request, and each gets the answer POST .../events gives.
#include "varpulis/cluster/routing/inject_coalescer.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <memory>
#include <regex>
#include <variant>
#include <string>

#include "cluster/async_results.hpp"
#include "varpulis/server/http_server.hpp"
#include "varpulis/server/worker_api.hpp"

namespace varpulis::cluster {
namespace {

using server::HttpRequest;
using server::HttpResponder;
using server::HttpServer;
using server::HttpServerOptions;

class InjectCoalescerTest : public ::testing::Test {
  protected:
    void SetUp() override { start_worker(16 << 20, false); }

    /// The worker: a WorkerApi with one pipeline behind an HttpServer. `answer_budget`: its
    /// events-each answer budget; `old_release`: events-each is answered as an older worker
    /// would, "no route" (404), and counted nowhere.
    void start_worker(size_t answer_budget, bool old_release) {
        TearDown();
        server::WorkerApiOptions worker_options;
        worker_options.api_key = "secret";
        worker_options.each_answer_budget = answer_budget;
        api_ = std::make_unique<server::WorkerApi>(worker_options);
        api_->set_ready(true);
        HttpServerOptions options;
        options.body_limit = [this](std::string_view path) { return api_->body_limit(path); };
        auto worker = HttpServer::start(std::move(options), [this, old_release](const HttpRequest& req, const HttpResponder& respond) {
            if (old_release && req.path.ends_with("/events-each")) return respond(server::error_response(404, "not_found", "no route for " + req.path));
            respond(api_->handle(req));
        });
        ASSERT_TRUE(worker) << worker.status().to_string();
        worker_ = std::move(*worker);
        HttpServerOptions home_options;
        home_options.io_threads = 1;  // the coordinator's set-up: the client's io_context has one thread
        auto home = HttpServer::start(std::move(home_options), [](const HttpRequest&, const HttpResponder& respond) { respond({}); });
        ASSERT_TRUE(home) << home.status().to_string();
        home_ = std::move(*home);
        client_ = std::make_shared<AsyncHttpClient>(home_->io_context());
        coalescer_ = std::make_unique<InjectCoalescer>(home_->io_context(), client_);
        auto deployed = api_->registry().deploy("p", "stream S = A .emit(v: v)", std::nullopt, {});
        auto id = std::get<std::shared_ptr<server::Pipeline>>(deployed)->id;
        pipeline_url_ = "http://127.0.0.1:" + std::to_string(worker_->port()) + "/api/v1/pipelines/" + id;
    }

    void TearDown() override {
        coalescer_.reset();
        client_.reset();  // the client goes before its home server
        if (home_) home_->stop();
        if (worker_) worker_->stop();
        home_.reset();
        worker_.reset();
    }

    /// Submit `events` from one handler on the client's I/O thread: one turn of its loop.
    std::shared_ptr<Collector> submit_in_one_turn(const std::vector<std::string>& events, const std::string& url,
                                                  const std::string& key = "secret") {
        auto results = std::make_shared<Collector>(events.size());
        boost::asio::post(home_->io_context(), [&, results, events, url, key] {
            for (size_t i = 0; i < events.size(); ++i) coalescer_->submit(url, key, events[i], results->slot(i));
        });
        EXPECT_TRUE(results->wait(events.size())) << results->total() << " of " << events.size() << " answered";
        return results;
    }

    /// The HTTP requests the worker answered with `status`, from its Prometheus counters.
    uint64_t worker_requests(int status) {
        HttpRequest metrics;
        metrics.method = "GET";
        metrics.path = metrics.target = "/metrics";
        std::smatch m;
        std::string text = api_->handle(metrics).body;
        std::regex line("varpulis_http_requests_total\\{status=\"" + std::to_string(status) + "\"\\} (\\d+)");
        return std::regex_search(text, m, line) ? std::stoull(m[1]) : 0;
    }

    static std::string event(int v) { return R"({"event_type": "A", "fields": {"v": )" + std::to_string(v) + "}}"; }
    static std::string answer(int v) {
        return R"({"accepted":true,"output_events":[{"event_type":"S","v":)" + std::to_string(v) + "}]}";
    }

    std::unique_ptr<server::WorkerApi> api_;
    std::unique_ptr<HttpServer> worker_, home_;
    std::shared_ptr<AsyncHttpClient> client_;
    std::unique_ptr<InjectCoalescer> coalescer_;
    std::string pipeline_url_;
};

TEST_F(InjectCoalescerTest, InjectsOfOneTurnGoTogetherAndEachGetsItsOwnAnswer) {
    std::vector<std::string> events;
    for (int v = 0; v < 10; ++v) events.push_back(event(v));
    // A pretty-printed event: its newlines are whitespace, and it still travels as one line.
    events.push_back("{\n  \"event_type\": \"A\",\n  \"fields\": {\"v\": 10}\n}\n");
    auto results = submit_in_one_turn(events, pipeline_url_);
    for (int v = 0; v <= 10; ++v) {
        auto r = results->result(static_cast<size_t>(v));
        ASSERT_TRUE(r) << v << ": " << r.status().to_string();
        EXPECT_EQ(r->status, 200) << v;
        EXPECT_EQ(r->body, answer(v)) << v;
        EXPECT_EQ(results->calls(static_cast<size_t>(v)), 1) << v;
    }
    // The first went alone (nothing was in flight); the other ten waited for the end of the turn.
    EXPECT_EQ(worker_requests(200), 2u);
}

TEST_F(InjectCoalescerTest, AnEventThatRaisesItsOutputCapGoesAlone) {
    std::string raised = R"({"event_type": "A", "fields": {"v": 7}, "max_output_events": 100000})";
    auto results = submit_in_one_turn({event(1), raised, event(2), event(3)}, pipeline_url_);
    EXPECT_EQ(results->result(1)->body, answer(7));
    EXPECT_EQ(results->result(3)->body, answer(3));
    EXPECT_EQ(worker_requests(200), 3u);  // 1 alone, the raised one alone, then 2 and 3 together
}

TEST_F(InjectCoalescerTest, AGroupIsAtMostMaxEvents) {
    constexpr int kEvents = 300;
    std::vector<std::string> events;
    for (int v = 0; v < kEvents; ++v) events.push_back(event(v));
    auto results = submit_in_one_turn(events, pipeline_url_);
    for (int v = 0; v < kEvents; ++v) {
        auto r = results->result(static_cast<size_t>(v));
        ASSERT_TRUE(r) << v << ": " << r.status().to_string();
        EXPECT_EQ(r->body, answer(v)) << v;
    }
    static_assert(InjectCoalescer::kMaxEvents == 256);
    EXPECT_EQ(worker_requests(200), 3u);  // 1 alone, then 256 and 43
}

TEST_F(InjectCoalescerTest, AnAnswerToTheWholeRequestIsEveryEventsAnswer) {
    auto results = submit_in_one_turn({event(1), event(2), event(3)}, pipeline_url_, "wrong");
    for (size_t i = 0; i < 3; ++i) {
        auto r = results->result(i);
        ASSERT_TRUE(r) << r.status().to_string();
        EXPECT_EQ(r->status, 401) << i;
        EXPECT_NE(r->body.find("invalid API key"), std::string::npos) << r->body;
    }
    auto unknown = submit_in_one_turn({event(1), event(2)}, pipeline_url_ + "x");
    for (size_t i = 0; i < 2; ++i) EXPECT_EQ(unknown->result(i)->status, 404) << i;
}

TEST_F(InjectCoalescerTest, AnEventTheWorkerRefusesGetsItsOwnErrorAndTheOthersTheirAnswers) {
    auto results = submit_in_one_turn({event(1), event(2), R"({"event_type": "A", "fields": 3})", event(4)}, pipeline_url_);
    EXPECT_EQ(results->result(1)->body, answer(2));
    EXPECT_EQ(results->result(2)->status, 400);
    EXPECT_NE(results->result(2)->body.find("invalid_event"), std::string::npos) << results->result(2)->body;
    EXPECT_EQ(results->result(3)->body, answer(4));
}

TEST_F(InjectCoalescerTest, EventsTheWorkerDidNotProcessAreSentAgain) {
    start_worker(1, false);  // each events-each takes its first line only
    std::vector<std::string> events;
    for (int v = 0; v < 5; ++v) events.push_back(event(v));
    auto results = submit_in_one_turn(events, pipeline_url_);
    for (int v = 0; v < 5; ++v) {
        auto r = results->result(static_cast<size_t>(v));
        ASSERT_TRUE(r) << v << ": " << r.status().to_string();
        EXPECT_EQ(r->body, answer(v)) << v;
        EXPECT_EQ(results->calls(static_cast<size_t>(v)), 1) << v;
    }
    // 0 alone; then groups of 4, 3 and 2, each keeping its first; 4 alone.
    EXPECT_EQ(worker_requests(200), 5u);
    EXPECT_EQ(api_->registry().list()[0]->counters.events_in, 5u);
}

TEST_F(InjectCoalescerTest, AWorkerWithoutEventsEachGetsEveryEventAlone) {
    start_worker(16 << 20, true);
    for (int turn = 0; turn < 2; ++turn) {
        auto results = submit_in_one_turn({event(1), event(2), event(3)}, pipeline_url_);
        for (int v = 1; v <= 3; ++v) EXPECT_EQ(results->result(static_cast<size_t>(v - 1))->body, answer(v)) << turn << " " << v;
    }
    // Each event once: the refused group's events went again alone, and the second turn's at once.
    EXPECT_EQ(api_->registry().list()[0]->counters.events_in, 6u);
    EXPECT_EQ(worker_requests(200), 6u);
}

TEST_F(InjectCoalescerTest, AnUnreachableWorkerFailsEveryEvent) {
    uint16_t port = worker_->port();
    worker_->stop();
    worker_.reset();
    auto results = submit_in_one_turn({event(1), event(2), event(3)}, "http://127.0.0.1:" + std::to_string(port) + "/api/v1/pipelines/p");
    for (size_t i = 0; i < 3; ++i) {
        auto r = results->result(i);
        EXPECT_FALSE(r) << i;
        EXPECT_EQ(results->calls(i), 1) << i;
    }
}

}  // namespace
}  // namespace varpulis::cluster
