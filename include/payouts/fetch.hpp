// payouts::fetch<P>: the one generic operation that gets a payout from any provider.
#pragma once

#include <payouts/client.hpp>
#include <payouts/detail/config.hpp>
#include <payouts/detail/decode_decl.hpp>
#include <payouts/detail/provider_ops.hpp>
#include <payouts/diagnostics.hpp>
#include <payouts/error.hpp>
#include <payouts/payout.hpp>
#include <payouts/provider.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <type_traits>
#include <utility>

namespace payouts {
namespace detail {

namespace net = boost::asio;

// The same initiation for every provider (what is P's arrives as arguments), so that each
// completion token's machinery is instantiated once, not once per provider.
struct fetch_initiation {
    template <class Handler>
    void operator()(Handler&& handler, std::shared_ptr<client_core> core, provider_ops const* ops,
                    fetch_id id, diagnostics* diag) const {
        start_fetch(std::move(core), *ops, std::move(id), diag,
                    fetch_handler(std::forward<Handler>(handler)));
    }
};

// fetch<P> on a client's internals. `diag` may be null. The id is checked and encoded here, by
// P's rule; a refused one still completes through the handler.
template <provider P, class Token>
auto fetch_on(std::shared_ptr<client_core> core, typename P::id_type const& id, diagnostics* diag,
              Token&& token) {
    return boost::asio::async_initiate<Token, void(error_code, payout)>(
        fetch_initiation{}, token, std::move(core), &ops_of<P>::value, encode_id<P>(id), diag);
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
        if (seen_.insert(P::name).second) {
            client_config tmp;
            read_provider_environment<P>(tmp, process_environment);
            client_->set_provider_config(std::string(P::name),
                                         std::move(tmp.providers.begin()->second));
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
    std::set<std::string_view> seen_;
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
/// handler is never invoked from inside this call; it is invoked through its associated
/// executor (by default the client's), which counts the operation as outstanding work until
/// then.
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
///
/// \par Connections
/// At most `client_config::max_connections_per_host` (32 by default) are open per origin;
/// fetches beyond that wait for one inside their deadline.
template <provider P, class Token = boost::asio::deferred_t>
requires(!detail::is_diagnostics_v<Token>) auto fetch(client& c, typename P::id_type id,
                                                      Token&& token = {}) {
    return detail::fetch_on<P>(detail_client_access::core(c), id, nullptr,
                               std::forward<Token>(token));
}

/// \brief As `fetch(c, id, token)`, and `diag` receives the details at completion, success or
/// not: HTTP status, the provider's error code and message, request id, attempts, elapsed time,
/// host, and in `message` what went wrong. Never a credential. `diag` must stay valid until the
/// operation completes; it is written only just before the handler runs.
template <provider P, class Token = boost::asio::deferred_t>
auto fetch(client& c, typename P::id_type id, diagnostics& diag, Token&& token = {}) {
    return detail::fetch_on<P>(detail_client_access::core(c), id, &diag,
                               std::forward<Token>(token));
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

#ifdef PAYOUTS_HEADER_ONLY
#include <payouts/impl/fetch.ipp>
#endif
