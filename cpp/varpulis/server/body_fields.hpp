// SPDX-License-Identifier: Apache-2.0
#pragma once

// Request bodies read by shape. Reading a field of the wrong type straight from the JSON
// library throws, which answered 500 with the library's text; every handler reads its fields
// through this instead, so a wrong field is a 400 `invalid_request` that names it.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "varpulis/server/http_types.hpp"

namespace varpulis::server {

class BodyFields {
  public:
    using json = nlohmann::ordered_json;

    /// The fields of `body`; `path` names it in messages ("pipelines[2]"; empty: the body). A
    /// body that is not an object is the first error.
    explicit BodyFields(const json& body, std::string path = {});

    /// The field's value; none when it is absent (an error when `required`) or of the wrong type.
    std::optional<std::string> string(std::string_view name, bool required = false);
    std::optional<uint64_t> count(std::string_view name, bool required = false);
    std::optional<bool> boolean(std::string_view name, bool required = false);
    const json* object(std::string_view name, bool required = false);
    const json* array(std::string_view name, bool required = false);
    /// The field whatever its type (a checkpoint, say); null when absent.
    const json* any(std::string_view name, bool required = false);

    /// The name of a field of this body in messages: "name", or "pipelines[2].name".
    std::string field_name(std::string_view name) const;
    /// Record an error of this body's own (the first one wins).
    void fail(const std::string& message);

    bool ok() const { return error_.empty(); }
    /// The 400 answer of the first error.
    HttpResponse error() const;
    const std::string& message() const { return error_; }

  private:
    const json* find(std::string_view name, bool required, bool (json::*is)() const noexcept, const char* type);

    const json& body_;
    std::string path_;
    std::string error_;
};

}  // namespace varpulis::server
