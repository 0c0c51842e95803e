// SPDX-License-Identifier: Apache-2.0
// Events from connector payloads, and starting sources (the MQTT kind itself is tested against a
// real broker in tests/py/test_mqtt.py).
#include <gtest/gtest.h>

#include "varpulis/engine/connector_registry.hpp"
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

/// A source kind that delivers one event as it starts, registered once for the tests below.
void register_test_source() {
    static const common::Status added = ConnectorRegistry::global().add(
        {"test", nullptr,
         [](const ConnectorConfig& config, const SourceBinding& binding, EventHandler handler) -> common::Result<std::unique_ptr<Source>> {
             struct Immediate : Source {
                 ConnectorHealth health() const override { return {}; }
             };
             EXPECT_EQ(config.name, "In");
             EXPECT_EQ(binding.params.at("topic").as_string(), "t/#");
             auto e = event_from_flat_json(OrderedJson::parse(R"({"v": 7})"), binding.event_type, kNow);
             handler(*e);
             return std::unique_ptr<Source>(std::make_unique<Immediate>());
         },
         nullptr});
    ASSERT_TRUE(added.is_ok()) << added.message();
}

TEST(SourceTest, AKindWithoutASourceFactoryIsAClearErrorListingTheSourceKinds) {
    register_test_source();
    auto loaded = Runtime::from_source("connector Out = console()\nstream S = A.from(Out, topic: \"t\") .emit(v: 1)");
    ASSERT_TRUE(loaded.runtime) << (loaded.diagnostics.empty() ? "" : loaded.diagnostics[0].message);
    auto sources = start_sources(*loaded.runtime, [](EventPtr) {});
    ASSERT_FALSE(sources.is_ok());
    // The kinds registered in this process, not a hard-coded list.
    EXPECT_EQ(sources.status().message(), "connector 'Out' of kind 'console' cannot be a source in this build (source kinds: test)");
}

TEST(SourceTest, RegisteredFactoriesReceiveTheBindingAndDeliverEvents) {
    register_test_source();
    auto loaded = Runtime::from_source("connector In = test()\nstream S = Reading.from(In, topic: \"t/#\") .emit(v: v)");
    ASSERT_TRUE(loaded.runtime);
    std::vector<EventPtr> outputs;
    auto sources = start_sources(*loaded.runtime, [&](EventPtr e) { ASSERT_TRUE(loaded.runtime->push(e, outputs).is_ok()); });
    ASSERT_TRUE(sources.is_ok()) << sources.status().message();
    ASSERT_EQ(outputs.size(), 1u);
    EXPECT_EQ(event_json(*outputs[0]).dump(), R"({"event_type":"S","v":7})");
}

TEST(ConnectorRegistryTest, RefusesADuplicateNameAndKeepsTheFirst) {
    register_test_source();
    common::Status again = ConnectorRegistry::global().add({"test", open_console_sink, nullptr, nullptr});
    EXPECT_EQ(again.code(), common::ErrorCode::Invalid);
    EXPECT_EQ(again.message(), "connector kind 'test' is registered twice");
    EXPECT_EQ(ConnectorRegistry::global().source_kinds(), std::vector<std::string>{"test"});
    auto sink = ConnectorRegistry::global().make_sink({"In", "test", {}, {}});
    EXPECT_EQ(sink.status().message(), "connector 'In' of kind 'test' cannot be written to");
    EXPECT_EQ(ConnectorRegistry::global().add({"", nullptr, nullptr, nullptr}).code(), common::ErrorCode::Invalid);
}

TEST(ConnectorRegistryTest, AnUnknownKindListsTheRegisteredOnes) {
    register_test_source();
    auto loaded = Runtime::from_source("connector Out = kafka(brokers: \"b:9092\")\nstream S = A .emit(v: 1) .to(Out)");
    ASSERT_FALSE(loaded.runtime);
    ASSERT_FALSE(loaded.diagnostics.empty());
    EXPECT_NE(loaded.diagnostics[0].message.find("kind 'kafka' is not available in this build (kinds: console, file, test)"),
              std::string::npos)
        << loaded.diagnostics[0].message;
}

TEST(ConnectorRegistryTest, ChecksParametersWithoutOpening) {
    EXPECT_TRUE(ConnectorRegistry::global().check({"Out", "console", {}, {}}).is_ok());
    EXPECT_EQ(ConnectorRegistry::global().check({"F", "file", {}, {}}).message(), "file connector 'F' needs path: \"...\"");
    EXPECT_EQ(ConnectorRegistry::global().check({"X", "nope", {}, {}}).code(), common::ErrorCode::Invalid);
}

}  // namespace
}  // namespace varpulis::engine
