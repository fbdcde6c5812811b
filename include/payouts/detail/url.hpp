// Base and proxy URLs (parsed by Boost.URL), NO_PROXY rules, path segments. Pure functions,
// unit-tested in tests/test_request.cpp.
#pragma once

#include <payouts/error.hpp>

#include <boost/system/result.hpp>
#include <boost/url/decode_view.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/grammar/alnum_chars.hpp>
#include <boost/url/grammar/alpha_chars.hpp>
#include <boost/url/grammar/charset.hpp>
#include <boost/url/grammar/ci_string.hpp>
#include <boost/url/grammar/digit_chars.hpp>
#include <boost/url/grammar/hexdig_chars.hpp>
#include <boost/url/ipv4_address.hpp>
#include <boost/url/ipv6_address.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <boost/url/url_view.hpp>
#include <openssl/evp.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

namespace payouts::detail {

namespace urls = boost::urls;

// A base URL split into what the transport needs. Only what a provider base URL may hold is
// accepted: no user info (it would end up in logs), no query or fragment (the provider path is
// appended, so they would land in the middle of the target).
struct base_url {
    bool tls = true;
    std::string host; // lower case; IPv6 literals without brackets
    std::uint16_t port = 443;
    bool ip_literal = false;
    std::string prefix; // "" or "/segment..." without a trailing '/'
};

// An egress proxy: plain http only, user and password percent-decoded.
struct proxy_url {
    std::string host;
    std::uint16_t port = 1080;
    bool ip_literal = false;
    std::string user, password;
};

// A header value or list element without its optional whitespace (RFC 9110 OWS) at each end.
inline std::string_view trim_ows(std::string_view v) noexcept {
    auto const first = v.find_first_not_of(" \t");
    if (first == std::string_view::npos) return {};
    return v.substr(first, v.find_last_not_of(" \t") - first + 1);
}

// Boost.URL accepts any reg-name (escapes, sub-delims); a host we resolve must be a DNS name.
inline bool hostname_ok(std::string_view h) noexcept {
    if (h.empty() || h.size() > 253) return false;
    std::size_t label = 0;
    for (std::size_t i = 0; i < h.size(); ++i) {
        char const c = h[i];
        if (c == '.') {
            if (label == 0 || h[i - 1] == '-') return false;
            label = 0;
            continue;
        }
        if (!(urls::grammar::alnum_chars(c) || c == '-' || c == '_')) return false;
        if (label == 0 && c == '-') return false;
        if (++label > 63) return false;
    }
    // A last label that is a number makes the name an IPv4 address to the resolver (inet_aton
    // reads "127.1" as 127.0.0.1) though not to Boost.URL: refused, as the WHATWG URL standard
    // refuses such a host when it is not a valid address.
    auto last = h.substr(0, h.size() - (h.back() == '.'));
    last = last.substr(last.rfind('.') + 1);
    namespace g = urls::grammar;
    bool const hex = last.starts_with("0x") || last.starts_with("0X");
    auto const rest = hex ? last.substr(2) : last;
    bool const number =
        hex ? g::find_if_not(rest.begin(), rest.end(), g::hexdig_chars) == rest.end()
            : g::find_if_not(rest.begin(), rest.end(), g::digit_chars) == rest.end();
    if (number) return false;
    return h.back() != '-';
}

// Empty and dot segments (escaped ones too: servers decode them) would let a server's
// normalisation move the target out of the prefix. `path` is "" or "/seg...", escapes valid.
// (Boost.URL's segment views are not used: they hide a leading "/.", taking it for a prefix.)
inline bool segments_ok(std::string_view path) {
    for (std::size_t i = 0; i < path.size();) {
        auto const end = std::min(path.find('/', i + 1), path.size());
        urls::decode_view const seg(urls::pct_string_view(path.substr(i + 1, end - i - 1)));
        if (seg.empty() || seg == "." || seg == "..") return false;
        i = end;
    }
    return true;
}

// A refused URL may carry a secret (user info, an api_key query, a token in the path), and the
// reason for refusing it goes into diagnostics: only the scheme and host are ever repeated.
inline std::string redacted_url(std::string_view s) {
    auto const scheme_end = s.find("://");
    if (scheme_end == std::string_view::npos || scheme_end > 16) return "(not shown)";
    auto rest = s.substr(scheme_end + 3);
    // A password may hold an unescaped '/', '?' or '#': all up to the last '@' may be user info.
    auto const at = rest.rfind('@');
    if (at != std::string_view::npos) rest.remove_prefix(at + 1);
    auto const authority_end = rest.find_first_of("/?#");
    std::string out;
    for (char c : s.substr(0, scheme_end + 3).substr(0, 19))
        out += urls::grammar::alpha_chars(c) || c == ':' || c == '/' ? c : '?';
    if (at != std::string_view::npos) out += "(user info not shown)@";
    for (char c : rest.substr(0, authority_end).substr(0, 100))
        out += static_cast<unsigned char>(c) <= 0x20 || c == 0x7f || c == '"' ? '?' : c;
    if (authority_end != std::string_view::npos) out += "/...";
    return out;
}

// Parses `s` as a URI with an authority and neither query nor fragment; what is wrong, or null.
inline char const* parse_authority_url(std::string_view s, urls::url_view& v) {
    if (std::any_of(s.begin(), s.end(), [](unsigned char c) { return c <= 0x20 || c == 0x7f; }))
        return "contains a space or a control character";
    auto const r = urls::parse_uri(s);
    if (!r || !r->has_authority()) return "expected http(s)://host[:port][/path]";
    if (r->has_query() || r->has_fragment()) return "a query or fragment is not allowed";
    v = *r;
    return nullptr;
}

// Reads the host and, when present, the port of `v`; what is wrong, or null.
inline char const* read_host_port(urls::url_view const& v, std::string& host, bool& ip_literal,
                                  std::uint16_t& port) {
    // Boost.URL 1.81 ends the authority at the first character it cannot take ("h:44a" gives
    // port 44 and path "a"), where RFC 3986 requires the path to start with '/'.
    if (!v.encoded_path().empty() && !v.encoded_path().starts_with('/'))
        return v.has_port() ? "invalid port" : "invalid host";
    ip_literal = true;
    if (v.host_type() == urls::host_type::ipv4) {
        host = v.host_ipv4_address().to_string();
    } else if (v.host_type() == urls::host_type::ipv6) {
        host = v.host_ipv6_address().to_string();
    } else if (v.host_type() == urls::host_type::name) {
        ip_literal = false;
        host.clear();
        for (char c : v.encoded_host())
            host += urls::grammar::to_lower(c);
        if (host.empty()) return "missing host";
        if (!hostname_ok(host)) return "invalid host name";
    } else {
        return "invalid host";
    }
    if (v.has_port() && v.port().empty()) return "empty port";
    if (v.has_port() && v.port_number() == 0) return "port out of range"; // 0, or over 65535
    if (v.has_port()) port = v.port_number();
    return nullptr;
}

inline error_code url_refusal(std::string& why, char const* what, std::string_view s,
                              char const* w) {
    why = std::string(what) + " \"" + redacted_url(s) + "\": " + w;
    return make_error_code(errc::invalid_config);
}

/// Parses `scheme://host[:port][/prefix]`; `why` says what is wrong on failure (naming only the
/// URL's scheme and host: the rest may hold a secret).
inline boost::system::result<base_url> parse_base_url(std::string_view s, std::string& why) {
    base_url u;
    auto const wrong = [&]() -> char const* {
        urls::url_view v;
        if (auto const w = parse_authority_url(s, v)) return w;
        u.tls = v.scheme_id() == urls::scheme::https;
        if (!u.tls && v.scheme_id() != urls::scheme::http)
            return "scheme must be https (or http to a loopback host)";
        if (v.has_userinfo()) return "user info is not allowed";
        u.port = u.tls ? 443 : 80;
        if (auto const w = read_host_port(v, u.host, u.ip_literal, u.port)) return w;
        std::string_view path = v.encoded_path();
        while (path.ends_with('/'))
            path.remove_suffix(1);
        if (!segments_ok(path)) return "invalid path prefix";
        u.prefix = path;
        return nullptr;
    }();
    if (wrong) return url_refusal(why, "base URL", s, wrong);
    return u;
}

/// Parses `http://[user[:password]@]host[:port][/]`, the port 1080 when absent (as curl);
/// `why` never repeats the user info.
inline boost::system::result<proxy_url> parse_proxy_url(std::string_view s, std::string& why) {
    proxy_url p;
    auto const wrong = [&]() -> char const* {
        urls::url_view v;
        if (auto const w = parse_authority_url(s, v)) return w;
        if (v.scheme_id() == urls::scheme::https) return "an https proxy is not supported";
        if (v.scheme_id() != urls::scheme::http) return "scheme must be http";
        if (auto const w = read_host_port(v, p.host, p.ip_literal, p.port)) return w;
        if (v.encoded_path().size() > 1) return "a path is not allowed";
        p.user = v.user();
        p.password = v.password();
        // Basic authentication splits "user:password" at the first ':'.
        if (p.user.find(':') != std::string::npos) return "the user name must not hold ':'";
        return nullptr;
    }();
    if (wrong) return url_refusal(why, "proxy URL", s, wrong);
    return p;
}

/// True for 127.0.0.0/8, ::1 and "localhost" (which resolves to those).
inline bool is_loopback(base_url const& u) noexcept {
    if (!u.ip_literal) return u.host == "localhost";
    if (auto const a = urls::parse_ipv4_address(u.host)) return a->is_loopback();
    auto const a = urls::parse_ipv6_address(u.host);
    return a && a->is_loopback();
}

/// "host:port" as an authority (RFC 3986) writes it: an IPv6 literal in brackets.
inline std::string authority(std::string_view host, std::uint16_t port) {
    bool const v6 = host.find(':') != std::string_view::npos;
    return (v6 ? "[" + std::string(host) + "]" : std::string(host)) + ":" + std::to_string(port);
}

/// The Host header's value: the port only when not the scheme's default.
inline std::string host_header(base_url const& u) {
    auto const h = authority(u.host, u.port);
    return u.port == (u.tls ? 443 : 80) ? h.substr(0, h.rfind(':')) : h;
}

/// The connection-cache key, scheme://host:port: connections are shared only within it.
inline std::string origin_key(base_url const& u) {
    return (u.tls ? "https://" : "http://") + authority(u.host, u.port);
}

/// curl's NO_PROXY: comma-separated host names (each matching itself and its subdomains, a
/// leading '.' optional) or IP literals (matching exactly); ":port" ignored; "*" alone is all.
inline bool no_proxy_matches(std::string_view rules, std::string_view host) {
    // Lower case, without brackets or a trailing '.'; IPv6 in one spelling.
    auto const key = [](std::string_view x) {
        if (x.starts_with('[') && x.ends_with(']')) x = x.substr(1, x.size() - 2);
        if (x.ends_with('.')) x.remove_suffix(1);
        if (auto const a = urls::parse_ipv6_address(x)) return a->to_string();
        std::string k;
        for (char c : x)
            k += urls::grammar::to_lower(c);
        return k;
    };
    if (trim_ows(rules) == "*") return true;
    auto const h = key(host);
    bool const ip = urls::parse_ipv4_address(h) || urls::parse_ipv6_address(h);
    while (!rules.empty()) {
        auto const comma = std::min(rules.find(','), rules.size());
        auto e = trim_ows(rules.substr(0, comma));
        rules.remove_prefix(std::min(comma + 1, rules.size()));
        if (e.starts_with('[')) // "[v6]:port"; a bare IPv6 literal has more than one ':'
            e = e.substr(0, e.find(']') + 1);
        else if (std::count(e.begin(), e.end(), ':') == 1)
            e = e.substr(0, e.find(':'));
        if (e.starts_with('.')) e.remove_prefix(1);
        auto const k = key(e);
        if (k.empty()) continue;
        if (h == k) return true;
        if (!ip && h.size() > k.size() && h.ends_with(k) && h[h.size() - k.size() - 1] == '.')
            return true;
    }
    return false;
}

/// The Proxy-Authorization value for Basic authentication.
inline std::string proxy_authorization(std::string_view user, std::string_view password) {
    std::string const plain = std::string(user) + ':' + std::string(password);
    std::string out = "Basic ";
    auto const n = out.size();
    out.resize(n + 4 * ((plain.size() + 2) / 3) + 1); // EVP_EncodeBlock writes a final NUL
    auto const len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data() + n),
                                     reinterpret_cast<unsigned char const*>(plain.data()),
                                     static_cast<int>(plain.size()));
    out.resize(n + static_cast<std::size_t>(len));
    return out;
}

/// Appends `s` percent-encoded so that it stays one path segment (only unreserved characters
/// are kept literally; hex digits upper case).
inline void append_percent_encoded(std::string& out, std::string_view s) {
    auto const n = out.size();
    out.resize(n + urls::encoded_size(s, urls::unreserved_chars));
    urls::encode(out.data() + n, out.size() - n, s, urls::unreserved_chars);
}

/// application/x-www-form-urlencoded value (RFC 3986 unreserved kept, everything else escaped).
inline std::string form_encode(std::string_view s) {
    std::string out;
    append_percent_encoded(out, s);
    return out;
}

} // namespace payouts::detail
