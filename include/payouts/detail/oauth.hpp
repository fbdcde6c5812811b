// OAuth client-credentials tokens: one request per provider and client at a time, its result
// shared by every fetch that waited for it, the token cached until shortly before it expires.
#pragma once

#include <payouts/detail/client_core.hpp>
#include <payouts/detail/exchange.hpp>
#include <payouts/detail/request.hpp>
#include <payouts/detail/retry.hpp>

#include <boost/json/parse.hpp>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>

namespace payouts::detail {

// A token request runs on its own, not as part of the fetch that started it: that fetch may be
// cancelled or time out while others still wait for the token.
struct token_flight {
    token_flight(std::shared_ptr<client_core> c, std::shared_ptr<provider_slot> p)
        : core(std::move(c))
        , prov(std::move(p))
        , ex(*core) {}

    std::shared_ptr<client_core> core; // first member: outlives the exchange state
    std::shared_ptr<provider_slot> prov;
    exchange_state ex;
    request_type req;
};

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
        auto s = v->get_string().subview();
        return std::string(s.substr(0, 512));
    };
    code = text("error");
    message = text("error_description");
}

inline void finish_token_flight(token_flight& f, error_code ec) {
    auto& tc = f.prov->token;
    auto const& s = f.prov->setup;
    tc.in_flight = false;
    ++tc.flights;
    tc.last_ec = {};
    tc.last_retryable = false;
    tc.last_status = 0;
    tc.last_why.clear();
    tc.last_code.clear();
    tc.last_message.clear();
    if (ec) {
        tc.last_ec = ec == net::error::operation_aborted ? error_code(errc::timeout)
                                                         : error_code(errc::token_request_failed);
        tc.last_retryable = ec == condition::retryable;
        tc.last_why = "token request to " + s.token_host + " failed while " + f.ex.phase + ": " +
                      ec.message();
    } else {
        auto const& res = f.ex.parser->get();
        tc.last_status = int(res.result_int());
        if (tc.last_status >= 200 && tc.last_status < 300) {
            auto r = parse_token_reply(res.body(), tc.last_why);
            if (r) {
                tc.token = std::move(r->access_token);
                tc.expires = steady::now() + token_lifetime(r->expires_in);
            } else {
                tc.last_ec = r.error();
            }
        } else {
            tc.last_ec = errc::token_request_failed;
            tc.last_retryable = retryable_status(unsigned(tc.last_status));
            read_oauth_error(res.body(), tc.last_code, tc.last_message);
            tc.last_why = "token endpoint " + s.token_host + " answered HTTP " +
                          std::to_string(tc.last_status);
        }
    }
    tc.waiters.wake_all();
}

// Starts a token request for `prov` unless one is running. The fetches that need the token wait
// in prov->token.waiters; they are all woken when the request ends.
inline void start_token_flight(std::shared_ptr<client_core> const& core,
                               std::shared_ptr<provider_slot> const& prov) {
    auto& tc = prov->token;
    if (tc.in_flight) return;
    tc.in_flight = true;
    auto f = std::make_shared<token_flight>(core, prov);
    f->ex.weak = std::shared_ptr<exchange_state>(f, &f->ex);
    f->ex.url = &prov->setup.token_url;
    f->ex.hp = prov->token_pool;
    f->ex.deadline = steady::now() + core->cfg.deadline;
    std::string why;
    if (auto ec = build_token_request(prov->setup, core->cfg.user_agent, f->req, why)) {
        // Reported to the waiters from the executor, never from inside the caller.
        net::post(core->ex, [f, ec, why = std::move(why)]() mutable {
            finish_token_flight(*f, ec);
            f->prov->token.last_why = std::move(why);
        });
        return;
    }
    auto& ex = f->ex;
    serialize_request(f->req, ex.wire);
    auto* target = f.get();
    async_exchange(ex, exchange_callback{[](void* p, error_code ec) {
                                             finish_token_flight(*static_cast<token_flight*>(p),
                                                                 ec);
                                         },
                                         target, std::move(f)});
}

} // namespace payouts::detail
