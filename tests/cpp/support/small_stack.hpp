// SPDX-License-Identifier: Apache-2.0
#pragma once

// Run a function on a thread with a stack of a chosen size: a depth budget is only as good as
// the stack it leaves room on.

#include <pthread.h>

#include <cstddef>
#include <functional>
#include <stdexcept>

namespace varpulis::testing {

/// Run `work` on a new thread whose stack is `bytes`, and wait for it. An overflow crashes the
/// test process: that is the failure.
inline void run_with_stack(size_t bytes, const std::function<void()>& work) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, bytes);
    pthread_t thread;
    auto body = [](void* arg) -> void* {
        (*static_cast<const std::function<void()>*>(arg))();
        return nullptr;
    };
    const int started = pthread_create(&thread, &attr, body, const_cast<std::function<void()>*>(&work));
    pthread_attr_destroy(&attr);
    if (started != 0) throw std::runtime_error("cannot start a thread");
    pthread_join(thread, nullptr);
}

}  // namespace varpulis::testing
