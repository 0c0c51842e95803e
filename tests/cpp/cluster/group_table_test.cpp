// SPDX-License-Identifier: Apache-2.0
// The coordinator's group table and the rules routes between pipelines follow.
#include "varpulis/cluster/groups/group_table.hpp"

#include <gtest/gtest.h>

#include "varpulis/cluster/groups/group_routes.hpp"

namespace varpulis::cluster {
namespace {

std::shared_ptr<PipelineGroup> placed(const std::string& id, std::vector<std::pair<std::string, std::string>> on) {
    auto g = std::make_shared<PipelineGroup>();
    g->id = id;
    g->name = "group-" + id;
    for (const auto& [pipeline, worker] : on) {
        g->pipelines.push_back({pipeline, "stream S = A", ""});
        g->placements.push_back({pipeline, worker, "http://" + worker, id + "-" + pipeline, "running", 1});
    }
    return g;
}

TEST(GroupTableTest, AddFindRemoveInDeploymentOrder) {
    GroupTable table;
    table.add(placed("g2", {{"a", "w0"}}));
    table.add(placed("g1", {{"b", "w1"}}));
    ASSERT_EQ(table.all().size(), 2u);
    EXPECT_EQ(table.all()[0]->id, "g2");
    ASSERT_NE(table.find("g1"), nullptr);
    EXPECT_EQ(table.find("g1")->name, "group-g1");
    EXPECT_EQ(table.find("nope"), nullptr);
    auto removed = table.remove("g2");
    ASSERT_NE(removed, nullptr);
    EXPECT_EQ(removed->id, "g2");
    EXPECT_EQ(table.remove("g2"), nullptr);
    EXPECT_EQ(table.all().size(), 1u);
}

TEST(GroupTableTest, CountsPlacementsPerWorkerAndInAll) {
    GroupTable table;
    table.add(placed("g1", {{"a", "w0"}, {"b", "w1"}}));
    table.add(placed("g2", {{"c", "w0"}}));
    EXPECT_EQ(table.assigned("w0"), 2u);
    EXPECT_EQ(table.assigned("w1"), 1u);
    EXPECT_EQ(table.assigned("w9"), 0u);
    EXPECT_EQ(table.placements(), 3u);
}

TEST(GroupTableTest, StaleCopiesAreTakenOncePerWorker) {
    GroupTable table;
    table.add_stale({"w0", "p1"});
    table.add_stale({"w1", "p2"});
    table.add_stale({"w0", "p3"});
    EXPECT_EQ(table.take_stale("w0"), (std::vector<std::string>{"p1", "p3"}));
    EXPECT_TRUE(table.take_stale("w0").empty());
    EXPECT_EQ(table.snapshot().stale.size(), 1u);
}

TEST(GroupTableTest, SnapshotIsACopyAndRestoreReplacesTheTable) {
    GroupTable table;
    table.add(placed("g1", {{"a", "w0"}}));
    table.add_stale({"w1", "old"});
    GroupSnapshot s = table.snapshot();
    table.find("g1")->placements[0].worker_id = "w5";  // the snapshot does not follow
    EXPECT_EQ(s.groups[0].placements[0].worker_id, "w0");
    GroupTable restored;
    restored.add(placed("other", {}));
    restored.restore(s);
    ASSERT_EQ(restored.all().size(), 1u);
    EXPECT_EQ(restored.find("g1")->placements[0].pipeline_id, "g1-a");
    EXPECT_EQ(restored.take_stale("w1"), std::vector<std::string>{"old"});
}

TEST(GroupRoutesTest, TopicsAndChecks) {
    auto g = placed("g", {{"a", "w0"}, {"b", "w1"}});
    EXPECT_EQ(route_topic(*g, {"a", "b", {}, ""}), "varpulis/cluster/g/a/b");
    EXPECT_EQ(route_topic(*g, {"a", "b", {}, "t/x"}), "t/x");
    EXPECT_TRUE(check_route(*g, {"a", "b", {}, ""}).is_ok());
    EXPECT_TRUE(check_route(*g, {"_external", "b", {"A*"}, ""}).is_ok());
    EXPECT_EQ(check_route(*g, {"a", "zz", {}, ""}).message(), "route from 'a' to 'zz' names a pipeline that is not in the group");
    EXPECT_EQ(check_route(*g, {"a", "a", {}, ""}).message(), "route from 'a' to itself would loop forever");
    EXPECT_EQ(check_route(*g, {"a", "b", {}, "x/#"}).message(), "mqtt_topic 'x/#' must not contain '+' or '#'");
    g->routes = {{"a", "b", {}, "t"}, {"b", "a", {}, ""}};
    EXPECT_EQ(check_no_cycle(*g).message(), "routes a -> b -> a form a cycle: events would loop forever");
    g->routes = {{"a", "b", {}, ""}};
    EXPECT_TRUE(check_no_cycle(*g).is_ok());
}

TEST(GroupRoutesTest, MqttBrokerSpellings) {
    auto c = RouteConnector::mqtt("broker.local:1884");
    ASSERT_TRUE(c.is_ok());
    EXPECT_EQ(c->kind, "mqtt");
    EXPECT_EQ(c->params.dump(), R"({"host":"broker.local","port":1884,"qos":1})");
    EXPECT_EQ(c->transport, "mqtt://broker.local:1884");
    EXPECT_EQ(RouteConnector::mqtt("broker")->params["port"], 1883);
    for (const char* bad : {":1883", "h:0", "h:70000", "h:x"}) {
        auto r = RouteConnector::mqtt(bad);
        ASSERT_FALSE(r.is_ok()) << bad;
        EXPECT_EQ(r.status().message(), std::string("--mqtt-broker '") + bad + "' is not host:port");
    }
    EXPECT_TRUE(RouteConnector{}.empty());
}

TEST(GroupRoutesTest, PipelinesAreDeployedWithConnectorNeutralRoutes) {
    auto g = placed("g", {{"a", "w0"}, {"b", "w1"}, {"c", "w1"}});
    g->routes = {{"_external", "a", {"X"}, ""}, {"a", "b", {"Alert*"}, ""}, {"a", "b", {"Warn*"}, ""}, {"b", "c", {}, "t/bc"}};
    auto c = RouteConnector::mqtt("127.0.0.1:1883");
    ASSERT_TRUE(c.is_ok());
    const std::string connector_a = R"({"kind":"mqtt","params":{"host":"127.0.0.1","port":1883,"qos":1,"client_id":"varpulis-g-a"}})";
    EXPECT_EQ(routes_for(*g, "a", *c).dump(),
              R"({"publish":[{"connector":)" + connector_a + R"(,"topic":"varpulis/cluster/g/a/b","event_types":["Alert*"]},)" +
                  R"({"connector":)" + connector_a + R"(,"topic":"varpulis/cluster/g/a/b","event_types":["Warn*"]}],"subscribe":[]})");
    const std::string connector_b = R"({"kind":"mqtt","params":{"host":"127.0.0.1","port":1883,"qos":1,"client_id":"varpulis-g-b"}})";
    // Two routes on one topic are one subscription; an empty event_types carries everything.
    EXPECT_EQ(routes_for(*g, "b", *c).dump(),
              R"({"publish":[{"connector":)" + connector_b + R"(,"topic":"t/bc","event_types":["*"]}],"subscribe":[{"connector":)" +
                  connector_b + R"(,"topic":"varpulis/cluster/g/a/b"}]})");
    EXPECT_EQ(routes_for(*g, "a", RouteConnector{}).dump(), R"({"publish":[],"subscribe":[]})");
}

}  // namespace
}  // namespace varpulis::cluster
