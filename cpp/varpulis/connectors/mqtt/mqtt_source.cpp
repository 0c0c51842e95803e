// SPDX-License-Identifier: Apache-2.0
#include "varpulis/common/log.hpp"
#include "varpulis/common/time.hpp"
#include "varpulis/connectors/mqtt/mqtt.hpp"
#include "varpulis/connectors/mqtt/mqtt_client.hpp"
#include "varpulis/engine/event_json.hpp"

namespace varpulis::connectors {

using common::ErrorCode;
using common::Result;
using common::Status;

namespace {

/// `Type.from(Connector, topic: "t/#")`: JSON payloads become events; anything else is counted
/// as malformed and logged, and the subscription goes on.
class MqttSource final : public engine::Source {
  public:
    static constexpr size_t kMaxPayloadBytes = size_t{1} << 20;

    MqttSource(std::shared_ptr<MqttClient> client, std::string name, std::string topic, std::string default_type,
               engine::EventHandler handler)
        : client_(std::move(client)), name_(std::move(name)), topic_(std::move(topic)), default_type_(std::move(default_type)),
          handler_(std::move(handler)) {
        subscription_ = client_->subscribe(topic_, [this](const mosquitto_message& m) { deliver(m); });
    }

    ~MqttSource() override { client_->unsubscribe(subscription_); }

    bool ready() const override { return client_->subscribed(subscription_); }

    engine::ConnectorHealth health() const override {
        auto h = client_->health("source");
        h.connector = name_;
        h.target += " " + topic_;
        h.messages = received_.load();
        h.failures = malformed_.load();
        return h;
    }

  private:
    void deliver(const mosquitto_message& m) {
        ++received_;
        try {
            process(m);
        } catch (const std::exception& e) {  // never unwind into libmosquitto's C code
            log::error("mqtt", "source '" + name_ + "': " + e.what());
        }
    }

    void process(const mosquitto_message& m) {
        auto event = parse(m);
        if (!event) {
            const uint64_t n = ++malformed_;
            if (worth_logging(n)) {
                log::warn("mqtt", "source '" + name_ + "': malformed payload on topic '" + m.topic + "': " + event.status().message() +
                                      " (malformed so far: " + std::to_string(n) + ")");
            }
            return;
        }
        handler_(std::move(*event));
    }

    Result<engine::EventPtr> parse(const mosquitto_message& m) const {
        if (m.payloadlen < 0 || static_cast<size_t>(m.payloadlen) > kMaxPayloadBytes) {
            return Status(ErrorCode::LimitExceeded, "payload larger than 1 MiB");
        }
        std::string_view text(static_cast<const char*>(m.payload), static_cast<size_t>(m.payloadlen));
        auto object = engine::OrderedJson::parse(text, nullptr, false);
        if (object.is_discarded()) return Status(ErrorCode::Invalid, "not JSON");
        return engine::event_from_flat_json(object, default_type_, common::wall_clock_ns());
    }

    std::shared_ptr<MqttClient> client_;
    std::string name_, topic_, default_type_;
    engine::EventHandler handler_;
    uint64_t subscription_ = 0;
    std::atomic<uint64_t> received_{0}, malformed_{0};
};

}  // namespace

Result<std::unique_ptr<engine::Source>> make_mqtt_source(const engine::ConnectorConfig& config, const engine::SourceBinding& binding,
                                                         engine::EventHandler handler) {
    auto topic = binding.params.find("topic");
    if (topic == binding.params.end() || !topic->second.is_string() || topic->second.as_string().empty()) {
        return mqtt_bad_param(config, "stream '" + binding.stream + "' needs .from(" + config.name + ", topic: \"...\")");
    }
    const std::string& filter = topic->second.as_string();
    if (mosquitto_sub_topic_check(filter.c_str()) != MOSQ_ERR_SUCCESS) {
        return mqtt_bad_param(config, "'" + filter + "' is not a valid topic filter");
    }
    if (filter.rfind("$share/", 0) == 0) {
        // Deliveries name the real topic, which a $share filter never matches here.
        return mqtt_bad_param(config, "shared subscriptions ('" + filter + "') are not supported");
    }
    for (const auto& [key, value] : binding.params) {
        if (key != "topic") return mqtt_bad_param(config, ".from(...) takes topic: only, not '" + key + "'");
    }
    VP_ASSIGN_OR_RETURN(auto client, shared_mqtt_client(config, true));
    return std::unique_ptr<engine::Source>(
        std::make_unique<MqttSource>(std::move(client), config.name, filter, binding.event_type, std::move(handler)));
}

}  // namespace varpulis::connectors
