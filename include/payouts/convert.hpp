// Named field converters: the pure text → value parsers every provider's field map uses.
//
// Each takes the exact text the provider sent (a JSON string's content, or a JSON number's
// literal text) and either gives an exact value or says what it expected. None allocates,
// none goes through `double`.
#pragma once

#include <payouts/error.hpp>
#include <payouts/payout.hpp>

#include <boost/system/result.hpp>
#include <boost/system/system_error.hpp>

#include <chrono>
#include <cstdint>
#include <string_view>

namespace payouts {

/// \brief Why a converter refused its input: a static description of what was expected
/// ("an RFC 3339 date-time"), suitable for "<pointer>: expected <what>" messages.
struct conversion_error {
    std::string_view expected;
};

/// Thrown by `parsed<T>::value()` on failure, as `system_error(errc::invalid_response)`.
[[noreturn]] inline void throw_exception_from_error(conversion_error const& e,
                                                    boost::source_location const&) {
    throw boost::system::system_error(make_error_code(errc::invalid_response),
                                      "expected " + std::string(e.expected));
}

template <class T>
using parsed = boost::system::result<T, conversion_error>;

/// An exact decimal number: `units × 10^-scale`, `0 <= scale <= 18`.
struct decimal {
    std::int64_t units = 0;
    std::int8_t scale = 0;
    friend bool operator==(decimal const&, decimal const&) = default;
};

/// \brief Parses a base-10 integer: an optional '-' and 1 to 19 digits, nothing else
/// (no '+', no spaces, no fraction). Accepts digit strings ("20400") and JSON integer literals.
/// Fails on values outside int64.
constexpr parsed<std::int64_t> parse_int64(std::string_view s) noexcept {
    constexpr conversion_error err{"an integer within 64 bits"};
    std::size_t i = 0;
    bool const neg = !s.empty() && s[0] == '-';
    if (neg) ++i;
    if (i == s.size()) return err;
    std::uint64_t v = 0;
    for (; i < s.size(); ++i) {
        char const c = s[i];
        if (c < '0' || c > '9') return err;
        if (v > (UINT64_MAX - 9) / 10) return err;
        v = v * 10 + std::uint64_t(c - '0');
    }
    std::uint64_t const limit = neg ? std::uint64_t(INT64_MAX) + 1 : std::uint64_t(INT64_MAX);
    if (v > limit) return err;
    return neg ? std::int64_t(0 - v) : std::int64_t(v);
}

/// \brief Parses an exact decimal: '-'? digits ('.' digits)? ([eE] [+-]? digits)?, the grammar of
/// JSON numbers (leading zeros also accepted, for decimal strings such as "007.50").
/// Trailing fraction zeros are kept as scale ("4250.00" → {425000, 2}); an exponent is applied
/// exactly ("1.5e2" → {150, 0}). Fails on anything else, on more than 18 fraction digits after
/// the exponent, and on values outside int64 — never rounds.
constexpr parsed<decimal> parse_decimal(std::string_view s) noexcept {
    constexpr conversion_error bad{"a decimal number"};
    constexpr conversion_error range{"a decimal number within 64 bits and 18 fraction digits"};
    std::size_t i = 0, n = s.size();
    bool const neg = i < n && s[i] == '-';
    if (neg) ++i;
    std::uint64_t v = 0;
    int frac = 0, digits = 0;
    auto push = [&](char c) {
        if (v > (UINT64_MAX - 9) / 10) return false;
        v = v * 10 + std::uint64_t(c - '0');
        return true;
    };
    for (; i < n && s[i] >= '0' && s[i] <= '9'; ++i, ++digits)
        if (!push(s[i])) return range;
    if (digits == 0) return bad;
    if (i < n && s[i] == '.') {
        ++i;
        int fd = 0;
        for (; i < n && s[i] >= '0' && s[i] <= '9'; ++i, ++fd)
            if (!push(s[i])) return range;
        if (fd == 0) return bad;
        frac = fd;
    }
    long exp = 0;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        ++i;
        bool eneg = false;
        if (i < n && (s[i] == '+' || s[i] == '-')) eneg = s[i++] == '-';
        int ed = 0;
        for (; i < n && s[i] >= '0' && s[i] <= '9'; ++i, ++ed)
            if (exp < 100000) exp = exp * 10 + (s[i] - '0');
        if (ed == 0) return bad;
        if (eneg) exp = -exp;
    }
    if (i != n) return bad;
    long scale = frac - exp;
    if (scale < 0) {
        if (v != 0) {
            if (scale < -19) return range;
            for (; scale < 0; ++scale) {
                if (v > UINT64_MAX / 10) return range;
                v *= 10;
            }
        }
        scale = 0;
    }
    if (scale > 18) return range;
    std::uint64_t const limit = neg ? std::uint64_t(INT64_MAX) + 1 : std::uint64_t(INT64_MAX);
    if (v > limit) return range;
    return decimal{neg ? std::int64_t(0 - v) : std::int64_t(v), std::int8_t(scale)};
}

/// True for text that providers use to mean "no value": the empty string and the string "null".
constexpr bool is_absent_text(std::string_view s) noexcept {
    return s.empty() || s == "null";
}

/// True if `s` looks like an ISO 4217 alpha-3 code (three ASCII capital letters).
constexpr bool is_currency_code(std::string_view s) noexcept {
    return s.size() == 3 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z' &&
           s[2] >= 'A' && s[2] <= 'Z';
}

/// \brief Widens `d` to at least `min_scale` fraction digits, exactly.
/// Fails if the wider value does not fit in int64.
constexpr parsed<decimal> widen(decimal d, int min_scale) noexcept {
    while (d.scale < min_scale) {
        if (d.units > INT64_MAX / 10 || d.units < INT64_MIN / 10)
            return conversion_error{"an amount within 64 bits at the currency's scale"};
        d.units *= 10;
        ++d.scale;
    }
    return d;
}

/// Flags of `parse_rfc3339`.
enum class time_format : unsigned {
    strict = 0,           ///< RFC 3339: seconds and a zone (`Z` or `±hh:mm`) are required
    zoneless_is_utc = 1,  ///< a value without zone is taken as UTC (DRUO's `*_gmt` fields)
    seconds_optional = 2, ///< `hh:mm` without seconds is accepted (Introw's pattern allows it)
};
constexpr time_format operator|(time_format a, time_format b) noexcept {
    return time_format(unsigned(a) | unsigned(b));
}
constexpr bool has(time_format set, time_format f) noexcept {
    return (unsigned(set) & unsigned(f)) != 0;
}

/// \brief Parses `YYYY-MM-DDThh:mm:ss[.f{1,9}](Z|±hh:mm)` into a UTC timestamp, to the
/// nanosecond. `t` and `z` are accepted for `T` and `Z`. Rejects invalid dates (Feb 29 outside
/// leap years), hours > 23, leap seconds, offsets beyond ±23:59, more than 9 fraction digits
/// (which would lose precision), instants outside the nanosecond range (1677-09-21T00:12:44Z
/// to 2262-04-11T23:47:15Z, after the offset is applied) and any trailing text.
constexpr parsed<timestamp> parse_rfc3339(std::string_view s,
                                          time_format fmt = time_format::strict) noexcept {
    constexpr conversion_error err{"an RFC 3339 date-time"};
    using namespace std::chrono;
    // Two digits at s[k], s[k + 1] as a number, or -1.
    auto two = [&](std::size_t k) {
        unsigned const a = unsigned(s[k]) - '0', b = unsigned(s[k + 1]) - '0';
        return a < 10 && b < 10 ? int(a * 10 + b) : -1;
    };
    // The fixed part, "YYYY-MM-DDThh:mm", by position.
    if (s.size() < 16 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
        s[13] != ':')
        return err;
    int const y_hi = two(0), y_lo = two(2), mo = two(5), d = two(8), h = two(11), mi = two(14);
    if ((y_hi | y_lo | mo | d | h | mi) < 0) return err;
    int const y = y_hi * 100 + y_lo;
    std::size_t i = 16;
    int sec = 0;
    long long ns = 0;
    if (i < s.size() && s[i] == ':') {
        if (i + 3 > s.size() || (sec = two(i + 1)) < 0) return err;
        i += 3;
        if (i < s.size() && s[i] == '.') {
            ++i;
            int fd = 0;
            for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i, ++fd) {
                if (fd == 9)
                    return conversion_error{"an RFC 3339 date-time with at most 9 "
                                            "fraction digits"};
                ns = ns * 10 + (s[i] - '0');
            }
            if (fd == 0) return err;
            for (; fd < 9; ++fd)
                ns *= 10;
        }
    } else if (!has(fmt, time_format::seconds_optional)) {
        return err;
    }
    if (h > 23 || mi > 59 || sec > 59) return err;
    int offset_min = 0;
    if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
        ++i;
    } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
        bool const neg = s[i] == '-';
        if (i + 6 > s.size() || s[i + 3] != ':') return err;
        int const oh = two(i + 1), om = two(i + 4);
        if (oh < 0 || om < 0 || oh > 23 || om > 59) return err;
        offset_min = (oh * 60 + om) * (neg ? -1 : 1);
        i += 6;
    } else if (!has(fmt, time_format::zoneless_is_utc)) {
        return conversion_error{"an RFC 3339 date-time with a zone (Z or ±hh:mm)"};
    }
    if (i != s.size()) return err;
    // The calendar check and the day count (days from civil, proleptic Gregorian).
    bool const leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    constexpr unsigned char month_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (mo < 1 || mo > 12 || d < 1 || d > month_days[mo - 1] + (mo == 2 && leap))
        return conversion_error{"an RFC 3339 date-time with a valid calendar date"};
    int const yy = y - (mo <= 2);
    int const era = (yy >= 0 ? yy : yy - 399) / 400;
    int const yoe = yy - era * 400;
    int const doy = (153 * (mo > 2 ? mo - 3 : mo + 9) + 2) / 5 + d - 1;
    int const doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    long long const day_count = (long long)era * 146097 + doe - 719468;
    // Nanoseconds in int64 reach 1677-09-21T00:12:43.145224192Z .. 2262-04-11T23:47:16.854775807Z.
    // Check the instant in whole seconds (which cannot overflow) after the offset is applied: a
    // day's margin on the date alone is not enough with offsets up to ±23:59.
    long long const secs = day_count * 86400LL + h * 3600LL + (mi - offset_min) * 60LL + sec;
    constexpr long long min_secs = INT64_MIN / 1'000'000'000;     // whole seconds, fraction >= 0
    constexpr long long max_secs = INT64_MAX / 1'000'000'000 - 1; // room for the fraction
    if (secs < min_secs || secs > max_secs)
        return conversion_error{
            "an RFC 3339 date-time between 1677-09-21T00:12:44Z and 2262-04-11T23:47:15Z"};
    return timestamp{seconds{secs}} + nanoseconds{ns};
}

} // namespace payouts
