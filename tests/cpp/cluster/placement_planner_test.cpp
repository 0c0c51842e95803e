// SPDX-License-Identifier: Apache-2.0
// The placement planner: affinity, round-robin in registration order, least loaded, failover.
#include "varpulis/cluster/placement/placement_planner.hpp"

#include <gtest/gtest.h>

namespace varpulis::cluster {
namespace {

/// Workers worker-0 .. worker-{n-1}, registered in that order, available, empty, room for 100.
std::vector<WorkerLoad> workers(size_t n) {
    std::vector<WorkerLoad> out;
    for (size_t i = 0; i < n; ++i) out.push_back({"worker-" + std::to_string(i), i, true, 100, 0});
    return out;
}

PipelineGroup group(std::vector<PipelineSpec> pipelines, std::string placement = "round_robin") {
    PipelineGroup g;
    g.id = "g";
    g.name = "g";
    g.placement = std::move(placement);
    g.pipelines = std::move(pipelines);
    return g;
}

TEST(PlacementPlannerTest, RoundRobinFollowsRegistrationOrderAcrossGroups) {
    PlacementPlanner planner;
    auto ws = workers(2);
    std::swap(ws[0], ws[1]);  // described out of order: registration order still decides
    auto first = planner.plan_group(ws, group({{"p1", "", ""}, {"p2", "", ""}, {"p3", "", ""}}));
    ASSERT_TRUE(first.is_ok());
    EXPECT_EQ(*first, (std::vector<std::string>{"worker-0", "worker-1", "worker-0"}));
    auto second = planner.plan_group(ws, group({{"p4", "", ""}}));
    ASSERT_TRUE(second.is_ok());
    EXPECT_EQ(*second, std::vector<std::string>{"worker-1"});  // one counter for the coordinator
    EXPECT_EQ(planner.round_robin(), 4u);
}

TEST(PlacementPlannerTest, AffinityWinsWhenThatWorkerCanTakeThePipeline) {
    PlacementPlanner planner;
    auto ws = workers(3);
    EXPECT_EQ(planner.choose(ws, {"p", "", "worker-2"}, PlacementStrategy::RoundRobin), "worker-2");
    EXPECT_EQ(planner.round_robin(), 0u);  // only a round-robin choice advances the counter
    ws[2].available = false;
    EXPECT_EQ(planner.choose(ws, {"p", "", "worker-2"}, PlacementStrategy::RoundRobin), "worker-0");
    ws[1].assigned = 100;  // full
    EXPECT_EQ(planner.choose(ws, {"p", "", "worker-1"}, PlacementStrategy::RoundRobin), "worker-0");
    EXPECT_EQ(planner.choose(ws, {"p", "", "nobody"}, PlacementStrategy::RoundRobin), "worker-0");
}

TEST(PlacementPlannerTest, LeastLoadedBreaksTiesByRegistrationOrder) {
    PlacementPlanner planner;
    auto ws = workers(3);
    ws[0].assigned = 2;
    ws[1].assigned = 1;
    ws[2].assigned = 1;
    EXPECT_EQ(planner.choose(ws, {"p", "", ""}, PlacementStrategy::LeastLoaded), "worker-1");
    ws[1].order = 7;  // registered later than worker-2 now
    EXPECT_EQ(planner.choose(ws, {"p", "", ""}, PlacementStrategy::LeastLoaded), "worker-2");
    EXPECT_EQ(planner.round_robin(), 0u);
    auto planned = planner.plan_group(ws, group({{"a", "", ""}, {"b", "", ""}}, "least_loaded"));
    ASSERT_TRUE(planned.is_ok());
    // The same loads for the whole group: its own pipelines are not counted as they are placed.
    EXPECT_EQ(*planned, (std::vector<std::string>{"worker-2", "worker-2"}));
}

TEST(PlacementPlannerTest, StrategyNames) {
    EXPECT_EQ(placement_strategy("least_loaded"), PlacementStrategy::LeastLoaded);
    EXPECT_EQ(placement_strategy("round_robin"), PlacementStrategy::RoundRobin);
    EXPECT_EQ(placement_strategy("anything else"), PlacementStrategy::RoundRobin);
}

TEST(PlacementPlannerTest, FailoverGoesToTheLeastLoadedOtherWorkerWhateverTheAffinity) {
    PlacementPlanner planner;
    auto ws = workers(3);
    ws[0].assigned = 3;
    ws[1].assigned = 2;
    ws[2].assigned = 5;
    EXPECT_EQ(planner.plan_failover(ws, "worker-1"), "worker-0");
    EXPECT_EQ(planner.plan_failover(ws, "worker-0"), "worker-1");
    ws[1].available = false;
    ws[2].available = false;
    EXPECT_EQ(planner.plan_failover(ws, "worker-0"), std::nullopt);
}

TEST(PlacementPlannerTest, NoWorkerIsNotFoundNamingThePipeline) {
    PlacementPlanner planner;
    auto none = planner.plan_group({}, group({{"p1", "", ""}}));
    ASSERT_FALSE(none.is_ok());
    EXPECT_EQ(none.status().code(), common::ErrorCode::NotFound);
    EXPECT_EQ(none.status().message(), "no worker is available to run pipeline 'p1'");
    auto ws = workers(1);
    ws[0].capacity = 0;
    EXPECT_FALSE(planner.plan_group(ws, group({{"p1", "", ""}})).is_ok());
    EXPECT_EQ(planner.choose(ws, {"p", "", ""}, PlacementStrategy::RoundRobin, {"worker-0"}), std::nullopt);
    EXPECT_EQ(planner.round_robin(), 0u);
}

TEST(PlacementPlannerTest, TheCounterResumesFromASavedValue) {
    PlacementPlanner planner(1);
    EXPECT_EQ(planner.choose(workers(2), {"p", "", ""}, PlacementStrategy::RoundRobin), "worker-1");
}

}  // namespace
}  // namespace varpulis::cluster
