// SPDX-License-Identifier: Apache-2.0
// One case per diagnostic code (docs/vpl-diagnostics.md lists them).
#include "support/vpl_support.hpp"

namespace varpulis::testing {
namespace {

struct CodeCase {
    const char* code;
    const char* source;
};

class DiagnosticCodeTest : public ::testing::TestWithParam<CodeCase> {};

std::string case_name(const ::testing::TestParamInfo<CodeCase>& info) {
    return std::string(info.param.code) + "_" + std::to_string(info.index);
}

TEST_P(DiagnosticCodeTest, IsReported) {
    const auto& c = GetParam();
    auto found = codes(c.source);
    EXPECT_TRUE(has_code(found, c.code)) << c.source << "\n got: " << ::testing::PrintToString(found);
}

INSTANTIATE_TEST_SUITE_P(
    Codes, DiagnosticCodeTest,
    ::testing::Values(
        CodeCase{"E001", "event A: x: int\nevent A: y: int"},
        CodeCase{"E002", "stream S = A\nstream S = B"},
        CodeCase{"E003", "fn f():\n    1\nfn f():\n    2"},
        CodeCase{"E004", "connector C = console()\nconnector C = console()"},
        CodeCase{"E005", "context c\ncontext c"},
        CodeCase{"E006", "pattern P = A\npattern P = B"},
        CodeCase{"E007", "type T = int\ntype T = float"},
        CodeCase{"E008", "stream Reading = Reading .where(x > 1)"},
        CodeCase{"E010", "stream S = A .having(x > 1)"},
        CodeCase{"E011", "stream S = A .window(5) .aggregate(n: count()) .aggregate(m: count())"},
        CodeCase{"E012", "stream S = A .window(5) .window(10)"},
        CodeCase{"E020", "stream S = A .within(5m)"},
        CodeCase{"E020", "stream S = A .not(B)"},
        CodeCase{"E030", "stream S = A .emit(x: 1) .to(Nowhere)"},
        CodeCase{"E030", "stream S = A.from(Nowhere, topic: \"t\")"},
        CodeCase{"E031", "stream S = A .context(nowhere)"},
        CodeCase{"E031", "context c\nstream S = A .emit(context: d, x: 1)"},
        CodeCase{"E040", "let x = 1\nx := 2"},
        CodeCase{"E040", "const X = 1\nX := 2"},
        CodeCase{"E050", "stream S = A .where(nosuch(x))"},
        CodeCase{"E050", "stream S = A .where(stddev(x) > 1)"},
        CodeCase{"E051", "fn f(a, b):\n    a\nstream S = A .where(f(1) > 0)"},
        CodeCase{"E051", "stream S = A .emit(v: abs(1, 2))"},
        CodeCase{"E060", "stream S = A .where(42)"},
        CodeCase{"E061", "stream S = A -> B .within(5)"},
        CodeCase{"E061", "stream S = timer(10)"},
        CodeCase{"E070", "stream S = A .window(5) .aggregate(p: median(x))"},
        CodeCase{"E071", "stream S = A .window(5) .aggregate(t: sum())"},
        CodeCase{"E072", "stream S = A .window(5) .aggregate(e: ema(price))"},
        CodeCase{"E073", "stream S = A .window(5) .aggregate(zone: zone)"},
        CodeCase{"E080", "stream S = A .log(colour: \"red\")"},
        CodeCase{"E080", "stream S = A .watermark(late: 5s)"},
        CodeCase{"E090", "stream S = A .order_by(x desc)"},
        CodeCase{"E090", "stream S = A .enrich(Api, key: id)"},
        CodeCase{"E090", "stream S = A .where(x is null)"},
        CodeCase{"E090", "stream S = A .where(x.len() > 1)"},
        CodeCase{"E091", "stream S = A .frobnicate()"},
        CodeCase{"E092", "let x = 1\nif x > 0:\n    let y = 2"},
        CodeCase{"E092", "x + 1"},
        CodeCase{"E092", "fn f():\n    stream S = A"},
        CodeCase{"E092", "fn f():\n    break"},
        CodeCase{"E093", "stream S = A .where((x => x)(1))"},
        CodeCase{"E094", "stream S = A .limit(x)"},
        CodeCase{"E094", "stream S = A .window(\"big\")"},
        CodeCase{"E094", "stream S = A .partition_by(a + b)"},
        CodeCase{"E094", "stream S = A .process(42)"},
        CodeCase{"E094", "context c (cores: [\"a\"])"},
        CodeCase{"E094", "stream S = A .on(x == y)"}),
    case_name);

struct WarningCase {
    const char* code;
    const char* source;
};

class WarningCodeTest : public ::testing::TestWithParam<WarningCase> {};

TEST_P(WarningCodeTest, IsAWarningAndTheProgramStaysValid) {
    const auto& c = GetParam();
    auto r = vpl::check(c.source);
    EXPECT_TRUE(r.ok()) << vpl::format_diagnostics(r.diagnostics, c.source);
    bool found = false;
    for (const auto& d : r.diagnostics) found = found || (d.code == c.code && d.severity == vpl::Severity::Warning);
    EXPECT_TRUE(found) << c.source;
}

INSTANTIATE_TEST_SUITE_P(
    Codes, WarningCodeTest,
    ::testing::Values(
        WarningCase{"W001", "stream S = A .aggregate(n: count())"},
        WarningCase{"W002", "stream S = A .window(5) .partition_by(k) .aggregate(n: count())"},
        WarningCase{"W030", "event Reading: v: int\nstream S = Readings .where(v > 1)"},
        WarningCase{"W031", "event Reading: v: int\nstream S = Reading .emit as Alrt(v: v)"},
        WarningCase{"W060", "stream S = A .where(x + 1)"},
        WarningCase{"W080", "connector C = mqtt(host: \"h\", colour: \"red\")"},
        WarningCase{"W081", "connector C = mqtt(host: \"h\", port: \"1883\")"}),
    [](const ::testing::TestParamInfo<WarningCase>& info) { return std::string(info.param.code); });

TEST(ValidateTest, ValidProgramsHaveNoDiagnostics) {
    auto r = vpl::check(R"(
event TemperatureReading:
    sensor_id: str
    temperature: float
let threshold = 100
stream TempAlerts = TemperatureReading
    .where(temperature > threshold)
    .emit(alert_type: "HIGH_TEMP", sensor_id: sensor_id, temperature: temperature)
stream Stats = TemperatureReading
    .partition_by(sensor_id)
    .window(1m)
    .aggregate(n: count(), avg_t: avg(temperature), spread: max(temperature) - min(temperature),
               e: ema(temperature, 5), u: count(distinct(sensor_id)))
    .having(n > 2)
    .emit(sensor: _partition, n: n)
)");
    EXPECT_TRUE(r.diagnostics.empty()) << vpl::format_diagnostics(r.diagnostics, "");
}

TEST(ValidateTest, DuplicatePointsAtTheSecondDeclaration) {
    auto d = first_diagnostic("stream S = A\n\nstream S = B");
    EXPECT_EQ(d.span.line, 3u);
    EXPECT_EQ(d.hint, "first declared on line 1");
}

TEST(ValidateTest, ImplicitEventTypesNeedNoDeclaration) {
    EXPECT_TRUE(codes("stream S = Anything .where(x > 1)").empty());
}

TEST(ValidateTest, DiagnosticsAreInSourceOrder) {
    auto found = codes("stream S = A .where(42)\nlet x = 1\nx := 2\nstream T = B .frob()");
    // E091 is a parse-stage error: it stops validation.
    EXPECT_EQ(found, std::vector<std::string>{"E091"});
    found = codes("stream S = A .where(42)\nlet x = 1\nx := 2");
    EXPECT_EQ(found, (std::vector<std::string>{"E060", "E040"}));
}

}  // namespace
}  // namespace varpulis::testing
