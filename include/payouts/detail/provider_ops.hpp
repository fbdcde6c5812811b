// What fetch<P> hands the generic fetch: P's request-side traits as run-time data, its decoder
// as a plain function, and the id checked and encoded by P's rule. Kept light: in separate mode
// this (with client.hpp and decode_decl.hpp) is all a user's file reads of the fetch path.
#pragma once

#include <payouts/detail/config.hpp>
#include <payouts/detail/decode_decl.hpp>
#include <payouts/diagnostics.hpp>
#include <payouts/error.hpp>
#include <payouts/payout.hpp>
#include <payouts/provider.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/system/result.hpp>

#include <concepts>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace payouts::detail {

// P's URLs, path, credentials, OAuth flow and headers as one value, so that the setup made from
// them (make_provider_setup) is compiled once rather than per provider.
struct provider_transport {
    std::string_view name;
    base_urls urls;
    std::string_view path;
    std::span<credential_header const> credentials;
    oauth_client_credentials const* oauth = nullptr; // null: no OAuth flow
    std::span<header_field const> extra_headers;
    std::span<std::string_view const> request_id_headers;
    std::string_view rate_limit_header;
};

template <class P>
inline constexpr provider_transport transport_of{P::name,
                                                 P::urls,
                                                 P::path,
                                                 P::credentials,
                                                 P::oauth ? &*P::oauth : nullptr,
                                                 P::extra_headers,
                                                 P::request_id_headers,
                                                 P::rate_limit_remaining_header};

// What the generic fetch needs of a provider at run time: data and plain functions, so the
// fetch itself is not a template.
struct provider_ops {
    provider_transport transport;
    // Decodes a 2xx body; a payout takes the body over as its raw copy.
    boost::system::result<payout> (*decode)(std::string& body, std::string& why);
    provider_error (*error_body)(std::string_view body);
    std::span<std::string_view const> not_found_codes;
};

template <class P>
struct ops_of {
    static boost::system::result<payout> decode(std::string& body, std::string& why) {
        return decode_impl<P>(body, why, &body);
    }
    static constexpr provider_ops value{transport_of<P>, &decode, &read_error_body<P>,
                                        std::span<std::string_view const>(P::not_found_codes)};
};

/// Checks `text` against `rule` (length; never "." or "..") and appends it to `out`
/// percent-encoded as one path segment.
PAYOUTS_DECL error_code append_id_text(std::string& out, std::string_view text, id_rule const& rule,
                                       std::string& why);

/// \brief Checks `id` against P's id rule and appends it to `out` percent-encoded as one path
/// segment. Integer ids (Truust) must be positive.
template <class P>
error_code append_id_segment(std::string& out, typename P::id_type const& id, std::string& why) {
    if constexpr (std::integral<typename P::id_type>) {
        if (id <= 0) {
            why = "payout id must be a positive integer, got " + std::to_string(id);
            return errc::invalid_id;
        }
        return append_id_text(out, std::to_string(id), P::id, why);
    } else {
        return append_id_text(out, std::string_view(id), P::id, why);
    }
}

/// An id as a fetch takes it: encoded as P's path segment, or refused (`ec`, and `why` naming
/// the provider and what P's rule wants; nothing is sent then).
struct fetch_id {
    std::string segment;
    error_code ec;
    std::string why;
};

template <class P>
fetch_id encode_id(typename P::id_type const& id) {
    fetch_id f;
    f.ec = append_id_segment<P>(f.segment, id, f.why);
    if (f.ec) f.why = std::string(P::name) + ": " + f.why;
    return f;
}

// A caller's callback of any type behind one non-template call, so that what calls it is
// compiled once (std::move_only_function is C++23).
template <class Arg>
struct sink {
    virtual ~sink() = default;
    virtual void operator()(Arg a) = 0;
};

template <class Arg, class F>
struct sink_of final : sink<Arg> {
    explicit sink_of(F f)
        : f(std::move(f)) {}
    void operator()(Arg a) override { f(std::forward<Arg>(a)); }
    F f;
};

template <class Arg, class F>
std::unique_ptr<sink<Arg>> make_sink(F&& f) {
    return std::make_unique<sink_of<Arg, std::decay_t<F>>>(std::forward<F>(f));
}

class client_core;

using fetch_handler = boost::asio::any_completion_handler<void(error_code, payout)>;

/// Starts a fetch of `id` on the client's executor: the non-template core of every `fetch<P>`.
/// A refused id still completes through the handler, never inside this call.
PAYOUTS_DECL void start_fetch(std::shared_ptr<client_core> core, provider_ops const& ops,
                              fetch_id id, diagnostics* diag, fetch_handler handler);

} // namespace payouts::detail

#ifdef PAYOUTS_HEADER_ONLY
#include <payouts/impl/provider_ops.ipp>
#endif
