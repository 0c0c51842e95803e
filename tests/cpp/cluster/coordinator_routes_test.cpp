// SPDX-License-Identifier: Apache-2.0
// The coordinator's route table (which operation each method and path reach, the API key, 404
// and 405 with Allow) against stand-in operations, and a Coordinator over a memory store.
#include "varpulis/cluster/api/coordinator_routes.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "varpulis/cluster/coordinator.hpp"
#include "varpulis/server/json_http.hpp"
#include "support/openapi_support.hpp"

namespace varpulis::cluster {
namespace {

using server::HttpRequest;
using server::HttpResponse;

/// Answers every operation 200 with its name (and the id it got).
class Recorder : public CoordinatorEndpoints {
  public:
    HttpResponse metrics() const override { return said("metrics"); }
    HttpResponse topology() const override { return said("topology"); }
    HttpResponse register_worker(const HttpRequest&) override { return said("register"); }
    HttpResponse heartbeat(const HttpRequest&, const std::string& id) override { return said("heartbeat " + id); }
    HttpResponse list_workers() const override { return said("list_workers"); }
    HttpResponse get_worker(const std::string& id) const override { return said("get_worker " + id); }
    HttpResponse delete_worker(const std::string& id) override { return said("delete_worker " + id); }
    HttpResponse drain_worker(const HttpRequest&, const std::string& id) override { return said("drain " + id); }
    HttpResponse deploy_group(const HttpRequest&) override { return said("deploy"); }
    HttpResponse list_groups() const override { return said("list_groups"); }
    HttpResponse get_group(const std::string& id) const override { return said("get_group " + id); }
    HttpResponse teardown_group(const std::string& id) override { return said("teardown " + id); }
    std::optional<HttpResponse> inject(const HttpRequest&, const std::string& id, bool batch, const server::HttpResponder&) override {
        return said((batch ? "inject_batch " : "inject ") + id);
    }

  private:
    static HttpResponse said(const std::string& what) { return server::json_response(200, {{"op", what}}); }
};

class CoordinatorRoutesTest : public ::testing::Test {
  protected:
    HttpResponse call(const std::string& method, const std::string& path, const std::string& key = "admin") {
        HttpRequest req;
        req.method = method;
        req.path = path;
        if (!key.empty()) req.headers.emplace_back("x-api-key", key);
        HttpResponse out;
        routes_.handle(req, [&out](HttpResponse r) { out = std::move(r); });
        return out;
    }
    std::string op(const std::string& method, const std::string& path) {
        HttpResponse r = call(method, path);
        EXPECT_EQ(r.status, 200) << method << " " << path << ": " << r.body;
        return nlohmann::json::parse(r.body).value("op", "");
    }
    static std::string header(const HttpResponse& r, const std::string& name) {
        for (const auto& [k, v] : r.headers) {
            if (k == name) return v;
        }
        return "";
    }

    Recorder recorder_;
    CoordinatorRoutes routes_{recorder_, "admin"};
};

TEST_F(CoordinatorRoutesTest, EachRouteReachesItsOperation) {
    EXPECT_EQ(op("GET", "/metrics"), "metrics");
    EXPECT_EQ(op("GET", "/api/v1/cluster/topology"), "topology");
    EXPECT_EQ(op("POST", "/api/v1/cluster/workers/register"), "register");
    EXPECT_EQ(op("POST", "/api/v1/cluster/workers/w1/heartbeat"), "heartbeat w1");
    EXPECT_EQ(op("GET", "/api/v1/cluster/workers"), "list_workers");
    EXPECT_EQ(op("GET", "/api/v1/cluster/workers/w1"), "get_worker w1");
    EXPECT_EQ(op("DELETE", "/api/v1/cluster/workers/w1"), "delete_worker w1");
    EXPECT_EQ(op("POST", "/api/v1/cluster/workers/w1/drain"), "drain w1");
    EXPECT_EQ(op("POST", "/api/v1/cluster/pipeline-groups"), "deploy");
    EXPECT_EQ(op("GET", "/api/v1/cluster/pipeline-groups"), "list_groups");
    EXPECT_EQ(op("GET", "/api/v1/cluster/pipeline-groups/g1"), "get_group g1");
    EXPECT_EQ(op("DELETE", "/api/v1/cluster/pipeline-groups/g1"), "teardown g1");
    EXPECT_EQ(op("POST", "/api/v1/cluster/pipeline-groups/g1/inject"), "inject g1");
    EXPECT_EQ(op("POST", "/api/v1/cluster/pipeline-groups/g1/inject-batch"), "inject_batch g1");
    EXPECT_EQ(routes_.specs().size(), 16u);
}

TEST_F(CoordinatorRoutesTest, ProbesAnswerWithoutTheKey) {
    EXPECT_EQ(call("GET", "/health", "").status, 200);
    EXPECT_EQ(call("GET", "/ready", "").status, 200);
    EXPECT_EQ(call("GET", "/metrics", "").status, 200);
}

TEST_F(CoordinatorRoutesTest, TheKeyComesFirstUnderTheClusterApi) {
    EXPECT_EQ(call("GET", "/api/v1/cluster/workers", "").status, 401);
    EXPECT_EQ(call("GET", "/api/v1/cluster/workers", "wrong").status, 401);
    EXPECT_EQ(call("GET", "/api/v1/cluster/nothing-here", "").status, 401);         // not even 404
    EXPECT_EQ(call("PUT", "/api/v1/cluster/workers/register", "").status, 401);   // not even 405
    // Registration and heartbeats authenticate themselves.
    EXPECT_EQ(call("POST", "/api/v1/cluster/workers/register", "").status, 200);
    EXPECT_EQ(call("POST", "/api/v1/cluster/workers/w1/heartbeat", "").status, 200);
    EXPECT_EQ(call("GET", "/elsewhere", "").status, 404);
}

TEST_F(CoordinatorRoutesTest, UnknownPathsAre404AndOtherMethods405WithAllow) {
    HttpResponse r = call("GET", "/api/v1/cluster/pipeline-groups/g1/other");
    EXPECT_EQ(r.status, 404);
    r = call("POST", "/health");
    EXPECT_EQ(r.status, 405);
    EXPECT_EQ(header(r, "Allow"), "GET");
    r = call("PUT", "/api/v1/cluster/pipeline-groups");
    EXPECT_EQ(r.status, 405);
    EXPECT_EQ(header(r, "Allow"), "POST, GET");
    r = call("POST", "/api/v1/cluster/workers/w1");
    EXPECT_EQ(header(r, "Allow"), "GET, DELETE");
    r = call("GET", "/api/v1/cluster/workers/register");  // the literal path, not {id} = "register"
    EXPECT_EQ(r.status, 405);
    EXPECT_EQ(header(r, "Allow"), "POST");
    EXPECT_EQ(call("GET", "/api/v1/cluster/workers/w1/heartbeat").status, 405);
}

/// Saves into a memory store the test can still read after the coordinator owns it.
class SharedStore : public StateStore {
  public:
    explicit SharedStore(std::shared_ptr<MemoryStateStore> inner) : inner_(std::move(inner)) {}
    common::Result<CoordinatorSnapshot> load() override { return inner_->load(); }
    common::Status save(const CoordinatorSnapshot& s) override { return inner_->save(s); }

  private:
    std::shared_ptr<MemoryStateStore> inner_;
};

// The coordinator's route table and api/coordinator.openapi.json name the same operations with
// the same authentication.
TEST(CoordinatorTest, RoutesAreTheOpenApiContract) {
    Coordinator coordinator(CoordinatorOptions{}, std::make_unique<MemoryStateStore>());
    EXPECT_EQ(testing::served_operations(coordinator.routes()), testing::published_operations("coordinator.openapi.json"));
}

TEST(CoordinatorTest, ListsItsRoutesAndStartsFromItsStore) {
    auto memory = std::make_shared<MemoryStateStore>();
    CoordinatorSnapshot saved;
    WorkerInfo w;
    w.id = "worker-0";
    w.address = "http://127.0.0.1:1";
    saved.membership.workers.push_back(w);
    saved.membership.next_order = 1;
    saved.round_robin = 3;
    ASSERT_TRUE(memory->save(saved).is_ok());
    Coordinator coordinator(CoordinatorOptions{}, std::make_unique<SharedStore>(memory));
    const auto& routes = coordinator.routes();
    auto has = [&](const std::string& method, const std::string& pattern) {
        return std::any_of(routes.begin(), routes.end(), [&](const auto& r) { return r.method == method && r.pattern == pattern; });
    };
    EXPECT_TRUE(has("POST", "/api/v1/cluster/workers/register"));
    EXPECT_TRUE(has("POST", "/api/v1/cluster/pipeline-groups/{id}/inject-batch"));
    EXPECT_TRUE(has("GET", "/health"));
    auto port = coordinator.serve("127.0.0.1", 0);
    ASSERT_TRUE(port.is_ok()) << port.status().to_string();
    HttpClient client;
    const std::string base = "http://127.0.0.1:" + std::to_string(*port);
    auto listed = client.request("GET", base + "/api/v1/cluster/workers");
    ASSERT_TRUE(listed.is_ok());
    auto workers = nlohmann::json::parse(listed->body);
    EXPECT_EQ(workers["total"], 1);
    EXPECT_EQ(workers["workers"][0]["status"], "unhealthy");  // until it registers again
    auto removed = client.request("DELETE", base + "/api/v1/cluster/workers/worker-0");
    ASSERT_TRUE(removed.is_ok());
    EXPECT_EQ(removed->status, 200);
    coordinator.stop();
    auto after = memory->load();
    ASSERT_TRUE(after.is_ok());
    EXPECT_TRUE(after->membership.workers.empty());
    EXPECT_EQ(after->membership.tombstones.count("worker-0"), 1u);
    EXPECT_EQ(after->round_robin, 3u);
}

}  // namespace
}  // namespace varpulis::cluster
