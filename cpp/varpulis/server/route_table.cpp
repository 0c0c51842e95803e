// SPDX-License-Identifier: Apache-2.0
#include "varpulis/server/route_table.hpp"

#include <cstdlib>

namespace varpulis::server {

namespace {

/// Split a path into at most `kMax` segment views (empty segments skipped); false when the path
/// does not start with '/' or has more segments than any route.
template <size_t kMax>
bool split_segments(std::string_view path, std::array<std::string_view, kMax>& out, size_t& count) {
    count = 0;
    if (!path.starts_with('/')) return false;
    while (!path.empty()) {
        size_t slash = path.find('/');
        std::string_view segment = path.substr(0, slash);
        if (!segment.empty()) {
            if (count == kMax) return false;
            out[count++] = segment;
        }
        if (slash == std::string_view::npos) break;
        path.remove_prefix(slash + 1);
    }
    return true;
}

}  // namespace

void RouteMatcher::add(RouteSpec spec) {
    Pattern p;
    std::array<std::string_view, kMaxSegments> segments{};
    size_t count = 0;
    size_t params = 0;
    // A bad pattern is a programming error in a server's table, found by every test that starts it.
    if (!split_segments(spec.pattern, segments, count)) std::abort();
    for (size_t i = 0; i < count; ++i) {
        const bool param = segments[i].starts_with('{') && segments[i].ends_with('}');
        p.segments.emplace_back(param ? std::string_view() : segments[i]);
        params += param;
        p.literals += !param;
    }
    if (params > RouteMatch::kMaxParams) std::abort();
    specs_.push_back(std::move(spec));
    patterns_.push_back(std::move(p));
}

RouteMatch RouteMatcher::match(std::string_view method, std::string_view path) const {
    RouteMatch out;
    std::array<std::string_view, kMaxSegments> segments{};
    size_t count = 0;
    if (!split_segments(path, segments, count)) return out;
    size_t best_literals = 0;
    bool any = false;
    for (size_t r = 0; r < patterns_.size(); ++r) {
        const Pattern& p = patterns_[r];
        if (p.segments.size() != count || (any && p.literals < best_literals)) continue;
        bool fits = true;
        for (size_t i = 0; i < count && fits; ++i) fits = p.segments[i].empty() || p.segments[i] == segments[i];
        if (!fits) continue;
        if (!any || p.literals > best_literals) {  // a more specific path: forget the others
            any = true;
            best_literals = p.literals;
            out = RouteMatch{};
            out.kind = RouteMatch::Kind::MethodNotAllowed;
            out.index = r;
            for (size_t i = 0; i < count; ++i) {
                if (p.segments[i].empty()) out.params[out.param_count++] = segments[i];
            }
        }
        if (out.kind == RouteMatch::Kind::Found) continue;  // a route of this path already takes the method
        if (specs_[r].method == method) {
            out.kind = RouteMatch::Kind::Found;
            out.index = r;
            out.allowed.clear();
        } else {
            out.allowed += (out.allowed.empty() ? "" : ", ") + specs_[r].method;
        }
    }
    return out;
}

HttpResponse route_not_found(const HttpRequest& req) { return error_response(404, "not_found", "no route for " + req.path); }

HttpResponse method_not_allowed(const HttpRequest& req, const RouteMatch& m) {
    auto r = error_response(405, "method_not_allowed", req.method + " is not allowed on " + req.path + " (allowed: " + m.allowed + ")");
    r.headers.emplace_back("Allow", m.allowed);
    return r;
}

}  // namespace varpulis::server
