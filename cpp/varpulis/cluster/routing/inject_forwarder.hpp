// SPDX-License-Identifier: Apache-2.0
#pragma once

// Forwarding injected events to the workers that run their pipelines (decisions.md §3): the
// coordinator reads only the event types, finds each event's pipeline, and sends the bodies on
// as they came, asynchronously on the server's I/O thread; the workers' answers are spliced into
// its own unparsed. Single injects go through the coalescer; a batch is split per pipeline and
// its parts sent at once.

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "varpulis/cluster/groups/pipeline_group.hpp"
#include "varpulis/cluster/http_client.hpp"
#include "varpulis/server/http_server.hpp"

namespace boost::asio {
class io_context;
}

namespace varpulis::cluster {

class InjectCoalescer;
struct ParsedInject;

/// A pipeline an injected event goes to, and how to reach its worker.
struct InjectTarget {
    std::string pipeline, worker_id, address, api_key, pipeline_id;
    std::string group_id;  ///< the group it belongs to: where to look when it moves
    /// The pipeline is being moved (drain, rebalance): the event is held until it runs at its
    /// new placement, as a refused one is, so that no event reaches the old copy after its
    /// checkpoint was taken.
    bool moving = false;
};

/// What the forwarder does when a worker refuses the connection (its process is gone, nothing
/// was sent): it tells the coordinator, which probes the worker and fails its pipelines over at
/// once, and holds the events until their pipeline runs elsewhere, then sends them there. Past
/// `hold`, the client gets the 502 it got at once before.
struct InjectFailover {
    std::function<void(const std::string& worker_id)> suspect;
    /// The pipeline's target now, when it no longer is `failed`'s placement; else none.
    std::function<std::optional<InjectTarget>(const InjectTarget& failed)> moved;
    std::chrono::milliseconds hold{5000};
};

/// Counts of the forwarder's failures and what became of them (coordinator /metrics).
struct ForwardCounters {
    std::atomic<uint64_t> held{0};       ///< forwards refused by their worker and held for a failover
    std::atomic<uint64_t> rerouted{0};   ///< held forwards sent again to the pipeline's new placement
    std::atomic<uint64_t> given_up{0};   ///< held forwards answered 502 at the end of the hold
};

/// Return where an event of `type` goes in a group: the placement of the pipeline of the first
/// external route whose types match, else of the group's first pipeline; null when unplaced.
const Placement* inject_placement(const PipelineGroup& group, std::string_view type);

class InjectForwarder : public std::enable_shared_from_this<InjectForwarder> {
  public:
    /// `io`: the one-thread io_context of the server whose requests are forwarded.
    InjectForwarder(boost::asio::io_context& io, std::chrono::seconds timeout, const std::string& ca_file,
                    InjectFailover failover = {});
    ~InjectForwarder();
    InjectForwarder(const InjectForwarder&) = delete;
    InjectForwarder& operator=(const InjectForwarder&) = delete;

    /// Forward one event (`body` as POST .../inject took it); `respond` gets {"routed_to",
    /// "worker_id", "worker_response"} or the worker's error.
    void forward_event(InjectTarget target, const std::string& body, server::HttpResponder respond);
    /// Forward a batch, one request per target pipeline; `targets[i]` is event i's (none:
    /// unrouted). `respond` gets {"accepted", "unrouted", "results"} once every part answered.
    void forward_batch(const std::string& body, const ParsedInject& parsed, const std::vector<std::optional<InjectTarget>>& targets,
                       const server::HttpResponder& respond);

    const ForwardCounters& counters() const { return *counters_; }
    /// Forwards sent to a pipeline and not answered yet (a move waits for them before it takes
    /// the checkpoint). Any thread.
    size_t in_flight(const std::string& pipeline_id) const;

  private:
    using Clock = std::chrono::steady_clock;
    using Answer = std::function<void(const InjectTarget&, common::Result<HttpResult>)>;
    /// Send `body` to `path` of the target's pipeline ("": one event, through the coalescer); a
    /// refused connection is held and sent again where the pipeline moved, until `deadline`.
    void send(std::shared_ptr<const InjectTarget> target, std::shared_ptr<const std::string> body, const char* path,
              Clock::time_point deadline, Answer answer);
    /// Wait for the failed target's pipeline to move (polled every 50 ms), then send again.
    void wait_for_move(std::shared_ptr<const InjectTarget> failed, std::shared_ptr<const std::string> body, const char* path,
                       Clock::time_point deadline, Answer answer, common::Result<HttpResult> failure);

    /// Count a forward to `pipeline_id` out (+1) or back (-1).
    void count_in_flight(const std::string& pipeline_id, int delta);

    boost::asio::io_context& io_;
    InjectFailover failover_;
    mutable std::mutex in_flight_mutex_;
    std::unordered_map<std::string, size_t> in_flight_;  ///< by pipeline id; no entry at zero
    std::shared_ptr<ForwardCounters> counters_ = std::make_shared<ForwardCounters>();
    std::shared_ptr<AsyncHttpClient> client_;
    std::shared_ptr<InjectCoalescer> coalescer_;
};

}  // namespace varpulis::cluster
