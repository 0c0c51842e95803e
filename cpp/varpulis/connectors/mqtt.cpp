// SPDX-License-Identifier: Apache-2.0
#include "varpulis/connectors/mqtt.hpp"

#include <mosquitto.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>

#include "varpulis/engine/event_json.hpp"

namespace varpulis::connectors {

using common::ErrorCode;
using common::Result;
using common::Status;
using Clock = std::chrono::steady_clock;

namespace {

Status bad_param(const engine::ConnectorConfig& c, const std::string& what) {
    return Status(ErrorCode::Invalid, "mqtt connector '" + c.name + "': " + what);
}

/// One broker connection with libmosquitto's network thread. `send` hands messages to
/// libmosquitto; its publish callback frees a slot of the bounded queue.
class MqttSink final : public engine::Sink {
  public:
    MqttSink(std::string name, MqttOptions options) : name_(std::move(name)), options_(std::move(options)) {}

    Status start() {
        mosq_ = mosquitto_new(options_.client_id.empty() ? nullptr : options_.client_id.c_str(), true, this);
        if (!mosq_) return Status(ErrorCode::Io, "mqtt connector '" + name_ + "': cannot create a client");
        mosquitto_connect_callback_set(mosq_, &MqttSink::on_connect);
        mosquitto_disconnect_callback_set(mosq_, &MqttSink::on_disconnect);
        mosquitto_publish_callback_set(mosq_, &MqttSink::on_publish);
        mosquitto_reconnect_delay_set(mosq_, 1, 30, true);  // exponential backoff, 1 s to 30 s
        if (!options_.username.empty()) {
            mosquitto_username_pw_set(mosq_, options_.username.c_str(),
                                      options_.password.empty() ? nullptr : options_.password.c_str());
        }
        disconnected_at_ = Clock::now();
        // The first connection is attempted by the network thread, so a broker that is not up yet
        // does not fail the deployment; messages wait for it (up to block_timeout_ms).
        int rc = mosquitto_connect_async(mosq_, options_.host.c_str(), options_.port, options_.keepalive_s);
        if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_ERRNO) {
            return Status(ErrorCode::Invalid, "mqtt connector '" + name_ + "': " + mosquitto_strerror(rc));
        }
        rc = mosquitto_loop_start(mosq_);
        if (rc != MOSQ_ERR_SUCCESS) return Status(ErrorCode::Io, "mqtt connector '" + name_ + "': " + mosquitto_strerror(rc));
        return Status::ok();
    }

    ~MqttSink() override {
        if (!mosq_) return;
        flush();
        mosquitto_disconnect(mosq_);
        mosquitto_loop_stop(mosq_, false);
        mosquitto_destroy(mosq_);
    }

    void send(const engine::Event& e, const std::string& topic) override {
        std::string payload;
        engine::append_event_json(payload, e, true);
        if (!wait_for_room()) return drop("the broker at " + options_.host + ":" + std::to_string(options_.port) +
                                          " is unreachable or too slow");
        int rc = mosquitto_publish(mosq_, nullptr, topic.c_str(), static_cast<int>(payload.size()), payload.data(),
                                   options_.qos, false);
        if (rc != MOSQ_ERR_SUCCESS) {
            release_slot();
            drop(mosquitto_strerror(rc));
        }
    }

    /// Wait (up to the block timeout) until everything handed to libmosquitto has been sent.
    void flush() override {
        std::unique_lock lock(mutex_);
        cv_.wait_for(lock, std::chrono::milliseconds(options_.block_timeout_ms), [&] { return pending_ == 0; });
    }

  private:
    bool wait_for_room() {
        std::unique_lock lock(mutex_);
        auto room = [&] { return connected_ && pending_ < options_.max_pending; };
        if (!room()) {
            // An outage is waited out once: after block_timeout_ms of disconnection sends drop at once.
            auto since = connected_ ? Clock::now() : disconnected_at_;
            if (!cv_.wait_until(lock, since + std::chrono::milliseconds(options_.block_timeout_ms), room)) return false;
        }
        ++pending_;
        return true;
    }

    void release_slot() {
        std::lock_guard lock(mutex_);
        if (pending_ > 0) --pending_;
        cv_.notify_all();
    }

    void drop(const std::string& why) {
        uint64_t n = ++dropped_;
        if (!logged_outage_.exchange(true)) {
            std::fprintf(stderr, "varpulis: mqtt connector '%s': dropping events: %s (dropped so far: %llu)\n",
                         name_.c_str(), why.c_str(), static_cast<unsigned long long>(n));
        }
    }

    static void on_connect(mosquitto*, void* self, int rc) {
        auto* sink = static_cast<MqttSink*>(self);
        if (rc != 0) return;  // refused (bad credentials, ...): libmosquitto retries with backoff
        std::lock_guard lock(sink->mutex_);
        sink->connected_ = true;
        sink->logged_outage_ = false;
        sink->cv_.notify_all();
    }

    static void on_disconnect(mosquitto*, void* self, int) {
        auto* sink = static_cast<MqttSink*>(self);
        std::lock_guard lock(sink->mutex_);
        if (sink->connected_) sink->disconnected_at_ = Clock::now();
        sink->connected_ = false;
    }

    static void on_publish(mosquitto*, void* self, int) { static_cast<MqttSink*>(self)->release_slot(); }

    std::string name_;
    MqttOptions options_;
    mosquitto* mosq_ = nullptr;
    std::mutex mutex_;
    std::condition_variable cv_;
    bool connected_ = false;
    Clock::time_point disconnected_at_;
    int64_t pending_ = 0;
    std::atomic<uint64_t> dropped_{0};
    std::atomic<bool> logged_outage_{false};
};

}  // namespace

Result<MqttOptions> mqtt_options(const engine::ConnectorConfig& config) {
    MqttOptions o;
    for (const auto& [key, value] : config.params) {
        if (key == "host") {
            if (!value.is_string() || value.as_string().empty()) return bad_param(config, "host must be a non-empty string");
            o.host = value.as_string();
        } else if (key == "port" || key == "qos" || key == "keepalive" || key == "max_pending" || key == "block_timeout_ms") {
            if (!value.is_int()) return bad_param(config, key + " must be an integer");
            int64_t n = value.as_int();
            if (key == "port" && (n < 1 || n > 65535)) return bad_param(config, "port must be from 1 to 65535");
            if (key == "qos" && (n < 0 || n > 2)) return bad_param(config, "qos must be 0, 1 or 2");
            if (key != "port" && key != "qos" && n < 1) return bad_param(config, key + " must be positive");
            if (key == "port") o.port = static_cast<int>(n);
            if (key == "qos") o.qos = static_cast<int>(n);
            if (key == "keepalive") o.keepalive_s = static_cast<int>(n);
            if (key == "max_pending") o.max_pending = n;
            if (key == "block_timeout_ms") o.block_timeout_ms = n;
        } else if (key == "client_id" || key == "username" || key == "password") {
            if (!value.is_string()) return bad_param(config, key + " must be a string");
            (key == "client_id" ? o.client_id : key == "username" ? o.username : o.password) = value.as_string();
        } else if (key != "topic") {
            return bad_param(config, "unknown parameter '" + key +
                                         "' (host, port, client_id, qos, username, password, keepalive, max_pending, "
                                         "block_timeout_ms, topic)");
        }
    }
    return o;
}

namespace {

/// One client per broker identity in the process: the contexts of a pipeline (each with its own
/// engine) and pipelines naming the same client share it. Separate clients with one client_id
/// would make the broker disconnect each in turn.
Result<std::shared_ptr<engine::Sink>> shared_mqtt_sink(const engine::ConnectorConfig& config) {
    VP_ASSIGN_OR_RETURN(auto options, mqtt_options(config));
    std::string key = options.host + ":" + std::to_string(options.port) + "/" + options.client_id + "/" +
                      std::to_string(options.qos) + "/" + options.username;
    if (options.client_id.empty()) key += "/" + config.name;
    static std::mutex mutex;
    static std::map<std::string, std::weak_ptr<MqttSink>> clients;
    std::lock_guard lock(mutex);
    if (auto existing = clients[key].lock()) return std::shared_ptr<engine::Sink>(existing);
    auto sink = std::make_shared<MqttSink>(config.name, std::move(options));
    VP_RETURN_NOT_OK(sink->start());
    clients[key] = sink;
    return std::shared_ptr<engine::Sink>(std::move(sink));
}

}  // namespace

void register_connectors() {
    static std::once_flag once;
    std::call_once(once, [] {
        mosquitto_lib_init();
        engine::register_sink_factory("mqtt", shared_mqtt_sink);
    });
}

}  // namespace varpulis::connectors
