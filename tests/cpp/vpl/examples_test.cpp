// SPDX-License-Identifier: Apache-2.0
// Every program under examples/ and every VPL snippet of the specification documents is valid.
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "support/vpl_support.hpp"

namespace varpulis::testing {
namespace {

namespace fs = std::filesystem;

std::string read_file(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

TEST(ExamplesTest, EveryExampleProgramChecks) {
    size_t count = 0;
    for (const auto& entry : fs::recursive_directory_iterator(fs::path(VARPULIS_SOURCE_DIR) / "examples")) {
        if (entry.path().extension() != ".vpl") continue;
        ++count;
        std::string src = read_file(entry.path());
        auto r = vpl::check(src);
        EXPECT_TRUE(r.ok()) << entry.path() << "\n" << vpl::format_diagnostics(r.diagnostics, src);
    }
    EXPECT_GE(count, 10u);
}

/// The specification's documents sit beside the repository (../shared/spec) on development and
/// CI machines; their ```vpl blocks and the "source" strings of their JSON examples must check.
TEST(ExamplesTest, SpecificationSnippetsCheck) {
    fs::path seeds = fs::path(VARPULIS_SOURCE_DIR) / ".." / "shared" / "spec" / "seeds";
    if (!fs::exists(seeds)) GTEST_SKIP() << "no specification documents at " << seeds;
    std::regex block("```vpl\n([\\s\\S]*?)```");
    std::regex source("\"source\": \"((?:[^\"\\\\]|\\\\.)*)\"");
    size_t count = 0;
    for (const auto& entry : fs::directory_iterator(seeds)) {
        std::string doc = read_file(entry.path());
        std::vector<std::string> snippets;
        for (std::sregex_iterator it(doc.begin(), doc.end(), block), end; it != end; ++it) snippets.push_back((*it)[1]);
        for (std::sregex_iterator it(doc.begin(), doc.end(), source), end; it != end; ++it) {
            std::string s = (*it)[1];
            if (s == "...") continue;  // placeholders in the placement examples
            s = std::regex_replace(s, std::regex("\\\\\""), "\"");
            snippets.push_back(s);
        }
        for (const auto& s : snippets) {
            ++count;
            auto r = vpl::check(s);
            EXPECT_TRUE(r.ok()) << entry.path() << "\n" << s << "\n" << vpl::format_diagnostics(r.diagnostics, s);
        }
    }
    EXPECT_GE(count, 5u);
}

}  // namespace
}  // namespace varpulis::testing
