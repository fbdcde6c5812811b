// Linked into test_fetch, which is built in separate-compilation mode (payouts_compiled_dep):
// this second file including payouts.hpp must link beside the library without a duplicate
// symbol, and a provider of the user's own, unknown to the compiled library, must decode,
// fetch and decode its webhooks as a built-in one does (its decoders compiled here, from
// decode.hpp alone, as documented).
#include <payouts/decode.hpp>
#include <payouts/payouts.hpp>

#include "../tools/common/hmac.hpp"
#include "support/fetch_helpers.hpp"

#include <doctest/doctest.h>

#ifndef PAYOUTS_SEPARATE_COMPILATION
#error "test_fetch is meant to be built in separate mode: payouts_compiled_dep carries the define"
#endif

namespace {

// A sixth provider, as a user would write one: traits only, nothing in the library knows it.
struct Acme {
    static constexpr std::string_view name = "acme";
    static constexpr payouts::base_urls urls{"https://sandbox.acme.test", "https://api.acme.test"};
    static constexpr std::string_view path = "/v2/transfers/{id}/payout";
    using id_type = std::string;
    static constexpr payouts::id_rule id{4, 40};

    static constexpr std::array credentials{
        payouts::credential_header{"X-Acme-Key", "Key ", "API_KEY"}};
    static constexpr std::optional<payouts::oauth_client_credentials> oauth{};
    static constexpr std::array extra_headers{payouts::header_field{"Acme-Version", "7"}};

    static constexpr std::string_view envelope = "/transfer";
    static constexpr bool envelope_optional = false;

    static constexpr std::array fields{
        payouts::field{"/id", payouts::member::id, payouts::conv::id},
        payouts::field{"/state", payouts::member::provider_status, payouts::conv::text},
        payouts::field{"/amount", payouts::member::amount, payouts::conv::minor_units},
        payouts::field{"/currency", payouts::member::amount_currency, payouts::conv::currency},
        payouts::field{"/created", payouts::member::created_at, payouts::conv::timestamp},
    };
    static constexpr std::array statuses{
        payouts::status_entry{"queued", payouts::payout_status::pending},
        payouts::status_entry{"done", payouts::payout_status::paid},
        payouts::status_entry{"bounced", payouts::payout_status::returned},
    };
    static constexpr payouts::status_set reason_statuses{};
    static constexpr int amount_exponent(std::string_view c) noexcept {
        return payouts::iso4217_exponent(c);
    }
    static constexpr payouts::error_body errors{{"/error"}, {"/detail"}};
    static constexpr std::array<std::string_view, 1> not_found_codes{"no_such_transfer"};
    static constexpr std::array<std::string_view, 1> request_id_headers{"Acme-Request"};
    static constexpr std::string_view rate_limit_remaining_header = "";

    // Its notifications carry the Get-Payout object under "/transfer", signed in hex.
    struct webhook {
        static constexpr payouts::webhook_signature signature{"Acme-Signature",
                                                              payouts::signature_encoding::hex};
        static constexpr std::string_view payout_object = "/transfer";
        static constexpr std::array fields{
            payouts::field{"/event", payouts::member::event_type, payouts::conv::text},
            payouts::field{"/event_id", payouts::member::event_id, payouts::conv::text},
        };
    };
};
static_assert(payouts::provider<Acme>);
static_assert(payouts::webhook_provider<Acme>);

} // namespace

using namespace test_support;
namespace net = boost::asio;

TEST_CASE("separate mode: a provider of the user's own fetches and decodes like a built-in one") {
    net::io_context ioc;
    server srv(ioc, [](request_record const& r) {
        if (r.target == "/acme/v2/transfers/tr_9%2F1/payout") {
            auto rep = reply::json(200, R"({"transfer": {"id": "tr_9/1", "state": "bounced",
                "amount": 123456, "currency": "JPY", "created": "2024-05-01T10:00:00.125Z"}})");
            rep.headers.emplace_back("Acme-Request", "rq-77");
            return rep;
        }
        if (r.target == "/yuno/payouts/y-1")
            return reply::json(200, R"({"id": "y-1", "status": "CREATED",
                "amount": {"currency": "USD", "value": 10.5}})");
        return reply::json(404, R"({"error": "no_such_transfer", "detail": "unknown transfer"})");
    });
    auto cfg = config_for(srv);
    add_provider(cfg, "acme", srv.url("/acme"), {{"API_KEY", "k-1"}});
    add_provider(cfg, "yuno", srv.url("/yuno"),
                 {{"PUBLIC_API_KEY", "p"}, {"PRIVATE_SECRET_KEY", "s"}});
    payouts::client c(ioc, cfg);

    auto const o = get<Acme>(ioc, c, "tr_9/1");
    REQUIRE_MESSAGE(!o.ec, o.ec.message() << ": " << o.d.message);
    CHECK(o.p.provider == "acme");
    CHECK(o.p.id == "tr_9/1");
    CHECK(o.p.status == payouts::payout_status::returned);
    CHECK(o.p.provider_status == "bounced");
    REQUIRE(o.p.amount);
    CHECK(o.p.amount->currency == "JPY");
    CHECK(o.p.amount->to_decimal_string() == "123456");
    REQUIRE(o.p.created_at);
    CHECK(o.p.request_id == "rq-77");
    REQUIRE(srv.requests.size() == 1);
    CHECK(srv.requests[0].header("X-Acme-Key") == "Key k-1");
    CHECK(srv.requests[0].header("Acme-Version") == "7");

    // The provider's not-found code, its id rule, and a built-in provider from this file too.
    auto const missing = get<Acme>(ioc, c, "tr_404");
    CHECK(missing.ec == payouts::errc::not_found);
    CHECK(missing.d.provider_message == "unknown transfer");
    auto const short_id = get<Acme>(ioc, c, "x");
    CHECK(short_id.ec == payouts::errc::invalid_id);
    CHECK(srv.requests.size() == 2);
    auto const y = get<payouts::Yuno>(ioc, c, "y-1");
    REQUIRE_MESSAGE(!y.ec, y.ec.message() << ": " << y.d.message);
    CHECK(y.p.status == payouts::payout_status::pending);
    REQUIRE(y.p.amount);
    CHECK(y.p.amount->minor_units() == 1050);

    payouts::diagnostics d;
    auto const bad = payouts::decode<Acme>(R"({"transfer": {"id": "tr_1", "state": 3}})", d);
    REQUIRE(bad.has_error());
    CHECK(bad.error() == payouts::errc::invalid_response);
    CHECK(d.message.find("/transfer/state") != std::string::npos);
}

TEST_CASE("separate mode: a provider of the user's own decodes its webhooks from decode.hpp") {
    std::string const body = R"({"event": "transfer.bounced", "event_id": "ev_41",
        "transfer": {"id": "tr_9", "state": "bounced", "amount": 700, "currency": "EUR",
        "created": "2024-05-01T10:00:00Z"}})";
    std::string const key = "whsec-acme";
    auto const sig = payouts_tools::hmac_hex(key, body);
    std::array const secrets{std::string_view("old-key"), std::string_view(key)};
    std::array const headers{payouts::header{"acme-signature", sig}};

    payouts::diagnostics d;
    auto const e = payouts::decode_webhook<Acme>(body, headers, secrets, d);
    REQUIRE_MESSAGE(e.has_value(), d.message);
    CHECK(e->event_type == "transfer.bounced");
    CHECK(e->event_id == "ev_41");
    CHECK(e->payout.id == "tr_9");
    CHECK(e->payout.status == payouts::payout_status::returned);
    REQUIRE(e->payout.amount);
    CHECK(e->payout.amount->to_decimal_string() == "7.00");

    auto const forged = payouts::decode_webhook<Acme>(body + " ", headers, secrets, d);
    REQUIRE(forged.has_error());
    CHECK(forged.error() == payouts::errc::invalid_signature);
    CHECK(d.message.find("Acme-Signature") != std::string::npos);
}
