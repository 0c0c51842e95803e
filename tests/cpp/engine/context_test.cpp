// SPDX-License-Identifier: Apache-2.0
// Contexts on threads: routing between contexts, completion, backpressure, flush, shutdown,
// timers; and the Mandelbrot demo's programs end to end.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "support/engine_support.hpp"
#include "varpulis/engine/runtime.hpp"

namespace varpulis::engine {
namespace {

std::string example(const std::string& path) {
    std::ifstream in(std::string(VARPULIS_SOURCE_DIR) + "/examples/" + path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

TEST(ContextTest, EventsFlowBetweenContextsAndPushWaitsForAll) {
    auto rt = load(R"(
context ingest
context analyse
stream Clean = Raw .context(ingest) .where(v > 0)
stream Doubled = Clean .context(analyse) .emit(v: v * 2)
stream Echo = Raw .context(analyse) .emit(raw: v)
)");
    ASSERT_TRUE(rt->uses_contexts());
    std::vector<EventPtr> out;
    ASSERT_TRUE(rt->push("Raw", {{"v", Value(21)}}, 0, out).is_ok());
    // Echo (analyse) and Doubled (ingest -> analyse) both arrive before push returns.
    ASSERT_EQ(out.size(), 2u);
    std::multiset<std::string> types;
    for (const auto& e : out) types.insert(e->type_name());
    EXPECT_EQ(types, (std::multiset<std::string>{"Doubled", "Echo"}));
    out.clear();
    ASSERT_TRUE(rt->push("Raw", {{"v", Value(-1)}}, 0, out).is_ok());
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0]->type_name(), "Echo");
}

TEST(ContextTest, ManyEventsThroughSmallQueuesLoseNothing) {
    RuntimeOptions options;
    options.context_queue_capacity = 2;  // pushes wait for room: backpressure
    auto rt = load("context a\ncontext b\nstream S = X .context(a) .emit(n: n)\nstream T = S .context(b) .emit(n: n)", options);
    std::vector<EventPtr> events, out;
    for (int i = 0; i < 5000; ++i) events.push_back(make_event("X", {{"n", Value(i)}}, i));
    ASSERT_TRUE(rt->push_many(events, out).is_ok());
    EXPECT_EQ(out.size(), 10'000u);
    EXPECT_EQ(rt->stats().events_in, 10'000u);  // 5000 in a, 5000 forwarded into b
}

TEST(ContextTest, ConcurrentPushersAllGetTheirOutputs) {
    auto rt = load("context a\ncontext b\nstream S = X .context(a) .emit(n: n)\nstream T = Y .context(b) .emit(n: n)");
    std::vector<std::thread> threads;
    std::atomic<size_t> total{0};
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 500; ++i) {
                std::vector<EventPtr> out;
                ASSERT_TRUE(rt->push(t % 2 ? "X" : "Y", {{"n", Value(i)}}, 0, out).is_ok());
                ASSERT_EQ(out.size(), 1u);
                total += out.size();
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(total.load(), 4000u);
}

TEST(ContextTest, FlushClosesWindowsInEveryContext) {
    auto rt = load("context a\ncontext b\nstream W = X .context(a) .window(10s) .aggregate(n: count()) .emit(n: n)\n"
                   "stream V = Y .context(b) .window(session: 5s) .aggregate(n: count()) .emit(n: n)");
    std::vector<EventPtr> out;
    ASSERT_TRUE(rt->push("X", {}, 0, out).is_ok());
    ASSERT_TRUE(rt->push("Y", {}, 0, out).is_ok());
    ASSERT_TRUE(rt->push("Y", {}, 1, out).is_ok());
    EXPECT_TRUE(out.empty());
    ASSERT_TRUE(rt->flush(out).is_ok());
    ASSERT_EQ(out.size(), 2u);
}

TEST(ContextTest, RuntimeErrorsInAContextAreReported) {
    auto rt = load("context a\nfn down(n: int) -> int:\n    return down(n + 1)\nstream S = X .context(a) .emit(v: down(0))");
    std::vector<EventPtr> out;
    auto st = rt->push("X", {}, 0, out);
    EXPECT_EQ(st.code(), common::ErrorCode::Runtime);
    EXPECT_EQ(rt->stats().errors, 1u);
    // the context thread keeps serving
    EXPECT_EQ(rt->push("X", {}, 0, out).code(), common::ErrorCode::Runtime);
}

TEST(ContextTest, ShutdownWithWorkQueuedJoinsCleanly) {
    auto rt = load("context a\nstream S = X .context(a) .emit(n: n)");
    std::vector<EventPtr> out;
    ASSERT_TRUE(rt->push("X", {{"n", Value(1)}}, 0, out).is_ok());
    rt.reset();  // joins the context thread
    SUCCEED();
}

TEST(TimerTest, TimersFireInEventTime) {
    auto rt = load("stream Tick = timer(1s, initial_delay: 500ms) .emit(at: timestamp)");
    std::vector<EventPtr> out;
    ASSERT_TRUE(rt->advance_time(0, out).is_ok());
    EXPECT_TRUE(out.empty());
    ASSERT_TRUE(rt->advance_time(2'600'000'000, out).is_ok());
    ASSERT_EQ(out.size(), 3u);  // 0.5 s, 1.5 s, 2.5 s
    EXPECT_EQ(*out[0]->get(intern("at")), Value(500));
    EXPECT_EQ(*out[2]->get(intern("at")), Value(2500));
}

void expect_full_image(const std::vector<std::pair<std::string, std::vector<std::string>>>& programs) {
    size_t pixels = 0;
    int64_t sum = 0;
    const Symbol iterations = intern("iterations");
    for (const auto& [source, tiles] : programs) {
        auto rt = load(source);
        ASSERT_TRUE(rt);
        std::vector<EventPtr> events, out;
        for (const auto& t : tiles) events.push_back(make_event(t, {}, 0));
        ASSERT_TRUE(rt->push_many(events, out).is_ok());
        pixels += out.size();
        for (const auto& p : out) {
            EXPECT_EQ(p->type_name().rfind("Tile", 0), 0u);  // outputs are named after the stream
            sum += p->get(iterations)->as_int();
        }
    }
    EXPECT_EQ(pixels, 1'000'000u);
    EXPECT_EQ(sum, 47'554'279);
}

std::vector<std::string> tiles(int row_from, int row_to) {
    std::vector<std::string> out;
    for (int r = row_from; r < row_to; ++r) {
        for (int c = 0; c < 4; ++c) out.push_back("ComputeTile" + std::to_string(r) + std::to_string(c));
    }
    return out;
}

TEST(MandelbrotTest, SixteenContextProgramComputesTheWholeImage) {
    expect_full_image({{example("mandelbrot/mandelbrot_16ctx.vpl"), tiles(0, 4)}});
}

TEST(MandelbrotTest, FourWorkerProgramsComputeTheWholeImage) {
    std::vector<std::pair<std::string, std::vector<std::string>>> programs;
    for (int w = 0; w < 4; ++w) {
        programs.push_back({example("mandelbrot/distributed/mandelbrot_worker_" + std::to_string(w) + ".vpl"), tiles(w, w + 1)});
    }
    expect_full_image(programs);
}

}  // namespace
}  // namespace varpulis::engine
