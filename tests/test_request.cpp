// The pure half of fetch: base URLs, id encoding, request building, credentials, Retry-After,
// backoff, the environment. No sockets.
#include <payouts/client.hpp>
#include <payouts/detail/oauth.hpp>
#include <payouts/detail/request.hpp>
#include <payouts/detail/retry.hpp>
#include <payouts/detail/url.hpp>
#include <payouts/providers/checkout.hpp>
#include <payouts/providers/druo.hpp>
#include <payouts/providers/introw.hpp>
#include <payouts/providers/truust.hpp>
#include <payouts/providers/yuno.hpp>

#include <boost/json/parse.hpp>
#include <doctest/doctest.h>

#include <map>
#include <random>
#include <sstream>

using namespace payouts;
using namespace std::chrono_literals;
namespace http = boost::beast::http;

namespace {

detail::base_url url_of(std::string_view s) {
    std::string why;
    auto r = detail::parse_base_url(s, why);
    REQUIRE_MESSAGE(r.has_value(), why);
    return *r;
}

bool url_refused(std::string_view s) {
    std::string why;
    auto r = detail::parse_base_url(s, why);
    if (r) return false;
    CHECK(r.error() == errc::invalid_config);
    CHECK(!why.empty());
    return true;
}

using creds = std::map<std::string, std::string, std::less<>>;

template <class P>
boost::system::result<detail::provider_setup>
setup(creds const& c, std::string_view base = {}, std::string_view token = {},
      bool plaintext = false, environment env = environment::sandbox,
      std::string* why_out = nullptr) {
    std::string why;
    auto lookup = [&](std::string_view n) -> std::string const* {
        auto it = c.find(n);
        return it == c.end() || it->second.empty() ? nullptr : &it->second;
    };
    auto r = detail::make_provider_setup<P>(base, token, lookup, env, plaintext, why);
    if (why_out) *why_out = why;
    return r;
}

template <class P>
std::string target_for(typename P::id_type const& id, std::string_view base = {}) {
    creds c;
    for (auto const& cr : P::credentials)
        c[std::string(cr.credential)] = "k";
    auto s = setup<P>(c, base);
    REQUIRE(s.has_value());
    std::string seg;
    std::string why;
    REQUIRE(!detail::append_id_segment<P>(seg, id, why));
    detail::get_request req;
    REQUIRE(!detail::build_get_request(*s, seg, "", "ua", req, why));
    return std::string(req.target());
}

template <class P>
error_code id_error(typename P::id_type const& id) {
    std::string seg, why;
    return detail::append_id_segment<P>(seg, id, why);
}

// A request's bytes read back as a server reads them; the whole of them must be one request.
// A request's bytes as Beast's serializer writes them.
template <class Body>
std::string wire_of(http::request<Body> const& req) {
    std::ostringstream os;
    os << req;
    return os.str();
}

http::request<http::empty_body> read_back(std::string const& wire) {
    http::request_parser<http::empty_body> p;
    boost::system::error_code ec;
    auto const used = p.put(boost::asio::buffer(wire), ec);
    REQUIRE_MESSAGE(!ec, ec.message());
    REQUIRE(p.is_done());
    REQUIRE(used == wire.size());
    return p.release();
}

// Introw with an extra header the library writes itself, or one of its credentials again.
struct Introw_accept : Introw {
    static constexpr std::array extra_headers{header_field{"accept", "text/plain"}};
};
struct Introw_twice : Introw {
    static constexpr std::array extra_headers{header_field{"X-API-Key", "again"}};
};

} // namespace

TEST_CASE("parse_base_url: scheme, host, port and path prefix") {
    auto u = url_of("https://api-sandbox.y.uno/v1");
    CHECK(u.tls);
    CHECK(u.host == "api-sandbox.y.uno");
    CHECK(u.port == 443);
    CHECK(u.prefix == "/v1");
    CHECK_FALSE(u.ip_literal);

    u = url_of("HTTPS://LocalHost:8443/yuno/");
    CHECK(u.host == "localhost");
    CHECK(u.port == 8443);
    CHECK(u.prefix == "/yuno");

    u = url_of("http://127.0.0.1:8080");
    CHECK_FALSE(u.tls);
    CHECK(u.ip_literal);
    CHECK(u.prefix.empty());
    CHECK(detail::is_loopback(u));

    u = url_of("https://[::1]:9443/a/b");
    CHECK(u.ip_literal);
    CHECK(u.host == "::1");
    CHECK(u.prefix == "/a/b");
    CHECK(detail::host_header(u) == "[::1]:9443");
    CHECK(detail::is_loopback(u));

    CHECK(detail::host_header(url_of("https://api.druo.com")) == "api.druo.com");
    CHECK(detail::host_header(url_of("https://api.druo.com:443")) == "api.druo.com");
    CHECK(detail::host_header(url_of("http://localhost:80")) == "localhost");
    CHECK(detail::host_header(url_of("https://localhost:80")) == "localhost:80");
    CHECK_FALSE(detail::is_loopback(url_of("https://10.0.0.1")));
    CHECK_FALSE(detail::is_loopback(url_of("https://localhost.example.com")));
    CHECK(detail::origin_key(url_of("https://a.b")) != detail::origin_key(url_of("http://a.b")));
    CHECK(detail::origin_key(url_of("https://a.b")) !=
          detail::origin_key(url_of("https://a.b:8443")));
    CHECK(detail::origin_key(url_of("https://a.b/x")) ==
          detail::origin_key(url_of("https://a.b/y")));
    // The port once, the default one too; IPv6 in brackets and one spelling.
    CHECK(detail::origin_key(url_of("https://localhost:8443/v1")) == "https://localhost:8443");
    CHECK(detail::origin_key(url_of("https://API.y.uno/v1")) == "https://api.y.uno:443");
    CHECK(detail::origin_key(url_of("http://127.0.0.1")) == "http://127.0.0.1:80");
    CHECK(detail::origin_key(url_of("https://[0:0:0:0:0:0:0:1]:8443")) == "https://[::1]:8443");
    CHECK(detail::origin_key(url_of("https://a.b:443")) ==
          detail::origin_key(url_of("https://a.b")));

    u = url_of("https://[::FFFF:10.0.0.1]");
    CHECK(u.host == "::ffff:10.0.0.1");
    CHECK(detail::host_header(u) == "[::ffff:10.0.0.1]");
    CHECK_FALSE(detail::is_loopback(u));
    CHECK(detail::is_loopback(url_of("http://127.45.6.7:80")));
    CHECK_FALSE(detail::is_loopback(url_of("http://[::2]")));
    CHECK(url_of("https://h:00443").port == 443);
    CHECK(url_of("https://h:65535").port == 65535);
    CHECK(url_of("https://h/v1//").prefix == "/v1");
    CHECK(url_of("https://h/").prefix.empty());
    CHECK(url_of("https://h/a:b@c/~x").prefix == "/a:b@c/~x");
    CHECK(url_of("https://h/a%2Fb").prefix == "/a%2Fb"); // kept escaped: still one segment
    CHECK(url_of("https://h/...").prefix == "/...");     // not a dot segment
}

TEST_CASE("parse_base_url refuses what could change the target or leak") {
    CHECK(url_refused("ftp://example.com"));
    CHECK(url_refused("example.com"));
    CHECK(url_refused("https://user:pw@example.com"));
    CHECK(url_refused("https://example.com/v1?x=1"));
    CHECK(url_refused("https://example.com/v1#frag"));
    CHECK(url_refused("https://example.com/v1/../admin"));
    CHECK(url_refused("https://example.com/./v1"));
    CHECK(url_refused("https://example.com//v1"));
    CHECK(url_refused("https://example.com/v 1"));
    CHECK(url_refused("https://example.com/v1\r\nX: y"));
    CHECK(url_refused("https://exa\nmple.com"));
    CHECK(url_refused("https://example.com:0"));
    CHECK(url_refused("https://example.com:65536"));
    CHECK(url_refused("https://example.com:"));
    CHECK(url_refused("https://example.com:44a"));
    CHECK(url_refused("https://"));
    CHECK(url_refused("https://-bad.example.com"));
    CHECK(url_refused("https://[::1"));
    CHECK(url_refused("https://[zz::1]"));
    CHECK(url_refused("https://exa%41mple.com"));
    CHECK(url_refused("https://example.com/%zz"));
    CHECK(url_refused("https://example.com/%2e%2E/admin")); // dot segments, escaped or not
    CHECK(url_refused("https://example.com/v1/.%2e"));
    CHECK(url_refused("https://example.com/v1/%2E"));
    CHECK(url_refused("https://example.com/v1/."));
    CHECK(url_refused("https://example.com/a<b"));
    CHECK(url_refused("https://example.com/v1?"));
    CHECK(url_refused("https://@example.com"));
    CHECK(url_refused("https://example.com:44:44"));
    CHECK(url_refused("https://example.com:-1"));
    CHECK(url_refused("https://example.com:99999999999999999999"));
    CHECK(url_refused("https://[::1]:"));
    CHECK(url_refused("https://[::1]x"));
    CHECK(url_refused("https://[v1.x]"));
    CHECK(url_refused("https://exa_mple.com.-x"));
    CHECK(url_refused("https:/example.com"));
    CHECK(url_refused("https:example.com"));
    CHECK(url_refused("ws://example.com"));
    CHECK(url_refused("https://example.com\x7f"));
    CHECK_FALSE(url_refused("https://example.com/a%2Fb"));
    CHECK_FALSE(url_refused("HtTp://example.com"));
}

TEST_CASE("each refusal says what is wrong") {
    auto const why_for = [](std::string_view url) {
        std::string why;
        CHECK(!detail::parse_base_url(url, why));
        return why.substr(why.find("\": ") + 3);
    };
    CHECK(why_for("ftp://example.com") == "scheme must be https (or http to a loopback host)");
    CHECK(why_for("example.com") == "expected http(s)://host[:port][/path]");
    CHECK(why_for("https://example.com/%zz") == "expected http(s)://host[:port][/path]");
    CHECK(why_for("https://example.com/v1#f") == "a query or fragment is not allowed");
    CHECK(why_for("https://example.com/v 1") == "contains a space or a control character");
    CHECK(why_for("https://") == "missing host");
    CHECK(why_for("https://exa%41mple.com") == "invalid host name");
    // A name ending in a number is an IPv4 address to the resolver ("127.1" is 127.0.0.1): only
    // a valid dotted address is taken, as one.
    for (auto const* numeric :
         {"https://127.1", "https://999.1.1.1", "https://example.123", "https://example.123.",
          "https://0x7f.1", "https://a.0X1F", "https://a.0x", "https://4294967295"})
        CHECK_MESSAGE(why_for(numeric) == "invalid host name", numeric);
    for (auto const* named : {"https://1a.example", "https://example.123a", "https://0xg.example",
                              "https://example.0xg", "https://127.0.0.1", "https://example.com."}) {
        std::string why;
        CHECK_MESSAGE(detail::parse_base_url(named, why).has_value(), named, ": ", why);
    }
    CHECK(why_for("https://[::1]x") == "invalid host");
    CHECK(why_for("https://example.com:") == "empty port");
    CHECK(why_for("https://example.com:0") == "port out of range");
    CHECK(why_for("https://example.com:65536") == "port out of range");
    CHECK(why_for("https://example.com:44:44") == "invalid port");
    CHECK(why_for("https://example.com/v1/../x") == "invalid path prefix");
}

TEST_CASE("a refused base or token URL is named by scheme and host only, never its secrets") {
    auto const why_for = [](std::string_view url) {
        std::string why;
        CHECK(!detail::parse_base_url(url, why));
        return why;
    };
    for (std::string_view url :
         {"https://user:S3cr3t-canary@api.example.com/v1",
          "https://api.example.com/v1?api_key=S3cr3t-canary",
          "https://api.example.com/v1#S3cr3t-canary", "https://api.example.com/S3cr3t-canary/../x",
          "https://api.example.com/S3cr3t-canary x", "ftp://S3cr3t-canary@api.example.com",
          "S3cr3t-canary"}) {
        CAPTURE(url);
        auto const why = why_for(url);
        CHECK(why.find("S3cr3t") == std::string::npos);
        CHECK(why.find("canary") == std::string::npos);
    }
    CHECK(why_for("https://u:pw@api.example.com/v1") ==
          "base URL \"https://(user info not shown)@api.example.com/...\": user info is not "
          "allowed");
    CHECK(why_for("https://api.example.com:44a") ==
          "base URL \"https://api.example.com:44a\": invalid port");
    // A password with an unescaped '/', '?' or '#' ends the authority early: still not shown.
    for (std::string_view url :
         {"https://u:S3cr3t/canary@api.example.com/v1", "https://u:S3cr3t?canary@api.example.com",
          "https://u:S3cr3t#canary@api.example.com"}) {
        CAPTURE(url);
        auto const why = why_for(url);
        CHECK(why.find("S3cr3t") == std::string::npos);
        CHECK(why.find("canary") == std::string::npos);
        CHECK(why.find("(user info not shown)@api.example.com") != std::string::npos);
    }

    // Through the provider set-up, for a token URL too.
    std::string why;
    auto r = setup<Druo>({{"CLIENT_ID", "i"}, {"CLIENT_SECRET", "s"}}, {},
                         "https://x:S3cr3t-canary@auth.example.com/oauth/token", false,
                         environment::sandbox, &why);
    REQUIRE(!r);
    CHECK(r.error() == errc::invalid_config);
    CHECK(why.find("token URL") != std::string::npos);
    CHECK(why.find("S3cr3t") == std::string::npos);
}

TEST_CASE("parse_proxy_url: http only, curl's default port, user info decoded") {
    auto const proxy_of = [](std::string_view s) {
        std::string why;
        auto r = detail::parse_proxy_url(s, why);
        REQUIRE_MESSAGE(r.has_value(), why);
        return *r;
    };
    auto p = proxy_of("http://proxy.internal");
    CHECK(p.host == "proxy.internal");
    CHECK(p.port == 1080);
    CHECK_FALSE(p.ip_literal);
    CHECK(p.user.empty());
    CHECK(p.password.empty());

    p = proxy_of("HTTP://Proxy.Internal:3128/");
    CHECK(p.host == "proxy.internal");
    CHECK(p.port == 3128);

    p = proxy_of("http://10.1.2.3:8080");
    CHECK(p.host == "10.1.2.3");
    CHECK(p.ip_literal);
    CHECK(p.port == 8080);

    p = proxy_of("http://[0:0:0:0:0:0:0:1]:3128");
    CHECK(p.host == "::1");
    CHECK(p.ip_literal);
    CHECK(p.port == 3128);
    CHECK(proxy_of("http://[::1]").port == 1080);

    p = proxy_of("http://al%40ice:p%40ss%3Aw%2Fo%25rd@proxy:3128");
    CHECK(p.user == "al@ice");
    CHECK(p.password == "p@ss:w/o%rd");
    CHECK(p.host == "proxy");

    p = proxy_of("http://bob@proxy");
    CHECK(p.user == "bob");
    CHECK(p.password.empty());
    p = proxy_of("http://bob:@proxy");
    CHECK(p.user == "bob");
    CHECK(p.password.empty());
    p = proxy_of("http://:secret@proxy");
    CHECK(p.user.empty());
    CHECK(p.password == "secret");
}

TEST_CASE("parse_proxy_url refusals never repeat the user info") {
    auto const why_for = [](std::string_view s) {
        std::string why;
        auto const r = detail::parse_proxy_url(s, why);
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error() == errc::invalid_config);
        CHECK(why.starts_with("proxy URL \""));
        CHECK(why.find("S3cr3t") == std::string::npos);
        CHECK(why.find("canary") == std::string::npos);
        return why;
    };
    CHECK(why_for("https://u:S3cr3t-canary@proxy:3128") ==
          "proxy URL \"https://(user info not shown)@proxy:3128\": an https proxy is not "
          "supported");
    CHECK(why_for("socks5://u:S3cr3t-canary@proxy:1080").ends_with(": scheme must be http"));
    CHECK(why_for("http://u:S3cr3t-canary@proxy:3128/path") ==
          "proxy URL \"http://(user info not shown)@proxy:3128/...\": a path is not allowed");
    CHECK(why_for("http://u:S3cr3t-canary@proxy:3128/?x")
              .ends_with(": a query or fragment is not allowed"));
    CHECK(why_for("http://u:S3cr3t-canary@proxy:3128#f")
              .ends_with(": a query or fragment is not allowed"));
    CHECK(why_for("http://u:S3cr3t-canary@proxy:3128\r\n")
              .ends_with(": contains a space or a control character"));
    CHECK(why_for("http://u:S3cr3t canary@proxy")
              .ends_with(": contains a space or a control character"));
    CHECK(why_for("http://u:S3cr3t-canary@proxy:0").ends_with(": port out of range"));
    CHECK(why_for("http://u:S3cr3t-canary@proxy:").ends_with(": empty port"));
    CHECK(why_for("http://u:S3cr3t-canary@proxy:31a").ends_with(": invalid port"));
    CHECK(why_for("http://u:S3cr3t-canary@").ends_with(": missing host"));
    CHECK(why_for("http://u:S3cr3t-canary@-proxy").ends_with(": invalid host name"));
    CHECK(why_for("http://u:S3cr3t-canary@[::1")
              .ends_with(": expected http(s)://host[:port][/path]"));
    CHECK(why_for("http://u:S3cr3t/canary@proxy") ==
          "proxy URL \"http://(user info not shown)@proxy\": invalid port");
    CHECK(why_for("http://u:S3cr3t%zzcanary@proxy")
              .ends_with(": expected http(s)://host[:port][/path]"));
    CHECK(why_for("http://u%3AS3cr3t:canary@proxy").ends_with(": the user name must not hold ':'"));
    CHECK(why_for("u:S3cr3t-canary@proxy:3128") ==
          "proxy URL \"(not shown)\": expected http(s)://host[:port][/path]");
}

TEST_CASE("no_proxy_matches: curl's NO_PROXY rules") {
    using detail::no_proxy_matches;
    // A name matches itself and its subdomains, with or without a leading dot.
    for (std::string_view rules : {"example.com", ".example.com", "EXAMPLE.com", "example.com."}) {
        CAPTURE(rules);
        CHECK(no_proxy_matches(rules, "example.com"));
        CHECK(no_proxy_matches(rules, "api.example.com"));
        CHECK(no_proxy_matches(rules, "a.b.Example.COM"));
        CHECK(no_proxy_matches(rules, "example.com."));
        CHECK_FALSE(no_proxy_matches(rules, "badexample.com"));
        CHECK_FALSE(no_proxy_matches(rules, "example.com.evil.net"));
        CHECK_FALSE(no_proxy_matches(rules, "example.org"));
        CHECK_FALSE(no_proxy_matches(rules, "com"));
    }
    CHECK_FALSE(no_proxy_matches("api.example.com", "example.com"));

    // Lists: commas, surrounding spaces and tabs, empty entries, ports ignored.
    CHECK(no_proxy_matches("localhost, .internal ,example.com", "api.internal"));
    CHECK(no_proxy_matches(" localhost ,\texample.com\t", "example.com"));
    CHECK(no_proxy_matches(",,example.com,", "example.com"));
    CHECK(no_proxy_matches("example.com:8443", "example.com"));
    CHECK(no_proxy_matches(".example.com:443", "api.example.com"));
    CHECK_FALSE(no_proxy_matches("localhost, .internal", "example.com"));
    CHECK_FALSE(no_proxy_matches("", "example.com"));
    CHECK_FALSE(no_proxy_matches(" , ,", "example.com"));
    CHECK_FALSE(no_proxy_matches(".", "example.com"));

    // "*" alone matches every host; as one entry of a list it is a name like any other (curl).
    CHECK(no_proxy_matches("*", "example.com"));
    CHECK(no_proxy_matches(" * ", "10.0.0.1"));
    CHECK(no_proxy_matches("*", "::1"));
    CHECK_FALSE(no_proxy_matches("localhost,*", "example.com"));

    // IP literals match exactly, never by suffix; IPv6 with or without brackets, any spelling.
    CHECK(no_proxy_matches("10.0.0.1", "10.0.0.1"));
    CHECK(no_proxy_matches("10.0.0.1:8080", "10.0.0.1"));
    CHECK_FALSE(no_proxy_matches("0.0.1", "10.0.0.1"));
    CHECK_FALSE(no_proxy_matches(".0.0.1", "10.0.0.1"));
    CHECK_FALSE(no_proxy_matches("10.0.0.1", "10.0.0.10"));
    CHECK(no_proxy_matches("::1", "::1"));
    CHECK(no_proxy_matches("[::1]", "::1"));
    CHECK(no_proxy_matches("[::1]:8443", "::1"));
    CHECK(no_proxy_matches("::1", "[::1]"));
    CHECK(no_proxy_matches("0:0:0:0:0:0:0:1", "::1"));
    CHECK(no_proxy_matches("FE80::1", "fe80::1"));
    CHECK_FALSE(no_proxy_matches("::1", "::2"));
    CHECK_FALSE(no_proxy_matches("example.com", "::1"));
}

TEST_CASE("proxy_authorization: Basic with base64 of user:password") {
    CHECK(detail::proxy_authorization("Aladdin", "open sesame") ==
          "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
    CHECK(detail::proxy_authorization("", "") == "Basic Og==");
    CHECK(detail::proxy_authorization("a", "") == "Basic YTo=");
    CHECK(detail::proxy_authorization("ab", "c") == "Basic YWI6Yw==");
    CHECK(detail::proxy_authorization("user", "p@ss:w/rd") == "Basic dXNlcjpwQHNzOncvcmQ=");
    CHECK(detail::proxy_authorization("\xC3\xA9", "\xFF") == "Basic w6k6/w==");
}

TEST_CASE("each provider's request target: base URL prefix kept, provider path appended") {
    CHECK(target_for<Yuno>("3f1c") == "/v1/payouts/3f1c");
    CHECK(target_for<Druo>("trx_1") == "/payouts/trx_1");
    CHECK(target_for<Checkout>("pay_abc") == "/payments/pay_abc");
    CHECK(target_for<Introw>("pay_x") == "/api/v1/payouts/pay_x");
    CHECK(target_for<Truust>(42) == "/2.0/orders/42/payout");
    CHECK(target_for<Yuno>("abc", "https://localhost:8443/yuno") == "/yuno/payouts/abc");
    CHECK(target_for<Truust>(7, "https://acme-sandbox.truust.io/2.0/") == "/2.0/orders/7/payout");
    CHECK(target_for<Introw>("i", "https://h") == "/api/v1/payouts/i");
}

TEST_CASE("ids are one percent-encoded path segment: injection cannot move the target") {
    CHECK(target_for<Yuno>("a/b") == "/v1/payouts/a%2Fb");
    CHECK(target_for<Yuno>("../../admin") == "/v1/payouts/..%2F..%2Fadmin");
    CHECK(target_for<Yuno>("x?y=1#z") == "/v1/payouts/x%3Fy%3D1%23z");
    CHECK(target_for<Yuno>("100%") == "/v1/payouts/100%25");
    CHECK(target_for<Yuno>("a b") == "/v1/payouts/a%20b");
    CHECK(target_for<Yuno>("a\r\nHost: evil") == "/v1/payouts/a%0D%0AHost%3A%20evil");
    CHECK(target_for<Yuno>(std::string("a\0b", 3)) == "/v1/payouts/a%00b");
    CHECK(target_for<Yuno>("\xC3\xA9") == "/v1/payouts/%C3%A9");
    CHECK(target_for<Yuno>("A-z_0.9~") == "/v1/payouts/A-z_0.9~");
    CHECK(target_for<Checkout>("pay_;x=1") == "/payments/pay_%3Bx%3D1");

    CHECK(id_error<Yuno>(".") == errc::invalid_id);
    CHECK(id_error<Yuno>("..") == errc::invalid_id);
    CHECK(id_error<Yuno>("") == errc::invalid_id);
    CHECK(id_error<Yuno>(std::string(65, 'a')) == errc::invalid_id);
    CHECK_FALSE(id_error<Yuno>(std::string(64, 'a')));
    CHECK(id_error<Druo>(std::string(129, 'a')) == errc::invalid_id);
    CHECK(id_error<Yuno>("...") == error_code{});
}

TEST_CASE("Truust ids are positive integers") {
    CHECK(target_for<Truust>(9223372036854775807) == "/2.0/orders/9223372036854775807/payout");
    CHECK(id_error<Truust>(0) == errc::invalid_id);
    CHECK(id_error<Truust>(-5) == errc::invalid_id);
}

TEST_CASE("loggable_request: every credential value redacted, everything else as sent") {
    detail::get_request req;
    std::string why;
    auto y = setup<Yuno>({{"PUBLIC_API_KEY", "CANARY-pub"}, {"PRIVATE_SECRET_KEY", "CANARY-sec"}});
    REQUIRE(y.has_value());
    REQUIRE(!detail::build_get_request(*y, "p1", "", "ua/1", req, why));
    CHECK(detail::loggable_request(req, *y) == "GET /v1/payouts/p1\n"
                                               "Host: api-sandbox.y.uno\n"
                                               "User-Agent: ua/1\n"
                                               "Accept: application/json\n"
                                               "Accept-Encoding: identity\n"
                                               "public-api-key: <redacted>\n"
                                               "private-secret-key: <redacted>");
    // OAuth: the access token's header.
    auto c = setup<Checkout>({{"CLIENT_ID", "CANARY-id"}, {"CLIENT_SECRET", "CANARY-cs"}});
    REQUIRE(c.has_value());
    REQUIRE(c->oauth);
    REQUIRE(!detail::build_get_request(*c, "pay_1", "CANARY-token", "ua", req, why));
    auto const shown = detail::loggable_request(req, *c);
    CHECK(shown.find("Authorization: <redacted>") != std::string::npos);
    CHECK(shown.find("CANARY") == std::string::npos);
    // Every provider's static credentials.
    auto const none_leak = [&](auto const& s) {
        REQUIRE(s.has_value());
        REQUIRE(!detail::build_get_request(*s, "1", "", "ua", req, why));
        CHECK(detail::loggable_request(req, *s).find("CANARY") == std::string::npos);
    };
    none_leak(setup<Truust>({{"SECRET_KEY", "CANARY-t"}}));
    none_leak(setup<Druo>({{"ACCESS_TOKEN", "CANARY-d"}}));
    none_leak(setup<Checkout>({{"SECRET_KEY", "CANARY-c"}}));
    none_leak(setup<Introw>({{"API_KEY", "CANARY-i"}}));
}

TEST_CASE("the request: exact headers, auth and extra headers, nothing else") {
    auto s = setup<Druo>({{"ACCESS_TOKEN", "tok"}});
    REQUIRE(s.has_value());
    CHECK_FALSE(s->oauth);
    detail::get_request req;
    std::string why;
    REQUIRE(!detail::build_get_request(*s, "trx_1", "", "payouts-test/1", req, why));
    CHECK(wire_of(req) == "GET /payouts/trx_1 HTTP/1.1\r\n"
                          "Host: api-staging.druo.com\r\n"
                          "User-Agent: payouts-test/1\r\n"
                          "Accept: application/json\r\n"
                          "Accept-Encoding: identity\r\n"
                          "Authorization: Bearer tok\r\n"
                          "DRUO-Version: 2021-11-22\r\n"
                          "\r\n");
    CHECK(read_back(wire_of(req))["DRUO-Version"] == "2021-11-22");

    auto y = setup<Yuno>({{"PUBLIC_API_KEY", "pub"}, {"PRIVATE_SECRET_KEY", "sec"}},
                         "https://127.0.0.1:8443/y");
    REQUIRE(y.has_value());
    REQUIRE(!detail::build_get_request(*y, "p1", "", "ua", req, why));
    CHECK(read_back(wire_of(req))[http::field::host] == "127.0.0.1:8443");
    CHECK(read_back(wire_of(req))["public-api-key"] == "pub");
    CHECK(read_back(wire_of(req))["private-secret-key"] == "sec");
    CHECK(read_back(wire_of(req)).target() == "/y/payouts/p1");

    auto i = setup<Introw>({{"API_KEY", "ik"}}, {}, {}, false, environment::production);
    REQUIRE(i.has_value());
    REQUIRE(!detail::build_get_request(*i, "p", "", "ua", req, why));
    CHECK(read_back(wire_of(req))[http::field::host] == "api.introw.io");
    CHECK(read_back(wire_of(req))["x-api-key"] == "ik");

    auto t = setup<Truust>({{"SECRET_KEY", "sk_stage_1"}});
    REQUIRE(t.has_value());
    REQUIRE(!detail::build_get_request(*t, "5", "", "ua", req, why));
    CHECK(read_back(wire_of(req))[http::field::authorization] == "Bearer sk_stage_1");
    CHECK(read_back(wire_of(req)).target() == "/2.0/orders/5/payout");

    auto c = setup<Checkout>({{"SECRET_KEY", "sk_sbox_x"}});
    REQUIRE(c.has_value());
    REQUIRE(!detail::build_get_request(*c, "pay_1", "", "ua", req, why));
    CHECK(read_back(wire_of(req))[http::field::host] == "api.sandbox.checkout.com");
    CHECK(read_back(wire_of(req))[http::field::authorization] == "Bearer sk_sbox_x");

    // The token of the OAuth flow goes in its provider's header, before the static ones.
    auto o = setup<Druo>({{"CLIENT_ID", "cid"}, {"CLIENT_SECRET", "cs"}});
    REQUIRE(o.has_value());
    REQUIRE(!detail::build_get_request(*o, "trx_2", "tk", "ua", req, why));
    CHECK(wire_of(req) ==
          "GET /payouts/trx_2 HTTP/1.1\r\nHost: api-staging.druo.com\r\nUser-Agent: ua\r\n"
          "Accept: application/json\r\nAccept-Encoding: identity\r\n"
          "Authorization: Bearer tk\r\nDRUO-Version: 2021-11-22\r\n\r\n");
    CHECK(req.target() == "/payouts/trx_2");
}

TEST_CASE("a header named twice by a provider's traits is refused at setup") {
    std::string why;
    auto a = setup<Introw_accept>({{"API_KEY", "k"}}, {}, {}, false, environment::sandbox, &why);
    REQUIRE_FALSE(a.has_value());
    CHECK(a.error() == errc::invalid_config);
    CHECK(why.find("header accept is given twice") != std::string::npos);
    auto t = setup<Introw_twice>({{"API_KEY", "k"}}, {}, {}, false, environment::sandbox, &why);
    REQUIRE_FALSE(t.has_value());
    CHECK(t.error() == errc::invalid_config);
    CHECK(why.find("X-API-Key is given twice") != std::string::npos);
    CHECK(setup<Introw>({{"API_KEY", "k"}}).has_value());
}

TEST_CASE("CR, LF and other control characters in credentials and values are refused") {
    std::string why;
    for (std::string bad : std::vector<std::string>{"a\r\nX-Injected: 1", "a\n", "a\r",
                                                    std::string("a\0b", 3), "a\tb", "a\x7f"}) {
        auto s = setup<Druo>({{"ACCESS_TOKEN", bad}}, {}, {}, false, environment::sandbox, &why);
        REQUIRE_FALSE(s.has_value());
        CHECK(s.error() == errc::invalid_config);
        CHECK(why.find("PAYOUTS_DRUO_ACCESS_TOKEN") != std::string::npos);
        CHECK(why.find(bad) == std::string::npos);
        auto o = setup<Checkout>({{"CLIENT_ID", "id"}, {"CLIENT_SECRET", bad}});
        REQUIRE_FALSE(o.has_value());
        CHECK(o.error() == errc::invalid_config);
    }
    auto s = setup<Druo>({{"ACCESS_TOKEN", "ok"}});
    REQUIRE(s.has_value());
    detail::get_request req;
    req.target("/stale");
    CHECK(detail::build_get_request(*s, "x", "", "ua\r\nX: 1", req, why) == errc::invalid_config);
    CHECK(req.target().empty()); // nothing left to send by mistake
    auto o = setup<Druo>({{"CLIENT_ID", "id"}, {"CLIENT_SECRET", "secret"}});
    REQUIRE(o.has_value());
    CHECK(detail::build_get_request(*o, "x", "Zq9\r\nX: 1", "ua", req, why) ==
          errc::token_request_failed);
    CHECK(why.find("Zq9") == std::string::npos);
}

TEST_CASE("missing credentials name the environment variables") {
    std::string why;
    auto y = setup<Yuno>({{"PUBLIC_API_KEY", "p"}}, {}, {}, false, environment::sandbox, &why);
    REQUIRE_FALSE(y.has_value());
    CHECK(y.error() == errc::missing_credentials);
    CHECK(why.find("PAYOUTS_YUNO_PRIVATE_SECRET_KEY") != std::string::npos);
    CHECK(why.find("PAYOUTS_YUNO_PUBLIC_API_KEY") == std::string::npos);

    auto d = setup<Druo>({}, {}, {}, false, environment::sandbox, &why);
    REQUIRE_FALSE(d.has_value());
    CHECK(d.error() == errc::missing_credentials);
    CHECK(why.find("PAYOUTS_DRUO_ACCESS_TOKEN") != std::string::npos);
    CHECK(why.find("PAYOUTS_DRUO_CLIENT_ID") != std::string::npos);
    CHECK(why.find("PAYOUTS_DRUO_CLIENT_SECRET") != std::string::npos);

    auto e = setup<Introw>({{"API_KEY", ""}}, {}, {}, false, environment::sandbox, &why);
    REQUIRE_FALSE(e.has_value());
    CHECK(why.find("PAYOUTS_INTROW_API_KEY") != std::string::npos);

    auto half = setup<Checkout>({{"CLIENT_ID", "x"}}, {}, {}, false, environment::sandbox, &why);
    REQUIRE_FALSE(half.has_value());
    CHECK(half.error() == errc::missing_credentials);
}

TEST_CASE("plaintext only to loopback and only when allowed") {
    creds c{{"API_KEY", "k"}};
    CHECK(setup<Introw>(c, "http://127.0.0.1:1").error() == errc::invalid_config);
    CHECK(setup<Introw>(c, "http://127.0.0.1:1", {}, true).has_value());
    CHECK(setup<Introw>(c, "http://localhost:1", {}, true).has_value());
    CHECK(setup<Introw>(c, "http://[::1]:1", {}, true).has_value());
    CHECK(setup<Introw>(c, "http://10.1.2.3:1", {}, true).error() == errc::invalid_config);
    CHECK(setup<Introw>(c, "http://api.introw.io", {}, true).error() == errc::invalid_config);
    creds o{{"CLIENT_ID", "i"}, {"CLIENT_SECRET", "s"}};
    CHECK(setup<Druo>(o, "https://127.0.0.1:1", "http://auth.example.com/t", true).error() ==
          errc::invalid_config);
    CHECK(setup<Druo>(o, "https://127.0.0.1:1", "http://127.0.0.1:2/t", true).has_value());
}

TEST_CASE("OAuth: chosen when static credentials are absent; token requests per provider") {
    auto d = setup<Druo>({{"CLIENT_ID", "cid"}, {"CLIENT_SECRET", "s\"e&c=r t"}});
    REQUIRE(d.has_value());
    CHECK(d->oauth);
    CHECK(d->token_host == "auth.druo.com");
    CHECK(d->token_target == "/oauth/token");
    detail::request_type req;
    std::string why;
    REQUIRE(!detail::build_token_request(*d, "ua", req, why));
    CHECK(req.method() == http::verb::post);
    CHECK(req[http::field::content_type] == "application/json");
    CHECK(req[http::field::content_length] == std::to_string(req.body().size()));
    auto const jv = boost::json::parse(req.body());
    CHECK(jv.at("client_id") == "cid");
    CHECK(jv.at("client_secret") == "s\"e&c=r t");
    CHECK(jv.at("audience") == "https://druo-merchant-api.com");
    CHECK(jv.at("grant_type") == "client_credentials");
    // Static credentials win when present.
    auto both = setup<Druo>({{"ACCESS_TOKEN", "t"}, {"CLIENT_ID", "i"}, {"CLIENT_SECRET", "s"}});
    REQUIRE(both.has_value());
    CHECK_FALSE(both->oauth);

    auto c = setup<Checkout>({{"CLIENT_ID", "cid"}, {"CLIENT_SECRET", "a+b c&d"}}, {},
                             "https://127.0.0.1:9/connect/token");
    REQUIRE(c.has_value());
    CHECK(c->oauth);
    CHECK(c->token_host == "127.0.0.1:9");
    REQUIRE(!detail::build_token_request(*c, "ua", req, why));
    CHECK(req[http::field::content_type] == "application/x-www-form-urlencoded");
    CHECK(req.target() == "/connect/token");
    CHECK(req.body() == "grant_type=client_credentials&client_id=cid&client_secret=a%2Bb%20c%26d"
                        "&scope=gateway%3Apayment-details");
    detail::get_request get;
    REQUIRE(!detail::build_get_request(*c, "pay_1", "the-token", "ua", get, why));
    CHECK(read_back(wire_of(get))[http::field::authorization] == "Bearer the-token");
    std::string const token_wire = wire_of(req);
    auto const sep = token_wire.find("\r\n\r\n");
    REQUIRE(sep != std::string::npos);
    CHECK(token_wire.substr(sep + 4) == req.body());
    CHECK(token_wire.starts_with("POST /connect/token HTTP/1.1\r\n"));

    auto prod = setup<Checkout>({{"CLIENT_ID", "i"}, {"CLIENT_SECRET", "s"}}, {}, {}, false,
                                environment::production);
    REQUIRE(prod.has_value());
    CHECK(prod->token_host == "access.checkout.com");
    CHECK(prod->host == "api.checkout.com");
}

TEST_CASE("token replies: expires_in as number or string, errors, bad tokens") {
    std::string why;
    auto r = detail::parse_token_reply(R"({"access_token":"abc","expires_in":3600})", why);
    REQUIRE(r.has_value());
    CHECK(r->access_token == "abc");
    CHECK(r->expires_in == 3600s);
    r = detail::parse_token_reply(R"({"access_token":"abc","expires_in":"86400"})", why);
    REQUIRE(r.has_value());
    CHECK(r->expires_in == 86400s);
    r = detail::parse_token_reply(R"({"access_token":"abc"})", why);
    REQUIRE(r.has_value());
    CHECK(r->expires_in == 0s);
    CHECK(detail::parse_token_reply(R"({"access_token":"abc","expires_in":"soon"})", why).error() ==
          errc::token_request_failed);
    CHECK(detail::parse_token_reply(R"({"error":"invalid_client"})", why).error() ==
          errc::token_request_failed);
    CHECK(why.find("invalid_client") != std::string::npos);
    CHECK(detail::parse_token_reply(R"({"access_token":""})", why).error() ==
          errc::token_request_failed);
    CHECK(detail::parse_token_reply(R"({"access_token":"a\r\nb"})", why).error() ==
          errc::token_request_failed);
    CHECK(why.find("a\r\nb") == std::string::npos);
    CHECK(detail::parse_token_reply("not json", why).error() == errc::token_request_failed);
    CHECK(detail::parse_token_reply("", why).error() == errc::token_request_failed);

    CHECK(detail::token_lifetime(3600s) == 3540s);
    CHECK(detail::token_lifetime(86400s) == 86340s);
    CHECK(detail::token_lifetime(10s) == 5s);
    CHECK(detail::token_lifetime(0s) == 60s);
}

TEST_CASE("status classification") {
    CHECK_FALSE(detail::status_error(200));
    CHECK_FALSE(detail::status_error(204));
    CHECK(detail::status_error(401) == errc::unauthorized);
    CHECK(detail::status_error(403) == errc::forbidden);
    CHECK(detail::status_error(404) == errc::not_found);
    CHECK(detail::status_error(429) == errc::rate_limited);
    CHECK(detail::status_error(500) == errc::provider_unavailable);
    CHECK(detail::status_error(503) == errc::provider_unavailable);
    CHECK(detail::status_error(599) == errc::provider_unavailable);
    CHECK(detail::status_error(501) == errc::unexpected_status);
    CHECK(detail::status_error(505) == errc::unexpected_status);
    CHECK(detail::status_error(301) == errc::unexpected_status);
    CHECK(detail::status_error(400) == errc::unexpected_status);
    CHECK(detail::status_error(100) == errc::unexpected_status);
    CHECK(detail::retryable_status(429));
    CHECK(detail::retryable_status(500));
    CHECK(detail::retryable_status(503));
    CHECK_FALSE(detail::retryable_status(501));
    CHECK_FALSE(detail::retryable_status(505));
    CHECK_FALSE(detail::retryable_status(404));
    CHECK_FALSE(detail::retryable_status(401));
}

TEST_CASE("Retry-After: delay-seconds and the three HTTP-date forms") {
    using namespace std::chrono;
    auto const now = sys_days{year{1994} / 11 / 6} + 8h + 49min + 30s;
    CHECK(detail::parse_retry_after("120", now) == milliseconds(120000));
    CHECK(detail::parse_retry_after(" 0 ", now) == milliseconds(0));
    CHECK(detail::parse_retry_after("99999999999999999999", now) == seconds(100000000));
    CHECK(detail::parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now) == milliseconds(7000));
    CHECK(detail::parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", now) == milliseconds(7000));
    CHECK(detail::parse_retry_after("Sun Nov  6 08:49:37 1994", now) == milliseconds(7000));
    CHECK(detail::parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now) == milliseconds(0));
    CHECK_FALSE(detail::parse_retry_after("", now));
    CHECK_FALSE(detail::parse_retry_after("-1", now));
    CHECK_FALSE(detail::parse_retry_after("1.5", now));
    CHECK_FALSE(detail::parse_retry_after("soon", now));
    CHECK_FALSE(detail::parse_retry_after("Sun, 32 Nov 1994 08:49:37 GMT", now));
    CHECK_FALSE(detail::parse_retry_after("Sun, 06 Foo 1994 08:49:37 GMT", now));
    CHECK_FALSE(detail::parse_retry_after("Sun, 06 Nov 1994 25:49:37 GMT", now));
    CHECK_FALSE(detail::parse_retry_after("Sun, 06 Nov 1994 08:49:37 UTC", now));
    CHECK(detail::parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT") == sys_seconds{});
}

TEST_CASE("full-jitter backoff stays within min(cap, base * 2^(n-1)); Retry-After clamped") {
    std::minstd_rand rng(1);
    for (unsigned n = 1; n <= 10; ++n) {
        std::chrono::milliseconds top{0};
        for (int i = 0; i < 200; ++i) {
            auto d = detail::full_jitter(100ms, 1000ms, n, rng);
            CHECK(d >= 0ms);
            CHECK(d <= std::min<std::chrono::milliseconds>(1000ms, 100ms * (1 << (n - 1))));
            top = std::max(top, d);
        }
        CHECK(top > 0ms); // jitter, not a constant zero
    }
    CHECK(detail::full_jitter(0ms, 1000ms, 3, rng) == 0ms);
    CHECK(detail::retry_delay(std::chrono::milliseconds(5000), 100ms, 1000ms, 2000ms, 1, rng) ==
          2000ms);
    CHECK(detail::retry_delay(std::chrono::milliseconds(700), 100ms, 1000ms, 2000ms, 1, rng) ==
          700ms);
    auto d = detail::retry_delay(std::nullopt, 100ms, 1000ms, 2000ms, 1, rng);
    CHECK(d <= 100ms);
}

TEST_CASE("config_from_environment reads exactly the documented variables") {
    std::map<std::string, std::string> vars{
        {"PAYOUTS_ENVIRONMENT", "production"},
        {"PAYOUTS_CA_FILE", "/tmp/ca.pem"},
        {"PAYOUTS_TIMEOUT_MS", "1500"},
        {"PAYOUTS_YUNO_BASE_URL", "https://localhost:8443/yuno"},
        {"PAYOUTS_YUNO_PUBLIC_API_KEY", "pub"},
        {"PAYOUTS_YUNO_PRIVATE_SECRET_KEY", "sec"},
        {"PAYOUTS_DRUO_CLIENT_ID", "cid"},
        {"PAYOUTS_DRUO_CLIENT_SECRET", "cs"},
        {"PAYOUTS_DRUO_TOKEN_URL", "https://localhost:8443/token"},
        {"PAYOUTS_TRUUST_SECRET_KEY", "sk"},
        {"PAYOUTS_INTROW_CLIENT_ID", "not-read: Introw has no OAuth"},
    };
    env_lookup lookup = [&](std::string const& n) -> std::optional<std::string> {
        auto it = vars.find(n);
        if (it == vars.end()) return std::nullopt;
        return it->second;
    };
    diagnostics d;
    auto cfg = config_from_environment<Yuno, Druo, Truust, Introw, Checkout>(d, lookup);
    REQUIRE(cfg.has_value());
    CHECK(cfg->env == environment::production);
    CHECK(cfg->ca_file == "/tmp/ca.pem");
    CHECK(cfg->deadline == 1500ms);
    CHECK(cfg->providers.at("yuno").base_url == "https://localhost:8443/yuno");
    CHECK(cfg->providers.at("yuno").credentials.at("PUBLIC_API_KEY") == "pub");
    CHECK(cfg->providers.at("yuno").credentials.at("PRIVATE_SECRET_KEY") == "sec");
    CHECK(cfg->providers.at("druo").credentials.at("CLIENT_ID") == "cid");
    CHECK(cfg->providers.at("druo").token_url == "https://localhost:8443/token");
    CHECK(cfg->providers.at("truust").credentials.at("SECRET_KEY") == "sk");
    CHECK(cfg->providers.at("introw").credentials.count("CLIENT_ID") == 0);
    CHECK(cfg->providers.at("checkout").credentials.empty());
    CHECK(env_variable("checkout", "CLIENT_SECRET") == "PAYOUTS_CHECKOUT_CLIENT_SECRET");

    vars = {};
    cfg = config_from_environment<>(d, lookup);
    REQUIRE(cfg.has_value());
    CHECK(cfg->env == environment::sandbox);
    CHECK(cfg->deadline == 30000ms);
    CHECK(cfg->retry.max_attempts == 3);
    CHECK(cfg->body_limit == 1024 * 1024);

    vars = {{"PAYOUTS_ENVIRONMENT", "prod"}};
    CHECK(config_from_environment<>(d, lookup).error() == errc::invalid_config);
    CHECK(d.message.find("PAYOUTS_ENVIRONMENT") != std::string::npos);
    for (auto bad : {"0", "-5", "12s", "99999999999"}) {
        vars = {{"PAYOUTS_TIMEOUT_MS", bad}};
        CHECK(config_from_environment<>(d, lookup).error() == errc::invalid_config);
        CHECK(d.message.find("PAYOUTS_TIMEOUT_MS") != std::string::npos);
    }
}
