// payouts::fetch<P>: the one generic operation that gets a payout from any provider.
#pragma once

#include <payouts/client.hpp>
#include <payouts/decode.hpp>
#include <payouts/detail/exchange.hpp>
#include <payouts/detail/oauth.hpp>
#include <payouts/detail/request.hpp>
#include <payouts/detail/retry.hpp>
#include <payouts/diagnostics.hpp>
#include <payouts/error.hpp>
#include <payouts/payout.hpp>
#include <payouts/provider.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/coroutine.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

namespace payouts {
namespace detail {

template <class P>
struct fetch_state {
    fetch_state(std::shared_ptr<client_core> c, diagnostics* d)
        : core(std::move(c))
        , ex(*core)
        , done(core->ex)
        , out_diag(d) {}

    std::shared_ptr<client_core> core; // first: destroyed last
    std::shared_ptr<provider_slot> prov;
    exchange_state ex;
    net::steady_timer done; // cancelled when the attempt loop has finished
    bool finished = false;  // the attempt loop has finished
    net::coroutine coro;    // where the attempt loop (fetch_driver) is
    std::string id_segment;
    payout result;
    diagnostics diag;
    diagnostics* out_diag;
    net::cancellation_slot user_slot;

    steady::time_point start{};
    error_code final_ec;
    error_code attempt_ec;
    std::string attempt_why;
    unsigned attempts = 0;  // counted against the retry policy
    unsigned requests = 0;  // HTTP requests sent or tried (diagnostics::attempts)
    bool refreshed = false; // the OAuth token was renewed after a 401 already
    bool refresh_now = false;
    bool attempt_retryable = false;
    std::uint64_t flights_seen = 0;
    std::string token_used;
    std::optional<std::chrono::milliseconds> retry_after;
    std::string_view rate_limit_remaining;
    steady::time_point attempt_start{};
    bool sent = false; // this attempt got as far as sending its request

    std::chrono::milliseconds elapsed() const {
        return std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - start);
    }

    void emit_token_wait_end() {
        auto const& hook = core->cfg.on_event;
        if (!hook) return;
        auto const& tc = prov->token;
        fetch_event e;
        e.kind = fetch_event_kind::token_wait_end;
        e.provider = P::name;
        e.host = prov->setup.token_host;
        e.attempt = requests;
        e.http_status = tc.last_status;
        e.error = tc.last_ec;
        e.elapsed = elapsed();
        e.message = tc.last_why;
        try {
            hook(e);
        } catch (...) {
        }
    }

    void emit(fetch_event_kind k, std::chrono::milliseconds delay = {}) {
        auto const& hook = core->cfg.on_event;
        if (!hook) return;
        fetch_event e;
        e.kind = k;
        e.provider = P::name;
        e.host = prov ? std::string_view(prov->setup.host) : std::string_view();
        e.attempt = requests;
        e.http_status = diag.http_status;
        e.error = attempt_ec;
        e.elapsed = elapsed();
        e.delay = delay;
        e.message = attempt_why;
        e.rate_limit_remaining = rate_limit_remaining;
        std::string shown; // built only for a hook, and only once the request exists
        if (k == fetch_event_kind::attempt_end) {
            e.attempt_elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
                steady::now() - attempt_start);
            if (sent && prov) {
                shown = "GET " + std::string(request_target(ex.wire)) + "\n" +
                        loggable_headers(ex.wire, prov->setup);
                e.request = shown;
            }
        }
        try {
            hook(e);
        } catch (...) {
            // An observer must not change the outcome of the fetch.
        }
    }
};

// Installed in the caller's cancellation slot (the operation's own slot is left empty), so
// cancellation works whatever the inner Beast and Asio operations support: it closes the
// connection and cancels every wait.
struct fetch_cancel_handler {
    explicit fetch_cancel_handler(exchange_state* s) noexcept
        : st(s) {}
    exchange_state* st;
    void operator()(net::cancellation_type t) const {
        if (t != net::cancellation_type::none) st->abort(abort_reason::cancelled);
    }
};

inline std::string_view header_or_empty(response_fields const& f, std::string_view name) {
    auto const it = f.find(name);
    return it == f.end() ? std::string_view() : std::string_view(it->value());
}

// The provider's remaining-budget header as a count; -1 when absent or not a number.
inline long long rate_limit_count(std::string_view v) {
    auto const n = parse_int64(trim_ows(v));
    return n && *n >= 0 ? *n : -1;
}

template <class P>
void interpret_response(fetch_state<P>& st) {
    auto& res = st.ex.parser->get();
    auto const status = res.result_int();
    st.diag.http_status = int(status);
    st.diag.request_id.clear();
    for (auto const& h : st.prov->setup.request_id_headers)
        if (auto v = header_or_empty(res, h); !v.empty()) {
            st.diag.request_id.assign(v.substr(0, 256));
            break;
        }
    if (!st.prov->setup.rate_limit_header.empty()) {
        st.rate_limit_remaining = header_or_empty(res, st.prov->setup.rate_limit_header);
        st.diag.rate_limit_remaining = rate_limit_count(st.rate_limit_remaining);
    }
    st.diag.provider_code.clear();
    st.diag.provider_message.clear();
    auto const is_not_found_code = [](std::string_view code) {
        for (std::string_view c : P::not_found_codes)
            if (c == code) return true;
        return false;
    };

    if (status >= 200 && status < 300) {
        std::string decode_why;
        // A payout takes the body over as its raw copy; a failure leaves it for the error body.
        auto r = decode_impl<P>(res.body(), decode_why, &res.body());
        if (!r) st.attempt_why = std::move(decode_why);
        if (r) {
            st.result = std::move(*r);
            if (!st.diag.request_id.empty()) st.result.request_id = st.diag.request_id;
            return;
        }
        st.attempt_ec = errc::invalid_response;
        auto const perr = read_error_body<P>(res.body());
        st.diag.provider_code = perr.code;
        st.diag.provider_message = perr.message;
        if (!perr.code.empty() && is_not_found_code(perr.code)) {
            st.attempt_ec = errc::not_found;
        } else {
            st.emit(fetch_event_kind::decode_error);
        }
        return;
    }

    st.attempt_ec = status_error(status);
    auto const perr = read_error_body<P>(res.body());
    st.diag.provider_code = perr.code;
    st.diag.provider_message = perr.message;
    if (!perr.code.empty() && is_not_found_code(perr.code)) st.attempt_ec = errc::not_found;
    st.attempt_retryable = retryable_status(status) && st.attempt_ec != errc::not_found;
    st.attempt_why = "HTTP " + std::to_string(status) + " from " + st.prov->setup.host;
    if (status >= 300 && status < 400) st.attempt_why += " (redirects are not followed)";
    if (st.attempt_retryable) {
        auto const ra = header_or_empty(res, "Retry-After");
        if (!ra.empty()) st.retry_after = parse_retry_after(ra, std::chrono::system_clock::now());
    }
    if (status == 401 && st.prov->setup.oauth && !st.refreshed) {
        st.prov->token.invalidate(st.token_used);
        st.refreshed = true;
        st.refresh_now = true;
    }
}

#include <boost/asio/yield.hpp>

// The attempt loop. Its type depends on P only, not on the caller's completion handler, so the
// heavy transport templates are instantiated once per provider; fetch_op (per handler) waits for
// it on st.done and completes.
//
// It holds a plain pointer: fetch_op owns the state and completes only after the driver ends.
template <class P>
struct fetch_driver {
    fetch_state<P>* sp;

    static void resume(void* st, error_code ec) {
        fetch_driver{static_cast<fetch_state<P>*>(st)}(ec);
    }

    void operator()(error_code ec = {}, std::size_t = 0) {
        auto& st = *sp;
        auto& cfg = st.core->cfg;
        reenter(st.coro) {
            while (!st.final_ec) {
                st.attempt_ec = {};
                st.attempt_why.clear();
                st.attempt_retryable = false;
                st.retry_after.reset();
                st.rate_limit_remaining = {};
                // Diagnostics describe the last attempt: an attempt that gets no response must
                // not report an earlier response's status, provider error or budget.
                st.diag.http_status = 0;
                st.diag.provider_code.clear();
                st.diag.provider_message.clear();
                st.diag.request_id.clear();
                st.diag.rate_limit_remaining = -1;
                st.attempt_start = steady::now();
                st.sent = false;
                ++st.attempts;
                ++st.requests;
                st.emit(fetch_event_kind::attempt_start);

                // An OAuth token: cached, or from the one token request in flight.
                while (st.prov->setup.oauth && !st.attempt_ec &&
                       !st.prov->token.valid(steady::now())) {
                    st.flights_seen = st.prov->token.flights;
                    start_token_flight(st.core, st.prov);
                    st.ex.timer().expires_at(st.ex.deadline);
                    st.prov->token.waiters.push(st.ex.w);
                    yield st.ex.timer().async_wait(std::move(*this));
                    st.prov->token.waiters.remove(st.ex.w);
                    if (st.ex.aborted != abort_reason::none) {
                        st.attempt_ec = st.ex.abort_error();
                    } else if (!st.ex.w.woken) {
                        st.attempt_ec = errc::timeout;
                        st.attempt_why = "timed out waiting for the OAuth token";
                    } else if (!st.prov->token.valid(steady::now()) &&
                               st.prov->token.flights != st.flights_seen) {
                        auto const& tc = st.prov->token;
                        st.attempt_ec = tc.last_ec;
                        st.attempt_retryable = tc.last_retryable;
                        st.attempt_why = tc.last_why;
                        st.diag.http_status = tc.last_status;
                        st.diag.provider_code = tc.last_code;
                        st.diag.provider_message = tc.last_message;
                        st.diag.host = st.prov->setup.token_host;
                    }
                    if (st.prov->token.flights != st.flights_seen) st.emit_token_wait_end();
                }

                if (!st.attempt_ec) {
                    if (st.prov->setup.oauth) st.token_used = st.prov->token.token;
                    st.attempt_ec = build_get_request(st.prov->setup, st.id_segment, st.token_used,
                                                      cfg.user_agent, st.ex.wire, st.attempt_why);
                }
                if (!st.attempt_ec) {
                    st.diag.host = st.prov->setup.host;
                    st.sent = true;
                    yield async_exchange(st.ex, exchange_callback{&resume, sp, {}});
                    if (ec) {
                        st.attempt_ec = ec;
                        st.attempt_retryable = ec == condition::retryable;
                        st.attempt_why = std::string(st.ex.phase) + ": " + ec.message();
                    } else {
                        interpret_response(st);
                    }
                }
                st.emit(fetch_event_kind::attempt_end);

                if (!st.attempt_ec) break;
                if (st.refresh_now) { // one renewal of the token after a 401, not an attempt
                    st.refresh_now = false;
                    --st.attempts;
                    continue;
                }
                if (st.ex.aborted != abort_reason::none || !st.attempt_retryable ||
                    st.attempts >= cfg.retry.max_attempts) {
                    st.final_ec = st.attempt_ec;
                    break;
                }
                {
                    auto const delay =
                        retry_delay(st.retry_after, cfg.retry.backoff_base, cfg.retry.backoff_cap,
                                    cfg.retry.max_retry_after, st.attempts, st.core->rng);
                    // No point waiting for an attempt that could not start before the deadline.
                    if (steady::now() + delay >= st.ex.deadline) {
                        st.final_ec = st.attempt_ec;
                        st.attempt_why += "; no time left for another attempt";
                        break;
                    }
                    st.emit(fetch_event_kind::retry_scheduled, delay);
                    st.ex.timer().expires_after(delay);
                }
                yield st.ex.timer().async_wait(std::move(*this));
                if (st.ex.aborted != abort_reason::none) st.final_ec = st.ex.abort_error();
            }
            st.finished = true;
            st.done.cancel();
        }
    }
};

template <class P>
struct fetch_op {
    std::shared_ptr<fetch_state<P>> sp;
    bool started = false;

    template <class Self>
    void operator()(Self& self, error_code = {}) {
        if (!started) {
            // The driver ends by cancelling st.done, where this op waits; one that ended at once
            // (nothing to send) is posted. Either way completion never happens inside the
            // initiating call. The wait starts after the driver so that the exchange's watchdog
            // is already the earliest timer: a timer that becomes the earliest costs a
            // timerfd_settime, and this one never needs to fire.
            started = true;
            auto st = sp;
            fetch_driver<P>{st.get()}();
            if (st->finished) return net::post(std::move(self));
            st->done.expires_at(steady::time_point::max());
            st->done.async_wait(std::move(self));
            return;
        }
        finish(self);
    }

    template <class Self>
    void finish(Self& self) {
        auto& st = *sp;
        if (!st.final_ec && st.attempt_ec) st.final_ec = st.attempt_ec;
        if (st.final_ec && st.diag.message.empty()) st.diag.message = std::move(st.attempt_why);
        st.diag.attempts = st.requests;
        st.diag.elapsed = st.elapsed();
        if (st.out_diag) *st.out_diag = std::move(st.diag);
        if (st.user_slot.is_connected()) st.user_slot.clear();
        error_code const ec = st.final_ec;
        payout p;
        if (!ec) p = std::move(st.result);
        sp.reset(); // the connection, timers and core reference go before the handler runs
        self.complete(ec, std::move(p));
    }
};

#include <boost/asio/unyield.hpp>

template <class H>
struct is_slot_binder : std::false_type {};
template <class T, class S>
struct is_slot_binder<net::cancellation_slot_binder<T, S>> : std::true_type {};

template <class P>
struct fetch_initiation {
    // Everything touches the client, which belongs to its executor: a fetch initiated from
    // another thread (use_future) starts there; from the executor itself it starts inline.
    template <class Handler>
    void operator()(Handler&& handler, std::shared_ptr<client_core> core, typename P::id_type id,
                    diagnostics* diag) const {
        auto const io = core->ex;
        net::dispatch(
            io, [h = std::forward<Handler>(handler), core = std::move(core), id = std::move(id),
                 diag]() mutable { start(std::move(h), std::move(core), std::move(id), diag); });
    }

    template <class Handler>
    static void start(Handler handler, std::shared_ptr<client_core> core, typename P::id_type id,
                      diagnostics* diag) {
        auto st = std::make_shared<fetch_state<P>>(std::move(core), diag);
        auto& c = *st->core;
        st->start = steady::now();
        st->ex.deadline = st->start + c.cfg.deadline;
        st->ex.weak = std::shared_ptr<exchange_state>(st, &st->ex);
        if (c.config_ec) {
            st->final_ec = c.config_ec;
            st->diag.message = c.config_why;
        } else {
            st->prov = c.template slot_for<P>();
            if (st->prov->ec) {
                st->final_ec = st->prov->ec;
                st->diag.message = st->prov->why;
            } else {
                st->ex.url = &st->prov->setup.url;
                st->ex.hp = st->prov->pool;
                st->diag.host = st->prov->setup.host;
                std::string why;
                if (auto ec = append_id_segment<P>(st->id_segment, id, why)) {
                    st->final_ec = ec;
                    st->diag.message = std::string(P::name) + ": " + why;
                }
            }
        }
        auto slot = net::get_associated_cancellation_slot(handler);
        if (slot.is_connected()) {
            st->user_slot = slot;
            slot.template emplace<fetch_cancel_handler>(&st->ex);
        }
        auto const io = c.ex;
        // The operation's own slot stays empty: the caller's slot holds our handler instead.
        auto bound = [&] {
            if constexpr (is_slot_binder<Handler>::value)
                return net::bind_cancellation_slot(net::cancellation_slot(),
                                                   std::move(handler.get()));
            else
                return net::bind_cancellation_slot(net::cancellation_slot(), std::move(handler));
        }();
        net::async_compose<decltype(bound), void(error_code, payout)>(fetch_op<P>{std::move(st)},
                                                                      bound, io);
    }
};

// fetch<P> on a client's internals, for operations that outlive the `client` object they were
// given (fetch_many). `diag` may be null.
template <provider P, class Token>
auto fetch_on(std::shared_ptr<client_core> core, typename P::id_type id, diagnostics* diag,
              Token&& token) {
    return boost::asio::async_initiate<Token, void(error_code, payout)>(
        fetch_initiation<P>{}, token, std::move(core), std::move(id), diag);
}

template <class T>
inline constexpr bool is_diagnostics_v = std::is_same_v<std::remove_cvref_t<T>, diagnostics>;

// The client used by fetch<P>(id): one per execution context, configured from the environment
// on first use, each provider's variables read at its first fetch.
class default_client_service : public net::execution_context::service {
public:
    using key_type = default_client_service;
    inline static net::execution_context::id id;

    explicit default_client_service(net::execution_context& ctx)
        : net::execution_context::service(ctx) {}

    template <class P>
    client& get(net::any_io_executor const& ex) {
        if (!client_) {
            diagnostics d;
            auto cfg = config_from_environment<>(d);
            client_.emplace(ex, cfg ? std::move(*cfg) : client_config{});
            if (!cfg) {
                env_ec_ = cfg.error();
                env_why_ = d.message;
            }
        }
        if (std::find(seen_.begin(), seen_.end(), P::name) == seen_.end()) {
            client_config tmp;
            read_provider_environment<P>(tmp, process_environment);
            client_->set_provider_config(std::string(P::name),
                                         std::move(tmp.providers.begin()->second));
            seen_.push_back(P::name);
        }
        return *client_;
    }

    // A malformed PAYOUTS_ENVIRONMENT or PAYOUTS_TIMEOUT_MS.
    error_code environment_error(std::string& why) const {
        why = env_why_;
        return env_ec_;
    }

private:
    void shutdown() override { client_.reset(); }

    std::optional<client> client_;
    std::vector<std::string_view> seen_;
    error_code env_ec_;
    std::string env_why_;
};

} // namespace detail

/// \brief Fetches payout `id` from provider `P` through client `c`.
///
/// One asynchronous operation: validates and percent-encodes the id, builds the request from
/// P's traits and the client's configuration, takes a keep-alive connection (or connects and
/// verifies TLS), gets an OAuth token when P uses one, sends `GET`, reads the response, retries
/// what is worth retrying inside the overall deadline, and decodes a 2xx body with `decode<P>`.
///
/// \par Completion signature
/// `void(error_code, payout)`. With `asio::use_awaitable` or `asio::deferred` (the default) a
/// failure throws `boost::system::system_error`; use `asio::as_tuple(asio::use_awaitable)` to
/// get `(error_code, payout)`. Also works with `asio::use_future` and plain callbacks. The
/// handler is never invoked from inside this call.
///
/// \par Errors
/// errc::invalid_id (id breaks P's id rule; nothing is sent), errc::missing_credentials,
/// errc::invalid_config (URL, CA, control characters in a credential or header value; nothing
/// is sent), errc::unauthorized (401), errc::forbidden (403), errc::not_found (404 or one of
/// P's not-found error codes), errc::rate_limited (429), errc::provider_unavailable (5xx but
/// 501/505), errc::unexpected_status (other statuses, redirects), errc::invalid_response (the
/// 2xx body is not a payout), errc::body_too_large, errc::unsupported_encoding (a
/// Content-Encoding other than identity, a transfer coding other than chunked, or a body
/// delimited by the connection's end),
/// errc::timeout (the overall deadline or a phase timeout), errc::token_request_failed, TLS
/// errors (asio::ssl / OpenSSL, e.g. an untrusted certificate or a wrong host name) and other
/// transport errors as Asio and Beast report them, asio::error::operation_aborted when
/// cancelled.
///
/// \par Object lifetimes
/// `c` may be destroyed while the operation runs (it keeps what it needs). `id` is copied.
///
/// \par Thread safety
/// May be initiated from any thread: the operation starts on the client's executor (inline when
/// already running there), so `asio::use_future` works from a foreign thread. Everything else
/// about the client belongs to that executor; see `client`.
///
/// \par Per-operation cancellation
/// Terminal cancellation through the handler's associated cancellation slot (any type is
/// treated as terminal): the connection in use is closed, never reused, and the operation
/// completes with asio::error::operation_aborted.
template <provider P, class Token = boost::asio::deferred_t>
requires(!detail::is_diagnostics_v<Token>) auto fetch(client& c, typename P::id_type id,
                                                      Token&& token = {}) {
    return boost::asio::async_initiate<Token, void(error_code, payout)>(
        detail::fetch_initiation<P>{}, token, detail_client_access::core(c), std::move(id),
        static_cast<diagnostics*>(nullptr));
}

/// \brief As `fetch(c, id, token)`, and `diag` receives the details at completion, success or
/// not: HTTP status, the provider's error code and message, request id, attempts, elapsed time,
/// host, and in `message` what went wrong. Never a credential. `diag` must stay valid until the
/// operation completes; it is written only just before the handler runs.
template <provider P, class Token = boost::asio::deferred_t>
auto fetch(client& c, typename P::id_type id, diagnostics& diag, Token&& token = {}) {
    return boost::asio::async_initiate<Token, void(error_code, payout)>(
        detail::fetch_initiation<P>{}, token, detail_client_access::core(c), std::move(id), &diag);
}

/// \brief The design card's form: `co_await payouts::fetch<Yuno>(id)`, with the default client
/// of the coroutine's execution context, configured from the environment (see
/// `config_from_environment`; each provider's variables are read at its first fetch).
///
/// \throws boost::system::system_error with the errors listed for `fetch(c, id, token)`; its
/// `what()` includes the diagnostic message (for errc::missing_credentials, the environment
/// variables to set).
///
/// \par Thread safety
/// The default client is created on first use with the calling coroutine's executor; run every
/// such fetch of one execution context on that executor (or strand).
template <provider P>
boost::asio::awaitable<payout> fetch(typename P::id_type id) {
    namespace net = boost::asio;
    auto ex = co_await net::this_coro::executor;
    auto& ctx = net::query(ex, net::execution::context);
    auto& svc = net::use_service<detail::default_client_service>(ctx);
    client& c = svc.template get<P>(ex);
    std::string why;
    if (auto ec = svc.environment_error(why)) throw boost::system::system_error(ec, why);
    diagnostics d;
    auto [ec, p] = co_await fetch<P>(c, std::move(id), d, net::as_tuple(net::use_awaitable));
    if (ec) throw boost::system::system_error(ec, d.message);
    co_return std::move(p);
}

} // namespace payouts
