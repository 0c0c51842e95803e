// SPDX-License-Identifier: Apache-2.0
#include "varpulis/connectors/mqtt/mqtt_client.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "varpulis/common/log.hpp"

namespace varpulis::connectors {

using common::ErrorCode;
using common::Result;
using common::Status;
using Clock = std::chrono::steady_clock;

Status MqttClient::start() {
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

MqttClient::~MqttClient() {
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

bool MqttClient::publish(const std::string& topic, const std::string& payload) {
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

void MqttClient::flush() {
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, std::chrono::milliseconds(options_.block_timeout_ms), [&] { return pending_ == 0; });
}

uint64_t MqttClient::subscribe(const std::string& topic, MessageHandler handler) {
    std::lock_guard lock(subscriptions_mutex_);
    const uint64_t id = ++next_subscription_;
    subscriptions_[id] = {topic, std::move(handler)};
    mosquitto_subscribe(mosq_, nullptr, topic.c_str(), options_.qos);  // also done again on every connect
    return id;
}

void MqttClient::unsubscribe(uint64_t id) {
    std::lock_guard lock(subscriptions_mutex_);
    auto it = subscriptions_.find(id);
    if (it == subscriptions_.end()) return;
    const std::string topic = it->second.topic;
    subscriptions_.erase(it);
    const bool shared = std::any_of(subscriptions_.begin(), subscriptions_.end(), [&](const auto& s) { return s.second.topic == topic; });
    if (!shared) mosquitto_unsubscribe(mosq_, nullptr, topic.c_str());
}

engine::ConnectorHealth MqttClient::health(std::string role) const {
    std::lock_guard lock(mutex_);
    return {name_, "mqtt", std::move(role), address(), connected_, last_error_, published_.load(), dropped_.load()};
}

void MqttClient::run_network() {
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

bool MqttClient::stopped() {
    std::lock_guard lock(mutex_);
    return stopping_;
}

void MqttClient::note_unreachable(const std::string& why) {
    {
        std::lock_guard lock(mutex_);
        if (!connected_) last_error_ = "cannot reach the broker at " + address() + ": " + why;
    }
    if (!logged_unreachable_.exchange(true)) {
        log::warn("mqtt", "connector '" + name_ + "': cannot reach the broker at " + address() + " (" + why + "); retrying");
    }
}

bool MqttClient::wait_for_room() {
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

void MqttClient::release_slot() {
    std::lock_guard lock(mutex_);
    if (pending_ > 0) --pending_;
    cv_.notify_all();
}

void MqttClient::drop(const std::string& why) {
    const uint64_t n = ++dropped_;
    {
        std::lock_guard lock(mutex_);
        last_error_ = "dropping events: " + why;
    }
    if (!logged_outage_.exchange(true)) {
        log::warn("mqtt", "connector '" + name_ + "': dropping events: " + why + " (dropped so far: " + std::to_string(n) + ")");
    }
}

void MqttClient::on_connect(mosquitto*, void* self, int rc) {
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

void MqttClient::on_disconnect(mosquitto*, void* self, int rc) {
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

void MqttClient::on_message(mosquitto*, void* self, const mosquitto_message* message) {
    auto* client = static_cast<MqttClient*>(self);
    std::lock_guard lock(client->subscriptions_mutex_);
    for (const auto& [id, s] : client->subscriptions_) {
        bool match = false;
        if (mosquitto_topic_matches_sub(s.topic.c_str(), message->topic, &match) == MOSQ_ERR_SUCCESS && match) s.handler(*message);
    }
}

/// One client per broker identity and role in the process: the contexts of a pipeline (each with
/// its own engine) and pipelines naming the same client share it. Publishing and subscribing use
/// separate clients, so a slow subscriber never holds up the slots of the publish queue.
Result<std::shared_ptr<MqttClient>> shared_mqtt_client(const engine::ConnectorConfig& config, bool subscriber) {
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

}  // namespace varpulis::connectors
