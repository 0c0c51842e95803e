// SPDX-License-Identifier: Apache-2.0
// The cluster's HTTP clients (blocking HttpClient, AsyncHttpClient) against a real HttpServer on
// 127.0.0.1: round trips, HTTP errors as results, transport errors, kept-alive connections and
// their retry, timeouts, and the asynchronous client's lifetime.
#include "varpulis/cluster/http_client.hpp"

#include <dlfcn.h>
#include <netdb.h>

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <fstream>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cluster/async_results.hpp"
#include "varpulis/server/http_server.hpp"

// Slow name resolution on demand: this test program's getaddrinfo takes 1.5 s for the name
// "slow-dns.test" and then resolves it as localhost; every other name goes to the C library's.
extern "C" int getaddrinfo(const char* node, const char* service, const struct addrinfo* hints, struct addrinfo** res) {
    using Real = int (*)(const char*, const char*, const struct addrinfo*, struct addrinfo**);
    static Real real = reinterpret_cast<Real>(dlsym(RTLD_NEXT, "getaddrinfo"));
    if (node != nullptr && std::string(node) == "slow-dns.test") {
        std::this_thread::sleep_for(std::chrono::milliseconds(1500));
        return real("localhost", service, hints, res);
    }
    return real(node, service, hints, res);
}

namespace varpulis::cluster {
namespace {

using common::ErrorCode;
using common::Result;
using server::HttpRequest;
using server::HttpResponder;
using server::HttpResponse;
using server::HttpServer;
using server::HttpServerOptions;
using namespace std::chrono_literals;

/// Start a server on 127.0.0.1; nullptr (and a test failure) when it cannot.
std::unique_ptr<HttpServer> start_server(server::HttpHandler handler, uint16_t port = 0, int io_threads = 2) {
    HttpServerOptions options;
    options.port = port;
    options.io_threads = io_threads;
    auto started = HttpServer::start(std::move(options), std::move(handler));
    if (!started) {
        ADD_FAILURE() << started.status().to_string();
        return nullptr;
    }
    return std::move(started).value();
}

/// Return a loopback port that was just bound, listened on and closed: connecting to it is refused
/// (until a later bind to port 0 picks it again: start every server of the test first).
uint16_t closed_port() {
    auto s = start_server([](const HttpRequest&, const HttpResponder& respond) { respond({}); });
    if (!s) return 0;
    uint16_t port = s->port();
    s->stop();
    return port;
}

/// Return the local ports of this machine's established IPv4 connections to port `server_port`
/// (the client ends of connections to a server of the test), from /proc/net/tcp; nullopt when
/// that file cannot be read. A client that reuses its connection keeps one port from request to
/// request; one that reconnects shows a new port each time.
std::optional<std::set<uint16_t>> client_ports(uint16_t server_port) {
    std::ifstream in("/proc/net/tcp");
    if (!in) return std::nullopt;
    std::set<uint16_t> out;
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::string slot, local, remote, state;
        fields >> slot >> local >> remote >> state;
        auto port_of = [](const std::string& address) {
            return static_cast<uint16_t>(
                std::stoul(address.substr(address.find(':') + 1), nullptr, 16));
        };
        if (state == "01" && port_of(remote) == server_port)
            out.insert(port_of(local));  // 01: ESTABLISHED
    }
    return out;
}

/// A target server whose handler echoes /echo as "METHOD|x-api-key|body" (status from ?status=),
/// holds /hold requests unanswered until the test releases them, and answers 404 otherwise.
class HttpClientTest : public ::testing::Test {
  protected:
    void SetUp() override {
        target_ = start_target();
        ASSERT_NE(target_, nullptr);
    }

    void TearDown() override {
        // A held responder keeps a session of the target alive: answer it before the target
        // stops, or stop() waits its grace period and the session outlives the server.
        release_held();
        async_.reset();  // the client goes before its home server
        if (home_) home_->stop();
        home_.reset();
        if (target_) target_->stop();
        target_.reset();
    }

    std::unique_ptr<HttpServer> start_target(uint16_t port = 0) {
        return start_server([this](const HttpRequest& req,
                                   HttpResponder respond) { handle(req, std::move(respond)); },
                            port);
    }

    std::string url(const std::string& path) const {
        return "http://127.0.0.1:" + std::to_string(target_->port()) + path;
    }

    /// Create the asynchronous client on a second server's I/O threads (its "home").
    AsyncHttpClient& async_client(std::chrono::milliseconds timeout = 10s) {
        // One I/O thread, as the client requires (the coordinator's server has one).
        home_ = start_server([](const HttpRequest&, const HttpResponder& respond) { respond({404, "text/plain", "home", {}, {}}); },
                             0, 1);
        EXPECT_NE(home_, nullptr);
        async_ = std::make_unique<AsyncHttpClient>(home_->io_context(), timeout);
        return *async_;
    }

    /// Wait until the target holds `n` unanswered requests.
    bool wait_held(size_t n) {
        std::unique_lock lock(mutex_);
        return cv_.wait_for(lock, kDeadline, [&] { return held_.size() >= n; });
    }

    /// Answer every held request with 200 "released".
    void release_held() {
        std::vector<HttpResponder> held;
        {
            std::lock_guard lock(mutex_);
            held.swap(held_);
        }
        for (auto& respond : held) respond({200, "text/plain", "released", {}, {}});
    }

    /// One POST of `body` to /echo through the client under test; its result.
    using Send = std::function<Result<HttpResult>(const std::string& body)>;

    Send blocking_sender(HttpClient& client) {
        return [this, &client](const std::string& body) { return client.request("POST", url("/echo"), body); };
    }
    Send async_sender() {
        auto& client = async_client();  // one client for every request sent
        return [this, &client](const std::string& body) -> Result<HttpResult> {
            auto results = std::make_shared<Collector>(1);
            client.request("POST", url("/echo"), body, {}, results->slot(0));
            if (!results->wait(1)) return common::Status(ErrorCode::Internal, "no callback");
            EXPECT_EQ(results->calls(0), 1);
            return results->result(0);
        };
    }

    /// Requests one after the other travel on one kept-alive connection (the connection is back
    /// in the pool before the answer is handed over).
    void expect_reuse(const Send& send) {
        std::set<uint16_t> first;
        for (int i = 0; i < 3; ++i) {
            auto r = send(std::to_string(i));
            ASSERT_TRUE(r) << "request " << i << ": " << r.status().to_string();
            EXPECT_EQ(r->body, "POST||" + std::to_string(i));
            auto ports = *client_ports(target_->port());
            if (i == 0) first = ports;
            EXPECT_EQ(first.size(), 1u) << "one kept-alive connection after request " << i;
            EXPECT_EQ(ports, first) << "request " << i << " did not reuse the connection";
        }
    }

    /// A pooled connection the peer has closed is replaced without the caller seeing it.
    void expect_retry(const Send& send) {
        auto first = send("first");
        ASSERT_TRUE(first) << first.status().to_string();
        auto pooled = client_ports(target_->port());
        if (pooled) {
            ASSERT_EQ(pooled->size(), 1u) << "the first request left no kept-alive connection";
        }
        // Destroying the server closes its end of the pooled connection; a new server takes the port.
        uint16_t port = target_->port();
        target_.reset();
        target_ = start_target(port);
        if (!target_) GTEST_SKIP() << "port " << port << " could not be bound again";
        auto second = send("again");
        ASSERT_TRUE(second) << second.status().to_string();
        EXPECT_EQ(second->body, "POST||again");
    }

    std::unique_ptr<HttpServer> target_;
    std::unique_ptr<HttpServer> home_;
    std::unique_ptr<AsyncHttpClient> async_;

  private:
    void handle(const HttpRequest& req, HttpResponder respond) {
        if (req.path == "/echo") {
            HttpResponse res;
            auto status = req.query.find("status");
            res.status = status == req.query.end() ? 200 : std::stoi(status->second);
            res.content_type = "text/plain";
            res.body = req.method + "|" + req.header("x-api-key") + "|" + req.body;
            return respond(std::move(res));
        }
        if (req.path == "/hold") {
            std::lock_guard lock(mutex_);
            held_.push_back(std::move(respond));
            cv_.notify_all();
            return;
        }
        respond(server::error_response(404, "not_found", "no route " + req.path));
    }

    std::mutex mutex_;
    std::condition_variable cv_;
    std::vector<HttpResponder> held_;
};

// ---- HttpClient (blocking)

TEST_F(HttpClientTest, BlockingRoundTripCarriesStatusBodyAndHeaders) {
    HttpClient client;
    auto get = client.request("GET", url("/echo?status=201"), {}, {{"x-api-key", "k1"}});
    ASSERT_TRUE(get) << get.status().to_string();
    EXPECT_EQ(get->status, 201);
    EXPECT_EQ(get->body, "GET|k1|");

    auto post = client.request("POST", url("/echo"), R"({"v": 1})", {{"x-api-key", "k2"}});
    ASSERT_TRUE(post) << post.status().to_string();
    EXPECT_EQ(post->status, 200);
    EXPECT_EQ(post->body, R"(POST|k2|{"v": 1})");
}

TEST_F(HttpClientTest, BlockingNotFoundIsAResultNotAnError) {
    HttpClient client;
    auto r = client.request("GET", url("/nope"));
    ASSERT_TRUE(r) << r.status().to_string();
    EXPECT_EQ(r->status, 404);
    EXPECT_NE(r->body.find("no route /nope"), std::string::npos) << r->body;
}

TEST_F(HttpClientTest, BlockingConnectionRefusedIsAnErrorNamingHostAndPort) {
    uint16_t port = closed_port();
    ASSERT_NE(port, 0);
    HttpClient client(2s);
    auto r = client.request("GET", "http://127.0.0.1:" + std::to_string(port) + "/echo");
    ASSERT_FALSE(r) << "status " << r->status;
    EXPECT_EQ(r.status().code(), ErrorCode::Unavailable) << r.status().to_string();
    EXPECT_NE(r.status().message().find("127.0.0.1:" + std::to_string(port)), std::string::npos)
        << r.status().message();
}

TEST_F(HttpClientTest, BlockingRejectsUnsupportedUrls) {
    HttpClient client;
    for (const std::string bad : {"ftp://127.0.0.1:1/x", "127.0.0.1:1/x", "http:///x"}) {
        auto r = client.request("GET", bad);
        ASSERT_FALSE(r) << bad;
        EXPECT_EQ(r.status().code(), ErrorCode::Invalid) << r.status().to_string();
        EXPECT_NE(r.status().message().find(bad), std::string::npos) << r.status().message();
    }
}

TEST_F(HttpClientTest, BlockingRejectsMalformedIpv6Literals) {
    HttpClient client;
    for (const std::string bad : {"http://[::1/x", "http://[::1]x/x", "http://::1:80/x", "http://[]:80/x"}) {
        auto r = client.request("GET", bad);
        ASSERT_FALSE(r) << bad;
        EXPECT_EQ(r.status().code(), ErrorCode::Invalid) << bad << ": " << r.status().to_string();
    }
}

TEST_F(HttpClientTest, BlockingReachesAnIpv6LiteralAndSendsItBracketedAsHost) {
    HttpServerOptions options;
    options.bind = "::1";
    auto started = HttpServer::start(std::move(options), [](const HttpRequest& req, const HttpResponder& respond) {
        respond({200, "text/plain", req.header("host"), {}, {}});
    });
    if (!started) GTEST_SKIP() << "no IPv6 loopback: " << started.status().to_string();
    auto v6 = std::move(started).value();
    std::string authority = "[::1]:" + std::to_string(v6->port());
    HttpClient client;
    auto r = client.request("GET", "http://" + authority + "/host");
    v6->stop();
    ASSERT_TRUE(r) << r.status().to_string();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, authority);
}

TEST_F(HttpClientTest, BlockingReusesTheKeptAliveConnection) {
    if (!client_ports(target_->port())) GTEST_SKIP() << "no /proc/net/tcp";
    HttpClient client;
    expect_reuse(blocking_sender(client));
}

TEST_F(HttpClientTest, BlockingRetriesAKeptAliveConnectionThePeerClosed) {
    HttpClient client;
    expect_retry(blocking_sender(client));
}

// A silent peer must not hold the caller past the timeout (a first version bounded blocking reads
// with SO_RCVTIMEO, which Asio's synchronous read ignores: it polls again on EAGAIN).
TEST_F(HttpClientTest, BlockingTimesOutOnASilentPeer) {
    HttpClient client(300ms);
    auto pending =
        std::async(std::launch::async, [&] { return client.request("POST", url("/hold"), "x"); });
    ASSERT_TRUE(wait_held(1));
    bool done = pending.wait_for(kDeadline) == std::future_status::ready;
    if (!done) release_held();  // unblock the client so the test can end
    auto r = pending.get();
    ASSERT_TRUE(done) << "a request with a 300 ms timeout was still waiting after 5 s";
    ASSERT_FALSE(r) << "status " << r->status;
    EXPECT_EQ(r.status().code(), ErrorCode::Io);
}

// The deadline covers name resolution, which Asio runs on a thread of its own that cancelling
// cannot stop: the caller is answered at the deadline, not when the resolution returns.
TEST_F(HttpClientTest, BlockingTimesOutWhileTheNameIsStillBeingResolved) {
    HttpClient client(300ms);
    auto started = std::chrono::steady_clock::now();
    auto r = client.request("POST", "http://slow-dns.test:" + std::to_string(target_->port()) + "/echo", "x");
    auto elapsed = std::chrono::steady_clock::now() - started;
    ASSERT_FALSE(r) << "status " << r->status;
    EXPECT_EQ(r.status().code(), ErrorCode::Io);
    EXPECT_NE(r.status().message().find("cannot resolve slow-dns.test: timeout"), std::string::npos) << r.status().message();
    EXPECT_GE(elapsed, 250ms);
    EXPECT_LT(elapsed, 1200ms) << "answered when the resolution returned, not at the deadline";
}

// ---- AsyncHttpClient, on a second server's I/O threads

TEST_F(HttpClientTest, AsyncRoundTripCallsBackExactlyOnce) {
    auto& client = async_client();
    auto results = std::make_shared<Collector>(2);
    client.request("POST", url("/echo?status=202"), "hello", {{"x-api-key", "k"}},
                   results->slot(0));
    ASSERT_TRUE(results->wait(1));
    auto r = results->result(0);
    ASSERT_TRUE(r) << r.status().to_string();
    EXPECT_EQ(r->status, 202);
    EXPECT_EQ(r->body, "POST|k|hello");
    // A second exchange completing gives a duplicate call of the first time to show up.
    client.request("GET", url("/nope"), {}, {}, results->slot(1));
    ASSERT_TRUE(results->wait(2));
    auto not_found = results->result(1);
    ASSERT_TRUE(not_found) << not_found.status().to_string();
    EXPECT_EQ(not_found->status, 404);
    EXPECT_EQ(results->calls(0), 1);
    EXPECT_EQ(results->calls(1), 1);
}

TEST_F(HttpClientTest, AsyncConcurrentRequestsFromManyThreadsAllGetTheirAnswer) {
    constexpr size_t kThreads = 4;
    constexpr size_t kRequests = 200;
    auto& client = async_client();
    auto results = std::make_shared<Collector>(kRequests);
    std::vector<std::thread> threads;
    for (size_t t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            for (size_t i = t; i < kRequests; i += kThreads) {
                client.request("POST", url("/echo?i=" + std::to_string(i)), std::to_string(i),
                               {{"x-api-key", "t" + std::to_string(t)}}, results->slot(i));
            }
        });
    }
    for (auto& t : threads) t.join();
    ASSERT_TRUE(results->wait(kRequests, 20s))
        << results->total() << " of " << kRequests << " answered";
    for (size_t i = 0; i < kRequests; ++i) {
        auto r = results->result(i);
        ASSERT_TRUE(r) << "request " << i << ": " << r.status().to_string();
        EXPECT_EQ(r->status, 200);
        EXPECT_EQ(r->body, "POST|t" + std::to_string(i % kThreads) + "|" + std::to_string(i));
        EXPECT_EQ(results->calls(i), 1) << "request " << i;
    }
}

TEST_F(HttpClientTest, AsyncConnectionRefusedIsAnErrorResult) {
    auto& client = async_client(2s);  // first: its home server could otherwise take the closed port
    uint16_t port = closed_port();
    ASSERT_NE(port, 0);
    auto results = std::make_shared<Collector>(1);
    client.request("GET", "http://127.0.0.1:" + std::to_string(port) + "/echo", {}, {},
                   results->slot(0));
    ASSERT_TRUE(results->wait(1));
    auto r = results->result(0);
    ASSERT_FALSE(r) << "status " << r->status;
    EXPECT_EQ(r.status().code(), ErrorCode::Unavailable) << r.status().to_string();
    EXPECT_NE(r.status().message().find("127.0.0.1:" + std::to_string(port)), std::string::npos)
        << r.status().message();
}

TEST_F(HttpClientTest, AsyncRejectsUnsupportedUrls) {
    auto& client = async_client();
    auto results = std::make_shared<Collector>(1);
    client.request("GET", "ftp://127.0.0.1:1/x", {}, {}, results->slot(0));
    ASSERT_TRUE(results->wait(1));
    auto r = results->result(0);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.status().code(), ErrorCode::Invalid) << r.status().to_string();
}

TEST_F(HttpClientTest, AsyncReusesTheKeptAliveConnection) {
    if (!client_ports(target_->port())) GTEST_SKIP() << "no /proc/net/tcp";
    expect_reuse(async_sender());
}

TEST_F(HttpClientTest, AsyncRetriesAKeptAliveConnectionThePeerClosed) { expect_retry(async_sender()); }

TEST_F(HttpClientTest, AsyncTimesOutOnASilentPeer) {
    auto& client = async_client(300ms);
    auto results = std::make_shared<Collector>(1);
    auto started = std::chrono::steady_clock::now();
    client.request("POST", url("/hold"), "x", {}, results->slot(0));
    ASSERT_TRUE(wait_held(1));
    ASSERT_TRUE(results->wait(1)) << "no answer after 5 s with a 300 ms timeout";
    auto elapsed = std::chrono::steady_clock::now() - started;
    auto r = results->result(0);
    ASSERT_FALSE(r) << "status " << r->status;
    EXPECT_EQ(r.status().code(), ErrorCode::Io);
    EXPECT_NE(r.status().message().find("POST " + url("/hold") + " failed"), std::string::npos)
        << r.status().message();
    EXPECT_NE(r.status().message().find("timeout"), std::string::npos) << r.status().message();
    EXPECT_GE(elapsed, 250ms);
    EXPECT_EQ(results->calls(0), 1);
    // TearDown answers the held request, then stops both servers.
}

TEST_F(HttpClientTest, AsyncClientDestroyedWithARequestInFlightStillCallsBack) {
    auto& client = async_client();
    auto results = std::make_shared<Collector>(1);
    client.request("POST", url("/hold"), "x", {}, results->slot(0));
    ASSERT_TRUE(wait_held(1));
    async_.reset();
    release_held();
    ASSERT_TRUE(results->wait(1));
    auto r = results->result(0);
    ASSERT_TRUE(r) << r.status().to_string();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "released");
    EXPECT_EQ(results->calls(0), 1);
}

TEST_F(HttpClientTest, AsyncHomeStoppedWithARequestInFlightShutsDownCleanly) {
    auto& client = async_client();
    auto results = std::make_shared<Collector>(1);
    client.request("POST", url("/hold"), "x", {}, results->slot(0));
    ASSERT_TRUE(wait_held(1));
    async_.reset();
    auto started = std::chrono::steady_clock::now();
    home_->stop();
    home_.reset();  // the exchange ends with its io_context, without a callback
    EXPECT_LT(std::chrono::steady_clock::now() - started, kDeadline);
    EXPECT_LE(results->calls(0), 1);
}

}  // namespace
}  // namespace varpulis::cluster
