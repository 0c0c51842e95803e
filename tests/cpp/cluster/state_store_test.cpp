// SPDX-License-Identifier: Apache-2.0
// The coordinator's state stores: the state directory's file (its format, a round trip, a
// corrupt file) and the memory store.
#include "varpulis/cluster/store/file_state_store.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "varpulis/common/atomic_file.hpp"
#include "support/temp_dir.hpp"

namespace varpulis::cluster {
namespace {

namespace fs = std::filesystem;

CoordinatorSnapshot sample() {
    CoordinatorSnapshot s;
    WorkerInfo w;
    w.id = "worker-0";
    w.address = "http://127.0.0.1:9000";
    w.api_key = "k0";
    w.max_pipelines = 4;
    w.order = 3;
    s.membership.workers.push_back(w);
    s.membership.tombstones["worker-9"] = "removed by DELETE /api/v1/cluster/workers/worker-9";
    s.membership.next_order = 5;
    PipelineGroup g;
    g.id = "gid";
    g.name = "demo";
    g.placement = "least_loaded";
    g.pipelines = {{"a", "stream A = X", "worker-0"}, {"b", "stream B = Y", ""}};
    g.routes = {{"_external", "a", {"X*"}, ""}, {"a", "b", {}, "custom/topic"}};
    g.placements = {{"a", "worker-0", "http://127.0.0.1:9000", "pa", "running", 3}, {"b", "worker-0", "http://127.0.0.1:9000", "pb", "failed", 1}};
    s.groups.groups.push_back(g);
    s.groups.stale.push_back({"worker-1", "old"});
    s.round_robin = 7;
    return s;
}

class FileStateStoreTest : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = varpulis::testing::fresh_test_dir("varpulis-store-");
    }
    void TearDown() override { fs::remove_all(dir_); }

    fs::path dir_;
};

TEST_F(FileStateStoreTest, NothingSavedLoadsEmpty) {
    FileStateStore store(dir_.string());
    auto loaded = store.load();
    ASSERT_TRUE(loaded.is_ok()) << loaded.status().to_string();
    EXPECT_TRUE(loaded->membership.workers.empty());
    EXPECT_TRUE(loaded->groups.groups.empty());
    EXPECT_EQ(loaded->round_robin, 0u);
}

TEST_F(FileStateStoreTest, RoundTrip) {
    FileStateStore store(dir_.string());
    ASSERT_TRUE(store.save(sample()).is_ok());
    EXPECT_EQ(store.path(), (dir_ / "coordinator.json").string());
    EXPECT_EQ(fs::status(store.path()).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
    auto loaded = FileStateStore(dir_.string()).load();
    ASSERT_TRUE(loaded.is_ok()) << loaded.status().to_string();
    const CoordinatorSnapshot& s = *loaded;
    ASSERT_EQ(s.membership.workers.size(), 1u);
    EXPECT_EQ(s.membership.workers[0].id, "worker-0");
    EXPECT_EQ(s.membership.workers[0].api_key, "k0");
    EXPECT_EQ(s.membership.workers[0].max_pipelines, 4u);
    EXPECT_EQ(s.membership.workers[0].order, 3u);
    EXPECT_EQ(s.membership.tombstones, sample().membership.tombstones);
    EXPECT_EQ(s.membership.next_order, 5u);
    EXPECT_EQ(s.round_robin, 7u);
    ASSERT_EQ(s.groups.groups.size(), 1u);
    const PipelineGroup& g = s.groups.groups[0];
    EXPECT_EQ(g.placement, "least_loaded");
    ASSERT_EQ(g.pipelines.size(), 2u);
    EXPECT_EQ(g.pipelines[0].worker_affinity, "worker-0");
    ASSERT_EQ(g.routes.size(), 2u);
    EXPECT_EQ(g.routes[0].event_types, std::vector<std::string>{"X*"});
    EXPECT_EQ(g.routes[1].topic, "custom/topic");
    ASSERT_EQ(g.placements.size(), 2u);
    EXPECT_EQ(g.placements[0].epoch, 3u);
    EXPECT_EQ(g.placements[1].status, "failed");
    ASSERT_EQ(s.groups.stale.size(), 1u);
    EXPECT_EQ(s.groups.stale[0].pipeline_id, "old");
}

TEST_F(FileStateStoreTest, TheFileKeepsTheFormatOfEarlierReleases) {
    FileStateStore store(dir_.string());
    ASSERT_TRUE(store.save(sample()).is_ok());
    auto text = common::read_file(store.path());
    ASSERT_TRUE(text.is_ok());
    const auto doc = nlohmann::ordered_json::parse(*text);
    std::vector<std::string> keys;
    for (const auto& [key, value] : doc.items()) keys.push_back(key);
    EXPECT_EQ(keys, (std::vector<std::string>{"version", "workers", "groups", "tombstones", "stale", "next_order", "round_robin"}));
    EXPECT_EQ(doc["version"], 1);
    EXPECT_EQ(doc["workers"][0].dump(), R"({"id":"worker-0","address":"http://127.0.0.1:9000","api_key":"k0","max_pipelines":4,"order":3})");
    EXPECT_EQ(doc["groups"][0]["routes"][1].dump(),
              R"({"from_pipeline":"a","to_pipeline":"b","event_types":[],"mqtt_topic":"custom/topic"})");
    EXPECT_EQ(doc["groups"][0]["placements"][0].dump(),
              R"({"pipeline_name":"a","worker_id":"worker-0","worker_address":"http://127.0.0.1:9000","pipeline_id":"pa","status":"running","epoch":3})");
    EXPECT_EQ(doc["stale"][0].dump(), R"({"worker_id":"worker-1","pipeline_id":"old"})");
}

TEST_F(FileStateStoreTest, ACorruptFileIsAnErrorAndMovedAside) {
    fs::create_directories(dir_);
    std::ofstream(dir_ / "coordinator.json") << "{not json";
    FileStateStore store(dir_.string());
    auto loaded = store.load();
    ASSERT_FALSE(loaded.is_ok());
    EXPECT_NE(loaded.status().message().find("is corrupt; moved it to"), std::string::npos);
    EXPECT_FALSE(fs::exists(dir_ / "coordinator.json"));
    bool aside = false;
    for (const auto& e : fs::directory_iterator(dir_)) aside = aside || e.path().filename().string().starts_with("coordinator.json.corrupt-");
    EXPECT_TRUE(aside);
    EXPECT_TRUE(store.load().is_ok());  // moved aside: the next start is empty
}

TEST_F(FileStateStoreTest, AnEntryOfTheWrongShapeIsAnError) {
    fs::create_directories(dir_);
    std::ofstream(dir_ / "coordinator.json") << R"({"version": 1, "workers": [{"id": 5}]})";
    auto loaded = FileStateStore(dir_.string()).load();
    ASSERT_FALSE(loaded.is_ok());
    EXPECT_NE(loaded.status().message().find("has an entry of the wrong shape"), std::string::npos);
    std::ofstream(dir_ / "coordinator.json") << "[1, 2]";  // JSON, but not an object
    EXPECT_FALSE(FileStateStore(dir_.string()).load().is_ok());
}

TEST(MemoryStateStoreTest, KeepsTheLastSave) {
    MemoryStateStore store;
    auto empty = store.load();
    ASSERT_TRUE(empty.is_ok());
    EXPECT_TRUE(empty->groups.groups.empty());
    ASSERT_TRUE(store.save(sample()).is_ok());
    CoordinatorSnapshot next = sample();
    next.round_robin = 9;
    ASSERT_TRUE(store.save(next).is_ok());
    auto loaded = store.load();
    ASSERT_TRUE(loaded.is_ok());
    EXPECT_EQ(loaded->round_robin, 9u);
    EXPECT_EQ(loaded->groups.groups[0].name, "demo");
    EXPECT_EQ(loaded->membership.workers[0].address, "http://127.0.0.1:9000");
}

}  // namespace
}  // namespace varpulis::cluster
