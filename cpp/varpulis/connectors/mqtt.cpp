// SPDX-License-Identifier: Apache-2.0
#include "varpulis/connectors/mqtt.hpp"

#include <mosquitto.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "varpulis/common/log.hpp"
#include "varpulis/common/time.hpp"
#include "varpulis/engine/event_json.hpp"
#include "varpulis/engine/source.hpp"

namespace varpulis::connectors {

using common::ErrorCode;
using common::Result;
using common::Status;
using Clock = std::chrono::steady_clock;

namespace {

Status bad_param(const engine::ConnectorConfig& c, const std::string& what) {
    return Status(ErrorCode::Invalid, "mqtt connector '" + c.name + "': " + what);
}

/// Log the first ten of a kind of failure, then every thousandth: visible, never a flood.
bool worth_logging(uint64_t count) { return count <= 10 || count % 1000 == 0; }

/// One broker connection with libmosquitto's network thread, shared by every sink (or every
/// source) of the process that names the same broker identity. Publishing goes through a bounded
/// queue whose slots the publish callback frees; subscriptions are dispatched by topic filter.
class MqttClient {
  public:
    using MessageHandler = std::function<void(const mosquitto_message&)>;

    MqttClient(std::string name, MqttOptions options, bool subscriber)
        : name_(std::move(name)), options_(std::move(options)), subscriber_(subscriber) {}

    Status start() {
        std::string id = options_.client_id;
        // The subscribing client of a connector gets its own id: two connections with one id
        // would make the broker disconnect each in turn.
        if (subscriber_ && !id.empty()) id += "-in";
        // With an id, subscriptions keep a session: messages at QoS 1/2 wait in the broker while
        // this client reconnects.
        const bool clean_session = !subscriber_ || id.empty();
        mosq_ = mosquitto_new(id.empty() ? nullptr : id.c_str(), clean_session, this);
        if (!mosq_) return Status(ErrorCode::Io, "mqtt connector '" + name_ + "': cannot create a client");
        mosquitto_connect_callback_set(mosq_, &MqttClient::on_connect);
        mosquitto_disconnect_callback_set(mosq_, &MqttClient::on_disconnect);
        mosquitto_publish_callback_set(mosq_, &MqttClient::on_publish);
        mosquitto_message_callback_set(mosq_, &MqttClient::on_message);
        mosquitto_threaded_set(mosq_, true);  // publish and subscribe come from other threads
        if (options_.tls) {
            const auto file = [](const std::string& f) { return f.empty() ? nullptr : f.c_str(); };
            // Without a ca_file the broker is verified against the system's certificates.
            int rc = mosquitto_tls_set(mosq_, file(options_.ca_file), options_.ca_file.empty() ? "/etc/ssl/certs" : nullptr,
                                       file(options_.cert_file), file(options_.key_file), nullptr);
            if (rc != MOSQ_ERR_SUCCESS) {
                return Status(ErrorCode::Invalid, "mqtt connector '" + name_ + "': cannot read its TLS files (ca_file, cert_file, key_file): " +
                                                      mosquitto_strerror(rc));
            }
        }
        if (!options_.username.empty()) {
            mosquitto_username_pw_set(mosq_, options_.username.c_str(), options_.password.empty() ? nullptr : options_.password.c_str());
        }
        disconnected_at_ = Clock::now();
        // Every connection attempt is made by the network thread, so a broker that is down or a
        // name that does not resolve yet does not fail the deployment; messages wait for it (up to
        // block_timeout_ms).
        network_ = std::thread([this] { run_network(); });
        return Status::ok();
    }

    ~MqttClient() {
        if (!mosq_) return;
        if (network_.joinable()) {
            flush();
            {
                std::lock_guard lock(mutex_);
                stopping_ = true;
                cv_.notify_all();
            }
            mosquitto_disconnect(mosq_);
            network_.join();
        }
        mosquitto_destroy(mosq_);
    }

    /// Hand one message to libmosquitto, waiting (bounded) for room or for the broker. On false,
    /// the message was dropped and counted.
    bool publish(const std::string& topic, const std::string& payload) {
        if (!wait_for_room()) {
            drop("the broker at " + address() + " is unreachable or too slow");
            return false;
        }
        int rc = mosquitto_publish(mosq_, nullptr, topic.c_str(), static_cast<int>(payload.size()), payload.data(), options_.qos, false);
        if (rc != MOSQ_ERR_SUCCESS) {
            release_slot();
            drop(mosquitto_strerror(rc));
            return false;
        }
        ++published_;
        return true;
    }

    /// Wait (up to the block timeout) until everything handed to libmosquitto has been sent.
    void flush() {
        std::unique_lock lock(mutex_);
        cv_.wait_for(lock, std::chrono::milliseconds(options_.block_timeout_ms), [&] { return pending_ == 0; });
    }

    uint64_t subscribe(const std::string& topic, MessageHandler handler) {
        std::lock_guard lock(subscriptions_mutex_);
        const uint64_t id = ++next_subscription_;
        subscriptions_[id] = {topic, std::move(handler)};
        mosquitto_subscribe(mosq_, nullptr, topic.c_str(), options_.qos);  // also done again on every connect
        return id;
    }

    /// Remove a subscription; waits for a delivery to it in progress.
    void unsubscribe(uint64_t id) {
        std::lock_guard lock(subscriptions_mutex_);
        auto it = subscriptions_.find(id);
        if (it == subscriptions_.end()) return;
        const std::string topic = it->second.topic;
        subscriptions_.erase(it);
        const bool shared = std::any_of(subscriptions_.begin(), subscriptions_.end(), [&](const auto& s) { return s.second.topic == topic; });
        if (!shared) mosquitto_unsubscribe(mosq_, nullptr, topic.c_str());
    }

    engine::ConnectorHealth health(std::string role) const {
        std::lock_guard lock(mutex_);
        return {name_, "mqtt", std::move(role), address(), connected_, last_error_, published_.load(), dropped_.load()};
    }

    std::string address() const { return options_.host + ":" + std::to_string(options_.port); }

  private:
    /// The network thread: connect, run libmosquitto's loop in 100 ms slices, and reconnect with
    /// exponential backoff from 1 s to 30 s. Our own loop rather than mosquitto_loop_start: closing
    /// is a flag seen within a slice (never a wait on a connection attempt), and no error code
    /// ends the thread for good.
    void run_network() {
        auto backoff = std::chrono::seconds(1);
        while (!stopped()) {
            int rc = mosquitto_connect_async(mosq_, options_.host.c_str(), options_.port, options_.keepalive_s);
            const int connect_errno = errno;
            if (rc == MOSQ_ERR_SUCCESS) {
                while (!stopped() && (rc = mosquitto_loop(mosq_, 100, 1)) == MOSQ_ERR_SUCCESS) {
                }
                if (stopped()) break;
            }
            if (connected_since_attempt_.exchange(false)) backoff = std::chrono::seconds(1);
            note_unreachable(rc == MOSQ_ERR_ERRNO ? std::strerror(connect_errno) : mosquitto_strerror(rc));
            std::unique_lock lock(mutex_);
            cv_.wait_for(lock, backoff, [&] { return stopping_; });
            backoff = std::min<std::chrono::seconds>(backoff * 2, std::chrono::seconds(30));
        }
    }

    bool stopped() {
        std::lock_guard lock(mutex_);
        return stopping_;
    }

    void note_unreachable(const std::string& why) {
        {
            std::lock_guard lock(mutex_);
            if (!connected_) last_error_ = "cannot reach the broker at " + address() + ": " + why;
        }
        if (!logged_unreachable_.exchange(true)) {
            log::warn("mqtt", "connector '" + name_ + "': cannot reach the broker at " + address() + " (" + why + "); retrying");
        }
    }

    struct Subscription {
        std::string topic;
        MessageHandler handler;
    };

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
        const uint64_t n = ++dropped_;
        {
            std::lock_guard lock(mutex_);
            last_error_ = "dropping events: " + why;
        }
        if (!logged_outage_.exchange(true)) {
            log::warn("mqtt", "connector '" + name_ + "': dropping events: " + why + " (dropped so far: " + std::to_string(n) + ")");
        }
    }

    static void on_connect(mosquitto*, void* self, int rc) {
        auto* client = static_cast<MqttClient*>(self);
        if (rc != 0) {  // refused (bad credentials, ...): libmosquitto retries with backoff
            std::lock_guard lock(client->mutex_);
            client->last_error_ = std::string("connection refused: ") + mosquitto_connack_string(rc);
            return;
        }
        {
            std::lock_guard lock(client->mutex_);
            client->connected_ = true;
            client->last_error_.clear();
            // At QoS 0 a reconnect discards what was queued and never reports it published:
            // those slots would otherwise stay taken for good.
            if (client->options_.qos == 0) client->pending_ = 0;
            client->cv_.notify_all();
        }
        client->connected_since_attempt_ = true;
        client->logged_outage_ = false;
        client->logged_unreachable_ = false;
        log::info("mqtt", "connector '" + client->name_ + "': connected to " + client->address());
        std::lock_guard lock(client->subscriptions_mutex_);
        for (const auto& [id, s] : client->subscriptions_) mosquitto_subscribe(client->mosq_, nullptr, s.topic.c_str(), client->options_.qos);
    }

    static void on_disconnect(mosquitto*, void* self, int rc) {
        auto* client = static_cast<MqttClient*>(self);
        std::lock_guard lock(client->mutex_);
        if (client->connected_) {
            client->disconnected_at_ = Clock::now();
            if (rc != 0) {
                client->last_error_ = std::string("connection lost: ") + mosquitto_strerror(rc);
                log::warn("mqtt", "connector '" + client->name_ + "': lost the broker at " + client->address() + "; reconnecting");
            }
        }
        client->connected_ = false;
    }

    static void on_publish(mosquitto*, void* self, int) { static_cast<MqttClient*>(self)->release_slot(); }

    static void on_message(mosquitto*, void* self, const mosquitto_message* message) {
        auto* client = static_cast<MqttClient*>(self);
        std::lock_guard lock(client->subscriptions_mutex_);
        for (const auto& [id, s] : client->subscriptions_) {
            bool match = false;
            if (mosquitto_topic_matches_sub(s.topic.c_str(), message->topic, &match) == MOSQ_ERR_SUCCESS && match) s.handler(*message);
        }
    }

    std::string name_;
    MqttOptions options_;
    bool subscriber_;
    mosquitto* mosq_ = nullptr;
    mutable std::mutex mutex_;  ///< connection state and the publish queue
    std::condition_variable cv_;
    bool connected_ = false;
    std::string last_error_;
    Clock::time_point disconnected_at_;
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

    std::optional<engine::ConnectorHealth> health() const override { return client_->health("sink"); }

  private:
    std::shared_ptr<MqttClient> client_;
};

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
        } else if (key == "tls") {
            if (!value.is_bool()) return bad_param(config, "tls must be true or false");
            o.tls = value.as_bool();
        } else if (key == "ca_file" || key == "cert_file" || key == "key_file") {
            if (!value.is_string() || value.as_string().empty()) return bad_param(config, key + " must be a non-empty string");
            (key == "ca_file" ? o.ca_file : key == "cert_file" ? o.cert_file : o.key_file) = value.as_string();
        } else if (key != "topic") {
            return bad_param(config, "unknown parameter '" + key +
                                         "' (host, port, client_id, qos, username, password, keepalive, max_pending, "
                                         "block_timeout_ms, tls, ca_file, cert_file, key_file, topic)");
        }
    }
    if (o.cert_file.empty() != o.key_file.empty()) return bad_param(config, "cert_file and key_file go together");
    if (!o.ca_file.empty() || !o.cert_file.empty()) o.tls = true;
    return o;
}

namespace {

/// One client per broker identity and role in the process: the contexts of a pipeline (each with
/// its own engine) and pipelines naming the same client share it. Publishing and subscribing use
/// separate clients, so a slow subscriber never holds up the slots of the publish queue.
Result<std::shared_ptr<MqttClient>> shared_client(const engine::ConnectorConfig& config, bool subscriber) {
    VP_ASSIGN_OR_RETURN(auto options, mqtt_options(config));
    std::string key = std::string(subscriber ? "in/" : "out/") + options.host + ":" + std::to_string(options.port) + "/" +
                      options.client_id + "/" + std::to_string(options.qos) + "/" + options.username +
                      (options.tls ? "/tls:" + options.ca_file + ":" + options.cert_file : "");
    if (options.client_id.empty()) key += "/" + config.name;
    static std::mutex mutex;
    static std::map<std::string, std::weak_ptr<MqttClient>> clients;
    std::lock_guard lock(mutex);
    if (auto existing = clients[key].lock()) return existing;
    auto client = std::make_shared<MqttClient>(config.name, std::move(options), subscriber);
    VP_RETURN_NOT_OK(client->start());
    clients[key] = client;
    return client;
}

Result<std::shared_ptr<engine::Sink>> make_mqtt_sink(const engine::ConnectorConfig& config) {
    VP_ASSIGN_OR_RETURN(auto client, shared_client(config, false));
    return std::shared_ptr<engine::Sink>(std::make_shared<MqttSink>(std::move(client)));
}

Result<std::unique_ptr<engine::Source>> make_mqtt_source(const engine::ConnectorConfig& config, const engine::SourceBinding& binding,
                                                         engine::EventHandler handler) {
    auto topic = binding.params.find("topic");
    if (topic == binding.params.end() || !topic->second.is_string() || topic->second.as_string().empty()) {
        return bad_param(config, "stream '" + binding.stream + "' needs .from(" + config.name + ", topic: \"...\")");
    }
    const std::string& filter = topic->second.as_string();
    if (mosquitto_sub_topic_check(filter.c_str()) != MOSQ_ERR_SUCCESS) {
        return bad_param(config, "'" + filter + "' is not a valid topic filter");
    }
    if (filter.rfind("$share/", 0) == 0) {
        // Deliveries name the real topic, which a $share filter never matches here.
        return bad_param(config, "shared subscriptions ('" + filter + "') are not supported");
    }
    for (const auto& [key, value] : binding.params) {
        if (key != "topic") return bad_param(config, ".from(...) takes topic: only, not '" + key + "'");
    }
    VP_ASSIGN_OR_RETURN(auto client, shared_client(config, true));
    return std::unique_ptr<engine::Source>(
        std::make_unique<MqttSource>(std::move(client), config.name, filter, binding.event_type, std::move(handler)));
}

}  // namespace

void register_connectors() {
    static std::once_flag once;
    std::call_once(once, [] {
        mosquitto_lib_init();
        engine::register_sink_factory("mqtt", make_mqtt_sink);
        engine::register_source_factory("mqtt", make_mqtt_source);
    });
}

}  // namespace varpulis::connectors
