// The provider contract: one test template, run for every provider. Each provider's expected
// status mapping is written out below from the providers' documented status lists (the README's
// status table), never read from the provider's own table.
//
// Adding a provider: write its sample<> specialisation and add its type to the list of
// TEST_CASE_TEMPLATE("the provider contract", ...) at the bottom.
#include <payouts/decode.hpp>
#include <payouts/diagnostics.hpp>
#include <payouts/error.hpp>
#include <payouts/payout.hpp>
#include <payouts/provider.hpp>
#include <payouts/providers/checkout.hpp>
#include <payouts/providers/druo.hpp>
#include <payouts/providers/introw.hpp>
#include <payouts/providers/truust.hpp>
#include <payouts/providers/yuno.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

using namespace payouts;
using namespace std::chrono;
using namespace std::literals;
using st = payout_status;

namespace {

/// One line of the documented mapping table: wire status (+ the latest Yuno transaction's
/// response_code, when it matters) → unified status.
struct expected_row {
    std::string_view wire;
    std::string_view qualifier;
    payout_status unified;
};

struct expected_money {
    std::int64_t units;
    int scale;
    std::string_view currency;
};

/// Per provider: a Get-Payout body with a given id and status, what it must decode to, and an
/// error body in the provider's shape.
template <class P>
struct sample;

template <>
struct sample<Truust> {
    static constexpr std::array table{
        expected_row{"CREATED", {}, st::pending},  expected_row{"CONFIRMED", {}, st::paid},
        expected_row{"DENIED", {}, st::failed},    expected_row{"CANCELLED", {}, st::cancelled},
        expected_row{"CANCELED", {}, st::unknown}, // DRUO's spelling is not Truust's
    };
    static constexpr std::string_view id_json = "4242";
    static constexpr std::string_view id = "4242";
    static constexpr std::optional<expected_money> amount{};
    static constexpr std::string_view created = "2026-03-02T09:15:00+01:00";
    static constexpr timestamp created_utc = sys_days{2026y / March / 2} + 8h + 15min;
    static std::optional<std::string_view> reason(payout_status) { return std::nullopt; }
    static std::string body(std::string_view id_json, std::string_view status,
                            std::string_view /*qualifier*/) {
        return R"({"data":{"id":)" + std::string(id_json) +
               R"(,"self":"/2.0/payouts/4242","reference":"ORDER-77","type":"WALLET","status":")" +
               std::string(status) + R"(","provider":null,"created_at":")" + std::string(created) +
               R"(","confirmed_at":null,"denied_at":null,"connections":{"order":"/2.0/orders/4242"}}})";
    }
    static constexpr std::string_view error_body = R"({"message":"Unauthenticated."})";
    static constexpr std::string_view error_code = "";
    static constexpr std::string_view error_message = "Unauthenticated.";
};

template <>
struct sample<Druo> {
    static constexpr std::array table{
        expected_row{"CREATED", {}, st::pending},       expected_row{"PENDING", {}, st::pending},
        expected_row{"PROCESSING", {}, st::processing}, expected_row{"SUCCESSFUL", {}, st::paid},
        expected_row{"FAILED", {}, st::failed},         expected_row{"CANCELED", {}, st::cancelled},
        expected_row{"REVERSED", {}, st::returned},     expected_row{"REFUNDED", {}, st::returned},
        expected_row{"DISPUTED", {}, st::on_hold},      expected_row{"CANCELLED", {}, st::unknown},
    };
    static constexpr std::string_view id_json = R"("trx_5b1f0c7e-2d3a-4b8e-9f10-1a2b3c4d5e6f")";
    static constexpr std::string_view id = "trx_5b1f0c7e-2d3a-4b8e-9f10-1a2b3c4d5e6f";
    static constexpr std::optional<expected_money> amount{{12345, 3, "KWD"}};
    static constexpr std::string_view created = "2021-11-15T23:23:38";
    static constexpr timestamp created_utc = sys_days{2021y / November / 15} + 23h + 23min + 38s;
    // DRUO reports decline_reason whatever the status.
    static std::optional<std::string_view> reason(payout_status) { return "INSUFFICIENT_FUNDS"; }
    static std::string body(std::string_view id_json, std::string_view status,
                            std::string_view /*qualifier*/) {
        return R"({"payout":{"uuid":)" + std::string(id_json) +
               R"(,"code":"TICJHVHF85M","status":")" + std::string(status) +
               R"(","remarks":null,"type":"PAYOUT","amount":"12345","currency":{"code":"KWD"},"description":"null","primary_reference":"null","metadata":{},"decline_reason":"INSUFFICIENT_FUNDS","date_created_gmt":")" +
               std::string(created) + R"(","net_amount":"12745","total_fee":"400"}})";
    }
    static constexpr std::string_view error_body =
        R"({"errors":[{"code":"UNAUTHORIZED","category":"AUTHORIZATION_ERROR","detail":"Invalid token"}]})";
    static constexpr std::string_view error_code = "UNAUTHORIZED";
    static constexpr std::string_view error_message = "Invalid token";
};

template <>
struct sample<Checkout> {
    static constexpr std::array table{
        expected_row{"Pending", {}, st::processing},
        expected_row{"Paid", {}, st::paid},
        expected_row{"Declined", {}, st::failed},
        expected_row{"Returned", {}, st::returned},
        expected_row{"Canceled", {}, st::cancelled},
        expected_row{"Voided", {}, st::cancelled},
        expected_row{"Expired", {}, st::failed},
        expected_row{"Requested", {}, st::unknown},
        expected_row{"Authorized", {}, st::unknown},
        expected_row{"Card Verified", {}, st::unknown},
        expected_row{"Captured", {}, st::unknown},
        expected_row{"Retry Scheduled", {}, st::unknown},
        expected_row{"PENDING", {}, st::unknown},
    };
    static constexpr std::string_view id_json = R"("pay_gwlowf7eap7uzm4cyaaqoq62au")";
    static constexpr std::string_view id = "pay_gwlowf7eap7uzm4cyaaqoq62au";
    static constexpr std::optional<expected_money> amount{{250000, 2, "CLP"}}; // Checkout: CLP /100
    static constexpr std::string_view created = "2020-06-12T13:49:19.085546Z";
    static constexpr timestamp created_utc =
        sys_days{2020y / June / 12} + 13h + 49min + 19s + 85546us;
    static std::optional<std::string_view> reason(payout_status s) {
        if (s == st::failed) return "Compliance Error";
        return std::nullopt;
    }
    static std::string body(std::string_view id_json, std::string_view status,
                            std::string_view /*qualifier*/) {
        return R"({"id":)" + std::string(id_json) + R"(,"requested_on":")" + std::string(created) +
               R"(","amount":250000,"currency":"CLP","reference":"PO-1","status":")" +
               std::string(status) +
               R"(","approved":false,"response_code":"50001","response_summary":"Compliance Error","_links":{}})";
    }
    static constexpr std::string_view error_body =
        R"({"request_id":"0HL80RJLS76I7","error_type":"not_found","error_codes":["payment_not_found"]})";
    static constexpr std::string_view error_code = "not_found";
    static constexpr std::string_view error_message = "payment_not_found";
};

template <>
struct sample<Yuno> {
    static constexpr std::array table{
        expected_row{"CREATED", {}, st::pending},
        expected_row{"PENDING", "AUTHORIZED", st::on_hold},
        expected_row{"PENDING", "PENDING_PROVIDER_CONFIRMATION", st::processing},
        expected_row{"PENDING", {}, st::processing},
        expected_row{"PROCESSING", {}, st::processing},
        expected_row{"SUCCEEDED", {}, st::paid},
        expected_row{"SUCCEEDED", "AUTHORIZED", st::paid},
        expected_row{"REJECTED", {}, st::failed},
        expected_row{"DECLINED", {}, st::failed},
        expected_row{"ERROR", {}, st::failed},
        expected_row{"CANCELED", {}, st::cancelled},
        expected_row{"AUTHORIZED", {}, st::unknown},
    };
    static constexpr std::string_view id_json = R"("9f1c2b3a-4d5e-4f60-8a7b-0c1d2e3f4a5b")";
    static constexpr std::string_view id = "9f1c2b3a-4d5e-4f60-8a7b-0c1d2e3f4a5b";
    static constexpr std::optional<expected_money> amount{{123450, 2, "EUR"}};
    static constexpr std::string_view created = "2024-05-27T14:49:10.215801437Z";
    static constexpr timestamp created_utc =
        sys_days{2024y / May / 27} + 14h + 49min + 10s + 215801437ns;
    static std::optional<std::string_view> reason(payout_status s) {
        if (s == st::failed || s == st::cancelled) return "Beneficiary account closed";
        return std::nullopt;
    }
    static std::string body(std::string_view id_json, std::string_view status,
                            std::string_view qualifier) {
        std::string const code =
            qualifier.empty() ? "" : R"("response_code":")" + std::string(qualifier) + "\",";
        return R"({"id":)" + std::string(id_json) + R"(,"status":")" + std::string(status) +
               R"(","merchant_reference":"MR-9","amount":{"currency":"EUR","value":1234.5},"metadata":[],"created_at":")" +
               std::string(created) +
               R"(","transactions":[{"id":"t1","response_code":"AUTHORIZED","provider_data":{"status_detail":"earlier"}},{"id":"t2",)" +
               code + R"("provider_data":{"status_detail":"Beneficiary account closed"}}]})";
    }
    static constexpr std::string_view error_body =
        R"({"code":"NOT_FOUND","messages":["Resource not found"]})";
    static constexpr std::string_view error_code = "NOT_FOUND";
    static constexpr std::string_view error_message = "Resource not found";
};

template <>
struct sample<Introw> {
    static constexpr std::array table{
        expected_row{"DRAFT", {}, st::pending},
        expected_row{"PENDING_REVIEW", {}, st::pending},
        expected_row{"PENDING_INVOICE", {}, st::pending},
        expected_row{"APPROVED", {}, st::pending},
        expected_row{"SCHEDULED", {}, st::pending},
        expected_row{"PENDING_PAYMENT", {}, st::processing},
        expected_row{"PAID", {}, st::paid},
        expected_row{"FAILED", {}, st::failed},
        expected_row{"DECLINED", {}, st::cancelled},
        expected_row{"POSTPONED", {}, st::on_hold},
        expected_row{"BLOCKED", {}, st::on_hold},
        expected_row{"PENDING", {}, st::unknown},
    };
    static constexpr std::string_view id_json = R"("pay_2x7n4q8z0w1a2b3c4d5e6f7g")";
    static constexpr std::string_view id = "pay_2x7n4q8z0w1a2b3c4d5e6f7g";
    static constexpr std::optional<expected_money> amount{{99999, 3, "KWD"}};
    static constexpr std::string_view created = "2026-04-05T09:00Z"; // Introw: seconds optional
    static constexpr timestamp created_utc = sys_days{2026y / April / 5} + 9h;
    static std::optional<std::string_view> reason(payout_status) { return std::nullopt; }
    static std::string body(std::string_view id_json, std::string_view status,
                            std::string_view /*qualifier*/) {
        return R"({"data":{"id":)" + std::string(id_json) +
               R"(,"partner":{"id":"ptn_1","name":"Acme"},"batchId":null,"periodStart":"2026-01-01T00:00:00.000Z","periodEnd":"2026-03-31T23:59:59.000Z","amount":{"value":"99.999","currency":"KWD"},"stage":")" +
               std::string(status) + R"(","poNumber":"PO-ACME-1","createdAt":")" +
               std::string(created) + R"(","updatedAt":"2026-04-08T14:30:00.000Z"}})";
    }
    static constexpr std::string_view error_body =
        R"({"error":{"code":"UNAUTHORIZED","message":"Invalid API key"}})";
    static constexpr std::string_view error_code = "UNAUTHORIZED";
    static constexpr std::string_view error_message = "Invalid API key";
};

template <class P>
payout decode_ok(std::string const& body) {
    diagnostics diag;
    auto const r = decode<P>(body, diag);
    INFO("body: " << body);
    INFO("diagnostics: " << diag.message);
    REQUIRE(r.has_value());
    CHECK(r->raw == body);
    CHECK(r->provider == P::name);
    return *r;
}

template <class P>
std::string decode_refused(std::string const& body) {
    diagnostics diag;
    auto const r = decode<P>(body, diag);
    INFO("body: " << body);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == errc::invalid_response);
    return diag.message;
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        c = char(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

} // namespace

TEST_CASE_TEMPLATE("the provider contract", P, Truust, Druo, Checkout, Yuno, Introw) {
    using S = sample<P>;
    static_assert(provider<P>);
    static_assert(detail::check_provider<P>());
    // check_provider also holds statuses_unique and qualified_rows_first: no run-time re-check.
    static_assert(detail::statuses_unique(P::statuses));
    static_assert(std::ranges::none_of(P::statuses, [](auto const& e) { return e.wire.empty(); }));
    INFO("provider: " << P::name);

    SUBCASE("every wire status decodes as the documented table maps it") {
        for (auto const& row : S::table) {
            CAPTURE(row.wire);
            CAPTURE(row.qualifier);
            auto const p = decode_ok<P>(S::body(S::id_json, row.wire, row.qualifier));
            CHECK(to_string(p.status) == to_string(row.unified));
            CHECK(p.provider_status == row.wire);
        }
    }

    SUBCASE("the provider's table holds exactly the documented rows") {
        // Each row of P::statuses is an expected row with the same unified status...
        for (auto const& e : P::statuses) {
            CAPTURE(e.wire);
            CAPTURE(e.qualifier);
            bool found = false;
            for (auto const& row : S::table)
                if (row.wire == e.wire && row.qualifier == e.qualifier) {
                    found = true;
                    CHECK(to_string(e.unified) == to_string(row.unified));
                }
            CHECK(found);
            CHECK(e.unified != st::unknown);
        }
        // ...and each expected plain row with a known status is in P::statuses.
        for (auto const& row : S::table) {
            if (!row.qualifier.empty() || row.unified == st::unknown) continue;
            CAPTURE(row.wire);
            bool found = false;
            for (auto const& e : P::statuses)
                found = found || (e.wire == row.wire && e.qualifier.empty());
            CHECK(found);
        }
    }

    SUBCASE("an unknown status decodes as unknown, the provider's text kept") {
        auto const p = decode_ok<P>(S::body(S::id_json, "SOMETHING_NEW", ""));
        CHECK(p.status == st::unknown);
        CHECK(p.provider_status == "SOMETHING_NEW");
        CHECK(p.id == S::id);
        // Matching is exact: another casing of a known status is unknown too.
        for (auto const& e : P::statuses) {
            std::string const other = lower(e.wire);
            if (other == e.wire) continue;
            CAPTURE(other);
            auto const q = decode_ok<P>(S::body(S::id_json, other, e.qualifier));
            CHECK(q.status == st::unknown);
            CHECK(q.provider_status == other);
        }
        auto const spaced =
            decode_ok<P>(S::body(S::id_json, " " + std::string(S::table[0].wire), ""));
        CHECK(spaced.status == st::unknown);
    }

    SUBCASE("id, amount, created_at and reason are right for every status") {
        for (auto const& row : S::table) {
            CAPTURE(row.wire);
            auto const p = decode_ok<P>(S::body(S::id_json, row.wire, row.qualifier));
            CHECK(p.id == S::id);
            if constexpr (S::amount.has_value()) {
                REQUIRE(p.amount.has_value());
                CHECK(p.amount->units == S::amount->units);
                CHECK(int(p.amount->scale) == S::amount->scale);
                CHECK(p.amount->currency == S::amount->currency);
            } else {
                CHECK_FALSE(p.amount.has_value());
            }
            CHECK(p.created_at == S::created_utc);
            auto const reason = S::reason(row.unified);
            CHECK(p.reason.has_value() == reason.has_value());
            if (reason && p.reason) CHECK(*p.reason == *reason);
            CHECK_FALSE(p.request_id.has_value());
        }
    }

    SUBCASE("a missing, null or empty id is refused, naming the id's pointer") {
        auto const msg = decode_refused<P>(S::body("null", S::table[0].wire, ""));
        CHECK(msg.find("missing") != std::string::npos);
        CHECK(msg.find("(the payout id)") != std::string::npos);
        auto const empty = decode_refused<P>(S::body(R"("")", S::table[0].wire, ""));
        CHECK(empty.find("expected a non-empty string or an integer") != std::string::npos);
    }

    SUBCASE("a UTF-8 BOM, surrounding whitespace and every truncation") {
        std::string const body = S::body(S::id_json, S::table[0].wire, "");
        CHECK(decode_ok<P>("\xEF\xBB\xBF" + body).id == S::id);
        CHECK(decode_ok<P>(" \n" + body + "\r\n").id == S::id);
        for (std::size_t n = 0; n < body.size(); ++n) {
            auto const r = decode<P>(std::string_view(body).substr(0, n));
            if (r)
                FAIL_CHECK("a prefix of " << n << " bytes decoded");
            else
                CHECK(r.error() == errc::invalid_response);
        }
    }

    SUBCASE("the provider's error body is refused with its code and message") {
        auto const msg = decode_refused<P>(std::string(S::error_body));
        CHECK(msg.find("the body is a provider error") != std::string::npos);
        CHECK(msg.find("code \"" + std::string(S::error_code) + "\"") != std::string::npos);
        CHECK(msg.find("message \"" + std::string(S::error_message) + "\"") != std::string::npos);
    }
}

// ---------------------------------------------------------------------------------------------
// The compile-time checks, on tables made up here. They are static_asserts only: a run-time
// CHECK of the same constant expression could never fail.
// ---------------------------------------------------------------------------------------------

namespace {

constexpr std::array unique_rows{status_entry{"A", st::paid}, status_entry{"B", st::failed}};
constexpr std::array duplicate_rows{status_entry{"A", st::paid}, status_entry{"B", st::failed},
                                    status_entry{"A", st::failed}};
constexpr std::array qualified_first{status_entry{"P", st::on_hold, "AUTHORIZED"},
                                     status_entry{"P", st::processing}};
constexpr std::array qualified_last{status_entry{"P", st::processing},
                                    status_entry{"P", st::on_hold, "AUTHORIZED"}};
constexpr std::array qualified_twice{status_entry{"P", st::on_hold, "AUTHORIZED"},
                                     status_entry{"P", st::paid, "AUTHORIZED"}};
constexpr std::array case_differs{status_entry{"Paid", st::paid}, status_entry{"PAID", st::paid}};

constexpr std::array minimal_fields{field{"/id", member::id, conv::id},
                                    field{"/status", member::provider_status, conv::text}};
constexpr std::array no_id_fields{field{"/status", member::provider_status, conv::text},
                                  field{"/reference", member::reference, conv::text}};
constexpr std::array no_status_fields{field{"/id", member::id, conv::id},
                                      field{"/reference", member::reference, conv::text}};
constexpr std::array amount_without_currency{field{"/id", member::id, conv::id},
                                             field{"/status", member::provider_status, conv::text},
                                             field{"/amount", member::amount, conv::minor_units}};
constexpr std::array currency_without_amount{
    field{"/id", member::id, conv::id}, field{"/status", member::provider_status, conv::text},
    field{"/currency", member::amount_currency, conv::currency}};
constexpr std::array amount_and_currency{
    field{"/id", member::id, conv::id}, field{"/status", member::provider_status, conv::text},
    field{"/amount/value", member::amount, conv::major_number},
    field{"/amount/currency", member::amount_currency, conv::currency}};
constexpr std::array bad_converter{field{"/id", member::id, conv::text},
                                   field{"/status", member::provider_status, conv::text}};
constexpr std::array two_amounts{
    field{"/id", member::id, conv::id}, field{"/status", member::provider_status, conv::text},
    field{"/a", member::amount, conv::minor_units}, field{"/b", member::amount, conv::minor_units},
    field{"/c", member::amount_currency, conv::currency}};
constexpr std::array bad_pointer_fields{field{"id", member::id, conv::id},
                                        field{"/status", member::provider_status, conv::text}};

// path_has_one_id
static_assert(detail::path_has_one_id("/payouts/{id}"));
static_assert(detail::path_has_one_id("/orders/{id}/payout"));
static_assert(detail::path_has_one_id("/api/v1/payouts/{id}"));
static_assert(!detail::path_has_one_id("/payouts"));
static_assert(!detail::path_has_one_id("/payouts/{id}/{id}"));
static_assert(!detail::path_has_one_id("payouts/{id}"));
static_assert(!detail::path_has_one_id(""));
static_assert(!detail::path_has_one_id("/payouts/{ID}"));
static_assert(!detail::path_has_one_id("/payouts/{id"));
static_assert(!detail::path_has_one_id("/a/{id}{id}"));

// statuses_unique and qualified_rows_first
static_assert(detail::statuses_unique(unique_rows));
static_assert(!detail::statuses_unique(duplicate_rows));
static_assert(detail::statuses_unique(qualified_first));
static_assert(detail::statuses_unique(qualified_last));
static_assert(!detail::statuses_unique(qualified_twice));
static_assert(detail::statuses_unique(case_differs)); // exact, case-sensitive strings
static_assert(detail::qualified_rows_first(qualified_first));
static_assert(!detail::qualified_rows_first(qualified_last));
static_assert(detail::qualified_rows_first(unique_rows));

// required_members_mapped and the other field-map checks
static_assert(detail::required_members_mapped(minimal_fields));
static_assert(!detail::required_members_mapped(no_id_fields));
static_assert(!detail::required_members_mapped(no_status_fields));
static_assert(!detail::required_members_mapped(amount_without_currency));
static_assert(!detail::required_members_mapped(currency_without_amount));
static_assert(detail::required_members_mapped(amount_and_currency));
static_assert(detail::converters_fit(amount_and_currency));
static_assert(!detail::converters_fit(bad_converter));
static_assert(detail::single_amount(amount_and_currency));
static_assert(!detail::single_amount(two_amounts));
static_assert(detail::pointers_ok(amount_and_currency));
static_assert(!detail::pointers_ok(bad_pointer_fields));

// pointer_ok
static_assert(detail::pointer_ok("", false));
static_assert(detail::pointer_ok("/id", false));
static_assert(detail::pointer_ok("/amount/value", false));
static_assert(detail::pointer_ok("/transactions/*/response_code", true));
static_assert(detail::pointer_ok("/items/*", true));
static_assert(!detail::pointer_ok("/transactions/*/response_code", false));
static_assert(!detail::pointer_ok("/a/*/b/*/c", true));
static_assert(!detail::pointer_ok("id", false));
static_assert(!detail::pointer_ok("/", false));
static_assert(!detail::pointer_ok("/a/", false));
static_assert(!detail::pointer_ok("/a//b", false));
static_assert(!detail::pointer_ok("/a~1b", false));
static_assert(!detail::pointer_ok("/a~0b", false));
static_assert(!detail::pointer_ok("/a*", true));
static_assert(!detail::pointer_ok("/*a", true));
static_assert(!detail::pointer_ok("/a/b*/c", true));
static_assert(!detail::pointer_ok("*", true));

} // namespace
