// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include <sstream>

#include "varpulis/engine/event_file.hpp"
#include "varpulis/engine/event_json.hpp"

namespace varpulis::engine {
namespace {

TEST(EventFileTest, OffsetsAreEventTime) {
    std::istringstream in("A { v: 1 }\nBATCH 1500\nA { v: 2 }\n@2s A { v: 3 }\nA { v: 4 }\n@100ms B(1)\n");
    std::vector<int64_t> times;
    ASSERT_TRUE(read_event_stream(in, [&](EventPtr e) {
                    times.push_back(e->timestamp);
                    return common::Status::ok();
                }).is_ok());
    EXPECT_EQ(times, (std::vector<int64_t>{0, 1'500'000'000, 2'000'000'000, 1'500'000'000, 100'000'000}));
}

TEST(EventFileTest, ValueLiterals) {
    EXPECT_EQ(parse_evt_value("42"), Value(42));
    EXPECT_TRUE(parse_evt_value("4.5").is_float());
    EXPECT_EQ(parse_evt_value("'a\\'b'"), Value("a'b"));
    EXPECT_EQ(parse_evt_value("\"x\\ny\""), Value("x\ny"));
    EXPECT_TRUE(parse_evt_value("nil").is_null());
    EXPECT_EQ(parse_evt_value("[1, [2, \"a,b\"]]"), Value(common::Array{Value(1), Value(common::Array{Value(2), Value("a,b")})}));
    EXPECT_EQ(parse_evt_value("active"), Value("active"));
}

TEST(EventFileTest, NamesAreRightWhenTheLayoutChangesFromLineToLine) {
    // The reader remembers the names at each position of the line before; a line of another
    // layout must not inherit them.
    std::istringstream in("A { x: 1, y: \"a, b\" }\nB { y: [1, 2], x: 2 }\nA { x: 3 }\nA { x: 4, z: 'q' }\n@5ms\n");
    std::vector<std::string> got;
    auto st = read_event_stream(in, [&](EventPtr e) {
        got.push_back(event_json(*e).dump());
        return common::Status::ok();
    });
    EXPECT_EQ(st.message(), "line 5: an @offset needs an event after it");
    EXPECT_EQ(got, (std::vector<std::string>{R"({"event_type":"A","x":1,"y":"a, b"})", R"({"event_type":"B","y":[1,2],"x":2})",
                                             R"({"event_type":"A","x":3})", R"({"event_type":"A","x":4,"z":"q"})"}));
}

TEST(EventFileTest, BadLinesNameTheirLine) {
    std::istringstream in("A { v: 1 }\n\nA { v 2 }\n");
    auto st = read_event_stream(in, [](EventPtr) { return common::Status::ok(); });
    EXPECT_FALSE(st.is_ok());
    EXPECT_EQ(st.message(), "line 3: field 'v 2' needs name: value");
    std::istringstream bad_batch("BATCH soon\n");
    EXPECT_EQ(read_event_stream(bad_batch, [](EventPtr) { return common::Status::ok(); }).message(),
              "line 1: BATCH needs a number of milliseconds");
    std::istringstream bad_json("{\"data\": {}}\n");
    EXPECT_FALSE(read_event_stream(bad_json, [](EventPtr) { return common::Status::ok(); }).is_ok());
    std::istringstream unclosed("A { v: 1\n");
    EXPECT_EQ(read_event_stream(unclosed, [](EventPtr) { return common::Status::ok(); }).message(),
              "line 1: missing closing '}'");
    // Found by evt_fuzz: an offset too large for nanoseconds overflowed (undefined behaviour).
    std::istringstream huge("@9223372036854775807 A { v: 1 }\n");
    EXPECT_EQ(read_event_stream(huge, [](EventPtr) { return common::Status::ok(); }).message(),
              "line 1: invalid offset '@9223372036854775807' (e.g. @100ms, @2s)");
    std::istringstream huge_batch("BATCH 9223372036854775807\n");
    EXPECT_FALSE(read_event_stream(huge_batch, [](EventPtr) { return common::Status::ok(); }).is_ok());
}

}  // namespace
}  // namespace varpulis::engine

// The sinks' direct writer must produce exactly what the JSON tree serializes to.
TEST(EventJsonTest, DirectWriterMatchesTheJsonTree) {
    using varpulis::common::Value;
    varpulis::common::Array arr{Value(int64_t{1}), Value("two"), Value(2.5)};
    varpulis::common::Map map{{"k", Value(true)}, {"n", Value()}};
    auto e = varpulis::engine::make_event("Mixed", {{"i", Value(int64_t{-42})},
                                          {"f", Value(1.0)},
                                          {"g", Value(0.1)},
                                          {"inf", Value(1.0 / 0.0)},
                                          {"s", Value(std::string("quote\" back\\ nl\n tab\t ctl\x01 é"))},
                                          {"b", Value(false)},
                                          {"null", Value()},
                                          {"ts", Value(varpulis::common::Timestamp{1'700'000'000'123'000'000})},
                                          {"d", Value(varpulis::common::Duration{5'000'000'000})},
                                          {"arr", Value(arr)},
                                          {"map", Value(map)},
                                          {"event_type", Value("ignored")}},
                                  1'700'000'000'000'000'000);
    for (bool with_timestamp : {false, true}) {
        std::string direct;
        varpulis::engine::append_event_json(direct, *e, with_timestamp);
        EXPECT_EQ(direct, varpulis::engine::event_json(*e, with_timestamp).dump());
    }
}
