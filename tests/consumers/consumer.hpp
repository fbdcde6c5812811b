// The check every consumer runs, whichever way it found payouts and in either mode: decode a
// Yuno body, and start a fetch that must fail at once for want of credentials (so it links,
// runs, and sends nothing). Separate-mode consumers fetch from a second file (second.cpp) too.
#pragma once

#include <payouts/payouts.hpp>

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdio>
#include <string_view>

#ifndef BOOST_ASIO_NO_DEPRECATED
#error "the payouts dependency did not carry -DBOOST_ASIO_NO_DEPRECATED"
#endif
static_assert(__cplusplus >= 202002L, "payouts needs C++20");

// Trimmed from tests/fixtures/yuno/get-payout-200-succeeded-usd.json.
inline constexpr std::string_view yuno_body = R"({
  "id": "1c58426d-2c1b-4476-b3c0-447a8c683466",
  "status": "SUCCEEDED",
  "merchant_reference": "MR-Test-123",
  "amount": {"currency": "USD", "value": 100.25},
  "created_at": "2024-05-27T15:14:19.012803Z",
  "updated_at": "2024-05-27T15:14:20.577061Z"
})";

inline bool check_decode() {
    payouts::diagnostics diag;
    auto const p = payouts::decode<payouts::Yuno>(yuno_body, diag);
    if (!p) {
        std::printf("decode failed: %s (%s)\n", p.error().message().c_str(), diag.message.c_str());
        return false;
    }
    bool ok = p->id == "1c58426d-2c1b-4476-b3c0-447a8c683466" &&
              p->status == payouts::payout_status::paid && p->amount &&
              p->amount->currency == "USD";
    if (ok) {
        auto const minor = p->amount->minor_units();
        ok = minor && *minor == 10025;
    }
    std::printf("decode: id %s, status %s, amount %s %s: %s\n", p->id.c_str(),
                std::string(to_string(p->status)).c_str(),
                p->amount ? p->amount->to_decimal_string().c_str() : "(none)",
                p->amount ? p->amount->currency.c_str() : "", ok ? "as expected" : "WRONG");
    return ok;
}

inline bool check_fetch() {
    boost::asio::io_context io;
    payouts::client_config cfg;
    // No credentials: the fetch must fail before connecting. The base URL is a closed local port
    // all the same, so that a regression could not reach a real provider.
    cfg.providers["yuno"].base_url = "https://127.0.0.1:9/yuno";
    cfg.deadline = std::chrono::seconds(5);
    payouts::client client(io, cfg);
    payouts::diagnostics diag;
    bool done = false;
    payouts::error_code got;
    payouts::fetch<payouts::Yuno>(client, "some-id", diag,
                                  [&](payouts::error_code ec, payouts::payout) {
                                      done = true;
                                      got = ec;
                                  });
    io.run_for(std::chrono::seconds(10));
    if (!done) {
        std::printf("fetch: did not complete\n");
        return false;
    }
    bool const ok = got == payouts::errc::missing_credentials;
    std::printf("fetch: %s (%s): %s\n", got.message().c_str(), diag.message.c_str(),
                ok ? "as expected" : "WRONG, expected missing credentials");
    return ok;
}

#ifdef PAYOUTS_SEPARATE_COMPILATION
bool second_file_fetches(); // second.cpp
inline constexpr char const* mode = "separate compilation";
#else
inline bool second_file_fetches() {
    return true;
}
inline constexpr char const* mode = "header-only";
#endif

inline int consumer_main(char const* how) {
    std::printf("payouts consumer through %s, %s\n", how, mode);
    bool const decoded = check_decode();
    bool const fetched = check_fetch() && second_file_fetches();
    return decoded && fetched ? 0 : 1;
}
