// SPDX-License-Identifier: Apache-2.0
#pragma once

// Writing without a trip through the event loop, for the two Beast files (http_server.cpp,
// cluster/http_client.cpp): Asio queues the completion of every asynchronous write, even one the
// kernel took whole at once, which costs a handler and a non-blocking epoll_wait per write.

#include <algorithm>
#include <array>
#include <boost/asio.hpp>

namespace varpulis::server {

/// Send what a plain socket in non-blocking mode takes now. Returns what is left to send (empty
/// when all went, the usual case for an answer or a forwarded request); `ec` is set on a failure
/// other than a full send buffer.
template <class Socket>
std::array<boost::asio::const_buffer, 2> write_now(Socket& socket, std::array<boost::asio::const_buffer, 2> buffers,
                                                   boost::system::error_code& ec) {
    size_t sent = socket.write_some(buffers, ec);
    if (ec == boost::asio::error::would_block || ec == boost::asio::error::try_again) {
        ec = {};
        sent = 0;
    }
    if (ec) return buffers;
    for (auto& b : buffers) {
        size_t n = std::min(sent, b.size());
        b += n;
        sent -= n;
    }
    return buffers;
}

}  // namespace varpulis::server
