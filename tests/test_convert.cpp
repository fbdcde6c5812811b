// The named field converters of convert.hpp: decimals, integers, text, currency codes, RFC 3339
// timestamps; and the money arithmetic and exponent tables they feed.
#include <payouts/convert.hpp>
#include <payouts/payout.hpp>
#include <payouts/providers/checkout.hpp>
#include <payouts/providers/druo.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <string_view>

using namespace payouts;
using namespace std::chrono;
using namespace std::literals;

namespace {

// Exact comparison of a parsed decimal: units and scale both, not just the value.
bool is_decimal(parsed<decimal> const& d, std::int64_t units, int scale) {
    return d.has_value() && d->units == units && d->scale == scale;
}

timestamp at(sys_days day, nanoseconds since_midnight) {
    return timestamp{day} + since_midnight;
}

} // namespace

TEST_CASE("parse_decimal keeps the exact digits and the scale") {
    CHECK(is_decimal(parse_decimal("0"), 0, 0));
    CHECK(is_decimal(parse_decimal("-0.5"), -5, 1));
    CHECK(is_decimal(parse_decimal("4250.00"), 425000, 2));
    CHECK(is_decimal(parse_decimal("10.01"), 1001, 2));
    CHECK(is_decimal(parse_decimal("100"), 100, 0));
    CHECK(is_decimal(parse_decimal("007.50"), 750, 2));
    CHECK(is_decimal(parse_decimal("0.0001"), 1, 4));
    CHECK(is_decimal(parse_decimal("9223372036854775807"), INT64_MAX, 0));
    CHECK(is_decimal(parse_decimal("-9223372036854775808"), INT64_MIN, 0));
    CHECK(is_decimal(parse_decimal("0.123456789012345678"), 123456789012345678, 18));
}

TEST_CASE("parse_decimal applies exponents exactly") {
    CHECK(is_decimal(parse_decimal("1.5e2"), 150, 0));
    CHECK(is_decimal(parse_decimal("1E-2"), 1, 2));
    CHECK(is_decimal(parse_decimal("1e+2"), 100, 0));
    CHECK(is_decimal(parse_decimal("2.50E1"), 250, 1));
    CHECK(is_decimal(parse_decimal("-12.5e-3"), -125, 4));
    CHECK(is_decimal(parse_decimal("0e400"), 0, 0));
    CHECK(is_decimal(parse_decimal("1e18"), 1000000000000000000, 0));
    CHECK(is_decimal(parse_decimal("1e-18"), 1, 18));
}

TEST_CASE("parse_decimal refuses what is not a decimal or does not fit") {
    for (std::string_view bad : {".5", "5.", "+1", "NaN", "Infinity", "-Infinity", " 1", "1 ", "",
                                 "-", "1e", "1e+", "1.2.3", "0x10", "1,5", "--1", "1e2.5"}) {
        CAPTURE(bad);
        auto const d = parse_decimal(bad);
        REQUIRE_FALSE(d.has_value());
        CHECK(d.error().expected == "a decimal number");
    }
    for (std::string_view big :
         {"9223372036854775808", "9999999999999999999", "-9223372036854775809",
          "12345678901234567890", "1e400", "1e19", "0.0000000000000000001", "1e-19",
          "99999999999999999999999", "9.3e18"}) {
        CAPTURE(big);
        auto const d = parse_decimal(big);
        REQUIRE_FALSE(d.has_value());
        CHECK(d.error().expected == "a decimal number within 64 bits and 18 fraction digits");
    }
}

TEST_CASE("parse_decimal is usable at compile time") {
    static_assert(parse_decimal("4250.00").value() == decimal{425000, 2});
    static_assert(!parse_decimal("1e400").has_value());
}

TEST_CASE("parse_int64 takes an optional minus and 1 to 19 digits") {
    CHECK(parse_int64("0").value() == 0);
    CHECK(parse_int64("-0").value() == 0);
    CHECK(parse_int64("20000").value() == 20000);
    CHECK(parse_int64("20400").value() == 20400);
    CHECK(parse_int64("007").value() == 7);
    CHECK(parse_int64("-42").value() == -42);
    CHECK(parse_int64("9223372036854775807").value() == INT64_MAX);
    CHECK(parse_int64("-9223372036854775808").value() == INT64_MIN);
    static_assert(parse_int64("-9223372036854775808").value() == INT64_MIN);
    for (std::string_view bad :
         {"9223372036854775808", "9999999999999999999", "-9223372036854775809",
          "18446744073709551616", "99999999999999999999", "-", "", "+1", "1.0", "1e2", " 1", "1 ",
          "0x1", "1-", "--1", "20000.00", "null"}) {
        CAPTURE(bad);
        auto const v = parse_int64(bad);
        REQUIRE_FALSE(v.has_value());
        CHECK(v.error().expected == "an integer within 64 bits");
    }
}

TEST_CASE("widen adds fraction digits exactly and refuses to overflow") {
    CHECK(widen(decimal{100, 0}, 2).value() == decimal{10000, 2});
    CHECK(widen(decimal{1001, 2}, 2).value() == decimal{1001, 2});
    CHECK(widen(decimal{10015, 3}, 2).value() == decimal{10015, 3}); // never narrows
    CHECK(widen(decimal{-5, 1}, 3).value() == decimal{-500, 3});
    CHECK(widen(decimal{7, 0}, 0).value() == decimal{7, 0});
    CHECK(widen(decimal{INT64_MAX / 100, 0}, 2).value() == decimal{INT64_MAX / 100 * 100, 2});
    CHECK_FALSE(widen(decimal{INT64_MAX / 10 + 1, 0}, 1).has_value());
    CHECK_FALSE(widen(decimal{INT64_MIN / 10 - 1, 0}, 1).has_value());
    CHECK_FALSE(widen(decimal{INT64_MAX, 0}, 2).has_value());
    CHECK(widen(decimal{INT64_MAX, 0}, 2).error().expected ==
          "an amount within 64 bits at the currency's scale");
}

TEST_CASE("is_absent_text: the empty string and the string \"null\"") {
    CHECK(is_absent_text(""));
    CHECK(is_absent_text("null"));
    CHECK_FALSE(is_absent_text("NULL"));
    CHECK_FALSE(is_absent_text("Null"));
    CHECK_FALSE(is_absent_text(" "));
    CHECK_FALSE(is_absent_text("nul"));
    CHECK_FALSE(is_absent_text("null "));
    CHECK_FALSE(is_absent_text("ABC123"));
}

TEST_CASE("is_currency_code: exactly three ASCII capital letters") {
    CHECK(is_currency_code("USD"));
    CHECK(is_currency_code("BRL"));
    CHECK(is_currency_code("XYZ"));
    CHECK_FALSE(is_currency_code("usd"));
    CHECK_FALSE(is_currency_code("Usd"));
    CHECK_FALSE(is_currency_code("US"));
    CHECK_FALSE(is_currency_code("USDT"));
    CHECK_FALSE(is_currency_code(""));
    CHECK_FALSE(is_currency_code("U$D"));
    CHECK_FALSE(is_currency_code("840"));
    CHECK_FALSE(is_currency_code("US "));
}

TEST_CASE("parse_rfc3339: dates, Feb 29 and the calendar") {
    CHECK(parse_rfc3339("2024-02-29T00:00:00Z").value() == at(2024y / February / 29, 0ns));
    CHECK(parse_rfc3339("2000-02-29T12:00:00Z").value() == at(2000y / February / 29, 12h));
    auto const feb29_2023 = parse_rfc3339("2023-02-29T00:00:00Z");
    REQUIRE_FALSE(feb29_2023.has_value());
    CHECK(feb29_2023.error().expected == "an RFC 3339 date-time with a valid calendar date");
    CHECK_FALSE(parse_rfc3339("1900-02-29T00:00:00Z").has_value());
    CHECK_FALSE(parse_rfc3339("2024-13-01T00:00:00Z").has_value());
    CHECK_FALSE(parse_rfc3339("2024-00-10T00:00:00Z").has_value());
    CHECK_FALSE(parse_rfc3339("2024-01-32T00:00:00Z").has_value());
    CHECK_FALSE(parse_rfc3339("2024-04-31T00:00:00Z").has_value());
    CHECK_FALSE(parse_rfc3339("2024-01-00T00:00:00Z").has_value());
    CHECK(parse_rfc3339("2024-12-31T23:59:59Z").value() ==
          at(2024y / December / 31, 23h + 59min + 59s));
}

TEST_CASE("parse_rfc3339: times of day") {
    CHECK_FALSE(parse_rfc3339("2024-01-01T24:00:00Z").has_value());
    CHECK_FALSE(parse_rfc3339("2024-01-01T23:60:00Z").has_value());
    CHECK_FALSE(parse_rfc3339("2024-12-31T23:59:60Z").has_value()); // leap seconds refused
    CHECK_FALSE(parse_rfc3339("2024-01-01T1:00:00Z").has_value());
    CHECK(parse_rfc3339("2024-01-01T00:00:00Z").value() == at(2024y / January / 1, 0ns));
}

TEST_CASE("parse_rfc3339: 0 to 9 fraction digits, exactly") {
    sys_days const d = 2024y / May / 27;
    auto const base = 14h + 49min + 10s;
    CHECK(parse_rfc3339("2024-05-27T14:49:10Z").value() == at(d, base));
    CHECK(parse_rfc3339("2024-05-27T14:49:10.2Z").value() == at(d, base + 200ms));
    CHECK(parse_rfc3339("2024-05-27T14:49:10.21Z").value() == at(d, base + 210ms));
    CHECK(parse_rfc3339("2024-05-27T14:49:10.215Z").value() == at(d, base + 215ms));
    CHECK(parse_rfc3339("2024-05-27T14:49:10.2158Z").value() == at(d, base + 215800us));
    CHECK(parse_rfc3339("2024-05-27T14:49:10.21580Z").value() == at(d, base + 215800us));
    CHECK(parse_rfc3339("2024-05-27T14:49:10.215801Z").value() == at(d, base + 215801us));
    CHECK(parse_rfc3339("2024-05-27T14:49:10.2158014Z").value() == at(d, base + 215801400ns));
    CHECK(parse_rfc3339("2024-05-27T14:49:10.21580143Z").value() == at(d, base + 215801430ns));
    CHECK(parse_rfc3339("2024-05-27T14:49:10.215801437Z").value() == at(d, base + 215801437ns));
    CHECK(parse_rfc3339("2024-05-27T14:49:10.000000001Z").value() == at(d, base + 1ns));
    auto const ten = parse_rfc3339("2024-05-27T14:49:10.2158014370Z");
    REQUIRE_FALSE(ten.has_value());
    CHECK(ten.error().expected == "an RFC 3339 date-time with at most 9 fraction digits");
    CHECK_FALSE(parse_rfc3339("2024-05-27T14:49:10.Z").has_value());
    CHECK(format_rfc3339(parse_rfc3339("2024-05-27T14:49:10.215801437Z").value()) ==
          "2024-05-27T14:49:10.215801437Z");
}

TEST_CASE("parse_rfc3339: Z, z and numeric offsets, converted to UTC") {
    sys_days const d = 2024y / May / 27;
    CHECK(parse_rfc3339("2024-05-27T12:00:00z").value() == at(d, 12h));
    CHECK(parse_rfc3339("2024-05-27t12:00:00Z").value() == at(d, 12h));
    CHECK(parse_rfc3339("2024-05-27T12:00:00+00:00").value() == at(d, 12h));
    CHECK(parse_rfc3339("2024-05-27T12:00:00-00:00").value() == at(d, 12h));
    CHECK(parse_rfc3339("2024-05-27T12:00:00+05:30").value() == at(d, 6h + 30min));
    CHECK(parse_rfc3339("2024-05-27T12:00:00-08:00").value() == at(d, 20h));
    // Crossing midnight both ways, with a fraction kept.
    CHECK(parse_rfc3339("2024-05-27T02:15:00.5+05:30").value() ==
          at(2024y / May / 26, 20h + 45min + 500ms));
    CHECK(parse_rfc3339("2024-12-31T20:00:00-08:00").value() == at(2025y / January / 1, 4h));
    CHECK(parse_rfc3339("2022-06-27T14:09:57.6164691+00:00").value() ==
          at(2022y / June / 27, 14h + 9min + 57s + 616469100ns));
    for (std::string_view bad :
         {"2024-05-27T12:00:00+24:00", "2024-05-27T12:00:00+05:60", "2024-05-27T12:00:00+0530",
          "2024-05-27T12:00:00+05", "2024-05-27T12:00:00+5:30", "2024-05-27T12:00:00 Z"}) {
        CAPTURE(bad);
        CHECK_FALSE(parse_rfc3339(bad).has_value());
    }
}

TEST_CASE("parse_rfc3339: zone-less times only with zoneless_is_utc") {
    auto const strict = parse_rfc3339("2021-11-15T23:23:38");
    REQUIRE_FALSE(strict.has_value());
    CHECK(strict.error().expected == "an RFC 3339 date-time with a zone (Z or ±hh:mm)");
    CHECK(parse_rfc3339("2021-11-15T23:23:38", time_format::zoneless_is_utc).value() ==
          at(2021y / November / 15, 23h + 23min + 38s));
    CHECK(parse_rfc3339("2021-11-15T23:23:38.123", time_format::zoneless_is_utc).value() ==
          at(2021y / November / 15, 23h + 23min + 38s + 123ms));
    // A zone, when present, still counts.
    CHECK(parse_rfc3339("2021-11-15T23:23:38+01:00", time_format::zoneless_is_utc).value() ==
          at(2021y / November / 15, 22h + 23min + 38s));
    CHECK_FALSE(parse_rfc3339("2021-11-15T23:23", time_format::zoneless_is_utc).has_value());
}

TEST_CASE("parse_rfc3339: seconds optional only with seconds_optional") {
    CHECK_FALSE(parse_rfc3339("2026-04-05T09:00Z").has_value());
    CHECK(parse_rfc3339("2026-04-05T09:00Z", time_format::seconds_optional).value() ==
          at(2026y / April / 5, 9h));
    CHECK(parse_rfc3339("2026-04-05T09:00:30.000Z", time_format::seconds_optional).value() ==
          at(2026y / April / 5, 9h + 30s));
    CHECK_FALSE(parse_rfc3339("2026-04-05T09:00.5Z", time_format::seconds_optional).has_value());
    CHECK_FALSE(parse_rfc3339("2026-04-05T09:00", time_format::seconds_optional).has_value());
    CHECK(parse_rfc3339("2026-04-05T09:00",
                        time_format::seconds_optional | time_format::zoneless_is_utc)
              .value() == at(2026y / April / 5, 9h));
}

TEST_CASE("parse_rfc3339: only dates a nanosecond timestamp can hold") {
    // Go's zero time, far-future sentinels and pre-1677 dates would overflow int64 nanoseconds.
    for (std::string_view far :
         {"0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "1600-01-01T00:00:00Z",
          "1677-09-21T00:00:00Z", "2262-04-11T23:47:16Z", "3021-01-01T00:00:00Z"}) {
        CAPTURE(far);
        auto const t = parse_rfc3339(far);
        REQUIRE_FALSE(t.has_value());
        CHECK(t.error().expected.starts_with("an RFC 3339 date-time between"));
    }
    // The edges, exactly, also when the offset carries the instant across them.
    CHECK(parse_rfc3339("1677-09-21T00:12:44Z").value().time_since_epoch().count() ==
          -9223372036000000000);
    CHECK(parse_rfc3339("2262-04-11T23:47:15.999999999Z").value().time_since_epoch().count() ==
          9223372035999999999);
    CHECK(parse_rfc3339("2262-04-11T23:47:15Z").value() ==
          parse_rfc3339("2262-04-12T05:17:15+05:30").value());
    for (std::string_view beyond :
         {"1677-09-21T00:12:43Z", "2262-04-11T23:47:16Z", "2262-04-10T23:59:59.999999999-23:59",
          "1677-09-22T00:00:00+23:59", "2262-04-11T23:00:00-01:00"}) {
        CAPTURE(beyond);
        auto const t = parse_rfc3339(beyond);
        REQUIRE_FALSE(t.has_value());
        CHECK(t.error().expected == "an RFC 3339 date-time between 1677-09-21T00:12:44Z and "
                                    "2262-04-11T23:47:15Z");
    }
    CHECK(parse_rfc3339("1677-09-23T00:00:00Z").value() == at(1677y / September / 23, 0ns));
    CHECK(parse_rfc3339("2262-04-10T23:59:59.999999999+23:59").value() ==
          at(2262y / April / 10, 59s + 999999999ns));
    CHECK(parse_rfc3339("1970-01-01T00:00:00Z").value() == timestamp{});
    CHECK(parse_rfc3339("1969-12-31T23:59:59.999999999Z").value() == timestamp{} - 1ns);
}

TEST_CASE("parse_rfc3339: garbage and trailing text") {
    for (std::string_view bad :
         {"string", "", "2024-05-27", "2024-05-27T", "2024-05-27T14:49:10Zjunk",
          "2024-05-27T14:49:10Z ", " 2024-05-27T14:49:10Z", "2024-05-27 14:49:10Z",
          "2024/05/27T14:49:10Z", "24-05-27T14:49:10Z", "2024-5-27T14:49:10Z",
          "2024-05-27T14:49:10+01:00:00", "1716821350", "2024-05-27T14:49:10.-1Z"}) {
        CAPTURE(bad);
        auto const t = parse_rfc3339(bad, time_format::zoneless_is_utc);
        REQUIRE_FALSE(t.has_value());
        CHECK(t.error().expected.starts_with("an RFC 3339 date-time"));
    }
}

TEST_CASE("money::minor_units with 0, 2 and 3 digit currencies") {
    CHECK(money{1500, 0, "JPY"}.minor_units().value() == 1500);
    CHECK(money{150000, 2, "JPY"}.minor_units().value() == 1500);
    CHECK(money{150050, 2, "JPY"}.minor_units().error() == errc::inexact_amount);
    CHECK(money{1001, 2, "USD"}.minor_units().value() == 1001);
    CHECK(money{10, 0, "USD"}.minor_units().value() == 1000);
    CHECK(money{10015, 3, "USD"}.minor_units().error() == errc::inexact_amount);
    CHECK(money{10010, 3, "USD"}.minor_units().value() == 1001);
    CHECK(money{1234, 3, "KWD"}.minor_units().value() == 1234);
    CHECK(money{1234, 2, "KWD"}.minor_units().value() == 12340);
    CHECK(money{12345, 4, "KWD"}.minor_units().error() == errc::inexact_amount);
    CHECK(money{12340, 4, "KWD"}.minor_units().value() == 1234);
    CHECK(money{INT64_MAX / 10 + 1, 2, "KWD"}.minor_units().error() == errc::amount_out_of_range);
    CHECK(money{-5, 2, "USD"}.minor_units().value() == -5);
}

TEST_CASE("Checkout's amount exponents differ from ISO 4217 for CLP") {
    CHECK(Checkout::amount_exponent("CLP") == 2);
    CHECK(iso4217_exponent("CLP") == 0);
    CHECK(Checkout::amount_exponent("JPY") == 0);
    CHECK(iso4217_exponent("JPY") == 0);
    CHECK(Checkout::amount_exponent("KWD") == 3);
    CHECK(iso4217_exponent("KWD") == 3);
    CHECK(Checkout::amount_exponent("GBP") == 2);
    CHECK(Checkout::amount_exponent("CLF") == 0);
    CHECK(iso4217_exponent("CLF") == 4);
    CHECK(Druo::amount_exponent("CLP") == 0);
}

TEST_CASE("iso4217_exponent knows every currency whose exponent is not 2") {
    // ISO 4217's list (amendment 178): exponent 0, 3 and 4; everything else is 2.
    for (std::string_view c : {"BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF",
                               "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF"}) {
        CAPTURE(c);
        CHECK(iso4217_exponent(c) == 0);
    }
    for (std::string_view c : {"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"}) {
        CAPTURE(c);
        CHECK(iso4217_exponent(c) == 3);
    }
    CHECK(iso4217_exponent("CLF") == 4);
    CHECK(iso4217_exponent("UYW") == 4);
    for (std::string_view c : {"USD", "EUR", "BRL", "MXN", "COP", "XXX", "ZZZ"}) {
        CAPTURE(c);
        CHECK(iso4217_exponent(c) == 2);
    }
    // Not three letters, or case differs: the default, never a neighbour's exponent.
    CHECK(iso4217_exponent("") == 2);
    CHECK(iso4217_exponent("JP") == 2);
    CHECK(iso4217_exponent("JPYY") == 2);
    CHECK(iso4217_exponent("jpy") == 2);
    static_assert(iso4217_exponent("JPY") == 0 && iso4217_exponent("KWD") == 3);
}
