// SPDX-License-Identifier: Apache-2.0
#include "varpulis/server/route_table.hpp"

#include <gtest/gtest.h>

#include <string>

namespace varpulis::server {
namespace {

using Kind = RouteMatch::Kind;

class RouteTableTest : public ::testing::Test {
  protected:
    void SetUp() override {
        for (const auto& [method, pattern] : std::vector<std::pair<std::string, std::string>>{
                 {"GET", "/health"},
                 {"GET", "/api/v1/things"},
                 {"POST", "/api/v1/things"},
                 {"POST", "/api/v1/things/register"},
                 {"GET", "/api/v1/things/{id}"},
                 {"DELETE", "/api/v1/things/{id}"},
                 {"POST", "/api/v1/things/{id}/events"},
             }) {
            table_.add(method, pattern, RouteAuth::ApiKey, pattern);
        }
    }
    RouteTable<std::string> table_;
};

TEST_F(RouteTableTest, FindsTheRouteAndItsParameters) {
    auto m = table_.match("POST", "/api/v1/things/abc/events");
    ASSERT_EQ(m.kind, Kind::Found);
    EXPECT_EQ(table_.handler(m), "/api/v1/things/{id}/events");
    EXPECT_EQ(m.id(), "abc");
    EXPECT_EQ(table_.handler(table_.match("GET", "/api/v1/things")), "/api/v1/things");
    EXPECT_EQ(table_.handler(table_.match("POST", "/api/v1/things")), "/api/v1/things");
    EXPECT_EQ(table_.match("GET", "//api//v1/things/").kind, Kind::Found);  // empty segments skipped
}

TEST_F(RouteTableTest, AnotherMethodIs405WithTheMethodsThePathTakes) {
    auto m = table_.match("PUT", "/api/v1/things/abc");
    ASSERT_EQ(m.kind, Kind::MethodNotAllowed);
    EXPECT_EQ(m.allowed, "GET, DELETE");
    EXPECT_EQ(m.id(), "abc");
    HttpRequest req;
    req.method = "PUT";
    req.path = "/api/v1/things/abc";
    HttpResponse r = method_not_allowed(req, m);
    EXPECT_EQ(r.status, 405);
    ASSERT_EQ(r.headers.size(), 1u);
    EXPECT_EQ(r.headers[0], (std::pair<std::string, std::string>{"Allow", "GET, DELETE"}));
}

TEST_F(RouteTableTest, ALiteralSegmentWinsOverAParameter) {
    EXPECT_EQ(table_.handler(table_.match("POST", "/api/v1/things/register")), "/api/v1/things/register");
    // GET is not a method of the literal path: 405, not the {id} route with id "register".
    auto m = table_.match("GET", "/api/v1/things/register");
    EXPECT_EQ(m.kind, Kind::MethodNotAllowed);
    EXPECT_EQ(m.allowed, "POST");
}

TEST_F(RouteTableTest, UnknownPathsAreNotFound) {
    EXPECT_EQ(table_.match("GET", "/nope").kind, Kind::NotFound);
    EXPECT_EQ(table_.match("GET", "/api/v1/things/a/b/c").kind, Kind::NotFound);
    EXPECT_EQ(table_.match("GET", "api/v1/things").kind, Kind::NotFound);  // not a path
    EXPECT_EQ(table_.match("GET", "/a/b/c/d/e/f/g/h/i/j").kind, Kind::NotFound);  // longer than any route
    EXPECT_EQ(table_.match("GET", "").kind, Kind::NotFound);
}

TEST_F(RouteTableTest, ListsTheRoutesInDeclarationOrder) {
    ASSERT_EQ(table_.specs().size(), 7u);
    EXPECT_EQ(table_.specs()[0].method, "GET");
    EXPECT_EQ(table_.specs()[0].pattern, "/health");
    EXPECT_EQ(table_.specs()[6].pattern, "/api/v1/things/{id}/events");
}

}  // namespace
}  // namespace varpulis::server
