// SPDX-License-Identifier: Apache-2.0
// Stream sources and operators.
#include "support/vpl_support.hpp"

namespace varpulis::testing {
namespace {

TEST(StreamTest, Sources) {
    EXPECT_EQ(statement_json("stream S = Reading")["source"]["kind"], "named");
    EXPECT_EQ(statement_json("stream S = Reading as r")["source"]["as"], "r");
    EXPECT_EQ(statement_json("stream S = all Reading as rs")["source"]["kind"], "all");
    auto from = statement_json("stream S = Reading.from(Mqtt, topic: \"sensors/#\", qos: 1)");
    EXPECT_EQ(from["source"]["connector"], "Mqtt");
    EXPECT_EQ(from["source"]["args"].size(), 2u);
    auto from_next_line = statement_json("stream S = Reading\n    .from(Mqtt, topic: \"t\")");
    EXPECT_EQ(from_next_line["source"]["kind"], "from");
    auto merge = statement_json("stream M = merge(A, stream Hot = B .where(t > 30))");
    EXPECT_EQ(merge["source"]["inputs"][1]["source"], "B");
    auto join = statement_json("stream J = join(Trades, Quotes)\n    .on(Trades.symbol == Quotes.symbol)\n    .window(5s)");
    EXPECT_EQ(join["source"]["kind"], "join");
    auto seq = statement_json("stream Q = sequence(a: Login, b: Purchase where user == a.user .within(5m))");
    EXPECT_EQ(seq["source"]["steps"][1]["alias"], "b");
    EXPECT_FALSE(seq["source"]["steps"][1]["within"].is_null());
    auto timer = statement_json("stream T = timer(5s, initial_delay: 1s)");
    EXPECT_EQ(timer["source"]["args"][1]["name"], "initial_delay");
}

TEST(StreamTest, SequenceStepsAcceptWhereAndAsInEitherOrder) {
    auto j = statement_json(
        "stream S = Order as o\n"
        "    -> Payment where order_id == o.id as p\n"
        "    -> all Shipment as s where order_id == o.id\n"
        "    .within(1h)\n"
        "    .not(Cancel where order_id == o.id)\n"
        "    .emit(id: o.id, paid: p.amount)");
    ASSERT_EQ(j["ops"].size(), 5u);
    EXPECT_EQ(j["ops"][0]["as"], "p");
    EXPECT_EQ(j["ops"][1]["all"], true);
    EXPECT_EQ(j["ops"][1]["as"], "s");
    EXPECT_FALSE(j["ops"][1]["where"].is_null());
    EXPECT_EQ(j["ops"][3]["op"], "not");
}

TEST(StreamTest, StepFilterStopsBeforeTheNextOperator) {
    auto j = statement_json("stream S = A as a -> B where x > a.x .within(5m) .emit(v: a.x)");
    ASSERT_EQ(j["ops"].size(), 3u);
    EXPECT_EQ(j["ops"][0]["where"]["right"]["member"], "x");
    EXPECT_EQ(j["ops"][1]["op"], "within");
}

TEST(StreamTest, EveryOperatorParses) {
    auto j = statement_json(R"(stream S = A
    .context(c)
    .where(x > 1)
    .filter(y)
    .select(a, b: c + 1)
    .partition_by(k)
    .window(10, sliding: 2)
    .aggregate(total: sum(p * q), n: count(), d: count(distinct(u)), r: max(p) - min(p))
    .having(total > 0)
    .order_by(total desc, n asc)
    .limit(5)
    .distinct(k)
    .first()
    .map(x)
    .tap(log: x)
    .print(x, y)
    .log(level: "warn", message: "m", data: x)
    .emit as Alert(a: x)
    .to(Out, topic: "t")
    .pattern(p: events => len(events) > 2)
    .pattern(q: A -> B and not C)
    .concurrent(workers: 2)
    .process(f(x))
    .on_error(skip)
    .collect()
    .fork(left: .where(x > 1).emit(v: x), right: .emit(v: 0))
    .any(2)
    .all()
    .watermark(out_of_order: 5s)
    .allowed_lateness(10s)
    .trend_aggregate(n: count_trends())
    .score(model: "m.onnx", inputs: [a, b], outputs: [s])
    .forecast(confidence: 0.8, mode: "fast")
    .enrich(Api, key: id, fields: [name], cache_ttl: 5m))");
    EXPECT_EQ(j["ops"].size(), 33u);
    EXPECT_EQ(j["ops"][8]["args"][0]["order"], "desc");
    EXPECT_EQ(j["ops"][16]["as"], "Alert");
    EXPECT_EQ(j["ops"][19]["args"][0]["logic"], "A -> B and not C");
    EXPECT_EQ(j["ops"][24]["args"][0]["chain"].size(), 2u);
}

TEST(StreamTest, WindowForms) {
    EXPECT_EQ(statement_json("stream S = A .window(5m)")["ops"][0]["args"][0]["value"]["literal"]["duration_ns"],
              300'000'000'000LL);
    EXPECT_EQ(statement_json("stream S = A .window(session: 30s)")["ops"][0]["args"][0]["name"], "session");
    EXPECT_EQ(statement_json("stream S = A .window(1m, sliding: 10s)")["ops"][0]["args"].size(), 2u);
}

TEST(StreamTest, TypeAnnotationIsKept) {
    EXPECT_EQ(statement_json("stream S: Stream<Reading> = A")["type"]["name"], "Stream");
}

TEST(StreamTest, UnknownOperatorIsReported) {
    auto d = first_diagnostic("stream S = A\n    .wher(x > 1)");
    EXPECT_EQ(d.code, "E091");
    EXPECT_EQ(d.span.line, 2u);
    EXPECT_EQ(d.span.column, 6u);
}

TEST(StreamTest, RepeatedStepClausesAreReported) {
    auto d = first_diagnostic("stream S = A -> B where x > 1 where y > 2");
    EXPECT_EQ(d.message, "a step has at most one 'where' clause");
}

}  // namespace
}  // namespace varpulis::testing
