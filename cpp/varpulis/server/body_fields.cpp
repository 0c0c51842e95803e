// SPDX-License-Identifier: Apache-2.0
#include "varpulis/server/body_fields.hpp"

namespace varpulis::server {

BodyFields::BodyFields(const json& body, std::string path) : body_(body), path_(std::move(path)) {
    if (!body_.is_object()) fail((path_.empty() ? std::string("the body") : "\"" + path_ + "\"") + " must be a JSON object");
}

std::string BodyFields::field_name(std::string_view name) const {
    return path_.empty() ? std::string(name) : path_ + "." + std::string(name);
}

void BodyFields::fail(const std::string& message) {
    if (error_.empty()) error_ = message;
}

HttpResponse BodyFields::error() const { return error_response(400, "invalid_request", error_); }

const BodyFields::json* BodyFields::find(std::string_view name, bool required, bool (json::*is)() const noexcept, const char* type) {
    if (!ok()) return nullptr;
    auto it = body_.find(name);
    if (it == body_.end() || (it->is_null() && !required)) {
        if (required) fail("field \"" + field_name(name) + "\" is required");
        return nullptr;
    }
    if (is && !((*it).*is)()) {
        fail("field \"" + field_name(name) + "\" must be " + type);
        return nullptr;
    }
    return &*it;
}

std::optional<std::string> BodyFields::string(std::string_view name, bool required) {
    const json* v = find(name, required, &json::is_string, "a string");
    if (!v) return std::nullopt;
    return v->get<std::string>();
}

std::optional<uint64_t> BodyFields::count(std::string_view name, bool required) {
    const json* v = find(name, required, &json::is_number_unsigned, "a whole number, 0 or more");
    if (!v) return std::nullopt;
    return v->get<uint64_t>();
}

std::optional<bool> BodyFields::boolean(std::string_view name, bool required) {
    const json* v = find(name, required, &json::is_boolean, "true or false");
    if (!v) return std::nullopt;
    return v->get<bool>();
}

const BodyFields::json* BodyFields::object(std::string_view name, bool required) {
    return find(name, required, &json::is_object, "an object");
}

const BodyFields::json* BodyFields::array(std::string_view name, bool required) {
    return find(name, required, &json::is_array, "an array");
}

const BodyFields::json* BodyFields::any(std::string_view name, bool required) { return find(name, required, nullptr, ""); }

}  // namespace varpulis::server
