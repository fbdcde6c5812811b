// Status classification, Retry-After and backoff. Pure; unit-tested in tests/test_request.cpp.
#pragma once

#include <payouts/detail/url.hpp>
#include <payouts/error.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <iomanip>
#include <locale>
#include <optional>
#include <random>
#include <sstream>
#include <string>
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

// Whether `s` has the shape `picture` draws: '9' a digit, '_' a digit or a space, 'A' an upper
// and 'a' a lower case letter, '?' any character, any other character itself.
inline bool has_shape(std::string_view s, std::string_view picture) noexcept {
    auto const fits = [](char c, char p) {
        bool const digit = urls::grammar::digit_chars(c);
        return p == '9'   ? digit
               : p == '_' ? digit || c == ' '
               : p == 'A' ? c >= 'A' && c <= 'Z'
               : p == 'a' ? c >= 'a' && c <= 'z'
                          : p == '?' || p == c;
    };
    return s.size() == picture.size() && std::equal(s.begin(), s.end(), picture.begin(), fits);
}

/// \brief Parses an HTTP-date (RFC 9110 §5.6.7): IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT",
/// and the obsolete RFC 850 "Sunday, 06-Nov-94 08:49:37 GMT" and asctime
/// "Sun Nov  6 08:49:37 1994" forms recipients must accept.
inline std::optional<std::chrono::sys_seconds> parse_http_date(std::string_view s) {
    // The form is told by its weekday (not checked): three letters and a comma, a longer name
    // and a comma, or three letters alone. get_time is lenient about case, spaces and digit
    // counts: the exact shape of what follows the weekday is checked first.
    static constexpr std::string_view shapes[] = {
        ", 99 Aaa 9999 99:99:99 GMT", ", 99-Aaa-99 99:99:99 GMT", " Aaa _9 99:99:99 9999"};
    static constexpr char const* formats[] = {", %d %b %Y %H:%M:%S GMT", ", %d-%b-%y %H:%M:%S GMT",
                                              " %b %e %H:%M:%S %Y"};
    auto const comma = s.find(',');
    int const form = comma == 3 ? 0 : comma != std::string_view::npos ? 1 : 2;
    auto const rest = s.substr(std::min(form == 2 ? 3 : comma, s.size()));
    if (!has_shape(rest, shapes[form])) return std::nullopt;
    std::istringstream in{std::string(rest)};
    in.imbue(std::locale::classic());
    std::tm tm{};
    in >> std::get_time(&tm, formats[form]);
    if (in.fail()) return std::nullopt;
    // RFC 850's two-digit year: 70-99 are 19xx, 00-69 20xx (RFC 9110: within 50 years),
    // whatever the C library's pivot.
    if (form == 1) tm.tm_year = tm.tm_year % 100 + (tm.tm_year % 100 < 70 ? 100 : 0);
    using namespace std::chrono;
    year_month_day const ymd{year{tm.tm_year + 1900}, month(tm.tm_mon + 1), day(tm.tm_mday)};
    if (!ymd.ok()) return std::nullopt;
    // get_time has checked the ranges of the time (a leap second, :60, is the next minute's).
    return sys_days{ymd} + hours{tm.tm_hour} + minutes{tm.tm_min} + seconds{tm.tm_sec};
}

// The longest wait a Retry-After can ask for, in either form (the caller clamps it to its
// policy anyway): 10^8 s, far beyond any policy yet small enough for every clock's duration.
inline constexpr std::int64_t max_retry_after_seconds = 100000000;

/// \brief The wait a Retry-After value asks for: delay-seconds or an HTTP-date (relative to
/// `now`; a date in the past means no wait), at most `max_retry_after_seconds`. Anything else
/// is ignored (nullopt).
inline std::optional<std::chrono::milliseconds>
parse_retry_after(std::string_view v, std::chrono::system_clock::time_point now) {
    v = trim_ows(v);
    if (v.empty()) return std::nullopt;
    if (v.find_first_not_of("0123456789") == std::string_view::npos) {
        std::int64_t secs = max_retry_after_seconds; // from_chars keeps it when out of range
        std::from_chars(v.data(), v.data() + v.size(), secs);
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
