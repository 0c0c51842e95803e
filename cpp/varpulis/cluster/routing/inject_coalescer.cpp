// SPDX-License-Identifier: Apache-2.0
#include "varpulis/cluster/routing/inject_coalescer.hpp"

#include <algorithm>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <charconv>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace varpulis::cluster {

namespace asio = boost::asio;
using common::ErrorCode;
using common::Result;
using common::Status;

namespace {

struct Waiting {
    std::string event;
    HttpCallback done;
};

/// The forwards to one pipeline (with one API key).
struct Lane {
    std::string url, api_key;
    size_t in_flight = 0;         ///< requests, single or grouped
    size_t groups_in_flight = 0;  ///< events-each requests
    std::vector<Waiting> waiting;
};

/// One line of an events-each answer, {"status":S,"response":BODY}, as the answer POST .../events
/// would have given: S and BODY.
std::optional<HttpResult> parse_answer_line(std::string_view line) {
    constexpr std::string_view head = "{\"status\":", middle = ",\"response\":";
    if (!line.starts_with(head) || !line.ends_with('}')) return std::nullopt;
    line.remove_prefix(head.size());
    int status = 0;
    auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), status);
    if (ec != std::errc()) return std::nullopt;
    line.remove_prefix(static_cast<size_t>(end - line.data()));
    if (!line.starts_with(middle)) return std::nullopt;
    line.remove_prefix(middle.size());
    line.remove_suffix(1);
    return HttpResult{status, std::string(line)};
}

/// A worker that does not know events-each (an older release) answers it with its "no route" 404.
bool events_each_unknown(const Result<HttpResult>& result) {
    return result && result->status == 404 && result->body.find("\"code\":\"not_found\"") != std::string::npos;
}

/// Hand each waiting forward its line of the worker's events-each answer. A failure, or an answer
/// for the whole request (401, 404, 429), is every event's answer. Returns the events the worker
/// did not process (status 0: its group's budget was spent), to be sent again.
std::vector<Waiting> answer_each(std::vector<Waiting>& group, Result<HttpResult>& result) {
    std::vector<Waiting> again;
    if (!result || result->status != 200) {
        for (auto& w : group) w.done(result);
        return again;
    }
    std::string_view body = result->body;
    std::vector<std::string_view> lines;
    lines.reserve(group.size());
    while (!body.empty()) {
        size_t nl = body.find('\n');
        lines.push_back(body.substr(0, nl));
        body.remove_prefix(nl == std::string_view::npos ? body.size() : nl + 1);
    }
    if (lines.size() != group.size()) {
        Status bad(ErrorCode::Io, "the worker answered " + std::to_string(lines.size()) + " lines to an events-each of " +
                                      std::to_string(group.size()) + " events");
        for (auto& w : group) w.done(bad);
        return again;
    }
    for (size_t i = 0; i < group.size(); ++i) {
        auto answer = parse_answer_line(lines[i]);
        if (!answer) {
            group[i].done(Status(ErrorCode::Io, "malformed events-each answer line from the worker"));
        } else if (answer->status == 0) {
            again.push_back(std::move(group[i]));
        } else {
            group[i].done(std::move(*answer));
        }
    }
    if (again.size() == group.size()) {  // the worker keeps its first line: never all of them
        for (auto& w : again) w.done(Status(ErrorCode::Io, "the worker processed no event of an events-each"));
        again.clear();
    }
    return again;
}

}  // namespace

/// The lanes, by pipeline URL and key. Only the I/O thread touches them.
class InjectCoalescer::Lanes : public std::enable_shared_from_this<InjectCoalescer::Lanes> {
  public:
    Lanes(asio::io_context& io, std::shared_ptr<AsyncHttpClient> client) : io_(io), client_(std::move(client)) {}
    asio::io_context& io() { return io_; }

    void add(std::string url, std::string api_key, std::string event, HttpCallback done) {
        std::string key = url + '\n' + api_key;
        auto [it, fresh] = lanes_.try_emplace(key);
        Lane& lane = it->second;
        if (fresh) {
            lane.url = std::move(url);
            lane.api_key = std::move(api_key);
        }
        // An event that sets its own output cap goes alone (its answer may be large by design),
        // and so does every event for a worker without events-each.
        if (lane.in_flight == 0 || event.find("\"max_output_events\"") != std::string::npos || singles_only_.contains(lane.url)) {
            std::vector<Waiting> alone;
            alone.push_back({std::move(event), std::move(done)});
            return send(key, lane, std::move(alone));
        }
        lane.waiting.push_back({std::move(event), std::move(done)});
        if (!flush_posted_) {
            flush_posted_ = true;
            asio::post(io_, [self = shared_from_this()] { self->flush(); });
        }
    }

  private:
    /// The end of a turn: every lane's waiting injects go as groups.
    void flush() {
        flush_posted_ = false;
        for (auto& [key, lane] : lanes_) flush(key, lane);
    }

    /// One group in flight per lane: what arrives meanwhile waits for its answer and makes the
    /// next group, so under load groups grow rather than multiply. A full group goes at once.
    void flush(const std::string& key, Lane& lane) {
        if (singles_only_.contains(lane.url)) {
            for (auto& w : std::exchange(lane.waiting, {})) {
                std::vector<Waiting> alone;
                alone.push_back(std::move(w));
                send(key, lane, std::move(alone));
            }
            return;
        }
        while (!lane.waiting.empty()) {
            size_t n = 0, bytes = 0;
            while (n < lane.waiting.size() && n < kMaxEvents && (n == 0 || bytes + lane.waiting[n].event.size() < kMaxBytes)) {
                bytes += lane.waiting[n++].event.size() + 1;
            }
            bool full = n == kMaxEvents || n < lane.waiting.size();
            if (lane.groups_in_flight > 0 && !full) return;
            std::vector<Waiting> group(std::make_move_iterator(lane.waiting.begin()),
                                       std::make_move_iterator(lane.waiting.begin() + static_cast<std::ptrdiff_t>(n)));
            lane.waiting.erase(lane.waiting.begin(), lane.waiting.begin() + static_cast<std::ptrdiff_t>(n));
            send(key, lane, std::move(group));
        }
    }

    void send(const std::string& key, Lane& lane, std::vector<Waiting> group) {
        ++lane.in_flight;
        auto self = shared_from_this();
        if (group.size() == 1) {
            auto done = [self, key, done = std::move(group[0].done)](Result<HttpResult> r) {
                self->answered(key);
                done(std::move(r));
            };
            return client_->request("POST", lane.url + "/events", std::move(group[0].event), {{"x-api-key", lane.api_key}}, std::move(done));
        }
        // JSON lines. A raw newline in valid JSON can only be whitespace (in a string it is
        // escaped), so a pretty-printed event becomes one line with spaces.
        std::string lines;
        for (const auto& w : group) {
            size_t at = lines.size();
            lines += w.event;
            std::replace(lines.begin() + static_cast<std::ptrdiff_t>(at), lines.end(), '\n', ' ');
            lines += '\n';  // the event stays: sent again if the worker does not process it
        }
        ++lane.groups_in_flight;
        auto done = [self, key, group = std::move(group)](Result<HttpResult> r) mutable {
            std::vector<Waiting> again;
            if (events_each_unknown(r)) {
                self->singles_only_.insert(self->lanes_.at(key).url);
                again = std::move(group);
            } else {
                again = answer_each(group, r);
            }
            self->answered(key, std::move(again));
        };
        client_->request("POST", lane.url + "/events-each", std::move(lines),
                         {{"x-api-key", lane.api_key}, {"Content-Type", "application/x-ndjson"}}, std::move(done));
    }

    /// A single forward was answered.
    void answered(const std::string& key) {
        auto it = lanes_.find(key);
        if (--it->second.in_flight == 0 && it->second.waiting.empty()) lanes_.erase(it);
    }

    /// A group was answered; `again` (events the worker did not process) go first in the next.
    void answered(const std::string& key, std::vector<Waiting> again) {
        auto it = lanes_.find(key);
        Lane& lane = it->second;
        lane.waiting.insert(lane.waiting.begin(), std::make_move_iterator(again.begin()), std::make_move_iterator(again.end()));
        --lane.groups_in_flight;
        --lane.in_flight;
        if (lane.groups_in_flight == 0) flush(key, lane);
        if (lane.in_flight == 0 && lane.waiting.empty()) lanes_.erase(it);
    }

    asio::io_context& io_;
    std::shared_ptr<AsyncHttpClient> client_;
    std::unordered_map<std::string, Lane> lanes_;
    std::unordered_set<std::string> singles_only_;  ///< pipeline URLs whose worker has no events-each
    bool flush_posted_ = false;
};

InjectCoalescer::InjectCoalescer(asio::io_context& io, std::shared_ptr<AsyncHttpClient> client)
    : lanes_(std::make_shared<Lanes>(io, std::move(client))) {}
InjectCoalescer::~InjectCoalescer() = default;

void InjectCoalescer::submit(std::string pipeline_url, std::string api_key, std::string event, HttpCallback done) {
    // At once on the I/O thread (the coordinator's fast path), else handed to it.
    asio::dispatch(lanes_->io().get_executor(), [lanes = lanes_, url = std::move(pipeline_url), key = std::move(api_key), event = std::move(event),
                                  done = std::move(done)]() mutable { lanes->add(std::move(url), std::move(key), std::move(event), std::move(done)); });
}

}  // namespace varpulis::cluster
