// SPDX-License-Identifier: Apache-2.0
#include "varpulis/connectors/mqtt/mqtt.hpp"
#include "varpulis/connectors/mqtt/mqtt_client.hpp"
#include "varpulis/engine/event_json.hpp"

namespace varpulis::connectors {

using common::Result;

namespace {

/// `.to(Connector, topic: "t")`: each event as one flat JSON object.
class MqttSink final : public engine::Sink {
  public:
    explicit MqttSink(std::shared_ptr<MqttClient> client) : client_(std::move(client)) {}

    void send(const engine::Event& e, const std::string& topic) override {
        std::string payload;
        engine::append_event_json(payload, e, true);
        client_->publish(topic, payload);
    }

    void flush() override { client_->flush(); }

    bool has_room() const override { return client_->has_room(); }

    bool wait_delivered(std::chrono::steady_clock::time_point deadline) override { return client_->wait_delivered(deadline); }

    std::optional<engine::ConnectorHealth> health() const override { return client_->health("sink"); }

  private:
    std::shared_ptr<MqttClient> client_;
};

}  // namespace

Result<std::shared_ptr<engine::Sink>> make_mqtt_sink(const engine::ConnectorConfig& config) {
    VP_ASSIGN_OR_RETURN(auto client, shared_mqtt_client(config, false));
    return std::shared_ptr<engine::Sink>(std::make_shared<MqttSink>(std::move(client)));
}

}  // namespace varpulis::connectors
