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
/// source) of the process that names the same broker identity; subscriptions are dispatched by
/// topic filter.
///
/// Publishing at QoS 1 and 2 is at-least-once: every message stays in the spool until the broker
/// acknowledges it (PUBACK, PUBCOMP), and after a reconnect the spool is sent again from a
/// fresh libmosquitto session, in order (counted as redelivered). Nothing is dropped; the spool's
/// bound (`max_pending`) is kept by the front doors, which admit no new input while `has_room`
/// is false. At QoS 0 (at-most-once) a bounded queue waits up to `block_timeout_ms` for the
/// broker, then drops, counted.
class MqttClient {
  public:
    using MessageHandler = std::function<void(const mosquitto_message&)>;

    MqttClient(std::string name, MqttOptions options, bool subscriber)
        : name_(std::move(name)), options_(std::move(options)), subscriber_(subscriber) {}

    common::Status start();

    ~MqttClient();

    /// Send one message: into the spool at QoS 1/2 (never dropped, except a payload the library
    /// refuses); at QoS 0, waiting (bounded) for room or the broker. On false, it was dropped
    /// and counted.
    bool publish(const std::string& topic, const std::string& payload);

    /// Wait (up to the block timeout) until everything handed over has been sent; what is
    /// still spooled when the client closes is counted as dropped.
    void flush();

    /// False while new input should wait: at QoS 1/2, the broker is away or the spool is full.
    bool has_room() const;

    /// Wait until every message published so far is acknowledged by the broker, or the deadline.
    bool wait_delivered(std::chrono::steady_clock::time_point deadline);

    uint64_t subscribe(const std::string& topic, MessageHandler handler);

    /// Remove a subscription; waits for a delivery to it in progress.
    void unsubscribe(uint64_t id);

    /// True once the broker acknowledged the subscription (SUBACK) on the current connection.
    bool subscribed(uint64_t id) const;

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
        int mid = -1;            ///< of the SUBSCRIBE in flight
        bool acknowledged = false;  ///< SUBACK received on this connection
    };

    /// Send one SUBSCRIBE and remember its id (subscriptions_mutex_ held).
    void send_subscribe(Subscription& s);

    static void on_subscribe(mosquitto*, void* self, int mid, int, const int*);

    bool at_least_once() const { return options_.qos > 0; }

    /// Set libmosquitto's callbacks and options on `mosq_` (at start and after a reset).
    common::Status configure();

    bool publish_at_most_once(const std::string& topic, const std::string& payload);

    /// Hand one spooled message to libmosquitto (mutex_ held, connected).
    void hand_over(uint64_t seq);

    /// After a connection ends: a fresh libmosquitto session, so the spool alone decides what
    /// is sent again (libmosquitto's own queue is dropped, never sent twice). Network thread.
    void reset_session();

    void on_published(int mid);

    bool wait_for_room();

    void release_slot();

    void drop(const std::string& why);

    /// Count and log one dropped message (mutex_ held).
    void note_drop(const std::string& why);

    static void on_connect(mosquitto*, void* self, int rc);

    static void on_disconnect(mosquitto*, void* self, int rc);

    static void on_publish(mosquitto*, void* self, int mid) { static_cast<MqttClient*>(self)->on_published(mid); }

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
    int64_t pending_ = 0;  ///< QoS 0: handed to libmosquitto, not yet written
    struct Spooled {
        std::string topic, payload;
        bool sent_once = false;
    };
    std::map<uint64_t, Spooled> spool_;            ///< QoS 1/2, by sequence: not yet acknowledged
    std::map<int, uint64_t> in_flight_;           ///< libmosquitto's message id -> sequence
    uint64_t next_seq_ = 0;
    std::atomic<uint64_t> published_{0};  ///< acknowledged by the broker (QoS 1/2), written (QoS 0)
    std::atomic<uint64_t> dropped_{0};
    std::atomic<uint64_t> redelivered_{0};
    std::atomic<bool> logged_outage_{false};
    std::atomic<bool> logged_unreachable_{false};
    std::atomic<bool> connected_since_attempt_{false};
    bool stopping_ = false;  ///< guarded by mutex_
    std::thread network_;
    mutable std::mutex subscriptions_mutex_;  ///< held while a message is delivered
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
