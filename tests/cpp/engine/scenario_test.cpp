// SPDX-License-Identifier: Apache-2.0
// Runs every golden scenario under tests/scenarios/: program + events in, expected outputs out.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "varpulis/engine/event_json.hpp"
#include "varpulis/engine/runtime.hpp"

namespace varpulis::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::vector<fs::path> scenarios() {
    std::vector<fs::path> out;
    for (const auto& e : fs::recursive_directory_iterator(fs::path(VARPULIS_SOURCE_DIR) / "tests" / "scenarios")) {
        if (e.path().extension() == ".vpl") out.push_back(e.path());
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::string read_file(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

/// Numbers compare by value (relative 1e-9) but an integer never equals a float.
bool same(const json& a, const json& b) {
    if (a.is_number() && b.is_number()) {
        if (a.is_number_float() != b.is_number_float()) return false;
        double x = a.get<double>(), y = b.get<double>();
        return std::fabs(x - y) <= 1e-9 * std::max({1.0, std::fabs(x), std::fabs(y)});
    }
    if (a.type() != b.type()) return false;
    if (a.is_object()) {
        if (a.size() != b.size()) return false;
        for (const auto& [k, v] : a.items()) {
            if (!b.contains(k) || !same(v, b[k])) return false;
        }
        return true;
    }
    if (a.is_array()) {
        if (a.size() != b.size()) return false;
        for (size_t i = 0; i < a.size(); ++i) {
            if (!same(a[i], b[i])) return false;
        }
        return true;
    }
    return a == b;
}

class ScenarioTest : public ::testing::TestWithParam<fs::path> {};

TEST_P(ScenarioTest, ProducesTheExpectedOutputs) {
    fs::path vpl = GetParam();
    fs::path evt = fs::path(vpl).replace_extension(".evt");
    fs::path expected_path = fs::path(vpl).replace_extension(".expected");
    std::string source = read_file(vpl);
    auto loaded = engine::Runtime::from_source(source);
    ASSERT_TRUE(loaded.runtime) << vpl::format_diagnostics(loaded.diagnostics, source, vpl.string());
    std::vector<engine::EventPtr> outputs;
    auto st = loaded.runtime->run_file(evt.string(), outputs);
    ASSERT_TRUE(st.is_ok()) << st.to_string();

    json actual = json::array();
    for (const auto& o : outputs) actual.push_back(json(engine::event_json(*o)));
    json expected = json::array();
    std::istringstream lines(read_file(expected_path));
    for (std::string line; std::getline(lines, line);) {
        if (!line.empty()) expected.push_back(json::parse(line));
    }
    EXPECT_TRUE(same(actual, expected)) << "expected:\n" << expected.dump(1) << "\nactual:\n" << actual.dump(1);
}

INSTANTIATE_TEST_SUITE_P(Golden, ScenarioTest, ::testing::ValuesIn(scenarios()),
                         [](const ::testing::TestParamInfo<fs::path>& info) {
                             std::string name = info.param.parent_path().filename().string() + "_" +
                                                info.param.stem().string();
                             for (char& c : name) {
                                 if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                             }
                             return name;
                         });

}  // namespace
}  // namespace varpulis::testing
