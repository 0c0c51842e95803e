// SPDX-License-Identifier: Apache-2.0
#pragma once

// Single injects to one pipeline, coalesced under load. A lone inject goes to the worker at once,
// as POST .../events. While forwards to its pipeline are in flight, the injects that arrive are
// grouped: at the end of the I/O loop's turn that read them they go as one POST .../events-each,
// and each is answered with its own line of the worker's answer, exactly what POST .../events
// would have answered. One group is in flight per pipeline (a full one goes anyway), so under
// load groups grow instead of multiplying: the worker then wakes, reads and answers once per
// group rather than once per event: at 16 connections, routed injects went from 34-40 % of the
// direct rate to 69-77 %, with groups of 7 events on average (docs/performance.md).

#include <memory>
#include <string>

#include "varpulis/cluster/http_client.hpp"

namespace varpulis::cluster {

class InjectCoalescer {
  public:
    /// `io`: the one-thread io_context `client` runs on.
    InjectCoalescer(boost::asio::io_context& io, std::shared_ptr<AsyncHttpClient> client);
    ~InjectCoalescer();
    InjectCoalescer(const InjectCoalescer&) = delete;
    InjectCoalescer& operator=(const InjectCoalescer&) = delete;

    /// Forward `event` (valid JSON, as POST .../events takes it) to the pipeline at `pipeline_url`
    /// (http://worker/api/v1/pipelines/ID). `done` is called once, on the I/O thread, with the
    /// worker's answer to that event or the transport's failure.
    void submit(std::string pipeline_url, std::string api_key, std::string event, HttpCallback done);

    /// At most this many events, and this many bytes, go in one events-each request.
    static constexpr size_t kMaxEvents = 256;
    static constexpr size_t kMaxBytes = 1 << 20;

    class Lanes;

  private:
    std::shared_ptr<Lanes> lanes_;
};

}  // namespace varpulis::cluster
