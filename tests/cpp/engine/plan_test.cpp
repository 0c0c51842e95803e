// SPDX-License-Identifier: Apache-2.0
// Compilation as a pure step: a program compiles into a plan that opens nothing; the runtime
// opens the plan's sinks once when it starts it, and every context's engine shares them.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>

#include "support/vpl_support.hpp"
#include "varpulis/connectors/register.hpp"
#include "varpulis/engine/connector_registry.hpp"
#include "varpulis/engine/plan_compiler.hpp"
#include "varpulis/engine/plan_compiler_internal.hpp"
#include "varpulis/engine/runtime.hpp"

namespace varpulis::engine {
namespace {

/// A sink kind that counts how often it is opened and what it is sent (from any context thread).
struct CountedSink final : Sink {
    void send(const Event&, const std::string&) override { sent.fetch_add(1); }
    std::atomic<int> sent{0};
};

std::atomic<int> g_opened{0};

/// Register the `counted` kind once per process and return the number of sinks opened so far.
int counted_opens() {
    static const bool registered = [] {
        auto open = [](const ConnectorConfig&) -> common::Result<std::shared_ptr<Sink>> {
            g_opened.fetch_add(1);
            return std::shared_ptr<Sink>(std::make_shared<CountedSink>());
        };
        return ConnectorRegistry::global().add({"counted", open, nullptr, nullptr}).is_ok();
    }();
    (void)registered;
    return g_opened.load();
}

ProgramPlan compiled(const std::string& source) {
    PlanResult r = Runtime::compile(source);
    EXPECT_TRUE(r.plan) << vpl::format_diagnostics(r.diagnostics, source);
    return r.plan ? std::move(*r.plan) : ProgramPlan{};
}

size_t thread_count() {
    return static_cast<size_t>(std::distance(std::filesystem::directory_iterator("/proc/self/task"),
                                             std::filesystem::directory_iterator()));
}

TEST(PlanTest, CompilingOpensNoSinkAndStartingOpensEachOnce) {
    int before = counted_opens();
    auto plan = compiled("connector Out = counted()\nstream S = A .emit(v: v) .to(Out)\nstream T = S .to(Out)");
    EXPECT_EQ(counted_opens(), before);
    ASSERT_EQ(plan.program.sinks.size(), 1u);  // one declaration for both `.to(Out)`
    const SinkDecl& decl = plan.program.sinks[0];
    EXPECT_EQ(decl.config.kind, "counted");
    EXPECT_EQ(decl.stream, "S");
    EXPECT_EQ(decl.slot->sink, nullptr);
    auto slot = decl.slot;

    auto rt = Runtime::start(std::move(plan));
    ASSERT_TRUE(rt.is_ok()) << rt.status().message();
    EXPECT_EQ(counted_opens(), before + 1);
    std::vector<EventPtr> out;
    ASSERT_TRUE((*rt)->push("A", {{"v", Value(1)}}, 0, out).is_ok());
    ASSERT_NE(slot->sink, nullptr);
    EXPECT_EQ(static_cast<CountedSink&>(*slot->sink).sent.load(), 2);  // from S and from T
}

TEST(PlanTest, ContextEnginesAndTheShapeEngineShareTheSinksOpenedOnce) {
    int before = counted_opens();
    auto plan = compiled(R"(
context a
context b
connector Out = counted()
stream X = A .context(a) .emit(v: v) .to(Out)
stream Y = B .context(b) .emit(v: v) .to(Out)
)");
    ASSERT_EQ(plan.contexts.size(), 2u);
    std::vector<std::shared_ptr<SinkSlot>> slots{plan.program.sinks.at(0).slot};
    for (const auto& c : plan.contexts) slots.push_back(c.plan.sinks.at(0).slot);
    EXPECT_EQ(counted_opens(), before);

    auto rt = Runtime::start(std::move(plan));
    ASSERT_TRUE(rt.is_ok()) << rt.status().message();
    EXPECT_EQ(counted_opens(), before + 1);
    ASSERT_NE(slots[0]->sink, nullptr);
    for (const auto& slot : slots) EXPECT_EQ(slot->sink, slots[0]->sink);
    std::vector<EventPtr> out;
    ASSERT_TRUE((*rt)->push_many({make_event("A", {{"v", Value(1)}}), make_event("B", {{"v", Value(2)}})}, out).is_ok());
    EXPECT_EQ(out.size(), 2u);
    EXPECT_EQ(static_cast<CountedSink&>(*slots[0]->sink).sent.load(), 2);
}

TEST(PlanTest, ASinkThatCannotOpenRefusesTheLoadButNotTheCompile) {
    const std::string source = "connector K = kafka(brokers: \"x\")\nstream S = A .emit(v: 1) .to(K)";
    PlanResult planned = Runtime::compile(source);
    EXPECT_TRUE(planned.plan);
    EXPECT_FALSE(vpl::has_errors(planned.diagnostics));

    auto loaded = Runtime::from_source(source);
    EXPECT_FALSE(loaded.runtime);
    ASSERT_EQ(loaded.diagnostics.size(), 1u);
    EXPECT_EQ(loaded.diagnostics[0].code, "E095");
    EXPECT_EQ(loaded.diagnostics[0].message.rfind("stream 'S': connector 'K': kind 'kafka' is not available in this build", 0), 0u)
        << loaded.diagnostics[0].message;
    EXPECT_EQ(loaded.diagnostics[0].span.line, 2u);  // the stream that first sends to it
}

TEST(PlanTest, AnEngineNeedsTheSinksOfItsPlanOpen) {
    auto program = testing::check_ok("connector Out = console()\nstream S = A .to(Out)");
    auto plan = compile_plan(program, {});
    ASSERT_TRUE(plan.is_ok()) << plan.status().message();
    auto engine = Engine::create(std::move(*plan));
    ASSERT_FALSE(engine.is_ok());
    EXPECT_EQ(engine.status().message(), "connector 'Out' is not open");
}

TEST(PlanTest, CompilingAnMqttSinkConnectsNowhereAndStartingConnects) {
    ASSERT_TRUE(connectors::register_all().is_ok());
    // A broker that never answers: a listening socket, to see the connection attempt.
    int listener = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(listener, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), len), 0);
    ASSERT_EQ(::listen(listener, 4), 0);
    ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    const std::string source = "connector Out = mqtt(host: \"127.0.0.1\", port: " + std::to_string(ntohs(addr.sin_port)) +
                               ", client_id: \"plan-test\")\nstream S = A .emit(v: v) .to(Out, topic: \"t\")";

    size_t threads = thread_count();
    auto plan = compiled(source);
    // No client: no network thread, and the slot holds no sink to report health.
    EXPECT_EQ(thread_count(), threads);
    ASSERT_EQ(plan.program.sinks.size(), 1u);
    EXPECT_EQ(plan.program.sinks[0].slot->sink, nullptr);
    pollfd pending{listener, POLLIN, 0};
    EXPECT_EQ(::poll(&pending, 1, 0), 0);

    auto rt = Runtime::start(std::move(plan));
    ASSERT_TRUE(rt.is_ok()) << rt.status().message();
    EXPECT_EQ(thread_count(), threads + 1);  // the client's network thread
    auto health = (*rt)->sink_health();
    ASSERT_EQ(health.size(), 1u);
    EXPECT_EQ(health[0].connector, "Out");
    EXPECT_EQ(health[0].kind, "mqtt");
    EXPECT_EQ(::poll(&pending, 1, 10'000), 1) << "the runtime never tried to connect";
    int conn = ::accept(listener, nullptr, nullptr);
    EXPECT_GE(conn, 0);
    rt->reset();
    if (conn >= 0) ::close(conn);
    ::close(listener);
}

// An operator family compiles on its own: an operator from one `.op(...)`, no engine or plan.
TEST(OpFamilyTest, AFilterCompilesFromItsOperatorAlone) {
    auto program = testing::parse_ok("stream S = A .where(v > 1)");
    const auto& decl = std::get<vpl::StreamDecl>(program.statements.at(0)->node);
    detail::OpSite site;
    auto op = detail::compile_filter(decl.ops.at(0), site);
    ASSERT_TRUE(op.is_ok()) << op.status().message();
    Batch batch{make_event("A", {{"v", Value(1)}}), make_event("A", {{"v", Value(2)}})};
    OpContext ctx;
    (*op)->apply(batch, ctx);
    ASSERT_EQ(batch.size(), 1u);
    EXPECT_EQ(batch[0]->get(intern("v"))->as_int(), 2);
}

TEST(OpFamilyTest, AWindowRefusesWhatIsNeitherACountNorADuration) {
    auto program = testing::parse_ok("stream S = A .window(\"big\")");
    const auto& decl = std::get<vpl::StreamDecl>(program.statements.at(0)->node);
    auto op = detail::compile_window(decl.ops.at(0), detail::OpSite{});
    ASSERT_FALSE(op.is_ok());
    EXPECT_EQ(op.status().message(), ".window() takes a count, a duration or session: gap");
}

}  // namespace
}  // namespace varpulis::engine
