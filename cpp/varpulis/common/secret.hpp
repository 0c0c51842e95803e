// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>
#include <string_view>

namespace varpulis::common {

/// Compare two secrets (API keys, join and heartbeat tokens) in time that does not depend on
/// where they differ.
bool constant_time_equal(std::string_view a, std::string_view b);

/// Return a new secret: 32 bytes from the kernel's random source (getrandom), in hex. For
/// tokens a caller must not be able to predict from others it has seen (a seeded
/// pseudo-random generator such as mt19937 can be predicted from its outputs).
std::string random_secret();

/// Return the SHA-256 digest of `text` in lower-case hex: what may be shown of a secret, since
/// it cannot be turned back into the secret.
std::string sha256_hex(std::string_view text);

}  // namespace varpulis::common
