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
    VP_RETURN_NOT_OK(configure());
    disconnected_at_ = Clock::now();
    // Every connection attempt is made by the network thread, so a broker that is down or a
    // name that does not resolve yet does not fail the deployment.
    network_ = std::thread([this] { run_network(); });
    return Status::ok();
}

Status MqttClient::configure() {
    std::string id = options_.client_id;
    // The subscribing client of a connector gets its own id: two connections with one id
    // would make the broker disconnect each in turn.
    if (subscriber_ && !id.empty()) id += "-in";
    // With an id, subscriptions keep a session: messages at QoS 1/2 wait in the broker while
    // this client reconnects. A publisher's session is its spool, kept here.
    const bool clean_session = !subscriber_ || id.empty();
    const char* name = id.empty() ? nullptr : id.c_str();
    if (!mosq_) {
        mosq_ = mosquitto_new(name, clean_session, this);
    } else if (mosquitto_reinitialise(mosq_, name, clean_session, this) != MOSQ_ERR_SUCCESS) {
        return Status(ErrorCode::Io, "mqtt connector '" + name_ + "': cannot reset its client");
    }
    if (!mosq_) return Status(ErrorCode::Io, "mqtt connector '" + name_ + "': cannot create a client");
    mosquitto_connect_callback_set(mosq_, &MqttClient::on_connect);
    mosquitto_disconnect_callback_set(mosq_, &MqttClient::on_disconnect);
    mosquitto_publish_callback_set(mosq_, &MqttClient::on_publish);
    mosquitto_message_callback_set(mosq_, &MqttClient::on_message);
    mosquitto_subscribe_callback_set(mosq_, &MqttClient::on_subscribe);
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
        network_.join();  // the network thread disconnects: it alone touches the session
    }
    const size_t lost = spool_.size();
    if (lost > 0) {
        dropped_ += lost;
        log::warn("mqtt", "connector '" + name_ + "': closed with " + std::to_string(lost) +
                              " messages the broker at " + address() + " never acknowledged; they are dropped");
    }
    mosquitto_destroy(mosq_);
}

bool MqttClient::publish(const std::string& topic, const std::string& payload) {
    if (!at_least_once()) return publish_at_most_once(topic, payload);
    std::lock_guard lock(mutex_);
    const uint64_t seq = ++next_seq_;
    spool_.emplace(seq, Spooled{topic, payload});
    if (connected_) hand_over(seq);  // else the next connection sends it
    return true;
}

void MqttClient::hand_over(uint64_t seq) {
    auto it = spool_.find(seq);
    if (it == spool_.end()) return;
    Spooled& m = it->second;
    int mid = 0;
    // Called with mutex_ held: the acknowledgement's callback waits for it, so it always finds
    // the message id recorded.
    int rc = mosquitto_publish(mosq_, &mid, m.topic.c_str(), static_cast<int>(m.payload.size()), m.payload.data(), options_.qos, false);
    if (rc == MOSQ_ERR_NO_CONN || rc == MOSQ_ERR_NOMEM) return;  // stays spooled: the next connection sends it
    if (rc != MOSQ_ERR_SUCCESS) {  // a payload or topic the library refuses never gets through
        spool_.erase(it);
        cv_.notify_all();
        note_drop(std::string("the message was refused: ") + mosquitto_strerror(rc));
        return;
    }
    if (m.sent_once) ++redelivered_;
    m.sent_once = true;
    in_flight_[mid] = seq;
}

void MqttClient::on_published(int mid) {
    std::lock_guard lock(mutex_);
    if (!at_least_once()) {
        if (pending_ > 0) --pending_;
    } else if (auto it = in_flight_.find(mid); it != in_flight_.end()) {
        spool_.erase(it->second);
        in_flight_.erase(it);
        ++published_;
    }
    cv_.notify_all();
}

bool MqttClient::has_room() const {
    if (!at_least_once()) return true;
    std::lock_guard lock(mutex_);
    return connected_ && static_cast<int64_t>(spool_.size()) < options_.max_pending;
}

bool MqttClient::wait_delivered(Clock::time_point deadline) {
    if (!at_least_once()) return true;
    std::unique_lock lock(mutex_);
    const uint64_t mark = next_seq_;
    return cv_.wait_until(lock, deadline, [&] { return spool_.empty() || spool_.begin()->first > mark; });
}

bool MqttClient::publish_at_most_once(const std::string& topic, const std::string& payload) {
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
    cv_.wait_for(lock, std::chrono::milliseconds(options_.block_timeout_ms), [&] { return pending_ == 0 && spool_.empty(); });
}

uint64_t MqttClient::subscribe(const std::string& topic, MessageHandler handler) {
    std::lock_guard lock(subscriptions_mutex_);
    const uint64_t id = ++next_subscription_;
    auto& s = subscriptions_[id] = {topic, std::move(handler)};
    send_subscribe(s);  // also done again on every connect
    return id;
}

void MqttClient::send_subscribe(Subscription& s) {
    s.acknowledged = false;
    if (mosquitto_subscribe(mosq_, &s.mid, s.topic.c_str(), options_.qos) != MOSQ_ERR_SUCCESS) s.mid = -1;
}

bool MqttClient::subscribed(uint64_t id) const {
    std::lock_guard lock(subscriptions_mutex_);
    auto it = subscriptions_.find(id);
    return it != subscriptions_.end() && it->second.acknowledged;
}

void MqttClient::on_subscribe(mosquitto*, void* self, int mid, int, const int*) {
    auto* client = static_cast<MqttClient*>(self);
    std::lock_guard lock(client->subscriptions_mutex_);
    for (auto& [id, s] : client->subscriptions_) {
        if (s.mid == mid) s.acknowledged = true;
    }
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
    return {name_, "mqtt", std::move(role), address(), connected_, last_error_, published_.load(), dropped_.load(), spool_.size(),
            redelivered_.load()};
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
        if (at_least_once() && !subscriber_) reset_session();
        std::unique_lock lock(mutex_);
        cv_.wait_for(lock, backoff, [&] { return stopping_; });
        backoff = std::min<std::chrono::seconds>(backoff * 2, std::chrono::seconds(30));
    }
    // A clean goodbye, written by one last slice of the loop.
    if (mosquitto_disconnect(mosq_) == MOSQ_ERR_SUCCESS) mosquitto_loop(mosq_, 100, 1);
}

void MqttClient::reset_session() {
    std::lock_guard lock(mutex_);
    connected_ = false;
    in_flight_.clear();
    Status configured = configure();
    if (!configured.is_ok()) last_error_ = configured.message();
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
    std::lock_guard lock(mutex_);
    note_drop(why);
}

void MqttClient::note_drop(const std::string& why) {
    const uint64_t n = ++dropped_;
    last_error_ = "dropping events: " + why;
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
        if (!client->at_least_once()) client->pending_ = 0;
        // The spool, in order, on the fresh session: what a lost connection left unacknowledged
        // and what was published meanwhile.
        for (auto it = client->spool_.begin(); it != client->spool_.end();) {
            const uint64_t seq = (it++)->first;  // hand_over may erase it
            client->hand_over(seq);
        }
        client->cv_.notify_all();
    }
    client->connected_since_attempt_ = true;
    client->logged_outage_ = false;
    client->logged_unreachable_ = false;
    log::info("mqtt", "connector '" + client->name_ + "': connected to " + client->address());
    std::lock_guard lock(client->subscriptions_mutex_);
    for (auto& [id, s] : client->subscriptions_) client->send_subscribe(s);
}

void MqttClient::on_disconnect(mosquitto*, void* self, int rc) {
    auto* client = static_cast<MqttClient*>(self);
    {
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
    std::lock_guard subscriptions(client->subscriptions_mutex_);
    for (auto& [id, s] : client->subscriptions_) s.acknowledged = false;
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
