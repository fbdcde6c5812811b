// Base URLs, hosts and path segments. Pure functions, unit-tested in tests/test_request.cpp.
#pragma once

#include <payouts/error.hpp>

#include <boost/asio/ip/address.hpp>
#include <boost/system/result.hpp>

#include <cctype>
#include <cstdint>
#include <string>
#include <string_view>

namespace payouts::detail {

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

inline bool is_ascii_alpha(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
inline bool is_ascii_digit(char c) noexcept {
    return c >= '0' && c <= '9';
}
inline char ascii_lower(char c) noexcept {
    return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c;
}

// RFC 3986 unreserved characters: the only ones a segment we build carries literally.
inline bool is_unreserved(char c) noexcept {
    return is_ascii_alpha(c) || is_ascii_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

// Characters of a path prefix taken from configuration: pchar and '/' (RFC 3986), with '%'
// accepted only as the start of a well-formed escape.
inline bool prefix_ok(std::string_view p) noexcept {
    constexpr std::string_view sub_delims = "!$&'()*+,;=:@/";
    for (std::size_t i = 0; i < p.size(); ++i) {
        char const c = p[i];
        if (is_unreserved(c) || sub_delims.find(c) != std::string_view::npos) continue;
        if (c == '%' && i + 2 < p.size() && std::isxdigit(static_cast<unsigned char>(p[i + 1])) &&
            std::isxdigit(static_cast<unsigned char>(p[i + 2]))) {
            i += 2;
            continue;
        }
        return false;
    }
    // Dot segments would let the server's normalisation move the target out of the prefix.
    std::size_t pos = 0;
    while (pos < p.size()) {
        auto const next = p.find('/', pos + 1);
        auto const seg =
            p.substr(pos + 1, next == std::string_view::npos ? p.npos : next - pos - 1);
        if (seg == "." || seg == ".." || seg.empty()) return false;
        if (next == std::string_view::npos) break;
        pos = next;
    }
    return true;
}

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
        if (!(is_ascii_alpha(c) || is_ascii_digit(c) || c == '-' || c == '_')) return false;
        if (label == 0 && c == '-') return false;
        if (++label > 63) return false;
    }
    return h.back() != '-';
}

// A refused URL may carry a secret (user info, an api_key query, a token in the path), and the
// reason for refusing it goes into diagnostics: only the scheme and host are ever repeated.
inline std::string redacted_url(std::string_view s) {
    auto const scheme_end = s.find("://");
    if (scheme_end == std::string_view::npos || scheme_end > 16) return "(not shown)";
    auto rest = s.substr(scheme_end + 3);
    auto const authority_end = rest.find_first_of("/?#");
    auto authority = rest.substr(0, authority_end);
    auto const at = authority.rfind('@');
    bool const had_userinfo = at != std::string_view::npos;
    if (had_userinfo) authority.remove_prefix(at + 1);
    std::string out;
    for (char c : s.substr(0, scheme_end + 3).substr(0, 19))
        out += is_ascii_alpha(c) || c == ':' || c == '/' ? c : '?';
    if (had_userinfo) out += "(user info not shown)@";
    for (char c : authority.substr(0, 100))
        out += static_cast<unsigned char>(c) <= 0x20 || c == 0x7f || c == '"' ? '?' : c;
    if (authority_end != std::string_view::npos) out += "/...";
    return out;
}

/// Parses `scheme://host[:port][/prefix]`; `why` says what is wrong on failure (naming only the
/// URL's scheme and host: the rest may hold a secret).
inline boost::system::result<base_url> parse_base_url(std::string_view s, std::string& why) {
    auto const bad = [&](std::string w) -> boost::system::result<base_url> {
        why = "base URL \"" + redacted_url(s) + "\": " + std::move(w);
        return make_error_code(errc::invalid_config);
    };
    base_url u;
    std::string_view rest;
    auto const scheme_end = s.find("://");
    if (scheme_end == std::string_view::npos) return bad("expected https://host[:port][/path]");
    std::string scheme(s.substr(0, scheme_end));
    for (auto& c : scheme)
        c = ascii_lower(c);
    if (scheme == "https") {
        u.tls = true;
        u.port = 443;
    } else if (scheme == "http") {
        u.tls = false;
        u.port = 80;
    } else {
        return bad("scheme must be https (or http to a loopback host)");
    }
    rest = s.substr(scheme_end + 3);
    for (char c : rest)
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f)
            return bad("contains a space or a control character");
    auto const path_start = rest.find('/');
    std::string_view authority = rest.substr(0, path_start);
    std::string_view path = path_start == std::string_view::npos ? "" : rest.substr(path_start);
    if (authority.find('@') != std::string_view::npos) return bad("user info is not allowed");
    if (rest.find('?') != std::string_view::npos || rest.find('#') != std::string_view::npos)
        return bad("a query or fragment is not allowed");

    std::string_view host, port;
    if (authority.starts_with('[')) {
        auto const close = authority.find(']');
        if (close == std::string_view::npos) return bad("unterminated IPv6 literal");
        host = authority.substr(1, close - 1);
        auto const after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after[0] != ':') return bad("garbage after the IPv6 literal");
            port = after.substr(1);
        }
        boost::system::error_code ec;
        auto const a = boost::asio::ip::make_address_v6(std::string(host), ec);
        if (ec) return bad("invalid IPv6 literal");
        u.host = a.to_string();
        u.ip_literal = true;
    } else {
        auto const colon = authority.find(':');
        host = authority.substr(0, colon);
        if (colon != std::string_view::npos) port = authority.substr(colon + 1);
        u.host.assign(host);
        for (auto& c : u.host)
            c = ascii_lower(c);
        boost::system::error_code ec;
        auto const a = boost::asio::ip::make_address_v4(u.host, ec);
        if (!ec) {
            u.ip_literal = true;
            u.host = a.to_string();
        } else if (!hostname_ok(u.host)) {
            return bad("invalid host name");
        }
    }
    if (u.host.empty()) return bad("missing host");
    if (authority.find(':') != std::string_view::npos && port.empty() && !authority.ends_with(']'))
        return bad("empty port");
    if (!port.empty()) {
        unsigned long v = 0;
        for (char c : port) {
            if (!is_ascii_digit(c) || port.size() > 5) return bad("invalid port");
            v = v * 10 + unsigned(c - '0');
        }
        if (v == 0 || v > 65535) return bad("port out of range");
        u.port = static_cast<std::uint16_t>(v);
    }
    while (path.ends_with('/'))
        path.remove_suffix(1);
    if (!prefix_ok(path)) return bad("invalid path prefix");
    u.prefix.assign(path);
    return u;
}

/// True for 127.0.0.0/8, ::1 and "localhost" (which resolves to those).
inline bool is_loopback(base_url const& u) noexcept {
    if (!u.ip_literal) return u.host == "localhost";
    boost::system::error_code ec;
    auto const a = boost::asio::ip::make_address(u.host, ec);
    return !ec && a.is_loopback();
}

/// The Host header's value: the port only when not the scheme's default.
inline std::string host_header(base_url const& u) {
    bool const v6 = u.ip_literal && u.host.find(':') != std::string::npos;
    std::string h = v6 ? "[" + u.host + "]" : u.host;
    if (u.port != (u.tls ? 443 : 80)) h += ":" + std::to_string(u.port);
    return h;
}

/// The connection-cache key: connections are shared only for the same scheme, host and port.
inline std::string origin_key(base_url const& u) {
    return (u.tls ? "https://" : "http://") + host_header(u) + ":" + std::to_string(u.port);
}

/// Appends `s` percent-encoded so that it stays one path segment (only unreserved characters
/// are kept literally).
inline void append_percent_encoded(std::string& out, std::string_view s) {
    constexpr char hex[] = "0123456789ABCDEF";
    // Ids are mostly unreserved: each run goes in with one append, not a character at a time.
    std::size_t i = 0;
    while (i < s.size()) {
        std::size_t j = i;
        while (j < s.size() && is_unreserved(s[j]))
            ++j;
        out.append(s.data() + i, j - i);
        if (j == s.size()) break;
        auto const b = static_cast<unsigned char>(s[j]);
        char const escaped[3] = {'%', hex[b >> 4], hex[b & 15]};
        out.append(escaped, 3);
        i = j + 1;
    }
}

/// application/x-www-form-urlencoded value (RFC 3986 unreserved kept, everything else escaped).
inline std::string form_encode(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    append_percent_encoded(out, s);
    return out;
}

} // namespace payouts::detail
