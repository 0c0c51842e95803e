// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdlib>
#include <optional>
#include <string>
#include <utility>
#include <variant>

#include "varpulis/common/span.hpp"

namespace varpulis::common {

/// Error categories shared by every module; the Python bindings map each one to an exception class.
enum class ErrorCode {
    Ok,
    Syntax,        ///< VPL that does not parse
    Invalid,       ///< VPL that parses but fails validation, or a bad argument
    NotFound,      ///< a file, pipeline, worker... that does not exist
    Io,            ///< the operating system refused a read or write
    Runtime,       ///< an error while executing a program (division by zero in strict mode, loop guard...)
    LimitExceeded, ///< a configured limit (size, depth, count) was hit
    Internal,      ///< a bug: an invariant did not hold
    Unavailable,   ///< a peer could not be reached (connection refused): nothing was sent to it
};

/// Return the snake_case name of an error code ("syntax", "not_found"...).
const char* error_code_name(ErrorCode code);

/// The outcome of an operation that returns no value: OK, or an error code with a message.
class [[nodiscard]] Status {
  public:
    Status() = default;
    Status(ErrorCode code, std::string message, Span span = {})
        : code_(code), message_(std::move(message)), span_(span) {}

    static Status ok() { return {}; }

    bool is_ok() const { return code_ == ErrorCode::Ok; }
    ErrorCode code() const { return code_; }
    const std::string& message() const { return message_; }
    const Span& span() const { return span_; }

    /// Return "code: message", for logs.
    std::string to_string() const;
    /// Return the same error with `context` before its message ("context: message"); OK stays OK.
    Status with_context(const std::string& context) const;

  private:
    ErrorCode code_ = ErrorCode::Ok;
    std::string message_;
    Span span_;
};

/// A value of type T or an error Status (shaped like std::expected).
template <typename T>
class [[nodiscard]] Result {
  public:
    Result(T value) : data_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
    Result(Status status) : data_(std::move(status)) {  // NOLINT(google-explicit-constructor)
        if (std::get<Status>(data_).is_ok()) std::abort();  // an OK status carries no value
    }

    bool is_ok() const { return std::holds_alternative<T>(data_); }
    explicit operator bool() const { return is_ok(); }

    const Status& status() const {
        static const Status kOk;
        return is_ok() ? kOk : std::get<Status>(data_);
    }
    T& value() & { return std::get<T>(data_); }
    const T& value() const& { return std::get<T>(data_); }
    T&& value() && { return std::get<T>(std::move(data_)); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }

  private:
    std::variant<T, Status> data_;
};

namespace detail {
inline const Status& to_status(const Status& s) { return s; }
template <typename T>
const Status& to_status(const Result<T>& r) { return r.status(); }
}  // namespace detail

}  // namespace varpulis::common

/// Return early from the enclosing function with the status of `expr` when it is an error.
#define VP_RETURN_NOT_OK(expr)                                   \
    do {                                                         \
        auto&& vp_status_ = (expr);                              \
        if (!vp_status_.is_ok())                                 \
            return ::varpulis::common::detail::to_status(vp_status_); \
    } while (false)

#define VP_CONCAT_INNER(a, b) a##b
#define VP_CONCAT(a, b) VP_CONCAT_INNER(a, b)

/// Assign the value of a Result to `lhs`, or return its error status from the enclosing function.
#define VP_ASSIGN_OR_RETURN(lhs, expr)                                         \
    auto&& VP_CONCAT(vp_result_, __LINE__) = (expr);                           \
    if (!VP_CONCAT(vp_result_, __LINE__).is_ok())                              \
        return VP_CONCAT(vp_result_, __LINE__).status();                       \
    lhs = std::move(VP_CONCAT(vp_result_, __LINE__)).value()
