// SPDX-License-Identifier: Apache-2.0
#pragma once

// Forwarding injected events to the workers that run their pipelines (decisions.md §3): the
// coordinator reads only the event types, finds each event's pipeline, and sends the bodies on
// as they came, asynchronously on the server's I/O thread; the workers' answers are spliced into
// its own unparsed. Single injects go through the coalescer; a batch is split per pipeline and
// its parts sent at once.

#include <chrono>
#include <memory>
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
};

/// Return where an event of `type` goes in a group: the placement of the pipeline of the first
/// external route whose types match, else of the group's first pipeline; null when unplaced.
const Placement* inject_placement(const PipelineGroup& group, std::string_view type);

class InjectForwarder {
  public:
    /// `io`: the one-thread io_context of the server whose requests are forwarded.
    InjectForwarder(boost::asio::io_context& io, std::chrono::seconds timeout, const std::string& ca_file);
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

  private:
    std::shared_ptr<AsyncHttpClient> client_;
    std::shared_ptr<InjectCoalescer> coalescer_;
};

}  // namespace varpulis::cluster
