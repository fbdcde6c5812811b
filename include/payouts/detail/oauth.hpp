// OAuth client-credentials tokens: one request per provider and client at a time, its result
// shared by every fetch that waited for it, the token cached until shortly before it expires.
#pragma once

#include <payouts/detail/client_core.hpp>
#include <payouts/detail/request.hpp>
#include <payouts/detail/retry.hpp>
#include <payouts/detail/transport.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/json/parse.hpp>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>

namespace payouts::detail {

// How long to trust a token: its lifetime less a margin for clock skew and in-flight requests
// (a minute, or half the lifetime when that is shorter). An endpoint that does not say gets a
// minute.
inline std::chrono::seconds token_lifetime(std::chrono::seconds expires_in) {
    using std::chrono::seconds;
    if (expires_in.count() <= 0) return seconds(60);
    return expires_in - std::min(seconds(60), expires_in / 2);
}

// The OAuth error body shape (RFC 6749 §5.2).
inline void read_oauth_error(std::string_view body, std::string& code, std::string& message) {
    boost::system::error_code ec;
    auto const jv = boost::json::parse(body, ec);
    if (ec || !jv.is_object()) return;
    auto const text = [&](char const* key) -> std::string {
        auto const* v = jv.get_object().if_contains(key);
        if (!v || !v->is_string()) return {};
        return std::string(v->get_string().subview().substr(0, 512));
    };
    code = text("error");
    message = text("error_description");
}

// One token request. It runs on its own, not inside the fetch that started it: that fetch may
// be cancelled or time out while others still wait for the token.
inline net::awaitable<void> token_flight(std::shared_ptr<client_core> core,
                                         std::shared_ptr<provider_slot> prov) {
    auto const& s = prov->setup;
    auto const job = std::make_shared<io_job>(core->ex); // shared: the watchdog holds it weakly
    io_job& j = *job;
    http::request<http::string_body> req;
    std::optional<response_parser> p;
    std::string why;
    error_code ec = build_token_request(s, core->cfg.user_agent, req, why);
    if (!ec)
        ec = co_await round_trip(*core, j, s.token_url, s.token_origin, req, p,
                                 steady::now() + core->cfg.deadline, why);

    auto& tc = prov->token;
    tc.in_flight = false;
    ++tc.flights;
    tc.last = {};
    if (ec) {
        // A proxy's refusal is the proxy's, not the OAuth credentials'.
        tc.last.ec = ec == errc::proxy_refused ? ec : error_code(errc::token_request_failed);
        tc.last.retryable = ec == condition::retryable || j.transient;
        tc.last.why = "token request to " + s.token_host + " failed: " + why;
    } else {
        auto const& res = p->get();
        tc.last.status = int(res.result_int());
        if (tc.last.status / 100 == 2) {
            auto r = parse_token_reply(res.body(), tc.last.why);
            if (r) {
                tc.token = std::move(r->access_token);
                tc.expires = steady::now() + token_lifetime(r->expires_in);
            } else {
                tc.last.ec = r.error();
            }
        } else {
            tc.last.ec = errc::token_request_failed;
            tc.last.retryable = retryable_status(res.result_int());
            read_oauth_error(res.body(), tc.last.code, tc.last.message);
            tc.last.why = "token endpoint " + s.token_host + " answered HTTP " +
                          std::to_string(tc.last.status);
        }
    }
    tc.waiters.wake_all();
}

// Starts a token request for `prov` unless one is running. It may end before this returns (a
// request that cannot be built): callers compare token_cache::flights before and after.
inline void start_token_flight(std::shared_ptr<client_core> const& core,
                               std::shared_ptr<provider_slot> const& prov) {
    if (prov->token.in_flight) return;
    prov->token.in_flight = true;
    net::co_spawn(core->ex, token_flight(core, prov), net::detached);
}

} // namespace payouts::detail
