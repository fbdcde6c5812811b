// Request building: from a provider's traits, the client's configuration and an id to the exact
// bytes of a request. Pure (no I/O); unit-tested in tests/test_request.cpp.
#pragma once

#include <payouts/detail/provider_ops.hpp>
#include <payouts/detail/url.hpp>
#include <payouts/error.hpp>
#include <payouts/provider.hpp>

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <boost/system/result.hpp>
#include <boost/url/grammar/charset.hpp>
#include <boost/url/grammar/lut_chars.hpp>

#include <algorithm>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace payouts {

namespace detail {

namespace http = boost::beast::http;

using request_type = http::request<http::string_body>;

// Beast copies header values verbatim, so a CR or LF here would let a value end the header and
// start another (or the body). Every control character is refused, HTAB included: no credential
// or configured value needs one.
inline bool header_value_ok(std::string_view v) noexcept {
    return std::none_of(v.begin(), v.end(), [](unsigned char b) { return b < 0x20 || b == 0x7f; });
}

// Header names (and codings) compare without case.
inline bool same_name(std::string_view a, std::string_view b) noexcept {
    return boost::beast::iequals(a, b);
}

// RFC 9110 token characters, for header names that come from provider traits.
inline bool header_name_ok(std::string_view n) noexcept {
    static constexpr auto tchar =
        urls::grammar::lut_chars(urls::grammar::alnum_chars) + "!#$%&'*+-.^_`|~";
    return !n.empty() && urls::grammar::find_if_not(n.begin(), n.end(), tchar) == n.end();
}

/// Everything the generic path needs about one provider under one configuration, computed
/// once per client and provider (it holds secrets: never logged, never in diagnostics).
struct provider_setup {
    std::string_view name;
    base_url url;
    std::string host;          // Host header value
    std::string origin;        // connection-cache key
    std::string target_prefix; // base path prefix + P::path up to "{id}"
    std::string target_suffix; // P::path after "{id}"
    std::vector<std::pair<std::string_view, std::string>> static_headers; // auth + extra
    std::vector<std::string_view> secret_headers; // names whose values are credentials
    std::vector<std::string_view> request_id_headers;
    std::string_view rate_limit_header;

    // OAuth client credentials, when chosen.
    bool oauth = false;
    base_url token_url;
    std::string token_host;
    std::string token_origin;
    std::string token_target;
    std::string client_id, client_secret;
    token_body token_format = token_body::json;
    std::string_view audience, scope, token_header, token_prefix;
};

// A provider credential by name: its configured value, or null when absent or empty.
using credential_lookup = std::function<std::string const*(std::string_view name)>;

inline bool plaintext_refused(base_url const& u, bool allow_plaintext_loopback) {
    return !u.tls && !(allow_plaintext_loopback && is_loopback(u));
}

/// \brief Works out a provider's setup from its traits `t` and the configuration. Static
/// credentials win when all of them are configured; otherwise the OAuth flow is used when both
/// its credentials are. Errors: invalid_config (bad URL, plaintext not allowed, control
/// characters in a value), missing_credentials (why names the environment variables).
/// `base_url_override`/`token_url_override` replace the defaults when not empty;
/// `credential(name)` returns the configured value or null.
inline boost::system::result<provider_setup>
make_provider_setup(provider_transport const& t, std::string_view base_url_override,
                    std::string_view token_url_override, credential_lookup const& credential,
                    environment env, bool allow_plaintext_loopback, std::string& why) {
    auto const fail = [&](errc e, std::string w) -> boost::system::result<provider_setup> {
        why = std::string(t.name) + ": " + std::move(w);
        return make_error_code(e);
    };
    provider_setup s;
    s.name = t.name;
    std::string_view const url_text =
        !base_url_override.empty() ? base_url_override : std::string_view(t.urls[env]);
    auto u = parse_base_url(url_text, why);
    if (!u) return fail(errc::invalid_config, why);
    if (plaintext_refused(*u, allow_plaintext_loopback))
        return fail(errc::invalid_config, "http:// is only allowed to a loopback host, and only "
                                          "when client_config::allow_plaintext_loopback is set");
    s.url = std::move(*u);
    s.host = host_header(s.url);
    s.origin = origin_key(s.url);
    std::string_view const path = t.path;
    auto const at = path.find("{id}");
    s.target_prefix = s.url.prefix + std::string(path.substr(0, at));
    s.target_suffix = std::string(path.substr(at + 4));
    s.request_id_headers.assign(t.request_id_headers.begin(), t.request_id_headers.end());
    s.rate_limit_header = t.rate_limit_header;

    std::vector<std::string_view> missing;
    for (auto const& c : t.credentials)
        if (!credential(c.credential)) missing.push_back(c.credential);

    if (missing.empty()) {
        for (auto const& c : t.credentials) {
            std::string const& v = *credential(c.credential);
            if (!header_value_ok(v))
                return fail(errc::invalid_config, "credential " + env_name(t.name, c.credential) +
                                                      " contains a control character");
            s.static_headers.emplace_back(c.header, std::string(c.prefix) + v);
            s.secret_headers.push_back(c.header);
        }
    } else if (t.oauth && credential("CLIENT_ID") && credential("CLIENT_SECRET")) {
        auto const& o = *t.oauth;
        s.oauth = true;
        s.client_id = *credential("CLIENT_ID");
        s.client_secret = *credential("CLIENT_SECRET");
        // The token request body escapes both (JSON or form encoding), but they are still
        // credentials: the same rule as for header values keeps them honest.
        if (!header_value_ok(s.client_id) || !header_value_ok(s.client_secret))
            return fail(errc::invalid_config, "credential " + env_name(t.name, "CLIENT_ID") +
                                                  " or " + env_name(t.name, "CLIENT_SECRET") +
                                                  " contains a control character");
        std::string_view const token_text =
            !token_url_override.empty() ? token_url_override : std::string_view(o.token_urls[env]);
        auto tu = parse_base_url(token_text, why);
        if (!tu) return fail(errc::invalid_config, "token URL: " + why);
        if (plaintext_refused(*tu, allow_plaintext_loopback))
            return fail(errc::invalid_config, "token URL: http:// is only allowed to a loopback "
                                              "host, and only when allowed by the configuration");
        s.token_url = std::move(*tu);
        s.token_host = host_header(s.token_url);
        s.token_origin = origin_key(s.token_url);
        s.token_target = s.token_url.prefix.empty() ? "/" : s.token_url.prefix;
        s.token_format = o.body;
        s.audience = o.audience;
        s.scope = o.scope;
        s.token_header = o.header;
        s.token_prefix = o.prefix;
        s.secret_headers.push_back(o.header);
    } else {
        std::string names;
        for (auto m : missing) {
            if (!names.empty()) names += ", ";
            names += env_name(t.name, m);
        }
        if (t.oauth)
            names += " (or " + env_name(t.name, "CLIENT_ID") + " and " +
                     env_name(t.name, "CLIENT_SECRET") + ")";
        return fail(errc::missing_credentials, "missing credentials: set " + names);
    }
    for (auto const& h : t.extra_headers) {
        if (!header_name_ok(h.name) || !header_value_ok(h.value))
            return fail(errc::invalid_config, "invalid extra header");
        s.static_headers.emplace_back(h.name, std::string(h.value));
    }
    for (auto const& c : t.credentials)
        if (!header_name_ok(c.header)) return fail(errc::invalid_config, "invalid header name");
    if (t.oauth && !header_name_ok(t.oauth->header))
        return fail(errc::invalid_config, "invalid header name");
    // Each field is written once (build_get_request): a provider whose traits name one twice,
    // or name one the library writes itself, is refused here rather than sending both.
    std::vector<std::string_view> names{"Host", "User-Agent", "Accept", "Accept-Encoding"};
    if (s.oauth) names.push_back(s.token_header);
    for (auto const& h : s.static_headers)
        names.push_back(h.first);
    for (auto i = names.begin(); i != names.end(); ++i)
        if (std::any_of(names.begin(), i, [&](std::string_view n) { return same_name(n, *i); }))
            return fail(errc::invalid_config, "header " + std::string(*i) + " is given twice");
    return s;
}

/// P's setup: `make_provider_setup(transport_of<P>, ...)`.
template <class P>
boost::system::result<provider_setup>
make_provider_setup(std::string_view base_url_override, std::string_view token_url_override,
                    credential_lookup const& credential, environment env,
                    bool allow_plaintext_loopback, std::string& why) {
    return make_provider_setup(transport_of<P>, base_url_override, token_url_override, credential,
                               env, allow_plaintext_loopback, why);
}

using get_request = http::request<http::empty_body>;

// Starts `req` afresh with the start line and the fields every request begins with: Host,
// User-Agent, Accept, Accept-Encoding. invalid_config, and `req` left empty, when the user agent
// has a control character.
template <class Body>
error_code start_request(http::request<Body>& req, http::verb method, std::string_view target,
                         std::string_view host, std::string_view user_agent, std::string& why) {
    req = {};
    if (!header_value_ok(user_agent)) {
        why = "user agent contains a control character";
        return errc::invalid_config;
    }
    req.method(method);
    req.version(11);
    req.target(target);
    req.set(http::field::host, host);
    req.set(http::field::user_agent, user_agent);
    req.set(http::field::accept, "application/json");
    req.set(http::field::accept_encoding, "identity");
    return {};
}

/// \brief The Get-Payout request for an already encoded id segment. `token` is the OAuth access
/// token (ignored without OAuth). Returns invalid_config if a value to be sent carries a control
/// character (nothing may be sent then).
///
/// The fields, in this order: Host, User-Agent, Accept, Accept-Encoding, the token's header
/// (OAuth), then the setup's static headers (credentials, then the provider's extra headers).
/// make_provider_setup has refused a name given twice, so each field appears once.
inline error_code build_get_request(provider_setup const& s, std::string_view id_segment,
                                    std::string_view token, std::string_view user_agent,
                                    get_request& req, std::string& why) {
    auto const target = s.target_prefix + std::string(id_segment) + s.target_suffix;
    if (auto ec = start_request(req, http::verb::get, target, s.host, user_agent, why)) return ec;
    if (s.oauth && !header_value_ok(token)) {
        req = {};
        why = std::string(s.name) + ": the OAuth access token contains a control character";
        return errc::token_request_failed;
    }
    if (s.oauth) req.set(s.token_header, std::string(s.token_prefix) + std::string(token));
    for (auto const& [name, value] : s.static_headers)
        req.set(name, value);
    return {};
}

/// \brief A request as a log may show it: "GET /target", then one "Name: value" line per
/// field, the value of every field that carries a credential of `s` (and any Authorization,
/// Proxy-Authorization or Cookie field) replaced by `<redacted>`.
template <class Body>
std::string loggable_request(http::request<Body> const& req, provider_setup const& s) {
    std::string out(req.method_string());
    out += ' ';
    out += req.target();
    for (auto const& f : req) {
        auto const name = f.name_string();
        bool secret = same_name(name, "Authorization") || same_name(name, "Cookie") ||
                      same_name(name, "Proxy-Authorization");
        for (auto h : s.secret_headers)
            secret = secret || same_name(name, h);
        out += '\n';
        out += name;
        out += ": ";
        out += secret ? std::string_view("<redacted>") : std::string_view(f.value());
    }
    return out;
}

/// The OAuth client-credentials token request of `s` (JSON or form body, per the provider).
inline error_code build_token_request(provider_setup const& s, std::string_view user_agent,
                                      request_type& req, std::string& why) {
    auto const ec =
        start_request(req, http::verb::post, s.token_target, s.token_host, user_agent, why);
    if (ec) return ec;
    if (s.token_format == token_body::json) {
        boost::json::object o;
        o["client_id"] = s.client_id;
        o["client_secret"] = s.client_secret;
        if (!s.audience.empty()) o["audience"] = s.audience;
        if (!s.scope.empty()) o["scope"] = s.scope;
        o["grant_type"] = "client_credentials";
        req.set(http::field::content_type, "application/json");
        req.body() = boost::json::serialize(o);
    } else {
        std::string b = "grant_type=client_credentials&client_id=" + form_encode(s.client_id) +
                        "&client_secret=" + form_encode(s.client_secret);
        if (!s.scope.empty()) b += "&scope=" + form_encode(s.scope);
        if (!s.audience.empty()) b += "&audience=" + form_encode(s.audience);
        req.set(http::field::content_type, "application/x-www-form-urlencoded");
        req.body() = std::move(b);
    }
    req.prepare_payload();
    return {};
}

/// A token endpoint's answer.
struct token_reply {
    std::string access_token;
    std::chrono::seconds expires_in{0}; // 0 when the endpoint did not say
};

/// \brief Reads `{"access_token": "...", "expires_in": 3600 | "3600", ...}`. An `error` member,
/// a missing or empty token, a token with control characters or a malformed expires_in is
/// token_request_failed (`why` never repeats the token).
inline boost::system::result<token_reply> parse_token_reply(std::string_view body,
                                                            std::string& why) {
    auto const fail = [&](std::string w) -> boost::system::result<token_reply> {
        why = "token endpoint: " + std::move(w);
        return make_error_code(errc::token_request_failed);
    };
    boost::system::error_code ec;
    auto const jv = boost::json::parse(body, ec);
    if (ec || !jv.is_object()) return fail("the answer is not a JSON object");
    auto const& o = jv.get_object();
    if (auto const* e = o.if_contains("error")) {
        std::string w = "error";
        if (e->is_string())
            w += " \"" + std::string(e->get_string().subview().substr(0, 100)) + "\"";
        return fail(w);
    }
    token_reply r;
    auto const* t = o.if_contains("access_token");
    if (!t || !t->is_string() || t->get_string().empty())
        return fail("no access_token in the answer");
    if (!header_value_ok(t->get_string())) return fail("the access token has control characters");
    r.access_token = t->get_string();
    if (auto const* e = o.if_contains("expires_in"); e && !e->is_null()) {
        std::int64_t v = -1;
        if (e->is_int64())
            v = e->get_int64();
        else if (e->is_uint64())
            v = e->get_uint64() > 100000000u ? 100000000 : std::int64_t(e->get_uint64());
        else if (e->is_double() && e->get_double() >= 0 && e->get_double() < 1e8)
            v = std::int64_t(e->get_double());
        else if (e->is_string()) {
            auto const p = parse_int64(e->get_string());
            if (p) v = *p;
        }
        if (v < 0 || v > 100000000) return fail("expires_in is not a number of seconds");
        r.expires_in = std::chrono::seconds(v);
    }
    return r;
}

} // namespace detail
} // namespace payouts
