// Error codes of the payouts library and the conditions that classify them.
#pragma once

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/describe/enum.hpp>
#include <boost/system/error_category.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/error_condition.hpp>

#include <string>
#include <type_traits>

namespace payouts {

using boost::system::error_code;

/// \brief What went wrong in a fetch or a decode. Values are stable; 0 is never used.
enum class errc {
    invalid_id = 1,      ///< the id breaks the provider's id rule (empty, too long, bad characters)
    missing_credentials, ///< no credentials configured for the provider (diagnostics name them)
    invalid_config,      ///< a base URL, CA, header value or credential cannot be used
    unauthorized,        ///< 401: the provider refused the credentials
    forbidden,           ///< 403: the credentials lack permission
    not_found,           ///< 404, or the provider's own "not found" error code
    rate_limited,        ///< 429 (after the retries the policy allows)
    provider_unavailable, ///< 5xx other than 501/505 (after retries)
    unexpected_status,    ///< any other non-2xx status, or a redirect (never followed)
    invalid_response,     ///< the body is not a payout: malformed JSON, wrong types, missing fields
    body_too_large,       ///< the body (or the headers) exceed the configured limit
    timeout,              ///< the overall deadline or a phase timeout passed
    unsupported_encoding, ///< a coding we would have to undo (Content-Encoding other than
                          ///< identity, a transfer coding other than chunked), or a body
                          ///< delimited by the connection's end
    inexact_amount,       ///< money::minor_units() would drop non-zero digits
    amount_out_of_range,  ///< an amount does not fit in 64 bits at the required scale
    token_request_failed, ///< the OAuth token endpoint did not give a usable token
    proxy_refused,        ///< the egress proxy refused the CONNECT tunnel (407, 403, ...) or
                          ///< closed it before answering; diagnostics name the proxy's status
    invalid_signature,    ///< decode_webhook: the signature header is missing or malformed, no
                          ///< secret was given, or no secret's HMAC matches the body. Under no
                          ///< condition: not retryable, and not `invalid_input` (the request is
                          ///< the sender's, not the caller's; most often it is forged or stale)
};
BOOST_DESCRIBE_ENUM(errc, invalid_id, missing_credentials, invalid_config, unauthorized, forbidden,
                    not_found, rate_limited, provider_unavailable, unexpected_status,
                    invalid_response, body_too_large, timeout, unsupported_encoding, inexact_amount,
                    amount_out_of_range, token_request_failed, proxy_refused, invalid_signature)

/// \brief Classes of errors, for decisions: is it worth retrying, is it about credentials,
/// was the payout simply not there. They classify this library's codes and transport codes
/// from Asio, OpenSSL and Beast.
enum class condition {
    retryable = 1, ///< transient: 429, 5xx but 501/505, timeouts, resets, truncated streams
    auth,          ///< credentials missing or refused (missing_credentials, 401, 403, token)
    not_found,     ///< the provider does not know the payout
    invalid_input, ///< the caller's input (id or config) is wrong; retrying cannot help
};

namespace detail {

class errc_category final : public boost::system::error_category {
public:
    constexpr errc_category() noexcept
        : error_category(0x7061796f75747301ULL) {}
    char const* name() const noexcept override { return "payouts"; }
    std::string message(int ev) const override { return message(ev, nullptr, 0); }
    char const* message(int ev, char*, std::size_t) const noexcept override {
        switch (static_cast<errc>(ev)) {
        case errc::invalid_id:
            return "invalid payout id";
        case errc::missing_credentials:
            return "missing credentials";
        case errc::invalid_config:
            return "invalid configuration";
        case errc::unauthorized:
            return "unauthorized (HTTP 401)";
        case errc::forbidden:
            return "forbidden (HTTP 403)";
        case errc::not_found:
            return "payout not found";
        case errc::rate_limited:
            return "rate limited (HTTP 429)";
        case errc::provider_unavailable:
            return "provider unavailable (HTTP 5xx)";
        case errc::unexpected_status:
            return "unexpected HTTP status";
        case errc::invalid_response:
            return "invalid response body";
        case errc::body_too_large:
            return "response too large";
        case errc::timeout:
            return "timed out";
        case errc::unsupported_encoding:
            return "unsupported response encoding";
        case errc::inexact_amount:
            return "amount has more digits than the currency allows";
        case errc::amount_out_of_range:
            return "amount out of range";
        case errc::token_request_failed:
            return "OAuth token request failed";
        case errc::proxy_refused:
            return "the proxy refused the tunnel";
        case errc::invalid_signature:
            return "webhook signature did not verify";
        }
        return "unknown payouts error";
    }
    boost::system::error_condition default_error_condition(int ev) const noexcept override;
};

class condition_category final : public boost::system::error_category {
public:
    constexpr condition_category() noexcept
        : error_category(0x7061796f75747302ULL) {}
    char const* name() const noexcept override { return "payouts.condition"; }
    std::string message(int ev) const override {
        switch (static_cast<condition>(ev)) {
        case condition::retryable:
            return "retryable";
        case condition::auth:
            return "authentication";
        case condition::not_found:
            return "not found";
        case condition::invalid_input:
            return "invalid input";
        }
        return "unknown condition";
    }
    bool equivalent(error_code const& code, int cond) const noexcept override;
};

inline constexpr errc_category errc_category_instance{};
inline constexpr condition_category condition_category_instance{};

} // namespace detail

/// The category of `errc` values.
inline boost::system::error_category const& payouts_category() noexcept {
    return detail::errc_category_instance;
}
/// The category of `condition` values.
inline boost::system::error_category const& condition_category() noexcept {
    return detail::condition_category_instance;
}

inline error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), payouts_category()};
}
inline boost::system::error_condition make_error_condition(condition c) noexcept {
    return {static_cast<int>(c), condition_category()};
}

namespace detail {

inline boost::system::error_condition
errc_category::default_error_condition(int ev) const noexcept {
    return {ev, *this};
}

inline bool condition_category::equivalent(error_code const& code, int cond) const noexcept {
    namespace net = boost::asio;
    auto const c = static_cast<condition>(cond);
    if (code.category() == payouts_category()) {
        auto const e = static_cast<errc>(code.value());
        switch (c) {
        case condition::retryable:
            return e == errc::rate_limited || e == errc::provider_unavailable || e == errc::timeout;
        case condition::auth:
            return e == errc::missing_credentials || e == errc::unauthorized ||
                   e == errc::forbidden || e == errc::token_request_failed;
        case condition::not_found:
            return e == errc::not_found;
        case condition::invalid_input:
            return e == errc::invalid_id || e == errc::invalid_config;
        }
        return false;
    }
    if (c != condition::retryable) return false;
    // Transport failures before a complete response: worth another attempt on a new connection.
    return code == boost::beast::error::timeout || code == net::error::connection_reset ||
           code == net::error::connection_aborted || code == net::error::connection_refused ||
           code == net::error::eof || code == net::error::broken_pipe ||
           code == net::error::timed_out || code == net::error::network_unreachable ||
           code == net::error::host_unreachable || code == net::error::try_again ||
           code == net::error::host_not_found_try_again ||
           code == net::ssl::error::stream_truncated ||
           code == boost::beast::http::error::partial_message ||
           code == boost::beast::http::error::end_of_stream;
}

} // namespace detail
} // namespace payouts

template <>
struct boost::system::is_error_code_enum<payouts::errc> : std::true_type {};
template <>
struct boost::system::is_error_condition_enum<payouts::condition> : std::true_type {};
