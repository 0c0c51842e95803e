// SPDX-License-Identifier: Apache-2.0
// Engine behaviour that scenarios cannot show: errors, limits, memory bounds, state.
#include <gtest/gtest.h>

#include "varpulis/engine/event_json.hpp"
#include "support/engine_support.hpp"
#include "varpulis/engine/runtime.hpp"

namespace varpulis::engine {
namespace {

TEST(EngineTest, InvalidProgramIsRefusedWithDiagnostics) {
    auto r = Runtime::from_source("stream S = A .where(x > )");
    EXPECT_FALSE(r.runtime);
    ASSERT_FALSE(r.diagnostics.empty());
    EXPECT_EQ(r.diagnostics[0].code, "E000");
}

TEST(EngineTest, ValidationErrorsRefuseTheProgram) {
    auto r = Runtime::from_source("fn f(x: int) -> int:\n    return x\nstream S = A .emit(v: f(1, 2))");
    EXPECT_FALSE(r.runtime);
    ASSERT_EQ(r.diagnostics.size(), 1u);
    EXPECT_EQ(r.diagnostics[0].code, "E051");
}

TEST(EngineTest, UnsupportedConnectorKindIsAClearError) {
    auto r = Runtime::from_source("connector K = kafka(brokers: \"x\")\nstream S = A .emit(v: 1) .to(K)");
    EXPECT_FALSE(r.runtime);
    ASSERT_FALSE(r.diagnostics.empty());
    EXPECT_EQ(r.diagnostics[0].code, "E095");
    EXPECT_NE(r.diagnostics[0].message.find("kind 'kafka' is not available"), std::string::npos);
}

TEST(EngineTest, RunawayLoopIsARuntimeError) {
    RuntimeOptions options;
    options.engine.functions.max_loop_iterations = 1000;
    auto rt = load("fn spin() -> int:\n    while true:\n        1\n    0\nstream S = A .emit(v: spin())", options);
    std::vector<EventPtr> out;
    auto st = rt->push("A", {}, 0, out);
    EXPECT_EQ(st.code(), common::ErrorCode::Runtime);
    EXPECT_NE(st.message().find("loop ran more than 1000 iterations"), std::string::npos) << st.message();
    EXPECT_EQ(rt->stats().errors, 1u);
    // The engine keeps working after an error.
    auto rt2 = load("fn f(x) -> int:\n    return x + 1\nstream S = A .emit(v: f(v))");
    ASSERT_TRUE(rt2->push("A", {{"v", Value(1)}}, 0, out).is_ok());
}

TEST(EngineTest, DeepRecursionIsARuntimeError) {
    auto rt = load("fn down(n: int) -> int:\n    return down(n + 1)\nstream S = A .emit(v: down(0))");
    std::vector<EventPtr> out;
    auto st = rt->push("A", {}, 0, out);
    EXPECT_EQ(st.code(), common::ErrorCode::Runtime);
    EXPECT_NE(st.message().find("call depth exceeded"), std::string::npos);
}

TEST(EngineTest, DivisionByZeroIsNull) {
    auto rt = load("stream S = A .emit(q: v / 0, r: v % 0, f: v / 0.0, ok: v)");
    std::vector<EventPtr> out;
    ASSERT_TRUE(rt->push("A", {{"v", Value(4)}}, 0, out).is_ok());
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0]->fields.size(), 1u);
}

TEST(EngineTest, SequenceRunsAreBoundedAndExpire) {
    RuntimeOptions options;
    options.engine.max_runs_per_partition = 100;
    auto rt = load("stream S = A as a -> B as b .within(1s) .emit(a: a.id)", options);
    std::vector<EventPtr> out;
    for (int i = 0; i < 1000; ++i) ASSERT_TRUE(rt->push("A", {{"id", Value(i)}}, int64_t{0}, out).is_ok());
    EXPECT_EQ(rt->stats().held, 100u);  // the oldest runs were dropped
    ASSERT_TRUE(rt->push("C", {}, int64_t{5'000'000'000}, out).is_ok());
    ASSERT_TRUE(rt->push("A", {{"id", Value(-1)}}, int64_t{5'000'000'000}, out).is_ok());
    EXPECT_EQ(rt->stats().held, 1u);  // expired runs were freed when the partition saw an event
}

TEST(EngineTest, EndlessStreamKeepsMemoryBounded) {
    auto rt = load(
        "stream W = R .partition_by(k) .window(10s) .aggregate(n: count()) .emit(n: n)\n"
        "stream D = R .distinct(id) .emit(id: id)\n"
        "stream Q = R as a -> R where id == a.id + 1 as b .within(1s)");
    std::vector<EventPtr> out;
    RuntimeOptions options;
    for (int64_t i = 0; i < 300'000; ++i) {
        ASSERT_TRUE(rt->push("R", {{"k", Value(i % 10)}, {"id", Value(i)}}, i * 1'000'000, out).is_ok());
        out.clear();
    }
    // windows hold at most 10 s of events, the distinct set 100,000 keys, runs 1 s of events
    EXPECT_LT(rt->stats().held, 100'000u + 10'000u + 2'000u);
}

TEST(EngineTest, APartitionedAggregateGroupsABatchOfSeveralKeys) {
    // At the end of input the open windows of every partition reach the aggregate as one batch.
    auto rt = load("stream W = R .partition_by(k) .window(10s) .aggregate(n: count(), s: sum(v)) .emit(k: _partition, n: n, s: s)");
    std::vector<EventPtr> out;
    for (auto [k, v] : {std::pair{"b", 1}, {"a", 2}, {"b", 3}, {"a", 4}, {"c", 5}}) {
        ASSERT_TRUE(rt->push("R", {{"k", Value(k)}, {"v", Value(v)}}, int64_t{0}, out).is_ok());
    }
    ASSERT_TRUE(out.empty());
    ASSERT_TRUE(rt->flush(out).is_ok());
    std::vector<std::string> got;
    for (const auto& e : out) got.push_back(event_json(*e).dump());
    EXPECT_EQ(got, (std::vector<std::string>{R"({"event_type":"W","k":"a","n":2,"s":6.0})",
                                             R"({"event_type":"W","k":"b","n":2,"s":4.0})",
                                             R"({"event_type":"W","k":"c","n":1,"s":5.0})"}));
}

TEST(EngineTest, GlobalsAreEvaluatedInOrder) {
    auto rt = load("let a = 2\nvar b = a * 3\nb := b + 1\nconst c = b * 10");
    EXPECT_EQ(rt->variable("c"), Value(70));
    EXPECT_FALSE(rt->variable("nope").has_value());
}

TEST(EngineTest, PushInALoopAppendsInPlaceWithoutChangingSharedArrays) {
    auto rt = load(R"(fn build():
    var a = [1]
    let b = a
    a := push(a, 2)
    a := push(a, a)
    var c = []
    for i in 0..1000:
        c := push(c, i)
    var d = 5
    d := push(d, 1)
    emit Out(a: a, b: b, n: len(c), last: last(c), d: d)
stream S = Go .process(build())
)");
    std::vector<EventPtr> out;
    ASSERT_TRUE(rt->push("Go", {}, 0, out).is_ok());
    ASSERT_EQ(out.size(), 1u);
    // d: push on a non-array is null, and emit leaves null fields out.
    EXPECT_EQ(event_json(*out[0]).dump(), R"({"event_type":"S","a":[1,2,[1,2]],"b":[1],"n":1000,"last":999})");
}

TEST(EventJsonTest, WrittenStringsAreAlwaysValidUtf8) {
    Event e;
    e.type = intern("T");
    e.fields.emplace_back(intern("ok"), Value(std::string("caf\xC3\xA9 \xF0\x9F\x98\x80")));  // é and an emoji stay
    e.fields.emplace_back(intern("bad"), Value(std::string("a\xFF\xC3(\xED\xA0\x80z")));        // stray, truncated, surrogate
    std::string out;
    append_event_json(out, e);
    EXPECT_EQ(out, "{\"event_type\":\"T\",\"ok\":\"caf\xC3\xA9 \xF0\x9F\x98\x80\",\"bad\":\"a\xEF\xBF\xBD\xEF\xBF\xBD(\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBDz\"}");
    EXPECT_TRUE(nlohmann::json::parse(out).is_object());
}

TEST(EventJsonTest, StringsInsideArraysAreMadeValidUtf8Too) {
    // Found by evt_fuzz: a non-UTF-8 string inside an array threw out of the writer.
    Event e;
    e.type = intern("T");
    e.fields.emplace_back(intern("v"), Value(common::Array{Value(common::Array{Value(std::string("a\x88" "b"))})}));
    std::string out;
    append_event_json(out, e);
    EXPECT_EQ(out, "{\"event_type\":\"T\",\"v\":[[\"a\xEF\xBF\xBD" "b\"]]}");
}

}  // namespace
}  // namespace varpulis::engine
