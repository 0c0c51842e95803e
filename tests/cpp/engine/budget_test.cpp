// SPDX-License-Identifier: Apache-2.0
// Memory bombs (issue 19): what a program may build, and what it may hold, has a limit; past it,
// a clear error for the program or the event, a counter, and an engine that keeps working.
#include <gtest/gtest.h>

#include "support/engine_support.hpp"
#include "varpulis/engine/runtime.hpp"

namespace varpulis::engine {
namespace {

/// Push one A event and return the status; the engine must answer the next event normally.
common::Status push_and_recover(Runtime& rt) {
    std::vector<EventPtr> out;
    common::Status first = rt.push("A", {{"v", Value(1)}}, 0, out);
    EXPECT_TRUE(rt.push("B", {}, 0, out).is_ok());
    return first;
}

void expect_runtime_error(const common::Status& st, const std::string& text) {
    EXPECT_EQ(st.code(), common::ErrorCode::Runtime);
    EXPECT_NE(st.message().find(text), std::string::npos) << st.message();
}

TEST(BudgetTest, AStringDoubledInALoopStopsAt16MiB) {
    auto rt = load("fn grow() -> int:\n    var s = \"ab\"\n    while true:\n        s := s + s\n    0\n"
                   "stream S = A .emit(v: grow())\nstream T = B .emit(ok: 1)");
    expect_runtime_error(push_and_recover(*rt), "longer than the limit of 16 MiB");
}

TEST(BudgetTest, ReplaceAndJoinStopAt16MiB) {
    auto rt = load("fn grow() -> int:\n    var s = \"a\"\n    while true:\n        s := replace(s, \"a\", \"aa\")\n    0\n"
                   "stream S = A .emit(v: grow())");
    expect_runtime_error(push_and_recover(*rt), "longer than the limit of 16 MiB");
}

TEST(BudgetTest, AValueThatHoldsItselfStopsAtItsDepthOrSize) {
    // Arrays share what they hold: each turn doubles the value as written out, and deepens it.
    auto pushing = load("fn grow() -> int:\n    var a = [1]\n    while true:\n        a := push(a, a)\n    0\n"
                        "stream S = A .emit(v: grow())");
    expect_runtime_error(push_and_recover(*pushing), "more than 1,000,000 values");
    auto literal = load("fn grow() -> int:\n    var a = [1]\n    while true:\n        a := [a]\n    0\n"
                        "stream S = A .emit(v: grow())");
    expect_runtime_error(push_and_recover(*literal), "nested deeper than 64 levels");
}

TEST(BudgetTest, RangesAndPushesStopAtAMillionItems) {
    auto range = load("stream S = A .emit(n: len(range(0, 2000000)))");
    expect_runtime_error(push_and_recover(*range), "longer than the limit of 1,000,000");
    auto literal_range = load("stream S = A .emit(n: len(0..=9223372036854775807))");
    expect_runtime_error(push_and_recover(*literal_range), "longer than the limit of 1,000,000");
    auto fine = load("stream S = A .emit(n: len(range(0, 1000)))");
    std::vector<EventPtr> out;
    ASSERT_TRUE(fine->push("A", {}, 0, out).is_ok());
    ASSERT_EQ(out.size(), 1u);
}

TEST(BudgetTest, AProgramOfMoreThanTenThousandStreamsIsRefused) {
    // 67 bytes of compile-time loops made 500,000 streams (3.6 GB at deploy).
    auto r = Runtime::from_source("for a in 0..101:\n    for b in 0..100:\n        stream S{a}x{b} = A\n");
    EXPECT_FALSE(r.runtime);
    ASSERT_FALSE(r.diagnostics.empty());
    EXPECT_NE(r.diagnostics[0].message.find("more than 10000 streams"), std::string::npos) << r.diagnostics[0].message;
    auto bomb = Runtime::from_source("for a in 0..1000:\n    for b in 0..500:\n        stream S{a}x{b} = A\n");
    ASSERT_FALSE(bomb.diagnostics.empty());
    EXPECT_NE(bomb.diagnostics[0].message.find("expand to more than 100000 lines"), std::string::npos) << bomb.diagnostics[0].message;
}

TEST(BudgetTest, AProgramOfMoreThan64ContextsIsRefused) {
    auto r = Runtime::from_source("for i in 0..65:\n    context c{i}\n    stream S{i} = A .context(c{i})\n");
    EXPECT_FALSE(r.runtime);
    ASSERT_FALSE(r.diagnostics.empty());
    EXPECT_NE(r.diagnostics[0].message.find("65 contexts; the limit is 64"), std::string::npos) << r.diagnostics[0].message;
}

TEST(BudgetTest, SequenceRunsOfUniqueKeysStopAtTheTotalAndAreCounted) {
    RuntimeOptions options;
    options.engine.max_runs_total = 500;
    auto rt = load("stream S = A as a -> B as b .partition_by(k) .emit(k: a.k)", options);
    std::vector<EventPtr> out;
    for (int i = 0; i < 2000; ++i) ASSERT_TRUE(rt->push("A", {{"k", Value(i)}}, int64_t{i}, out).is_ok());
    EXPECT_EQ(rt->stats().held, 500u);
    EXPECT_EQ(rt->stats().evicted, 1500u);
    // The kept runs still match.
    ASSERT_TRUE(rt->push("B", {{"k", Value(7)}}, int64_t{5000}, out).is_ok());
    EXPECT_EQ(out.size(), 1u);
}

// ---- The state budget: what windows, joins and distinct sets hold (state_budget.hpp).

RuntimeOptions with_state_budget(size_t bytes) {
    RuntimeOptions options;
    options.engine.max_state_bytes = bytes;
    return options;
}

/// Push `n` A events with a 1 KB payload, key i % keys and time i seconds.
void push_payloads(Runtime& rt, int n, int keys) {
    std::vector<EventPtr> out;
    const std::string payload(1000, 'x');
    for (int i = 0; i < n; ++i) {
        ASSERT_TRUE(rt.push("A", {{"k", Value(i % keys)}, {"p", Value(payload)}}, int64_t{i} * 1'000'000'000, out).is_ok());
    }
}

TEST(BudgetTest, ATimeWindowPastTheStateBudgetGivesUpItsOldestEvents) {
    // An hour's window of 1 KB events held everything; 100 KB holds about 90 of them.
    auto rt = load("stream S = A .window(1h) .aggregate(n: count()) .emit(n: n)", with_state_budget(100'000));
    push_payloads(*rt, 1000, 1);
    RuntimeStats stats = rt->stats();
    EXPECT_LE(stats.state_bytes, 100'000u);
    EXPECT_GT(stats.state_bytes, 90'000u);
    EXPECT_GT(stats.held, 80u);
    EXPECT_EQ(stats.held + stats.evicted, 1000u);
    // The window still closes and emits what it kept.
    std::vector<EventPtr> out;
    ASSERT_TRUE(rt->push("A", {{"k", Value(0)}}, int64_t{4000} * 1'000'000'000, out).is_ok());
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0]->get(intern("n"))->as_int(), static_cast<int64_t>(stats.held));
}

TEST(BudgetTest, PartitionsOfUniqueKeysStayWithinTheStateBudget) {
    auto rt = load("stream S = A .partition_by(k) .window(1h) .aggregate(n: count()) .emit(n: n)", with_state_budget(100'000));
    push_payloads(*rt, 1000, 1000);
    RuntimeStats stats = rt->stats();
    EXPECT_LE(stats.state_bytes, 100'000u);
    EXPECT_EQ(stats.held + stats.evicted, 1000u);
    EXPECT_GT(stats.evicted, 800u);
}

TEST(BudgetTest, JoinsAndDistinctSetsStayWithinTheStateBudget) {
    auto join = load("stream J = join(A, B) .on(A.k == B.k) .window(1h) .emit(k: A.k)", with_state_budget(100'000));
    push_payloads(*join, 1000, 1000);
    EXPECT_LE(join->stats().state_bytes, 100'000u);
    EXPECT_GT(join->stats().evicted, 800u);
    auto distinct = load("stream D = A .distinct(p + to_string(k)) .emit(k: k)", with_state_budget(100'000));
    push_payloads(*distinct, 1000, 1000);
    EXPECT_LE(distinct->stats().state_bytes, 100'000u);
    EXPECT_GT(distinct->stats().evicted, 800u);
}

TEST(BudgetTest, EveryEventLeavingAWindowGivesItsBytesBack) {
    auto rt = load("stream S = A .partition_by(k) .window(10) .aggregate(n: count()) .emit(n: n)", with_state_budget(1'000'000));
    push_payloads(*rt, 1000, 10);  // 100 tumbling windows of 10, all closed
    EXPECT_EQ(rt->stats().state_bytes, 0u);
    EXPECT_EQ(rt->stats().evicted, 0u);
}

TEST(BudgetTest, ARestoreOfMoreStateThanTheBudgetIsRefused) {
    const std::string program = "stream S = A .window(1h) .aggregate(n: count()) .emit(n: n)";
    auto big = load(program, with_state_budget(1'000'000));
    push_payloads(*big, 500, 1);
    auto snapshot = big->checkpoint();
    ASSERT_TRUE(snapshot.is_ok());
    auto small = load(program, with_state_budget(100'000));
    common::Status st = small->restore(*snapshot);
    EXPECT_EQ(st.code(), common::ErrorCode::LimitExceeded);
    EXPECT_NE(st.message().find("state budget is 100000"), std::string::npos) << st.message();
    auto same = load(program, with_state_budget(1'000'000));
    EXPECT_TRUE(same->restore(*snapshot).is_ok());
    EXPECT_EQ(same->stats().state_bytes, big->stats().state_bytes);
}

TEST(BudgetTest, ContextsSplitTheStateBudget) {
    auto rt = load("context C1\ncontext C2\nstream S = A .context(C1) .window(1h) .aggregate(n: count())\n"
                   "stream T = A .context(C2) .window(1h) .aggregate(n: count()) .emit(n: n)",
                   with_state_budget(200'000));
    push_payloads(*rt, 1000, 1);
    EXPECT_LE(rt->stats().state_bytes, 200'000u);
    EXPECT_GT(rt->stats().state_bytes, 180'000u);
}

}  // namespace
}  // namespace varpulis::engine
