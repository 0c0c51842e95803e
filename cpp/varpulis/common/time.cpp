// SPDX-License-Identifier: Apache-2.0
#include "varpulis/common/time.hpp"

#include <cctype>
#include <chrono>

namespace varpulis::common {
namespace {

bool is_digits(std::string_view s, size_t pos, size_t n) {
    if (pos + n > s.size()) return false;
    for (size_t i = pos; i < pos + n; ++i) {
        if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
    }
    return true;
}

int digits(std::string_view s, size_t pos, size_t n) {
    int v = 0;
    for (size_t i = 0; i < n; ++i) v = v * 10 + (s[pos + i] - '0');
    return v;
}

}  // namespace

int64_t wall_clock_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

int64_t wall_clock_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

std::optional<int64_t> parse_rfc3339(std::string_view s) {
    if (!is_digits(s, 0, 4) || s.size() < 10 || s[4] != '-' || !is_digits(s, 5, 2) || s[7] != '-' || !is_digits(s, 8, 2)) {
        return std::nullopt;
    }
    const int y = digits(s, 0, 4), mo = digits(s, 5, 2), d = digits(s, 8, 2);
    // Nanoseconds since 1970 fit in 64 bits from 1678 to 2261 only.
    if (y < 1678 || y > 2261 || mo < 1 || mo > 12 || d < 1 || d > 31) return std::nullopt;
    int64_t seconds = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400;
    int64_t nanos = 0;
    size_t pos = 10;
    if (pos < s.size()) {
        if ((s[pos] != 'T' && s[pos] != ' ') || !is_digits(s, 11, 2) || s.size() < 19 || s[13] != ':' || !is_digits(s, 14, 2) ||
            s[16] != ':' || !is_digits(s, 17, 2)) {
            return std::nullopt;
        }
        const int h = digits(s, 11, 2), mi = digits(s, 14, 2), se = digits(s, 17, 2);
        if (h > 23 || mi > 59 || se > 60) return std::nullopt;
        seconds += h * 3600 + mi * 60 + se;
        pos = 19;
        if (pos < s.size() && s[pos] == '.') {
            ++pos;
            const size_t first = pos;
            int64_t scale = 100'000'000;
            while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) {
                nanos += (s[pos] - '0') * scale;
                scale /= 10;
                ++pos;
            }
            if (pos == first) return std::nullopt;
        }
        if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
            ++pos;
        } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
            if (!is_digits(s, pos + 1, 2) || pos + 3 >= s.size() || s[pos + 3] != ':' || !is_digits(s, pos + 4, 2) ||
                digits(s, pos + 1, 2) > 23 || digits(s, pos + 4, 2) > 59) {
                return std::nullopt;
            }
            const int64_t offset = digits(s, pos + 1, 2) * 3600 + digits(s, pos + 4, 2) * 60;
            seconds -= s[pos] == '+' ? offset : -offset;
            pos += 6;
        }
    }
    if (pos != s.size()) return std::nullopt;
    return seconds * 1'000'000'000 + nanos;
}

}  // namespace varpulis::common
