// The unified model: statuses, money arithmetic, timestamps, JSON output.
#include <payouts/payouts.hpp>

#include <boost/json/serialize.hpp>
#include <boost/json/value_from.hpp>
#include <doctest/doctest.h>

using namespace payouts;

TEST_CASE("to_string names every status as the enum does") {
    CHECK(to_string(payout_status::pending) == "pending");
    CHECK(to_string(payout_status::processing) == "processing");
    CHECK(to_string(payout_status::on_hold) == "on_hold");
    CHECK(to_string(payout_status::paid) == "paid");
    CHECK(to_string(payout_status::failed) == "failed");
    CHECK(to_string(payout_status::cancelled) == "cancelled");
    CHECK(to_string(payout_status::returned) == "returned");
    CHECK(to_string(payout_status::unknown) == "unknown");
    CHECK(to_string(static_cast<payout_status>(42)) == "unknown");
}

TEST_CASE("ISO 4217 exponents") {
    CHECK(iso4217_exponent("USD") == 2);
    CHECK(iso4217_exponent("JPY") == 0);
    CHECK(iso4217_exponent("KRW") == 0);
    CHECK(iso4217_exponent("CLP") == 0);
    CHECK(iso4217_exponent("BHD") == 3);
    CHECK(iso4217_exponent("KWD") == 3);
    CHECK(iso4217_exponent("CLF") == 4);
    CHECK(iso4217_exponent("XYZ") == 2);
}

TEST_CASE("money::minor_units uses the currency's ISO exponent and refuses to lose digits") {
    CHECK(money{1001, 2, "BRL"}.minor_units().value() == 1001);
    CHECK(money{100, 0, "USD"}.minor_units().value() == 10000);
    CHECK(money{1500, 0, "JPY"}.minor_units().value() == 1500);
    CHECK(money{150000, 2, "JPY"}.minor_units().value() == 1500);
    CHECK(money{150050, 2, "JPY"}.minor_units().error() == errc::inexact_amount);
    CHECK(money{1234, 3, "KWD"}.minor_units().value() == 1234);
    CHECK(money{1234, 2, "KWD"}.minor_units().value() == 12340);
    CHECK(money{10015, 3, "BRL"}.minor_units().error() == errc::inexact_amount);
    CHECK(money{10010, 3, "BRL"}.minor_units().value() == 1001);
    CHECK(money{INT64_MAX, 0, "USD"}.minor_units().error() == errc::amount_out_of_range);
    CHECK(money{-250, 2, "EUR"}.minor_units().value() == -250);
}

TEST_CASE("money::minor_units at any scale: no overflow, no division by zero") {
    // More fraction digits than 18 past the exponent: only zero is exact.
    CHECK(money{1, 21, "USD"}.minor_units().error() == errc::inexact_amount);
    CHECK(money{1, 66, "USD"}.minor_units().error() == errc::inexact_amount);
    CHECK(money{-1, 127, "JPY"}.minor_units().error() == errc::inexact_amount);
    CHECK(money{INT64_MAX, 127, "USD"}.minor_units().error() == errc::inexact_amount);
    CHECK(money{INT64_MIN, 21, "USD"}.minor_units().error() == errc::inexact_amount);
    CHECK(money{0, 66, "USD"}.minor_units().value() == 0);
    CHECK(money{0, 127, "KWD"}.minor_units().value() == 0);
    // 18 digits past the exponent: the largest exact divisor.
    CHECK(money{1'000'000'000'000'000'000, 20, "USD"}.minor_units().value() == 1);
    CHECK(money{-2'000'000'000'000'000'000, 18, "JPY"}.minor_units().value() == -2);
    CHECK(money{1'000'000'000'000'000'001, 20, "USD"}.minor_units().error() ==
          errc::inexact_amount);
    CHECK(money{INT64_MIN, 20, "USD"}.minor_units().error() == errc::inexact_amount);
    CHECK(money{INT64_MIN, 2, "USD"}.minor_units().value() == INT64_MIN);
    CHECK(money{INT64_MAX, 2, "USD"}.minor_units().value() == INT64_MAX);
    CHECK(money{INT64_MIN, 3, "USD"}.minor_units().error() == errc::inexact_amount);
    CHECK(money{-9'223'372'036'854'775'800, 3, "USD"}.minor_units().value() ==
          -922'337'203'685'477'580);
    // Negative scales multiply exactly, or say the result does not fit.
    CHECK(money{1, -2, "USD"}.minor_units().value() == 10000);
    CHECK(money{-7, -3, "JPY"}.minor_units().value() == -7000);
    CHECK(money{9, -16, "USD"}.minor_units().value() == 9'000'000'000'000'000'000);
    CHECK(money{1, -17, "USD"}.minor_units().error() == errc::amount_out_of_range);
    CHECK(money{1, -128, "USD"}.minor_units().error() == errc::amount_out_of_range);
    CHECK(money{INT64_MIN, -1, "JPY"}.minor_units().error() == errc::amount_out_of_range);
    CHECK(money{INT64_MAX, 1, "USD"}.minor_units().error() == errc::amount_out_of_range);
    CHECK(money{-922'337'203'685'477'580, 1, "USD"}.minor_units().value() ==
          -9'223'372'036'854'775'800);
    CHECK(money{INT64_MIN, 0, "JPY"}.minor_units().value() == INT64_MIN);
    CHECK(money{0, -128, "USD"}.minor_units().value() == 0);
}

TEST_CASE("money compares values, not representations") {
    CHECK(money{10000, 2, "USD"} == money{100, 0, "USD"});
    CHECK(money{1001, 2, "BRL"} == money{10010, 3, "BRL"});
    CHECK_FALSE(money{1001, 2, "BRL"} == money{1001, 2, "USD"});
    CHECK_FALSE(money{1001, 2, "BRL"} == money{1002, 2, "BRL"});
}

TEST_CASE("money equality is exact for every scale, negative ones included") {
    CHECK(money{1, -2, "USD"} == money{100, 0, "USD"});
    CHECK(money{100, 0, "USD"} == money{1, -2, "USD"});
    CHECK(money{1, -2, "USD"} == money{10000, 2, "USD"});
    CHECK(money{10, -1, "USD"} == money{1, -2, "USD"});
    CHECK_FALSE(money{1, -2, "USD"} == money{10, 0, "USD"});
    CHECK_FALSE(money{1, -2, "USD"} == money{1, -2, "EUR"});
    CHECK_FALSE(money{-1, -2, "USD"} == money{100, 0, "USD"});
    // Zero is zero at any scale, and never equals a non-zero value.
    CHECK(money{0, -100, "USD"} == money{0, 120, "USD"});
    CHECK_FALSE(money{0, 0, "USD"} == money{1, 127, "USD"});
    // Far apart scales and the int64 edges: no overflow on the way.
    CHECK(money{INT64_MIN, 0, "USD"} == money{INT64_MIN, 0, "USD"});
    CHECK_FALSE(money{INT64_MIN, 0, "USD"} == money{INT64_MAX, 0, "USD"});
    CHECK(money{1, -127, "USD"} == money{1'000'000'000'000'000'000, -109, "USD"});
    CHECK_FALSE(money{1, -127, "USD"} == money{1, 127, "USD"});
    CHECK(money{-9'000'000'000'000'000'000, 127, "USD"} == money{-9, 109, "USD"});
    CHECK_FALSE(money{INT64_MAX, -128, "USD"} == money{INT64_MAX, 127, "USD"});
    CHECK(money{5, 1, "USD"} == money{50, 2, "USD"});
}

TEST_CASE("money as decimal text") {
    CHECK(money{1001, 2, "BRL"}.to_decimal_string() == "10.01");
    CHECK(money{5, 3, "KWD"}.to_decimal_string() == "0.005");
    CHECK(money{-5, 2, "EUR"}.to_decimal_string() == "-0.05");
    CHECK(money{0, 2, "EUR"}.to_decimal_string() == "0.00");
    CHECK(money{1500, 0, "JPY"}.to_decimal_string() == "1500");
    CHECK(money{INT64_MIN, 0, "JPY"}.to_decimal_string() == "-9223372036854775808");
}

TEST_CASE("format_rfc3339 keeps every digit of precision") {
    using namespace std::chrono;
    timestamp const base = sys_days{2024y / May / 27} + 14h + 49min + 10s;
    CHECK(format_rfc3339(base) == "2024-05-27T14:49:10Z");
    CHECK(format_rfc3339(base + 766ms) == "2024-05-27T14:49:10.766Z");
    CHECK(format_rfc3339(base + 215801us) == "2024-05-27T14:49:10.215801Z");
    CHECK(format_rfc3339(base + 215801437ns) == "2024-05-27T14:49:10.215801437Z");
    CHECK(format_rfc3339(timestamp{sys_days{2024y / February / 29}}) == "2024-02-29T00:00:00Z");
}

TEST_CASE("value_from(payout) writes every described member") {
    payout p;
    p.provider = "yuno";
    p.id = "abc";
    p.status = payout_status::on_hold;
    p.provider_status = "PENDING";
    p.amount = money{1001, 2, "BRL"};
    p.created_at = timestamp{std::chrono::sys_days{std::chrono::year{2024} / 5 / 27}};
    auto const jv = boost::json::value_from(p);
    auto const& o = jv.as_object();
    CHECK(o.size() == 11);
    CHECK(o.at("provider") == "yuno");
    CHECK(o.at("status") == "on_hold");
    CHECK(o.at("provider_status") == "PENDING");
    CHECK(o.at("amount").at("value") == "10.01");
    CHECK(o.at("amount").at("currency") == "BRL");
    CHECK(o.at("amount").at("units") == 1001);
    CHECK(o.at("amount").at("scale") == 2);
    CHECK(o.at("created_at") == "2024-05-27T00:00:00Z");
    CHECK(o.at("updated_at").is_null());
    CHECK(o.at("reference").is_null());
}

TEST_CASE("errc and condition classify codes") {
    error_code const ec = errc::rate_limited;
    CHECK(ec == condition::retryable);
    CHECK(error_code(errc::provider_unavailable) == condition::retryable);
    CHECK(error_code(errc::not_found) != condition::retryable);
    CHECK(error_code(errc::not_found) == condition::not_found);
    CHECK(error_code(errc::unauthorized) == condition::auth);
    CHECK(error_code(errc::missing_credentials) == condition::auth);
    CHECK(error_code(errc::invalid_id) == condition::invalid_input);
    CHECK(error_code(boost::asio::error::connection_reset) == condition::retryable);
    CHECK(error_code(boost::beast::error::timeout) == condition::retryable);
    CHECK(error_code(boost::asio::ssl::error::stream_truncated) == condition::retryable);
    CHECK(error_code(boost::asio::error::connection_reset) != condition::auth);
    CHECK(std::string(ec.category().name()) == "payouts");
    CHECK(ec.message() == "rate limited (HTTP 429)");
}
