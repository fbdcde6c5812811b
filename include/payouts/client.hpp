// payouts::client and its configuration: who to talk to, with which credentials, how long to
// wait, how often to retry. fetch.hpp has the operation that uses it.
#pragma once

#include <payouts/detail/config.hpp>
#include <payouts/diagnostics.hpp>
#include <payouts/error.hpp>
#include <payouts/provider.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/system/result.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

namespace boost::asio::ssl {
class context; // <boost/asio/ssl/context.hpp>, for client_config::tls_context
} // namespace boost::asio::ssl

namespace payouts {

/// \brief Settings for one provider, kept in `client_config::providers` under the provider's
/// `name` ("yuno", "druo", ...).
struct provider_config {
    /// Base URL, path prefix included: the provider's path is appended to it, so
    /// "https://localhost:8443/yuno" sends `GET /yuno/payouts/{id}`. Empty: the provider's default
    /// for `client_config::env`. `https://` only, or `http://` to a loopback host when
    /// `client_config::allow_plaintext_loopback` is set. No user info, query or fragment.
    std::string base_url;

    /// OAuth token URL for providers with a client-credentials flow (DRUO, Checkout.com). Empty:
    /// the provider's default for `client_config::env`. Same rules as `base_url`.
    std::string token_url;

    /// \brief Credentials by name. The names are the provider's `credential_header::credential`
    /// values ("SECRET_KEY"; Yuno: "PUBLIC_API_KEY" and "PRIVATE_SECRET_KEY"; DRUO:
    /// "ACCESS_TOKEN"; Introw: "API_KEY") or, for the OAuth flow, "CLIENT_ID" and "CLIENT_SECRET".
    /// When all static credentials are present they are used; otherwise the OAuth flow when both
    /// of its credentials are. Empty values count as absent. Control characters are refused.
    std::map<std::string, std::string, std::less<>> credentials;
};

/// \brief When and how a fetch tries again. Retried: 429, 5xx except 501 and 505, and transport
/// failures before a complete response. Never retried: every other status, a decode error,
/// a cancellation, a configuration error. Every wait and attempt happens inside the fetch's
/// overall deadline: when the next wait would not end before it, the fetch fails at once with
/// the last error.
struct retry_policy {
    /// Attempts in all, the first included (1 disables retries).
    unsigned max_attempts = 3;
    /// Full-jitter exponential backoff: before retry n the wait is uniform in
    /// [0, min(backoff_cap, backoff_base × 2^(n-1))].
    std::chrono::milliseconds backoff_base{200};
    std::chrono::milliseconds backoff_cap{5000};
    /// A Retry-After (seconds or HTTP-date) replaces the backoff, clamped to this.
    std::chrono::milliseconds max_retry_after{30000};
};

/// What a `fetch_event` reports.
enum class fetch_event_kind {
    attempt_start,   ///< an HTTP attempt begins (`attempt` is its number, from 1)
    attempt_end,     ///< an attempt ended: `http_status` (0 without a response), `error`
    retry_scheduled, ///< another attempt follows after `delay`
    decode_error,    ///< a 2xx body did not decode; `message` says where and why
    /// An attempt waited for a new OAuth token: `host` is the token endpoint's, `http_status`
    /// and `error` the token request's outcome (one token request may serve many fetches).
    token_wait_end,
    /// A `watch` waits `delay` before its next fetch; `attempt` is the number of fetches it
    /// has made so far.
    watch_wait,
};

/// \brief One event of a fetch, for logging and metrics. Every view is valid only during the
/// hook call. Never holds a credential, token or authorization header.
struct fetch_event {
    fetch_event_kind kind = fetch_event_kind::attempt_start;
    std::string_view provider;                    ///< the provider's name
    std::string_view id;                          ///< the payout id as sent (percent-encoded)
    std::string_view host;                        ///< Host of the request
    unsigned attempt = 0;                         ///< number of the attempt this is about (from 1)
    int http_status = 0;                          ///< attempt_end: the response's status, 0 if none
    error_code error;                             ///< attempt_end: the attempt's outcome
    std::chrono::milliseconds elapsed{0};         ///< since the fetch started
    std::chrono::milliseconds attempt_elapsed{0}; ///< attempt_end: how long this attempt took
    std::chrono::milliseconds delay{0};    ///< retry_scheduled: the wait before the next attempt
    std::string_view message;              ///< decode_error and failed attempts: what went wrong
    std::string_view rate_limit_remaining; ///< attempt_end: the provider's remaining-budget header
    /// attempt_end: the request line and headers sent ("GET /target", then "Name: value" lines),
    /// every credential's value replaced by `<redacted>`; empty when nothing was sent.
    std::string_view request;
};

/// \brief Everything a `client` can be told. A plain aggregate: set what you need, keep the
/// defaults for the rest. `config_from_environment` builds one from PAYOUTS_* variables.
struct client_config {
    /// Which deployment the providers' default URLs point at.
    environment env = environment::sandbox;

    /// Per-provider settings, by provider name ("truust", "druo", "checkout", "yuno", "introw").
    std::map<std::string, provider_config, std::less<>> providers;

    /// Trust: the system's default roots (when `use_system_roots`) plus these CAs (PEM file,
    /// OpenSSL hashed directory, PEM text). A file or directory that cannot be loaded makes
    /// every fetch fail with errc::invalid_config.
    bool use_system_roots = true;
    std::string ca_file;
    std::string ca_dir;
    std::string ca_pem;

    /// \brief The caller's own TLS context (a client certificate and key for mutual TLS, its
    /// own trusted roots, ciphers, pinning callbacks). When set it is used as given and
    /// `use_system_roots`, `ca_file`, `ca_dir` and `ca_pem` are ignored. It cannot switch
    /// verification off: every connection still requires a verified peer certificate, checks
    /// the host name and sends SNI, so a context with `verify_none` and no trusted CA fails the
    /// handshake (a verify callback of the context's that accepts every certificate is the
    /// caller's own decision). Shared: the client keeps it alive; do not change it while
    /// fetches run. (This header only declares the type: include
    /// <boost/asio/ssl/context.hpp> to make one.)
    std::shared_ptr<boost::asio::ssl::context> tls_context;

    /// \brief Egress proxy for `https://` provider and token URLs:
    /// `http://[user:password@]host:port` (port 1080 when left out). Each connection is an HTTP
    /// `CONNECT` tunnel through it, then TLS to the provider with the provider's host name and
    /// verification. The user name and password (percent-decoded) go as `Proxy-Authorization:
    /// Basic` and are never shown. Empty: no proxy. `http://` loopback URLs never use it.
    std::string proxy;

    /// \brief Hosts reached without the proxy, as curl's NO_PROXY: comma-separated host names
    /// (each also matching its subdomains; a leading dot is ignored), IP addresses, or `*` for
    /// every host. Case and surrounding spaces do not matter.
    std::string no_proxy;

    /// Connecting (resolve + TCP connect) and the TLS handshake each have their own limit; all
    /// of a fetch, retries and waits included, must end within `deadline`.
    std::chrono::milliseconds connect_timeout{10000};
    std::chrono::milliseconds handshake_timeout{10000};
    std::chrono::milliseconds deadline{30000};

    retry_policy retry;

    /// Largest response body accepted (errc::body_too_large beyond), and largest header block.
    std::size_t body_limit = 1024 * 1024;
    std::uint32_t header_limit = 8 * 1024;

    /// Keep-alive connections kept idle per origin (scheme, host, port), how long they may stay
    /// idle, and how many may be open per origin at once: 32 by default, so that a burst of
    /// fetches does not overrun a server's accept backlog (0: no limit). Fetches beyond it wait
    /// for a connection, inside their deadline.
    std::size_t idle_connections_per_host = 8;
    std::chrono::milliseconds idle_timeout{30000};
    std::size_t max_connections_per_host = 32;

    /// Sent as User-Agent.
    std::string user_agent = "payouts/0.1";

    /// Allows `http://` base and token URLs whose host is loopback (127.0.0.0/8, ::1,
    /// localhost). Off by default; for tests and local sandboxes only.
    bool allow_plaintext_loopback = false;

    /// Called for each `fetch_event`, on the client's executor, inside the operation. Must not
    /// block; exceptions it throws are ignored. Empty: no events.
    std::function<void(fetch_event const&)> on_event;
};

/// Looks up an environment variable by name: the value, or nullopt when it is not set.
using env_lookup = std::function<std::optional<std::string>(std::string const& name)>;

/// The process environment, as an `env_lookup`.
inline std::optional<std::string> process_environment(std::string const& name) {
    char const* v = std::getenv(name.c_str());
    if (!v) return std::nullopt;
    return std::string(v);
}

/// \brief The environment variable that holds provider setting `suffix`:
/// `PAYOUTS_<NAME>_<suffix>` with the provider's name upper-cased
/// (`env_variable("yuno", "BASE_URL")` is "PAYOUTS_YUNO_BASE_URL").
inline std::string env_variable(std::string_view provider_name, std::string_view suffix) {
    return detail::env_name(provider_name, suffix);
}

namespace detail {

// PAYOUTS_ENVIRONMENT, PAYOUTS_CA_FILE, the proxy variables and PAYOUTS_TIMEOUT_MS into `cfg`;
// false and `why` for a malformed value.
PAYOUTS_DECL bool read_common_environment(client_config& cfg, env_lookup const& env,
                                          std::string& why);

template <class P>
void read_provider_environment(client_config& cfg, env_lookup const& env) {
    auto get = [&](std::string_view suffix) { return env(env_variable(P::name, suffix)); };
    provider_config pc;
    if (auto v = get("BASE_URL")) pc.base_url = *v;
    if (auto v = get("TOKEN_URL")) pc.token_url = *v;
    for (auto const& c : P::credentials)
        if (auto v = get(c.credential)) pc.credentials.emplace(std::string(c.credential), *v);
    if (P::oauth)
        for (char const* c : {"CLIENT_ID", "CLIENT_SECRET"})
            if (auto v = get(c)) pc.credentials.emplace(c, *v);
    cfg.providers.insert_or_assign(std::string(P::name), std::move(pc));
}

} // namespace detail

/// \brief Builds a client_config from PAYOUTS_* environment variables, as the default client
/// of `fetch<P>(id)` does:
///
/// - `PAYOUTS_ENVIRONMENT`: `sandbox` (default) or `production`;
/// - `PAYOUTS_CA_FILE`: a PEM file of CAs trusted besides the system roots;
/// - `PAYOUTS_TIMEOUT_MS`: the overall deadline of a fetch (default 30000);
/// - `PAYOUTS_PROXY` (else `HTTPS_PROXY`, else `https_proxy`): `client_config::proxy`;
/// - `PAYOUTS_NO_PROXY` (else `NO_PROXY`, else `no_proxy`): `client_config::no_proxy`;
/// - for each provider `P` in `Ps`: `PAYOUTS_<NAME>_BASE_URL`, `PAYOUTS_<NAME>_TOKEN_URL`, and
///   each credential as `PAYOUTS_<NAME>_<credential>` (its credential names, plus `CLIENT_ID`
///   and `CLIENT_SECRET` where it has an OAuth flow).
///
/// Missing credentials are not an error here: a fetch for that provider fails with
/// errc::missing_credentials naming the variables.
///
/// \param env Where variables come from (default: the process environment).
/// \param diag On failure, `diag.message` names the variable; cleared first.
/// \returns the configuration, or errc::invalid_config for a malformed PAYOUTS_ENVIRONMENT or
/// PAYOUTS_TIMEOUT_MS.
/// \par Thread safety
/// Reads the environment: do not call concurrently with `setenv`.
template <provider... Ps>
boost::system::result<client_config>
config_from_environment(diagnostics& diag, env_lookup const& env = process_environment) {
    diag.clear();
    client_config cfg;
    if (!detail::read_common_environment(cfg, env, diag.message))
        return make_error_code(errc::invalid_config);
    (detail::read_provider_environment<Ps>(cfg, env), ...);
    return cfg;
}

namespace detail {
class client_core;
} // namespace detail

/// \brief A connection to the payout providers: configuration, TLS context, keep-alive
/// connection cache and OAuth token cache. Fetch with `payouts::fetch<P>(client, id, ...)`.
///
/// \par Thread safety
/// Not thread-safe: the client's state lives on its executor (one thread, or one strand). A
/// fetch may be initiated from elsewhere (it hops onto that executor first); the other member
/// functions must be called there. Completion handlers are invoked through their associated
/// executor. Distinct clients are independent.
///
/// \par Object lifetimes
/// Operations in progress keep the client's internals alive, so destroying the client while
/// fetches are pending is allowed: they complete normally (their connections are then closed
/// instead of cached). The execution context must outlive the client and its operations.
class client {
public:
    using executor_type = boost::asio::any_io_executor;

    /// \brief Creates a client whose I/O runs on `ex`. Never throws for a bad configuration: a
    /// CA file that cannot be loaded, say, is reported by `config_error()` and makes every
    /// fetch fail with errc::invalid_config. Per-provider settings (URLs, credentials) are
    /// checked at a provider's first fetch.
    explicit client(executor_type ex, client_config cfg = {});

    /// Creates a client whose I/O runs on `ctx`'s executor (an io_context, a thread_pool...).
    template <class ExecutionContext>
    requires std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&>
    explicit client(ExecutionContext& ctx, client_config cfg = {})
        : client(executor_type(ctx.get_executor()), std::move(cfg)) {}

    client(client&&) noexcept = default;
    client& operator=(client&&) noexcept = default;
    client(client const&) = delete;
    client& operator=(client const&) = delete;

    /// Closes idle connections; pending fetches go on.
    ~client();

    /// The executor the client's I/O runs on.
    executor_type get_executor() const noexcept;

    /// The configuration given at construction.
    client_config const& config() const noexcept;

    /// \brief The problem with the configuration's global part (TLS trust, limits), if any;
    /// `config_error_message()` describes it.
    error_code config_error() const noexcept;
    std::string const& config_error_message() const noexcept;

    /// Closes the cached idle connections (in-use ones are unaffected).
    void close_idle_connections();

    /// Idle connections currently cached, all origins together.
    std::size_t idle_connections() const noexcept;

    /// \brief Replaces the settings of provider `name` (effective from the next fetch; cached
    /// OAuth tokens of that provider are dropped). Fetches in progress keep their old settings.
    void set_provider_config(std::string const& name, provider_config pc);

private:
    friend struct detail_client_access;
    std::shared_ptr<detail::client_core> core_;
};

// The fetch operation's access to the client's internals.
struct detail_client_access {
    static std::shared_ptr<detail::client_core> const& core(client const& c) noexcept {
        return c.core_;
    }
};

} // namespace payouts

#ifdef PAYOUTS_HEADER_ONLY
#include <payouts/impl/client.ipp>
#endif
