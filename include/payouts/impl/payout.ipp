// Inline definitions for payout.hpp.
#pragma once

#include <payouts/error.hpp>

#include <cstdio>
#include <utility>

namespace payouts {
namespace detail {

// 10^n for n in [0, 18]; callers keep n in range.
constexpr std::int64_t pow10(int n) noexcept {
    std::int64_t r = 1;
    while (n-- > 0)
        r *= 10;
    return r;
}

} // namespace detail

inline boost::system::result<std::int64_t> money::minor_units() const {
    int const exp = iso4217_exponent(currency);
    if (scale == exp || units == 0) return units;
    if (scale > exp) {
        // |units| < 10^19: beyond 18 digits nothing but 0 (handled above) divides exactly.
        int const down = scale - exp;
        if (down > 18) return make_error_code(errc::inexact_amount);
        std::int64_t const div = detail::pow10(down);
        if (units % div != 0) return make_error_code(errc::inexact_amount);
        return units / div;
    }
    // A small or negative scale is widened exactly; any non-zero value times 10^19 overflows.
    int const up = exp - scale;
    if (up > 18) return make_error_code(errc::amount_out_of_range);
    std::int64_t r;
    if (__builtin_mul_overflow(units, detail::pow10(up), &r))
        return make_error_code(errc::amount_out_of_range);
    return r;
}

inline std::string money::to_decimal_string() const {
    // Work on the magnitude as unsigned so INT64_MIN prints correctly.
    bool const neg = units < 0;
    std::uint64_t mag =
        neg ? 0 - static_cast<std::uint64_t>(units) : static_cast<std::uint64_t>(units);
    std::string digits = std::to_string(mag);
    if (scale <= 0) {
        if (mag != 0) digits.append(static_cast<std::size_t>(-scale), '0');
        return neg ? "-" + digits : digits;
    }
    auto const s = static_cast<std::size_t>(scale);
    if (digits.size() <= s) digits.insert(0, s + 1 - digits.size(), '0');
    digits.insert(digits.size() - s, 1, '.');
    return neg ? "-" + digits : digits;
}

inline bool operator==(money const& a, money const& b) noexcept {
    if (a.currency != b.currency) return false;
    // A non-zero value has one form without trailing zeros in `units` (the scale, of any sign,
    // taking them), so comparing those forms is exact and never multiplies; zero is zero at
    // any scale.
    auto canon = [](std::int64_t u, int sc) {
        if (u == 0) return std::pair{u, 0};
        while (u % 10 == 0) {
            u /= 10;
            --sc;
        }
        return std::pair{u, sc};
    };
    return canon(a.units, a.scale) == canon(b.units, b.scale);
}

inline std::string format_rfc3339(timestamp t) {
    using namespace std::chrono;
    auto const day = floor<days>(t);
    year_month_day const ymd{day};
    hh_mm_ss<nanoseconds> const tod{t - day};
    char buf[48];
    int n = std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d", int(ymd.year()),
                          unsigned(ymd.month()), unsigned(ymd.day()), int(tod.hours().count()),
                          int(tod.minutes().count()), int(tod.seconds().count()));
    auto ns = static_cast<long>(tod.subseconds().count());
    if (ns != 0) {
        int digits = 9;
        while (ns % 1000 == 0) {
            ns /= 1000;
            digits -= 3;
        }
        n += std::snprintf(buf + n, sizeof buf - std::size_t(n), ".%0*ld", digits, ns);
    }
    buf[n++] = 'Z';
    return std::string(buf, std::size_t(n));
}

} // namespace payouts
