// SPDX-License-Identifier: Apache-2.0
#pragma once

// A broker connection on libmosquitto, private to connectors/mqtt/: the sink and the source of
// the `mqtt` kind share it.

#include <mosquitto.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "varpulis/common/status.hpp"
#include "varpulis/connectors/mqtt/mqtt_options.hpp"
#include "varpulis/engine/sink.hpp"

namespace varpulis::connectors {

/// One broker connection with libmosquitto's network thread, shared by every sink (or every
/// source) of the process that names the same broker identity. Publishing goes through a bounded
/// queue whose slots the publish callback frees; subscriptions are dispatched by topic filter.
class MqttClient {
  public:
    using MessageHandler = std::function<void(const mosquitto_message&)>;

    MqttClient(std::string name, MqttOptions options, bool subscriber)
        : name_(std::move(name)), options_(std::move(options)), subscriber_(subscriber) {}

    common::Status start();

    ~MqttClient();

    /// Hand one message to libmosquitto, waiting (bounded) for room or for the broker. On false,
    /// the message was dropped and counted.
    bool publish(const std::string& topic, const std::string& payload);

    /// Wait (up to the block timeout) until everything handed to libmosquitto has been sent.
    void flush();

    uint64_t subscribe(const std::string& topic, MessageHandler handler);

    /// Remove a subscription; waits for a delivery to it in progress.
    void unsubscribe(uint64_t id);

    engine::ConnectorHealth health(std::string role) const;

    std::string address() const { return options_.host + ":" + std::to_string(options_.port); }

  private:
    /// The network thread: connect, run libmosquitto's loop in 100 ms slices, and reconnect with
    /// exponential backoff from 1 s to 30 s. Our own loop rather than mosquitto_loop_start: closing
    /// is a flag seen within a slice (never a wait on a connection attempt), and no error code
    /// ends the thread for good.
    void run_network();

    bool stopped();

    void note_unreachable(const std::string& why);

    struct Subscription {
        std::string topic;
        MessageHandler handler;
    };

    bool wait_for_room();

    void release_slot();

    void drop(const std::string& why);

    static void on_connect(mosquitto*, void* self, int rc);

    static void on_disconnect(mosquitto*, void* self, int rc);

    static void on_publish(mosquitto*, void* self, int) { static_cast<MqttClient*>(self)->release_slot(); }

    static void on_message(mosquitto*, void* self, const mosquitto_message* message);

    std::string name_;
    MqttOptions options_;
    bool subscriber_;
    mosquitto* mosq_ = nullptr;
    mutable std::mutex mutex_;  ///< connection state and the publish queue
    std::condition_variable cv_;
    bool connected_ = false;
    std::string last_error_;
    std::chrono::steady_clock::time_point disconnected_at_;
    int64_t pending_ = 0;
    std::atomic<uint64_t> published_{0};
    std::atomic<uint64_t> dropped_{0};
    std::atomic<bool> logged_outage_{false};
    std::atomic<bool> logged_unreachable_{false};
    std::atomic<bool> connected_since_attempt_{false};
    bool stopping_ = false;  ///< guarded by mutex_
    std::thread network_;
    std::mutex subscriptions_mutex_;  ///< held while a message is delivered
    std::map<uint64_t, Subscription> subscriptions_;
    uint64_t next_subscription_ = 0;
};

/// Return the client of a declaration's broker identity and role (publishing or subscribing),
/// started on first use: the contexts of a pipeline (each with its own engine) and pipelines
/// naming the same client share it.
common::Result<std::shared_ptr<MqttClient>> shared_mqtt_client(const engine::ConnectorConfig& config, bool subscriber);

/// Log the first ten of a kind of failure, then every thousandth: visible, never a flood.
inline bool worth_logging(uint64_t count) { return count <= 10 || count % 1000 == 0; }

}  // namespace varpulis::connectors
