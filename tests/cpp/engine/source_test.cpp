// SPDX-License-Identifier: Apache-2.0
// Events from connector payloads, and starting sources (the MQTT kind itself is tested against a
// real broker in tests/py/test_mqtt.py).
#include <gtest/gtest.h>

#include "varpulis/engine/event_json.hpp"
#include "varpulis/engine/runtime.hpp"
#include "varpulis/engine/source.hpp"

namespace varpulis::engine {
namespace {

constexpr int64_t kNow = 1'700'000'000'000'000'000;

TEST(FlatEventTest, TypeComesFromThePayloadElseTheDeclaration) {
    auto typed = event_from_flat_json(OrderedJson::parse(R"({"event_type": "Alert", "v": 1})"), "Reading", kNow);
    ASSERT_TRUE(typed.is_ok()) << typed.status().message();
    EXPECT_EQ((*typed)->type_name(), "Alert");
    auto short_key = event_from_flat_json(OrderedJson::parse(R"({"type": "Alert", "v": 1})"), "Reading", kNow);
    EXPECT_EQ((*short_key)->type_name(), "Alert");
    auto declared = event_from_flat_json(OrderedJson::parse(R"({"v": 1, "w": "x"})"), "Reading", kNow);
    ASSERT_TRUE(declared.is_ok());
    EXPECT_EQ((*declared)->type_name(), "Reading");
    EXPECT_EQ((*declared)->timestamp, kNow);
    EXPECT_EQ((*declared)->fields.size(), 2u);
}

TEST(FlatEventTest, ATypeFieldIsKeptWhenEventTypeNamesTheType) {
    auto e = event_from_flat_json(OrderedJson::parse(R"({"event_type": "Alert", "type": "overheat"})"), "R", kNow);
    ASSERT_TRUE(e.is_ok());
    EXPECT_EQ(event_json(**e).dump(), R"({"event_type":"Alert","type":"overheat"})");
}

TEST(FlatEventTest, TimestampsAreRfc3339OrNanosecondsAndReservedKeysAreNotFields) {
    auto text = event_from_flat_json(OrderedJson::parse(R"({"event_type": "S", "timestamp": "2023-11-14T22:13:20.000Z", "v": 1})"), "", 0);
    ASSERT_TRUE(text.is_ok());
    EXPECT_EQ((*text)->timestamp, kNow);
    EXPECT_EQ((*text)->fields.size(), 1u);
    auto ns = event_from_flat_json(OrderedJson::parse(R"({"event_type": "S", "timestamp": 42})"), "", 0);
    EXPECT_EQ((*ns)->timestamp, 42);
}

TEST(FlatEventTest, BadPayloadsAreClearErrors) {
    auto error = [](const char* text, const char* default_type = "R") {
        auto r = event_from_flat_json(OrderedJson::parse(text), default_type, kNow);
        return r.is_ok() ? std::string("ok") : r.status().message();
    };
    EXPECT_EQ(error("[1, 2]"), "the payload is not a JSON object");
    EXPECT_EQ(error(R"({"event_type": 5})"), "\"event_type\" must be a non-empty string");
    EXPECT_EQ(error(R"({"v": 1})", ""), "the payload has no \"event_type\"");
    EXPECT_EQ(error(R"({"timestamp": "yesterday"})"), "\"timestamp\" must be RFC 3339 text or integer nanoseconds since the epoch");
}

TEST(SourceTest, AKindWithoutASourceFactoryIsAClearError) {
    auto loaded = Runtime::from_source("connector Out = console()\nstream S = A.from(Out, topic: \"t\") .emit(v: 1)");
    ASSERT_TRUE(loaded.runtime) << (loaded.diagnostics.empty() ? "" : loaded.diagnostics[0].message);
    auto sources = start_sources(*loaded.runtime, [](EventPtr) {});
    ASSERT_FALSE(sources.is_ok());
    EXPECT_EQ(sources.status().message(), "connector 'Out' of kind 'console' cannot be a source in this build (source kinds: mqtt)");
}

TEST(SourceTest, RegisteredFactoriesReceiveTheBindingAndDeliverEvents) {
    register_source_factory("test", [](const ConnectorConfig& config, const SourceBinding& binding, EventHandler handler)
                                        -> common::Result<std::unique_ptr<Source>> {
        struct Immediate : Source {
            ConnectorHealth health() const override { return {}; }
        };
        EXPECT_EQ(config.name, "In");
        EXPECT_EQ(binding.params.at("topic").as_string(), "t/#");
        auto e = event_from_flat_json(OrderedJson::parse(R"({"v": 7})"), binding.event_type, kNow);
        handler(*e);
        return std::unique_ptr<Source>(std::make_unique<Immediate>());
    });
    auto loaded = Runtime::from_source("connector In = test()\nstream S = Reading.from(In, topic: \"t/#\") .emit(v: v)");
    ASSERT_TRUE(loaded.runtime);
    std::vector<EventPtr> outputs;
    auto sources = start_sources(*loaded.runtime, [&](EventPtr e) { ASSERT_TRUE(loaded.runtime->push(e, outputs).is_ok()); });
    ASSERT_TRUE(sources.is_ok()) << sources.status().message();
    ASSERT_EQ(outputs.size(), 1u);
    EXPECT_EQ(event_json(*outputs[0]).dump(), R"({"event_type":"S","v":7})");
}

}  // namespace
}  // namespace varpulis::engine
