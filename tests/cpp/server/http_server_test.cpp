// SPDX-License-Identifier: Apache-2.0
// The HTTP transport over real loopback sockets, spoken to byte by byte: a connection's deadlines
// (one timer per connection, moved by each phase) and answers larger than a socket's buffer.
#include "varpulis/server/http_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

namespace varpulis::server {
namespace {

using namespace std::chrono_literals;

/// A blocking loopback client socket; reads give up after `read_timeout`.
class RawClient {
  public:
    RawClient(uint16_t port, std::chrono::milliseconds read_timeout) {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        timeval tv{static_cast<time_t>(read_timeout.count() / 1000), static_cast<suseconds_t>(read_timeout.count() % 1000 * 1000)};
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(port);
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    }
    ~RawClient() { ::close(fd_); }
    bool connected() const { return connected_; }

    bool send(const std::string& bytes) { return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size()); }

    /// One answer with a Content-Length body: its body, or nullopt when the connection closed or
    /// the read timed out first.
    std::optional<std::string> answer() {
        while (true) {
            size_t end = pending_.find("\r\n\r\n");
            if (end != std::string::npos) {
                size_t at = pending_.find("Content-Length: ");
                if (at == std::string::npos || at > end) return std::nullopt;
                size_t length = std::stoul(pending_.substr(at + 16));
                if (pending_.size() >= end + 4 + length) {
                    std::string body = pending_.substr(end + 4, length);
                    pending_.erase(0, end + 4 + length);
                    return body;
                }
            }
            if (!read_more()) return std::nullopt;
        }
    }

    /// True when the server closes the connection (a read returns 0) within the read timeout.
    bool closed_by_server() {
        char byte;
        return ::recv(fd_, &byte, 1, 0) == 0;
    }

  private:
    bool read_more() {
        char chunk[65536];
        ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
        if (n <= 0) return false;
        pending_.append(chunk, static_cast<size_t>(n));
        return true;
    }

    int fd_ = -1;
    bool connected_ = false;
    std::string pending_;
};

std::unique_ptr<HttpServer> start_server(HttpServerOptions options, std::string body) {
    auto started = HttpServer::start(std::move(options), [body](const HttpRequest&, HttpResponder respond) {
        respond({200, "text/plain", body, {}, {}});
    });
    if (!started) {
        ADD_FAILURE() << started.status().to_string();
        return nullptr;
    }
    return std::move(started).value();
}

const std::string kGet = "GET /x HTTP/1.1\r\nHost: test\r\n\r\n";

// The timer armed while the first answer was written (1 s request timeout) fires during the
// keep-alive wait, whose deadline is later (3 s idle timeout): the connection must stay open past
// the first and close at the second.
TEST(HttpServerTest, AKeptAliveConnectionOutlivesTheWriteDeadlineAndClosesAtTheIdleTimeout) {
    HttpServerOptions options;
    options.request_timeout = 1s;
    options.idle_timeout = 3s;
    auto server = start_server(options, "ok");
    ASSERT_NE(server, nullptr);
    RawClient client(server->port(), 6000ms);
    ASSERT_TRUE(client.connected());

    ASSERT_TRUE(client.send(kGet));
    ASSERT_EQ(client.answer(), "ok");
    std::this_thread::sleep_for(1500ms);  // past the write's deadline, within the idle one
    ASSERT_TRUE(client.send(kGet));
    ASSERT_EQ(client.answer(), "ok") << "closed at the write deadline instead of the idle one";

    auto idle_since = std::chrono::steady_clock::now();
    EXPECT_TRUE(client.closed_by_server());
    auto idle = std::chrono::steady_clock::now() - idle_since;
    EXPECT_GE(idle, 2500ms);
    EXPECT_LT(idle, 5000ms);
    server->stop();
}

// 8 MiB is more than a loopback socket takes at once: the first write sends part, the rest goes
// asynchronously, and the connection then serves the next request.
TEST(HttpServerTest, AnAnswerLargerThanTheSocketBufferArrivesWholeAndTheConnectionGoesOn) {
    std::string big(8u << 20, 'x');
    for (size_t i = 0; i < big.size(); i += 4096) big[i] = static_cast<char>('a' + (i / 4096) % 26);
    auto server = start_server(HttpServerOptions{}, big);
    ASSERT_NE(server, nullptr);
    RawClient client(server->port(), 5000ms);
    ASSERT_TRUE(client.connected());
    for (int round = 0; round < 2; ++round) {
        ASSERT_TRUE(client.send(kGet));
        auto body = client.answer();
        ASSERT_TRUE(body.has_value()) << "round " << round;
        EXPECT_EQ(body->size(), big.size());
        EXPECT_TRUE(*body == big) << "round " << round << ": the body differs";
    }
    server->stop();
}

// A handler that answers twice (say, answered and then threw) gets its first answer sent, once.
TEST(HttpServerTest, ASecondAnswerToOneRequestIsDropped) {
    auto started = HttpServer::start(HttpServerOptions{}, [](const HttpRequest&, HttpResponder respond) {
        respond({200, "text/plain", "first", {}, {}});
        respond({500, "text/plain", "second", {}, {}});
    });
    ASSERT_TRUE(started) << started.status().to_string();
    auto server = std::move(started).value();
    RawClient client(server->port(), 5000ms);
    ASSERT_TRUE(client.connected());
    for (int round = 0; round < 3; ++round) {
        ASSERT_TRUE(client.send(kGet));
        EXPECT_EQ(client.answer(), "first") << "round " << round;
    }
    server->stop();
}

// With two I/O threads each connection stays on one of them for its life, and connections are
// spread over both: the fast path, called on the thread that read the request, answers with the
// thread's identity.
TEST(HttpServerTest, EachConnectionStaysOnOneIoThreadAndConnectionsSpreadOverThem) {
    HttpServerOptions options;
    options.io_threads = 2;
    std::mutex mutex;
    std::map<std::thread::id, std::string> names;  // an I/O thread's short name, in order of first sight
    options.fast_path = [&](const HttpRequest&, const HttpResponder& respond) {
        std::string name;
        {
            std::lock_guard lock(mutex);
            auto [it, fresh] = names.try_emplace(std::this_thread::get_id(), "t" + std::to_string(names.size()));
            name = it->second;
        }
        respond({200, "text/plain", name, {}, {}});
        return true;
    };
    auto server = start_server(options, "pool");
    ASSERT_NE(server, nullptr);
    std::set<std::string> threads;
    for (int c = 0; c < 4; ++c) {
        RawClient client(server->port(), 5000ms);
        ASSERT_TRUE(client.connected());
        std::optional<std::string> first;
        for (int round = 0; round < 20; ++round) {
            ASSERT_TRUE(client.send(kGet));
            auto body = client.answer();
            ASSERT_TRUE(body.has_value());
            if (!first) first = body;
            EXPECT_EQ(body, first) << "connection " << c << " moved to another thread at request " << round;
        }
        threads.insert(*first);
    }
    EXPECT_EQ(threads.size(), 2u);
    server->stop();
}

}  // namespace
}  // namespace varpulis::server
