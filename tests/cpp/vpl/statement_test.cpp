// SPDX-License-Identifier: Apache-2.0
// Every top-level and function statement kind.
#include "support/vpl_support.hpp"

namespace varpulis::testing {
namespace {

TEST(StatementTest, Declarations) {
    EXPECT_EQ(statement_json("context t0")["name"], "t0");
    EXPECT_EQ(statement_json("context fast (cores: [0, 1])")["params"][0]["name"], "cores");
    auto c = statement_json("connector Out = mqtt (host: \"localhost\", port: 1883, client_id: \"w0\")");
    EXPECT_EQ(c["connector"], "mqtt");
    EXPECT_EQ(c["params"].size(), 3u);
    EXPECT_EQ(statement_json("connector C = console()")["params"].size(), 0u);
    EXPECT_EQ(statement_json("type Price = float")["type"], "float");
    EXPECT_EQ(statement_json("type Tags = {str: [int]}?")["type"]["optional"]["map"][1]["array"], "int");
    EXPECT_EQ(statement_json("import \"lib/common.vpl\" as common")["as"], "common");
    EXPECT_EQ(statement_json("config mqtt { host: \"h\", port: 1 }")["entries"].size(), 2u);
    EXPECT_EQ(statement_json("config:\n    level: \"info\"\n    mode: 2")["entries"].size(), 2u);
}

TEST(StatementTest, VariablesAndAssignment) {
    EXPECT_EQ(statement_json("let threshold: float = 100.0")["binding"], "let");
    EXPECT_EQ(statement_json("var count = 0")["binding"], "var");
    EXPECT_EQ(statement_json("const LIMIT = 10")["binding"], "const");
    EXPECT_EQ(statement_json("total := total + 1")["kind"], "assignment");
}

TEST(StatementTest, EventDeclarationsInAllForms) {
    auto block = statement_json("event Reading extends Base:\n    sensor_id: str\n    temperature: float\n    tags: [str]?");
    EXPECT_EQ(block["extends"], "Base");
    EXPECT_EQ(block["fields"].size(), 3u);
    auto braces = statement_json("event StockTick { symbol: str, price: float,\n  volume: int }");
    EXPECT_EQ(braces["fields"].size(), 3u);
    EXPECT_EQ(statement_json("event Tick: symbol: str, price: float")["fields"].size(), 2u);
    EXPECT_EQ(statement_json("event Heartbeat")["fields"].size(), 0u);
}

TEST(StatementTest, FunctionsWithEveryStatementKind) {
    auto p = parse_ok(R"(
fn classify(x: int, limit) -> str:
    var n = 0
    let k = 2
    const c = 3
    n := n + k
    for i in 0..x:
        if i % 2 == 0:
            continue
        elif i > limit:
            break
        else:
            n := n + 1
    while n > 0:
        n := n - 1
    emit Result(value: n, label: "done")
    n
    return "ok"
)");
    ASSERT_EQ(p.statements.size(), 1u);
    auto& fn = std::get<vpl::FnDecl>(p.statements[0]->node);
    EXPECT_EQ(fn.params.size(), 2u);
    EXPECT_FALSE(fn.params[1].type.has_value());
    ASSERT_EQ(fn.body.size(), 9u);
    auto& loop = std::get<vpl::ForStmt>(fn.body[4]->node);
    auto& branch = std::get<vpl::IfStmt>(loop.body[0]->node);
    EXPECT_EQ(branch.branches.size(), 2u);
    EXPECT_TRUE(branch.has_else);
    EXPECT_TRUE(std::holds_alternative<vpl::EmitStmt>(fn.body[6]->node));
    EXPECT_TRUE(std::holds_alternative<vpl::ExprStmt>(fn.body[7]->node));
    EXPECT_TRUE(std::holds_alternative<vpl::ReturnStmt>(fn.body[8]->node));
}

TEST(StatementTest, BareReturnEndsItsBlock) {
    auto p = parse_ok("fn f(x):\n    if x:\n        return\n    return x");
    auto& fn = std::get<vpl::FnDecl>(p.statements[0]->node);
    EXPECT_EQ(fn.body.size(), 2u);
}

TEST(StatementTest, NamedPatterns) {
    auto j = statement_json("pattern Fraud = SEQ(Login as l, NOT Logout, Purchase+ where amount > 100 as p) within 10m partition by user_id");
    EXPECT_EQ(j["pattern"]["kind"], "seq");
    EXPECT_EQ(j["pattern"]["items"][1]["not"], true);
    EXPECT_EQ(j["pattern"]["items"][2]["quantifier"], "+");
    EXPECT_EQ(j["pattern"]["items"][2]["as"], "p");
    EXPECT_EQ(j["partition_by"], "user_id");
    auto k = statement_json("pattern Either = (A AND B) OR NOT C*");
    EXPECT_EQ(k["pattern"]["kind"], "or");
    EXPECT_EQ(k["pattern"]["items"][0]["kind"], "and");
    EXPECT_EQ(k["pattern"]["items"][1]["kind"], "not");
}

TEST(StatementTest, SpansPointAtTheStatement) {
    auto p = parse_ok("\n\n  # c\nlet a = 1\nstream S = A\n    .where(x > 1)");
    EXPECT_EQ(p.statements[0]->span.line, 4u);
    EXPECT_EQ(p.statements[1]->span.line, 5u);
    EXPECT_EQ(p.statements[1]->span.end_line, 6u);
}

}  // namespace
}  // namespace varpulis::testing
