// SPDX-License-Identifier: Apache-2.0
#include "varpulis/common/status.hpp"

namespace varpulis::common {

const char* error_code_name(ErrorCode code) {
    switch (code) {
        case ErrorCode::Ok: return "ok";
        case ErrorCode::Syntax: return "syntax";
        case ErrorCode::Invalid: return "invalid";
        case ErrorCode::NotFound: return "not_found";
        case ErrorCode::Io: return "io";
        case ErrorCode::Runtime: return "runtime";
        case ErrorCode::LimitExceeded: return "limit_exceeded";
        case ErrorCode::Internal: return "internal";
        case ErrorCode::Unavailable: return "unavailable";
    }
    return "internal";
}

std::string Status::to_string() const {
    if (is_ok()) return "ok";
    return std::string(error_code_name(code_)) + ": " + message_;
}

Status Status::with_context(const std::string& context) const {
    if (is_ok()) return *this;
    return Status(code_, context + ": " + message_, span_);
}

}  // namespace varpulis::common
