// Status classification, Retry-After and backoff. Pure; unit-tested in tests/test_request.cpp.
#pragma once

#include <payouts/error.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string_view>

namespace payouts::detail {

/// The errc for a non-2xx status (2xx gives no error).
inline error_code status_error(unsigned status) noexcept {
    if (status >= 200 && status < 300) return {};
    switch (status) {
    case 401:
        return errc::unauthorized;
    case 403:
        return errc::forbidden;
    case 404:
        return errc::not_found;
    case 429:
        return errc::rate_limited;
    case 501:
    case 505:
        return errc::unexpected_status;
    default:
        break;
    }
    if (status >= 500 && status < 600) return errc::provider_unavailable;
    return errc::unexpected_status;
}

/// 429 and 5xx but 501/505: the provider may answer differently next time.
inline bool retryable_status(unsigned status) noexcept {
    return status == 429 || (status >= 500 && status < 600 && status != 501 && status != 505);
}

inline bool parse_fixed_digits(std::string_view s, int& out) noexcept {
    out = 0;
    if (s.empty()) return false;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
        out = out * 10 + (c - '0');
    }
    return true;
}

inline int month_from_name(std::string_view m) noexcept {
    constexpr std::string_view names[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    for (int i = 0; i < 12; ++i)
        if (names[i] == m) return i + 1;
    return 0;
}

inline std::optional<std::chrono::sys_seconds> make_time(int y, int mo, int d, int h, int mi,
                                                         int s) noexcept {
    using namespace std::chrono;
    year_month_day const ymd{year{y}, month{unsigned(mo)}, day{unsigned(d)}};
    if (!ymd.ok() || h > 23 || mi > 59 || s > 60) return std::nullopt;
    return sys_days{ymd} + hours{h} + minutes{mi} + seconds{s};
}

/// \brief Parses an HTTP-date (RFC 9110 §5.6.7): IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT",
/// and the obsolete RFC 850 "Sunday, 06-Nov-94 08:49:37 GMT" and asctime
/// "Sun Nov  6 08:49:37 1994" forms recipients must accept.
inline std::optional<std::chrono::sys_seconds> parse_http_date(std::string_view s) noexcept {
    auto const comma = s.find(',');
    int d = 0, y = 0, h = 0, mi = 0, se = 0;
    auto const hms = [&](std::string_view t) {
        return t.size() == 8 && t[2] == ':' && t[5] == ':' &&
               parse_fixed_digits(t.substr(0, 2), h) && parse_fixed_digits(t.substr(3, 2), mi) &&
               parse_fixed_digits(t.substr(6, 2), se);
    };
    if (comma == 3) { // IMF-fixdate
        if (s.size() != 29 || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' ||
            s[25] != ' ' || s.substr(26) != "GMT")
            return std::nullopt;
        int const mo = month_from_name(s.substr(8, 3));
        if (!mo || !parse_fixed_digits(s.substr(5, 2), d) ||
            !parse_fixed_digits(s.substr(12, 4), y) || !hms(s.substr(17, 8)))
            return std::nullopt;
        return make_time(y, mo, d, h, mi, se);
    }
    if (comma != std::string_view::npos) { // RFC 850: weekday, DD-Mon-YY HH:MM:SS GMT
        auto const r = s.substr(comma + 1);
        if (r.size() != 23 || r[0] != ' ' || r[3] != '-' || r[7] != '-' || r[10] != ' ' ||
            r[19] != ' ' || r.substr(20) != "GMT")
            return std::nullopt;
        int const mo = month_from_name(r.substr(4, 3));
        if (!mo || !parse_fixed_digits(r.substr(1, 2), d) ||
            !parse_fixed_digits(r.substr(8, 2), y) || !hms(r.substr(11, 8)))
            return std::nullopt;
        y += y < 70 ? 2000 : 1900; // RFC 9110: interpret a two-digit year as within 50 years
        return make_time(y, mo, d, h, mi, se);
    }
    // asctime: "Sun Nov  6 08:49:37 1994"
    if (s.size() != 24 || s[3] != ' ' || s[7] != ' ' || s[10] != ' ' || s[19] != ' ')
        return std::nullopt;
    int const mo = month_from_name(s.substr(4, 3));
    std::string_view day = s.substr(8, 2);
    if (day[0] == ' ') day.remove_prefix(1);
    if (!mo || !parse_fixed_digits(day, d) || !hms(s.substr(11, 8)) ||
        !parse_fixed_digits(s.substr(20, 4), y))
        return std::nullopt;
    return make_time(y, mo, d, h, mi, se);
}

// The longest wait a Retry-After can ask for, in either form (the caller clamps it to its
// policy anyway): 10^8 s, far beyond any policy yet small enough for every clock's duration.
inline constexpr std::int64_t max_retry_after_seconds = 100000000;

/// \brief The wait a Retry-After value asks for: delay-seconds or an HTTP-date (relative to
/// `now`; a date in the past means no wait), at most `max_retry_after_seconds`. Anything else
/// is ignored (nullopt).
inline std::optional<std::chrono::milliseconds>
parse_retry_after(std::string_view v, std::chrono::system_clock::time_point now) noexcept {
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t'))
        v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t'))
        v.remove_suffix(1);
    if (v.empty()) return std::nullopt;
    if (v.find_first_not_of("0123456789") == std::string_view::npos) {
        std::int64_t secs = 0;
        for (char c : v) {
            secs = secs * 10 + (c - '0');
            if (secs > max_retry_after_seconds) break;
        }
        return std::chrono::seconds(std::min(secs, max_retry_after_seconds));
    }
    auto const t = parse_http_date(v);
    if (!t) return std::nullopt;
    // A date may lie beyond the range of `now`'s duration (nanoseconds reach only 1677 to
    // 2262): the distance is taken in whole seconds first, in `now`'s units only once bounded.
    using namespace std::chrono;
    auto const now_s = time_point_cast<seconds>(now); // toward zero: stays in now's range
    auto const ahead = *t - now_s;                    // now's fraction is within (-1 s, 1 s)
    if (ahead < seconds(0)) return milliseconds(0);
    if (ahead > seconds(max_retry_after_seconds + 1)) return seconds(max_retry_after_seconds);
    auto const d = duration_cast<milliseconds>(ahead - (now - now_s));
    return std::clamp(d, milliseconds(0), milliseconds(seconds(max_retry_after_seconds)));
}

/// \brief Full-jitter exponential backoff: a uniform wait in [0, min(cap, base × 2^(retry-1))]
/// for the `retry`-th retry (1-based).
template <class Rng>
std::chrono::milliseconds full_jitter(std::chrono::milliseconds base, std::chrono::milliseconds cap,
                                      unsigned retry, Rng& rng) {
    if (base.count() <= 0 || cap.count() <= 0) return std::chrono::milliseconds(0);
    std::int64_t ceiling = base.count();
    for (unsigned i = 1; i < retry && ceiling < cap.count(); ++i)
        ceiling *= 2;
    ceiling = std::min<std::int64_t>(ceiling, cap.count());
    std::uniform_int_distribution<std::int64_t> dist(0, ceiling);
    return std::chrono::milliseconds(dist(rng));
}

/// \brief The wait before the next attempt: the server's Retry-After (clamped to
/// `max_retry_after`) when it sent one, else full jitter.
template <class Rng>
std::chrono::milliseconds retry_delay(std::optional<std::chrono::milliseconds> retry_after,
                                      std::chrono::milliseconds base, std::chrono::milliseconds cap,
                                      std::chrono::milliseconds max_retry_after, unsigned retry,
                                      Rng& rng) {
    if (retry_after) return std::clamp(*retry_after, std::chrono::milliseconds(0), max_retry_after);
    return full_jitter(base, cap, retry, rng);
}

} // namespace payouts::detail
