// One fetch as one coroutine: the attempt loop, top to bottom. Not a template: what it needs of
// the provider arrives as data (provider_ops), so it is compiled once whatever the provider.
#pragma once

#include <payouts/client.hpp>
#include <payouts/detail/client_core.hpp>
#include <payouts/detail/oauth.hpp>
#include <payouts/detail/request.hpp>
#include <payouts/detail/retry.hpp>
#include <payouts/detail/transport.hpp>
#include <payouts/diagnostics.hpp>
#include <payouts/error.hpp>
#include <payouts/payout.hpp>

#include <boost/asio/any_completion_executor.hpp>
#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/system/system_error.hpp>

#include <algorithm>
#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>

namespace payouts::detail {

// The provider's remaining-budget header as a count; -1 when absent or not a number.
inline long long rate_limit_count(std::string_view v) {
    auto const n = parse_int64(trim_ows(v));
    return n && *n >= 0 ? *n : -1;
}

// Calls the client's event hook, if any. An observer must not change the outcome of what it
// observes, so what it throws is dropped.
inline void notify(client_config const& cfg, fetch_event const& e) {
    if (!cfg.on_event) return;
    try {
        cfg.on_event(e);
    } catch (...) {
    }
}

struct fetch_job : io_job {
    fetch_job(std::shared_ptr<client_core> c, provider_ops const& o, diagnostics* d)
        : io_job(c->ex)
        , core(std::move(c))
        , ops(o)
        , out_diag(d) {}

    std::shared_ptr<client_core> core;
    provider_ops const& ops;
    std::shared_ptr<provider_slot> prov;
    std::string id_segment;
    diagnostics* out_diag;
    diagnostics diag;
    payout result;
    error_code ec; // the outcome
    steady::time_point start = steady::now();
    steady::time_point deadline = start + core->cfg.deadline;
    unsigned requests = 0;      // attempts made, token renewals included (diagnostics::attempts)
    bool token_renewed = false; // after a 401, once per fetch

    // One attempt, reset with `= {}` before each.
    struct attempt_state {
        error_code ec;
        std::string why;
        bool retryable = false;
        bool renew_token = false; // a 401 on an OAuth token: renew it and go again, uncounted
        std::optional<std::chrono::milliseconds> retry_after;
        std::string rate_limit_remaining;
        std::string request; // as sent, credentials redacted, for the event hook
        steady::time_point start = steady::now();
    } at;

    static std::chrono::milliseconds since(steady::time_point t) {
        return std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - t);
    }

    void call_hook(fetch_event e) const {
        e.provider = ops.transport.name;
        e.id = id_segment;
        e.attempt = requests;
        e.elapsed = since(start);
        notify(core->cfg, e);
    }

    void emit(fetch_event_kind k, std::chrono::milliseconds delay = {}) const {
        if (!core->cfg.on_event) return;
        fetch_event e;
        e.kind = k;
        e.host = prov ? std::string_view(prov->setup.host) : std::string_view();
        e.http_status = diag.http_status;
        e.error = at.ec;
        e.delay = delay;
        e.message = at.why;
        e.rate_limit_remaining = at.rate_limit_remaining;
        if (k == fetch_event_kind::attempt_end) {
            e.attempt_elapsed = since(at.start);
            e.request = at.request;
        }
        call_hook(e);
    }

    void emit_token_wait_end() const {
        if (!core->cfg.on_event) return;
        auto const& last = prov->token.last;
        fetch_event e;
        e.kind = fetch_event_kind::token_wait_end;
        e.host = prov->setup.token_host;
        e.http_status = last.status;
        e.error = last.ec;
        e.message = last.why;
        call_hook(e);
    }
};

// A valid OAuth token for the attempt, from the cache or the one token request in flight.
inline net::awaitable<bool> wait_for_token(fetch_job& j) {
    auto& tc = j.prov->token;
    auto& a = j.at;
    while (!tc.valid(steady::now())) {
        auto const seen = tc.flights;
        start_token_flight(j.core, j.prov);
        waiter w(j.timer);
        bool woken = tc.flights != seen; // the request may have ended at once
        if (!woken) woken = co_await tc.waiters.wait(w, j.deadline);
        if (tc.flights != seen) j.emit_token_wait_end();
        if (j.cancelled) {
            a.ec = net::error::operation_aborted;
            co_return false;
        }
        if (!woken) {
            a.ec = errc::timeout;
            a.why = "timed out waiting for the OAuth token";
            co_return false;
        }
        if (!tc.valid(steady::now()) && tc.flights != seen) {
            a.ec = tc.last.ec;
            a.retryable = tc.last.retryable;
            a.why = tc.last.why;
            j.diag.http_status = tc.last.status;
            j.diag.provider_code = tc.last.code;
            j.diag.provider_message = tc.last.message;
            j.diag.host = j.prov->setup.token_host;
            co_return false;
        }
    }
    co_return true;
}

// The status, headers and body of a response, as the attempt's outcome.
inline void interpret_response(fetch_job& j, response_type& res, std::string_view token_used) {
    auto& a = j.at;
    auto& d = j.diag;
    auto const& s = j.prov->setup;
    auto const status = res.result_int();
    d.http_status = int(status);
    for (auto const& h : s.request_id_headers)
        if (auto const v = res[h]; !v.empty()) {
            d.request_id.assign(v.substr(0, 256));
            break;
        }
    if (!s.rate_limit_header.empty()) {
        a.rate_limit_remaining = res[s.rate_limit_header];
        d.rate_limit_remaining = rate_limit_count(a.rate_limit_remaining);
    }
    if (status / 100 == 2) {
        auto r = j.ops.decode(res.body(), a.why);
        if (r) {
            j.result = std::move(*r);
            if (!d.request_id.empty()) j.result.request_id = d.request_id;
            return;
        }
        a.ec = errc::invalid_response;
    } else {
        a.ec = status_error(status);
        a.why = "HTTP " + std::to_string(status) + " from " + s.host;
        if (status / 100 == 3) a.why += " (redirects are not followed)";
    }
    auto perr = j.ops.error_body(res.body());
    d.provider_code = std::move(perr.code);
    d.provider_message = std::move(perr.message);
    auto const& nf = j.ops.not_found_codes;
    if (!d.provider_code.empty() && std::ranges::find(nf, d.provider_code) != nf.end())
        a.ec = errc::not_found;
    else if (a.ec == errc::invalid_response)
        j.emit(fetch_event_kind::decode_error);
    a.retryable = retryable_status(status) && a.ec != errc::not_found;
    if (a.retryable)
        if (auto const ra = res[http::field::retry_after]; !ra.empty())
            a.retry_after = parse_retry_after(ra, std::chrono::system_clock::now());
    if (status == 401 && s.oauth && !j.token_renewed) {
        j.prov->token.invalidate(token_used);
        j.token_renewed = a.renew_token = true;
    }
}

// One attempt: token, request, connection, response, outcome.
inline net::awaitable<void> run_attempt(fetch_job& j) {
    auto& a = j.at;
    auto const& s = j.prov->setup;
    std::string token;
    if (s.oauth) {
        if (!co_await wait_for_token(j)) co_return;
        token = j.prov->token.token;
    }
    http::request<http::empty_body> req;
    if ((a.ec = build_get_request(s, j.id_segment, token, j.core->cfg.user_agent, req, a.why)))
        co_return;
    j.diag.host = s.host;
    std::optional<response_parser> p;
    j.sent = j.transient = false;
    a.ec = co_await round_trip(*j.core, j, s.url, s.origin, req, p, j.deadline, a.why);
    if (j.sent && j.core->cfg.on_event) a.request = loggable_request(req, s);
    if (a.ec)
        a.retryable = a.ec == condition::retryable || j.transient;
    else
        interpret_response(j, p->get(), token);
}

inline net::awaitable<void> run_fetch(std::shared_ptr<fetch_job> jp) {
    fetch_job& j = *jp;
    client_core& core = *j.core;
    auto const& cfg = core.cfg;
    if (!j.ec && core.config_ec) {
        j.ec = core.config_ec;
        j.diag.message = core.config_why;
    }
    if (!j.ec) {
        j.prov = core.slot_for(j.ops);
        j.ec = j.prov->ec;
        j.diag.message = j.prov->why;
        j.diag.host = j.prov->setup.host;
    }
    for (unsigned attempt = 1; !j.ec; ++attempt) {
        j.at = {};
        // Diagnostics describe the last attempt: one without a response must not report an
        // earlier response's status, provider error or budget.
        j.diag.http_status = 0;
        j.diag.provider_code.clear();
        j.diag.provider_message.clear();
        j.diag.request_id.clear();
        j.diag.rate_limit_remaining = -1;
        ++j.requests;
        j.emit(fetch_event_kind::attempt_start);
        co_await run_attempt(j);
        j.emit(fetch_event_kind::attempt_end);
        if (!j.at.ec) break;
        if (j.at.renew_token && !j.cancelled) {
            --attempt;
            continue;
        }
        j.ec = j.at.ec;
        if (j.cancelled || !j.at.retryable || attempt >= cfg.retry.max_attempts) break;
        auto const delay =
            retry_delay(j.at.retry_after, cfg.retry.backoff_base, cfg.retry.backoff_cap,
                        cfg.retry.max_retry_after, attempt, core.rng);
        // No point waiting for an attempt that could not start before the deadline.
        if (steady::now() + delay >= j.deadline) {
            j.at.why += "; no time left for another attempt";
            break;
        }
        j.emit(fetch_event_kind::retry_scheduled, delay);
        j.timer.expires_after(delay);
        error_code ignored;
        co_await j.timer.async_wait(on_error(ignored));
        if (j.cancelled) {
            j.ec = net::error::operation_aborted;
            break;
        }
        j.ec = {};
    }
    if (j.ec && j.diag.message.empty()) j.diag.message = std::move(j.at.why);
    j.diag.retry_after = j.at.retry_after.value_or(std::chrono::milliseconds(-1));
    j.diag.attempts = j.requests;
    j.diag.elapsed = fetch_job::since(j.start);
    if (j.out_diag) *j.out_diag = std::move(j.diag);
}

// Completes the caller's handler through its own executor, which it keeps busy until then.
// It hands the handler and that executor over at the call instead of leaving them to co_spawn's
// frame, so nothing of the caller's (a use_future promise, say) is released on this thread
// after the caller has its result.
struct fetch_completion {
    fetch_handler handler;
    std::shared_ptr<fetch_job> job;
    net::cancellation_slot slot;
    net::any_completion_executor work;

    void operator()(std::exception_ptr e) {
        if (slot.is_connected()) slot.clear();
        error_code ec = job->ec;
        if (e) { // nothing in the fetch throws on purpose: only an allocation failure would
            ec = make_error_code(boost::system::errc::not_enough_memory);
            try {
                std::rethrow_exception(e);
            } catch (boost::system::system_error const& x) {
                ec = x.code();
            } catch (...) {
            }
        }
        payout p = ec ? payout() : std::move(job->result);
        job.reset(); // the connection, timers and client core go before the handler runs
        net::dispatch(std::exchange(work, {}),
                      [h = std::move(handler), ec, p = std::move(p)]() mutable {
                          std::move(h)(ec, std::move(p));
                      });
    }
};

// A fetch awaited by the library's own coroutines (fetch_many's workers, watch), cancelled
// through `slot`. The initiation owns its arguments: it runs only when awaited.
inline net::awaitable<std::tuple<error_code, payout>>
fetch_inside(std::shared_ptr<client_core> core, provider_ops const& ops, fetch_id id,
             diagnostics& diag, net::cancellation_slot slot) {
    auto token = net::bind_cancellation_slot(slot, net::as_tuple(net::use_awaitable));
    return net::async_initiate<decltype(token), void(error_code, payout)>(
        [core = std::move(core), &ops, id = std::move(id), &diag](auto h) mutable {
            start_fetch(std::move(core), ops, std::move(id), &diag, fetch_handler(std::move(h)));
        },
        token);
}

} // namespace payouts::detail
