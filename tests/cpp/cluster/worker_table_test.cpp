// SPDX-License-Identifier: Apache-2.0
// The coordinator's worker table, with a driven clock: registration, heartbeat outcomes,
// silence, expiry, tombstones and what survives a restart.
#include "varpulis/cluster/membership/worker_table.hpp"

#include <gtest/gtest.h>

namespace varpulis::cluster {
namespace {

using namespace std::chrono_literals;
using Clock = WorkerTable::Clock;

class WorkerTableTest : public ::testing::Test {
  protected:
    void join(const std::string& id, std::optional<size_t> max = std::nullopt) {
        table_.register_worker({id, "http://" + id + ":9000", "key-" + id, "token-" + id, max}, now_);
    }
    HeartbeatOutcome beat(const std::string& id, const std::string& token, HeartbeatReport report = {}) {
        return table_.heartbeat(id, token, report, now_).outcome;
    }

    WorkerTable table_;
    Clock::time_point now_ = Clock::time_point{} + 1h;
};

TEST_F(WorkerTableTest, RegistrationAddsAReadyWorkerInRegistrationOrder) {
    join("b");
    join("a", 3);
    const WorkerInfo* a = table_.find("a");
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(a->status, WorkerStatus::Ready);
    EXPECT_EQ(a->address, "http://a:9000");
    EXPECT_EQ(a->api_key, "key-a");
    EXPECT_EQ(a->max_pipelines, 3u);
    EXPECT_EQ(table_.find("b")->max_pipelines, 100u);
    auto ordered = table_.in_order();
    ASSERT_EQ(ordered.size(), 2u);
    EXPECT_EQ(ordered[0]->id, "b");
    EXPECT_EQ(ordered[1]->id, "a");
    EXPECT_EQ(table_.find("nobody"), nullptr);
}

TEST_F(WorkerTableTest, RegisteringAgainKeepsTheOrderAndCapacityAndRenewsTheToken) {
    join("a", 5);
    join("b");
    table_.register_worker({"a", "http://a:9001", "", "new-token", std::nullopt}, now_);
    EXPECT_EQ(table_.find("a")->order, 0u);
    EXPECT_EQ(table_.find("a")->max_pipelines, 5u);
    EXPECT_EQ(table_.find("a")->address, "http://a:9001");
    EXPECT_EQ(beat("a", "token-a"), HeartbeatOutcome::WrongToken);
    EXPECT_EQ(beat("a", "new-token"), HeartbeatOutcome::Accepted);
}

TEST_F(WorkerTableTest, HeartbeatOutcomes) {
    join("a");
    EXPECT_EQ(beat("a", "token-a"), HeartbeatOutcome::Accepted);
    EXPECT_EQ(beat("a", "wrong"), HeartbeatOutcome::WrongToken);
    EXPECT_EQ(beat("a", ""), HeartbeatOutcome::WrongToken);
    EXPECT_EQ(beat("nobody", "token-a"), HeartbeatOutcome::Unknown);
    ASSERT_TRUE(table_.remove("a", "removed by test"));
    auto result = table_.heartbeat("a", "token-a", {}, now_);
    EXPECT_EQ(result.outcome, HeartbeatOutcome::Deregistered);
    EXPECT_EQ(result.reason, "removed by test");
}

TEST_F(WorkerTableTest, AHeartbeatUpdatesWhatItReportsAndKeepsTheRest) {
    join("a");
    HeartbeatReport report;
    report.events_processed = 42;
    report.connectors = engine::ConnectorTotals{3, 2, 5, 1, 4};
    beat("a", "token-a", report);
    beat("a", "token-a", {});  // fields absent: kept
    const WorkerInfo* a = table_.find("a");
    EXPECT_EQ(a->events_processed, 42u);
    EXPECT_EQ(a->connectors.total, 3u);
    EXPECT_EQ(a->connectors.connected, 2u);
    EXPECT_EQ(a->connectors.spooled, 5u);
    EXPECT_EQ(a->connectors.dropped, 1u);
    EXPECT_EQ(a->connectors.redelivered, 4u);
    EXPECT_EQ(a->pipelines_reported, 0u);
}

TEST_F(WorkerTableTest, AWorkerFoundGoneTurnsUnhealthyAtOnceAndRecoversWithAHeartbeat) {
    join("a");
    EXPECT_TRUE(table_.mark_unhealthy("a"));
    EXPECT_EQ(table_.find("a")->status, WorkerStatus::Unhealthy);
    EXPECT_FALSE(table_.mark_unhealthy("a"));  // once
    EXPECT_FALSE(table_.mark_unhealthy("nobody"));
    EXPECT_EQ(beat("a", "token-a"), HeartbeatOutcome::Recovered);
    EXPECT_EQ(table_.find("a")->status, WorkerStatus::Ready);
}

TEST_F(WorkerTableTest, SilentWorkersTurnUnhealthyAndRecoverWithAHeartbeat) {
    join("a");
    join("b");
    now_ += 10s;
    beat("b", "token-b");
    now_ += 6s;  // a: 16 s silent, b: 6 s
    EXPECT_EQ(table_.mark_silent(now_, 15s), std::vector<std::string>{"a"});
    EXPECT_EQ(table_.find("a")->status, WorkerStatus::Unhealthy);
    EXPECT_EQ(table_.find("b")->status, WorkerStatus::Ready);
    EXPECT_TRUE(table_.mark_silent(now_, 15s).empty());  // already unhealthy: not marked twice
    EXPECT_EQ(beat("a", "token-a"), HeartbeatOutcome::Recovered);
    EXPECT_EQ(table_.find("a")->status, WorkerStatus::Ready);
}

// A drained worker stops (SIGTERM): once silent it is unhealthy, and expires like any other.
TEST_F(WorkerTableTest, ADrainingWorkerThatFallsSilentIsUnhealthy) {
    join("a");
    ASSERT_TRUE(table_.drain("a"));
    EXPECT_FALSE(table_.drain("nobody"));
    EXPECT_FALSE(table_.find("a")->available());
    now_ += 10s;
    EXPECT_TRUE(table_.mark_silent(now_, 15s).empty());
    EXPECT_EQ(table_.find("a")->status, WorkerStatus::Draining);
    now_ += 10s;
    EXPECT_EQ(table_.mark_silent(now_, 15s), std::vector<std::string>{"a"});
    EXPECT_EQ(table_.find("a")->status, WorkerStatus::Unhealthy);
}

TEST_F(WorkerTableTest, ExpiryForgetsLongSilentIdleWorkersWithoutATombstone) {
    join("idle");
    join("busy");
    join("recent");
    now_ += 20s;
    beat("recent", "token-recent");
    table_.mark_silent(now_, 15s);
    now_ += 50s;  // idle and busy: 70 s silent; recent: 50 s
    table_.mark_silent(now_, 15s);
    auto idle = [](const std::string& id) { return id != "busy"; };
    EXPECT_TRUE(table_.expire(now_, 0ms, idle).empty());  // zero: never
    EXPECT_EQ(table_.expire(now_, 60s, idle), std::vector<std::string>{"idle"});
    EXPECT_EQ(table_.find("idle"), nullptr);
    EXPECT_NE(table_.find("busy"), nullptr);
    EXPECT_NE(table_.find("recent"), nullptr);
    EXPECT_EQ(beat("idle", "token-idle"), HeartbeatOutcome::Unknown);  // not deregistered: it may register again
}

TEST_F(WorkerTableTest, RegisteringAgainLiftsTheTombstone) {
    join("a");
    ASSERT_TRUE(table_.remove("a", "gone"));
    EXPECT_FALSE(table_.remove("a", "again"));
    EXPECT_EQ(table_.snapshot().tombstones.at("a"), "gone");
    join("a");
    EXPECT_EQ(beat("a", "token-a"), HeartbeatOutcome::Accepted);
    EXPECT_TRUE(table_.snapshot().tombstones.empty());
}

TEST_F(WorkerTableTest, SnapshotAndRestoreKeepWhatLastsBetweenRuns) {
    join("a", 7);
    join("b");
    beat("a", "token-a", {.events_processed = 5, .pipelines_running = 1, .connectors = std::nullopt});
    table_.remove("b", "gone");
    MembershipSnapshot s = table_.snapshot();
    ASSERT_EQ(s.workers.size(), 1u);
    EXPECT_EQ(s.workers[0].id, "a");
    EXPECT_EQ(s.workers[0].max_pipelines, 7u);
    EXPECT_TRUE(s.workers[0].heartbeat_token.empty());  // tokens are not kept: workers register again
    EXPECT_EQ(s.workers[0].events_processed, 0u);
    EXPECT_EQ(s.next_order, 2u);

    WorkerTable restored;
    const auto later = now_ + 1h;
    restored.restore(s, later);
    const WorkerInfo* a = restored.find("a");
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(a->status, WorkerStatus::Unhealthy);
    EXPECT_EQ(a->last_heartbeat, later);
    EXPECT_EQ(a->address, "http://a:9000");
    EXPECT_EQ(a->api_key, "key-a");
    EXPECT_EQ(restored.heartbeat("b", "token-b", {}, later).outcome, HeartbeatOutcome::Deregistered);
    EXPECT_EQ(restored.heartbeat("a", "token-a", {}, later).outcome, HeartbeatOutcome::WrongToken);
    restored.register_worker({"c", "http://c:9000", "", "t", std::nullopt}, later);
    EXPECT_EQ(restored.find("c")->order, 2u);  // after every worker of the last run
}

}  // namespace
}  // namespace varpulis::cluster
