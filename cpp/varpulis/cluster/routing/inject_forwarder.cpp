// SPDX-License-Identifier: Apache-2.0
#include "varpulis/cluster/routing/inject_forwarder.hpp"

#include <algorithm>
#include <map>
#include <mutex>

#include <boost/asio/steady_timer.hpp>

#include "varpulis/cluster/routing/inject_coalescer.hpp"
#include "varpulis/cluster/routing/inject_request.hpp"
#include "varpulis/common/json_text.hpp"
#include "varpulis/common/type_pattern.hpp"

namespace varpulis::cluster {

using server::HttpResponse;

namespace {

/// A worker's answer, or the coordinator's error when the worker could not be reached.
std::pair<int, std::string> worker_answer(const InjectTarget& t, common::Result<HttpResult>& r) {
    if (!r && r.status().code() == common::ErrorCode::LimitExceeded) {
        // The worker did take the events: only its answer could not be carried.
        return {502, server::error_response(502, "worker_answer_too_large", "worker " + t.worker_id + ": " + r.status().message()).body};
    }
    if (!r) return {502, server::error_response(502, "worker_unreachable", "worker " + t.worker_id + ": " + r.status().message()).body};
    return {r->status, std::move(r->body)};
}

/// {"routed_to", "worker_id", ["status",] "worker_response"}: the worker's answer spliced in as it came.
std::string routed_answer(std::string_view pipeline, std::string_view worker_id, std::string_view worker_response,
                          std::optional<int> status = std::nullopt) {
    std::string out;
    out.reserve(64 + pipeline.size() + worker_id.size() + worker_response.size());
    out += "{\"routed_to\":";
    common::append_json_string(out, pipeline);
    out += ",\"worker_id\":";
    common::append_json_string(out, worker_id);
    if (status) out += ",\"status\":" + std::to_string(*status);
    out += ",\"worker_response\":";
    out += worker_response;
    out += '}';
    return out;
}

/// Collects the answers of one batch's per-pipeline forwards; the last one to arrive answers.
class BatchReply {
  public:
    BatchReply(size_t parts, size_t unrouted, server::HttpResponder respond)
        : parts_(parts), pending_(parts), unrouted_(unrouted), respond_(std::move(respond)) {}

    void add(size_t index, const std::string& pipeline, const InjectTarget& target, int status, const std::string& body) {
        uint64_t n = 0;
        simdjson::dom::element answer;
        bool counted = status == 200 && thread_parser().parse(body).get(answer) == simdjson::SUCCESS &&
                       answer["accepted"].get(n) == simdjson::SUCCESS;
        std::string part = routed_answer(pipeline, target.worker_id, body, status);
        std::lock_guard lock(mutex_);
        parts_[index] = std::move(part);
        if (counted) accepted_ += n;
        if (--pending_ == 0) finish();
    }

    void finish() {
        std::string results;
        for (const auto& p : parts_) results += (results.empty() ? "" : ",") + p;
        HttpResponse r;
        r.body = "{\"accepted\":" + std::to_string(accepted_) + ",\"unrouted\":" + std::to_string(unrouted_) + ",\"results\":[" +
                 results + "]}";
        respond_(std::move(r));
    }

  private:
    std::mutex mutex_;
    std::vector<std::string> parts_;
    size_t pending_;
    size_t unrouted_;
    uint64_t accepted_ = 0;
    server::HttpResponder respond_;
};

/// A batch's events grouped per target pipeline: the target and the body of its part.
using BatchParts = std::map<std::string, std::pair<InjectTarget, std::string>>;

/// Split a batch per pipeline; a batch whose events all go to one pipeline is forwarded as it
/// came. Adds the events that go nowhere to `unrouted`.
BatchParts split_batch(const std::string& body, const ParsedInject& parsed, const std::vector<std::optional<InjectTarget>>& targets,
                       size_t& unrouted) {
    BatchParts parts;
    const bool single = !targets.empty() && targets[0] && std::all_of(targets.begin(), targets.end(), [&](const auto& t) {
        return t && t->pipeline == targets[0]->pipeline;
    });
    if (single) {
        parts[targets[0]->pipeline] = {*targets[0], body};
        return parts;
    }
    size_t index = 0;
    for (auto e : parsed.events) {
        const auto& t = targets[index++];
        if (!t) {
            ++unrouted;
            continue;
        }
        auto& [target, payload] = parts[t->pipeline];
        if (payload.empty()) {
            target = *t;
            payload = "{\"events\":[";
        } else {
            payload += ',';
        }
        payload += simdjson::minify(e);
    }
    for (auto& [name, entry] : parts) entry.second += "]}";
    return parts;
}

}  // namespace

const Placement* inject_placement(const PipelineGroup& group, std::string_view type) {
    std::string_view name = group.pipelines.front().name;
    for (const auto& r : group.routes) {
        if (r.from_pipeline != "_external") continue;
        if (std::any_of(r.event_types.begin(), r.event_types.end(), [&](const auto& p) { return common::event_type_matches(p, type); })) {
            name = r.to_pipeline;
            break;
        }
    }
    for (const auto& p : group.placements) {
        if (p.pipeline_name == name) return &p;
    }
    return nullptr;
}

InjectForwarder::InjectForwarder(boost::asio::io_context& io, std::chrono::seconds timeout, const std::string& ca_file,
                                 InjectFailover failover)
    : io_(io),
      failover_(std::move(failover)),
      client_(std::make_shared<AsyncHttpClient>(io, timeout, ca_file)),
      coalescer_(std::make_shared<InjectCoalescer>(io, client_)) {}

InjectForwarder::~InjectForwarder() = default;

size_t InjectForwarder::in_flight(const std::string& pipeline_id) const {
    std::lock_guard lock(in_flight_mutex_);
    auto it = in_flight_.find(pipeline_id);
    return it == in_flight_.end() ? 0 : it->second;
}

void InjectForwarder::count_in_flight(const std::string& pipeline_id, int delta) {
    std::lock_guard lock(in_flight_mutex_);
    if (delta > 0) {
        ++in_flight_[pipeline_id];
    } else if (auto it = in_flight_.find(pipeline_id); it != in_flight_.end() && --it->second == 0) {
        in_flight_.erase(it);
    }
}

void InjectForwarder::send(std::shared_ptr<const InjectTarget> target, std::shared_ptr<const std::string> body, const char* path,
                           Clock::time_point deadline, Answer answer) {
    if (target->moving && failover_.moved) {
        // Held from the start: the old copy may already have been checkpointed.
        if (deadline == Clock::time_point::max()) {
            deadline = Clock::now() + failover_.hold;
            ++counters_->held;
        }
        return wait_for_move(target, body, path, deadline, answer,
                             common::Status(common::ErrorCode::Unavailable, "pipeline " + target->pipeline + " is moving"));
    }
    count_in_flight(target->pipeline_id, +1);
    // The target and body are shared with the callback, not copied into it.
    auto done = [weak = weak_from_this(), target, body, path, deadline, answer](common::Result<HttpResult> result) {
        auto self = weak.lock();
        if (self) self->count_in_flight(target->pipeline_id, -1);
        const bool refused = !result && result.status().code() == common::ErrorCode::Unavailable;
        if (!self || !refused || !self->failover_.moved) return answer(*target, std::move(result));
        Clock::time_point until = deadline;
        if (until == Clock::time_point::max()) {  // the first refusal of this forward
            until = Clock::now() + self->failover_.hold;
            ++self->counters_->held;
        }
        if (self->failover_.suspect) self->failover_.suspect(target->worker_id);
        self->wait_for_move(target, body, path, until, answer, std::move(result));
    };
    const std::string pipeline_url = target->address + "/api/v1/pipelines/" + target->pipeline_id;
    if (*path == '\0') {
        coalescer_->submit(pipeline_url, target->api_key, *body, std::move(done));
    } else {
        client_->request("POST", pipeline_url + path, *body, {{"x-api-key", target->api_key}}, std::move(done));
    }
}

void InjectForwarder::wait_for_move(std::shared_ptr<const InjectTarget> failed, std::shared_ptr<const std::string> body,
                                    const char* path, Clock::time_point deadline, Answer answer,
                                    common::Result<HttpResult> failure) {
    auto timer = std::make_shared<boost::asio::steady_timer>(io_, std::chrono::milliseconds(50));
    auto shared_failure = std::make_shared<common::Result<HttpResult>>(std::move(failure));
    timer->async_wait([weak = weak_from_this(), timer, failed, body, path, deadline, answer, shared_failure](boost::system::error_code) {
        auto self = weak.lock();
        if (!self) return answer(*failed, std::move(*shared_failure));
        if (auto moved = self->failover_.moved(*failed)) {
            ++self->counters_->rerouted;
            return self->send(std::make_shared<const InjectTarget>(std::move(*moved)), body, path, deadline, answer);
        }
        if (Clock::now() >= deadline) {
            ++self->counters_->given_up;
            return answer(*failed, std::move(*shared_failure));
        }
        self->wait_for_move(failed, body, path, deadline, answer, std::move(*shared_failure));
    });
}

void InjectForwarder::forward_event(InjectTarget target, const std::string& body, server::HttpResponder respond) {
    send(std::make_shared<const InjectTarget>(std::move(target)), std::make_shared<const std::string>(body), "",
         Clock::time_point::max(), [respond = std::move(respond)](const InjectTarget& answered, common::Result<HttpResult> result) {
             auto [status, answer] = worker_answer(answered, result);
             HttpResponse r;
             r.status = status;
             r.body = status >= 300 ? std::move(answer) : routed_answer(answered.pipeline, answered.worker_id, answer);
             // A worker's 503 (a sink cannot keep the event's outputs, or they are not yet
             // acknowledged) passes on with the Retry-After the worker sets (the client's
             // answer does not carry the worker's headers, and the worker's is always 1).
             if (status == 503) r.headers.emplace_back("Retry-After", "1");
             respond(std::move(r));
         });
}

void InjectForwarder::forward_batch(const std::string& body, const ParsedInject& parsed,
                                    const std::vector<std::optional<InjectTarget>>& targets, const server::HttpResponder& respond) {
    size_t unrouted = 0;
    BatchParts parts = split_batch(body, parsed, targets, unrouted);
    auto reply = std::make_shared<BatchReply>(parts.size(), unrouted, respond);
    if (parts.empty()) return reply->finish();
    // All parts at once, over kept-alive connections.
    size_t part = 0;
    for (auto& [name, entry] : parts) {
        send(std::make_shared<const InjectTarget>(entry.first), std::make_shared<const std::string>(std::move(entry.second)),
             "/events-batch", Clock::time_point::max(),
             [reply, part, name = name](const InjectTarget& answered, common::Result<HttpResult> result) {
                 auto [status, answer] = worker_answer(answered, result);
                 reply->add(part, name, answered, status, answer);
             });
        ++part;
    }
}

}  // namespace varpulis::cluster
