// The egress proxy: the CONNECT tunnel itself (detail/proxy.hpp) against a real tinyproxy and
// against stand-in proxies that misbehave; fetches through the public API with `proxy` and
// `no_proxy`; the proxy variables of the environment; and the CLI against payouts-sandbox
// through tinyproxy.
#include <payouts/detail/proxy.hpp>
#include <payouts/payouts.hpp>

#include "support/child_process.hpp"
#include "support/fetch_helpers.hpp"
#include "support/https_server.hpp"
#include "support/tinyproxy.hpp"

#include <cli_path.hpp>
#include <sandbox_path.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/json/parse.hpp>
#include <doctest/doctest.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include <chrono>
#include <exception>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

using namespace payouts;
using namespace std::chrono_literals;
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace fs = std::filesystem;
using tcp = net::ip::tcp;
using test_support::reply;
using test_support::request_record;
using test_support::server;
using test_support::tinyproxy;

namespace {

// Runs `body` (a coroutine function) on `ioc` until it finishes, for at most a minute: a test
// that would hang fails instead.
template <class F>
void run_until_done(net::io_context& ioc, F&& body) {
    bool done = false;
    std::exception_ptr err;
    net::co_spawn(ioc, std::forward<F>(body), [&](std::exception_ptr e) {
        err = e;
        done = true;
    });
    auto const cap = std::chrono::steady_clock::now() + 60s;
    ioc.restart();
    while (!done && ioc.run_one_until(cap)) {
    }
    REQUIRE_MESSAGE(done, "the operation did not complete within a minute");
    if (err) std::rethrow_exception(err);
}

// The Proxy-Authorization value for Basic credentials, encoded here independently of the
// library.
std::string basic(std::string_view user, std::string_view password) {
    std::string const plain = std::string(user) + ":" + std::string(password);
    std::string b64(4 * ((plain.size() + 2) / 3) + 1, '\0');
    int const n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()),
                                  reinterpret_cast<unsigned char const*>(plain.data()),
                                  static_cast<int>(plain.size()));
    b64.resize(static_cast<std::size_t>(n));
    return "Basic " + b64;
}

bool contains(std::string_view hay, std::string_view needle) {
    return hay.find(needle) != std::string_view::npos;
}

tcp::endpoint loopback(std::uint16_t port) {
    return {net::ip::make_address_v4("127.0.0.1"), port};
}

struct tunnel_outcome {
    error_code connect_ec, ec;
    detail::tunnel_result r;
    std::size_t buffered = 0;
};

// Connects to 127.0.0.1:proxy_port and opens a tunnel to host:port; nothing after.
tunnel_outcome tunnel(net::io_context& ioc, std::uint16_t proxy_port, std::string host,
                      std::uint16_t port, std::string authorization,
                      std::chrono::milliseconds timeout = 30s) {
    tunnel_outcome o;
    run_until_done(ioc, [&]() -> net::awaitable<void> {
        beast::tcp_stream s(co_await net::this_coro::executor);
        s.expires_after(timeout);
        co_await s.async_connect(loopback(proxy_port),
                                 net::redirect_error(net::use_awaitable, o.connect_ec));
        if (o.connect_ec) co_return;
        beast::flat_buffer buf;
        o.ec = co_await detail::open_tunnel(s, buf, "127.0.0.1:" + std::to_string(proxy_port), host,
                                            port, authorization, "payouts-test/1", o.r);
        o.buffered = buf.size();
    });
    return o;
}

// A stand-in proxy on 127.0.0.1: reads each connection's request header, records it, then
// sends `answer` verbatim and closes ("": closes without answering), or with `stall` keeps the
// connection open and silent until the client goes.
class fake_proxy {
public:
    fake_proxy(net::io_context& ioc, std::string answer, bool stall = false)
        : answer_(std::move(answer))
        , stall_(stall)
        , acceptor_(ioc, loopback(0)) {
        net::co_spawn(ioc, accept_loop(), net::detached);
    }
    std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

    std::vector<request_record> requests;
    std::size_t connections = 0;

private:
    net::awaitable<void> accept_loop() {
        for (;;) {
            auto [ec, sock] = co_await acceptor_.async_accept(net::as_tuple(net::use_awaitable));
            if (ec) co_return;
            ++connections;
            net::co_spawn(acceptor_.get_executor(), session(std::move(sock)), net::detached);
        }
    }

    net::awaitable<void> session(tcp::socket sock) {
        beast::tcp_stream s(std::move(sock));
        beast::flat_buffer buf;
        http::request_parser<http::empty_body> p;
        auto [ec, n] =
            co_await http::async_read_header(s, buf, p, net::as_tuple(net::use_awaitable));
        if (ec) co_return;
        request_record rec;
        rec.method = std::string(p.get().method_string());
        rec.target = std::string(p.get().target());
        for (auto const& f : p.get())
            rec.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
        requests.push_back(std::move(rec));
        if (stall_) {
            char byte;
            for (;;) {
                auto [rec2, rn] = co_await s.async_read_some(net::buffer(&byte, 1),
                                                             net::as_tuple(net::use_awaitable));
                if (rec2) co_return;
            }
        }
        std::string const answer = answer_; // this object may be gone before the write ends
        if (!answer.empty())
            co_await net::async_write(s, net::buffer(answer), net::as_tuple(net::use_awaitable));
        error_code ignored;
        s.socket().shutdown(tcp::socket::shutdown_send, ignored);
    }

    std::string answer_;
    bool stall_;
    tcp::acceptor acceptor_;
};

struct through_outcome {
    error_code ec;
    std::string failed_step;
    detail::tunnel_result r;
    unsigned status = 0;
    std::string body;
};

// Through tinyproxy at `proxy_port` to the HTTPS server: tunnel, TLS handshake verifying the
// server's certificate for "localhost", one GET, its answer.
through_outcome get_through(net::io_context& ioc, std::uint16_t proxy_port, server const& srv,
                            std::string const& authorization) {
    through_outcome o;
    run_until_done(ioc, [&]() -> net::awaitable<void> {
        auto const step = [&](error_code ec, char const* what) {
            if (ec && o.failed_step.empty()) {
                o.ec = ec;
                o.failed_step = what;
            }
            return !ec;
        };
        error_code ec;
        beast::tcp_stream s(co_await net::this_coro::executor);
        s.expires_after(30s);
        co_await s.async_connect(loopback(proxy_port), net::redirect_error(net::use_awaitable, ec));
        if (!step(ec, "connect")) co_return;
        beast::flat_buffer buf;
        ec = co_await detail::open_tunnel(s, buf, "127.0.0.1:" + std::to_string(proxy_port),
                                          "localhost", srv.port(), authorization, "payouts-test/1",
                                          o.r);
        if (!step(ec, "tunnel")) co_return;

        net::ssl::context ctx(net::ssl::context::tls_client);
        ctx.add_certificate_authority(net::buffer(srv.ca_pem()));
        ctx.set_verify_mode(net::ssl::verify_peer);
        net::ssl::stream<beast::tcp_stream> tls(std::move(s), ctx);
        tls.set_verify_callback(net::ssl::host_name_verification("localhost"));
        SSL_set_tlsext_host_name(tls.native_handle(), "localhost");
        co_await tls.async_handshake(net::ssl::stream_base::client,
                                     net::redirect_error(net::use_awaitable, ec));
        if (!step(ec, "handshake")) co_return;

        http::request<http::empty_body> req{http::verb::get, "/through/the/tunnel", 11};
        req.set(http::field::host, "localhost:" + std::to_string(srv.port()));
        req.set(http::field::user_agent, "payouts-test/1");
        co_await http::async_write(tls, req, net::redirect_error(net::use_awaitable, ec));
        if (!step(ec, "write")) co_return;
        http::response<http::string_body> res;
        co_await http::async_read(tls, buf, res, net::redirect_error(net::use_awaitable, ec));
        if (!step(ec, "read")) co_return;
        o.status = res.result_int();
        o.body = res.body();
    });
    return o;
}

bool any_get(std::vector<std::string> const& request_lines) {
    for (auto const& l : request_lines)
        if (!l.starts_with("CONNECT ")) return true;
    return false;
}

} // namespace

// --- open_tunnel against tinyproxy --------------------------------------------------------------

TEST_CASE("open_tunnel through tinyproxy with Basic credentials carries verified TLS") {
    net::io_context ioc;
    server srv(ioc, [](request_record const&) { return reply::json(200, R"({"ok":true})"); });
    tinyproxy px({.user = "alice", .password = "s3cr3t-pw.42"});

    auto const o = get_through(ioc, px.port(), srv, basic("alice", "s3cr3t-pw.42"));
    REQUIRE_MESSAGE(!o.ec, o.failed_step, ": ", o.ec.message(), " (", o.r.why, ")\n", px.log());
    CHECK(o.r.proxy_status == 200);
    CHECK(o.r.why.empty());
    CHECK(o.status == 200);
    CHECK(o.body == R"({"ok":true})");

    // The server got exactly the request sent through the tunnel, never the proxy's header.
    REQUIRE(srv.requests.size() == 1);
    auto const& r = srv.requests[0];
    CHECK(r.method == "GET");
    CHECK(r.target == "/through/the/tunnel");
    CHECK(r.headers == std::vector<std::pair<std::string, std::string>>{
                           {"Host", "localhost:" + std::to_string(srv.port())},
                           {"User-Agent", "payouts-test/1"}});
    CHECK_FALSE(r.has_header("Proxy-Authorization"));
    CHECK(srv.handshakes == 1);

    // The proxy saw one CONNECT and nothing in clear.
    auto const lines = px.requests();
    CHECK(lines == std::vector<std::string>{"CONNECT localhost:" + std::to_string(srv.port()) +
                                            " HTTP/1.1"});
    CHECK_FALSE(any_get(lines));
    CHECK_FALSE(contains(px.log(), "through/the/tunnel"));
}

TEST_CASE("open_tunnel: tinyproxy refuses missing (407) and wrong (401) credentials") {
    net::io_context ioc;
    server srv(ioc, [](request_record const&) { return reply::json(200, "{}"); });
    tinyproxy px({.user = "alice", .password = "right-pw"});
    std::string const target = "localhost:" + std::to_string(srv.port());

    auto const none = tunnel(ioc, px.port(), "localhost", srv.port(), "");
    REQUIRE(!none.connect_ec);
    CHECK(none.ec == errc::proxy_refused);
    CHECK(none.r.proxy_status == 407);
    CHECK(none.r.why == "proxy " + px.name() + " refused CONNECT to " + target +
                            ": HTTP 407 Proxy Authentication Required");
    CHECK_FALSE(none.r.retryable);

    // tinyproxy answers a wrong password with 401, not 407.
    auto const wrong_auth = basic("alice", "wrong-pw-1234");
    auto const wrong = tunnel(ioc, px.port(), "localhost", srv.port(), wrong_auth);
    CHECK(wrong.ec == errc::proxy_refused);
    CHECK(wrong.r.proxy_status == 401);
    CHECK(wrong.r.why ==
          "proxy " + px.name() + " refused CONNECT to " + target + ": HTTP 401 Unauthorized");
    CHECK_FALSE(contains(wrong.r.why, "wrong-pw-1234"));
    CHECK_FALSE(contains(wrong.r.why, wrong_auth.substr(6)));
    CHECK_FALSE(wrong.r.retryable);

    CHECK(srv.connections == 0);
    CHECK(px.connects_to(target) == 2);
}

TEST_CASE("open_tunnel: tinyproxy's other refusals") {
    net::io_context ioc;
    server srv(ioc, [](request_record const&) { return reply::json(200, "{}"); });
    SUBCASE("a port outside its ConnectPort list") {
        tinyproxy px({.connect_ports = {443}});
        auto const o = tunnel(ioc, px.port(), "localhost", srv.port(), "");
        CHECK(o.ec == errc::proxy_refused);
        CHECK(o.r.proxy_status == 403);
        CHECK(contains(o.r.why, "HTTP 403 "));
        CHECK_FALSE(o.r.retryable);
        MESSAGE("tinyproxy, port not allowed: ", o.r.why);
        // And a listed port is tunnelled.
        tinyproxy allowed({.connect_ports = {srv.port()}});
        auto const ok = tunnel(ioc, allowed.port(), "localhost", srv.port(), "");
        CHECK_MESSAGE(!ok.ec, ok.r.why);
        CHECK(ok.r.proxy_status == 200);
    }
    SUBCASE("a target nothing listens on") {
        tinyproxy px;
        auto const closed = test_support::closed_loopback_port();
        auto const o = tunnel(ioc, px.port(), "127.0.0.1", closed, "");
        CHECK(o.ec == errc::proxy_refused);
        CHECK(o.r.proxy_status == 500);
        CHECK(o.r.why == "proxy " + px.name() + " refused CONNECT to 127.0.0.1:" +
                             std::to_string(closed) + ": HTTP 500 Unable to connect");
        CHECK_FALSE(o.r.retryable);
    }
}

// --- open_tunnel against stand-in proxies
// ---------------------------------------------------------

TEST_CASE("open_tunnel: the CONNECT request on the wire") {
    net::io_context ioc;
    fake_proxy fp(ioc, "HTTP/1.1 200 Connection established\r\n\r\n");
    auto const o = tunnel(ioc, fp.port(), "localhost", 8443, "Basic dTpw");
    CHECK(!o.ec);
    CHECK(o.r.proxy_status == 200);
    REQUIRE(fp.requests.size() == 1);
    auto const& r = fp.requests[0];
    CHECK(r.method == "CONNECT");
    CHECK(r.target == "localhost:8443");
    CHECK(r.headers ==
          std::vector<std::pair<std::string, std::string>>{{"Host", "localhost:8443"},
                                                           {"Proxy-Authorization", "Basic dTpw"},
                                                           {"User-Agent", "payouts-test/1"}});

    // No credentials: no header. IPv6 literals in brackets.
    auto const v6 = tunnel(ioc, fp.port(), "::1", 443, "");
    CHECK(!v6.ec);
    REQUIRE(fp.requests.size() == 2);
    CHECK(fp.requests[1].target == "[::1]:443");
    CHECK(fp.requests[1].header("Host") == "[::1]:443");
    CHECK_FALSE(fp.requests[1].has_header("Proxy-Authorization"));

    // CR or LF would inject a header: refused before anything is sent.
    auto const injected = tunnel(ioc, fp.port(), "localhost\r\nX-Evil: 1", 443, "");
    CHECK(injected.ec == errc::invalid_config);
    auto const injected_auth = tunnel(ioc, fp.port(), "localhost", 443, "Basic x\r\nX-Evil: 1");
    CHECK(injected_auth.ec == errc::invalid_config);
    CHECK(fp.requests.size() == 2);
}

TEST_CASE("open_tunnel: a proxy that closes, refuses, stalls or says too much") {
    net::io_context ioc;
    SUBCASE("closes without answering") {
        fake_proxy fp(ioc, "");
        auto const o = tunnel(ioc, fp.port(), "localhost", 8443, "Basic c2VjcmV0");
        CHECK(o.ec == errc::proxy_refused);
        CHECK(o.r.proxy_status == 0);
        CHECK(o.r.why == "proxy 127.0.0.1:" + std::to_string(fp.port()) +
                             " closed the connection before answering CONNECT to localhost:8443");
        CHECK(o.r.retryable);
        CHECK_FALSE(contains(o.r.why, "c2VjcmV0"));
        CHECK(fp.requests.size() == 1);
    }
    SUBCASE("closes in the middle of its answer") {
        fake_proxy fp(ioc, "HTTP/1.1 200 Connec");
        auto const o = tunnel(ioc, fp.port(), "localhost", 8443, "");
        CHECK(o.ec == errc::proxy_refused);
        CHECK(o.r.proxy_status == 0);
        CHECK(contains(o.r.why, "closed the connection before answering CONNECT"));
        CHECK(o.r.retryable);
    }
    SUBCASE("403") {
        fake_proxy fp(ioc, "HTTP/1.1 403 Forbidden\r\nContent-Length: 9\r\n\r\nforbidden");
        auto const o = tunnel(ioc, fp.port(), "api.example", 443, "Basic c2VjcmV0");
        CHECK(o.ec == errc::proxy_refused);
        CHECK(o.r.proxy_status == 403);
        CHECK(o.r.why == "proxy 127.0.0.1:" + std::to_string(fp.port()) +
                             " refused CONNECT to api.example:443: HTTP 403 Forbidden");
        CHECK_FALSE(o.r.retryable);
    }
    SUBCASE("502, 503 and 504 may be tried again; 500 and 501 not") {
        for (int st : {500, 501, 502, 503, 504}) {
            CAPTURE(st);
            fake_proxy fp(ioc, "HTTP/1.1 " + std::to_string(st) + " Nope\r\n\r\n");
            auto const o = tunnel(ioc, fp.port(), "api.example", 443, "");
            CHECK(o.ec == errc::proxy_refused);
            CHECK(o.r.proxy_status == st);
            CHECK(o.r.retryable == (st >= 502));
            CHECK(contains(o.r.why, "HTTP " + std::to_string(st) + " Nope"));
        }
    }
    SUBCASE("any 2xx opens the tunnel; HTTP/1.0 without a length has no body") {
        fake_proxy fp(ioc, "HTTP/1.0 204 Tunnel open\r\nProxy-agent: fake\r\n\r\n");
        auto const o = tunnel(ioc, fp.port(), "api.example", 443, "");
        CHECK(!o.ec);
        CHECK(o.r.proxy_status == 204);
        CHECK(o.buffered == 0);
    }
    SUBCASE("200 followed by bytes that would be lost") {
        fake_proxy fp(ioc, std::string("HTTP/1.1 200 OK\r\n\r\n\x16\x03\x01", 22));
        auto const o = tunnel(ioc, fp.port(), "api.example", 443, "");
        CHECK(o.ec == errc::proxy_refused);
        CHECK(o.r.proxy_status == 200);
        CHECK(o.r.why == "proxy 127.0.0.1:" + std::to_string(fp.port()) +
                             " sent 3 unexpected bytes after its answer to CONNECT to "
                             "api.example:443");
        CHECK_FALSE(o.r.retryable);
    }
    SUBCASE("a header larger than the limit") {
        fake_proxy fp(ioc, "HTTP/1.1 200 OK\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n");
        auto const o = tunnel(ioc, fp.port(), "api.example", 443, "");
        CHECK(o.ec == http::error::header_limit);
    }
    SUBCASE("never answers: the caller's timeout ends it, unchanged") {
        fake_proxy fp(ioc, "", true);
        auto const o = tunnel(ioc, fp.port(), "api.example", 443, "", 200ms);
        CHECK(o.ec == beast::error::timeout);
        CHECK(o.r.proxy_status == 0);
        CHECK(fp.requests.size() == 1);
    }
}

// --- fetch through the public API
// -----------------------------------------------------------------

namespace {

std::string yuno_body(std::string const& id) {
    return R"({"id":")" + id +
           R"(","status":"SUCCEEDED","amount":{"value":10.01,"currency":"BRL"}})";
}

// Yuno under /yuno-like, DRUO under /druo-like with its token at /oauth/token.
reply provider_script(request_record const& r) {
    constexpr std::string_view yuno = "/yuno-like/payouts/", druo = "/druo-like/payouts/";
    if (r.target == "/oauth/token")
        return reply::json(200, R"({"access_token":"tok-via-proxy","expires_in":3600})");
    if (r.target.starts_with(yuno))
        return reply::json(200, yuno_body(r.target.substr(yuno.size())));
    if (r.target.starts_with(druo)) {
        if (r.header("Authorization") != "Bearer tok-via-proxy")
            return reply::json(401, R"({"errors":[{"code":"UNAUTHORIZED"}]})");
        return reply::json(200, R"({"payout":{"uuid":")" + r.target.substr(druo.size()) +
                                    R"(","status":"SUCCESSFUL"}})");
    }
    return reply::json(404, "{}");
}

// What the hook saw: every event's request and message, copied.
struct event_log {
    std::vector<std::string> text;
    std::function<void(fetch_event const&)> hook() {
        return [this](fetch_event const& e) {
            text.emplace_back(e.request);
            text.emplace_back(e.message);
        };
    }
    bool mentions(std::string_view s) const {
        for (auto const& t : text)
            if (contains(t, s)) return true;
        return false;
    }
};

client_config config_for(server const& srv, std::string proxy, std::string host = "localhost") {
    auto c = test_support::config_for(srv);
    c.deadline = 10s;
    c.proxy = std::move(proxy);
    std::string const base = "https://" + host + ":" + std::to_string(srv.port());
    c.providers["yuno"] = provider_config{
        base + "/yuno-like", {}, {{"PUBLIC_API_KEY", "pk"}, {"PRIVATE_SECRET_KEY", "sk"}}};
    c.providers["druo"] = provider_config{base + "/druo-like",
                                          base + "/oauth/token",
                                          {{"CLIENT_ID", "cid"}, {"CLIENT_SECRET", "csecret"}}};
    return c;
}

// A minute: a proxy adds its own waits.
template <class P>
test_support::outcome get(net::io_context& ioc, client& c, typename P::id_type id) {
    return test_support::get<P>(ioc, c, std::move(id), std::chrono::seconds(60));
}

} // namespace

TEST_CASE("fetch through tinyproxy with credentials: static keys and the OAuth flow") {
    net::io_context ioc;
    server srv(ioc, provider_script);
    std::string const password = "pr0xy-pw.z9";
    tinyproxy px({.user = "proxy-user", .password = password});
    auto cfg = config_for(srv, px.url("proxy-user", password));
    event_log events;
    cfg.on_event = events.hook();
    client c(ioc, cfg);
    std::string const target = "localhost:" + std::to_string(srv.port());

    auto const y = get<Yuno>(ioc, c, "po-1");
    REQUIRE_MESSAGE(!y.ec, y.ec.message(), ": ", y.d.message, "\n", px.log());
    CHECK(y.p.id == "po-1");
    CHECK(y.p.status == payout_status::paid);
    CHECK(y.p.amount == money{1001, 2, "BRL"});
    REQUIRE(srv.requests.size() == 1);
    CHECK(srv.requests[0].target == "/yuno-like/payouts/po-1");
    CHECK(srv.requests[0].header("Host") == target);
    CHECK(px.connects_to(target) == 1);

    auto const d = get<Druo>(ioc, c, "trx_77");
    REQUIRE_MESSAGE(!d.ec, d.ec.message(), ": ", d.d.message, "\n", px.log());
    CHECK(d.p.id == "trx_77");
    CHECK(d.p.status == payout_status::paid);
    REQUIRE(srv.requests.size() == 3);
    CHECK(srv.requests[1].target == "/oauth/token");
    CHECK(srv.requests[2].target == "/druo-like/payouts/trx_77");

    // Every request reached the server through the tunnel, with no proxy header; the proxy saw
    // only CONNECTs to the server (each connection one tunnel), nothing in clear.
    for (auto const& r : srv.requests)
        CHECK_FALSE(r.has_header("Proxy-Authorization"));
    CHECK(px.connects_to(target) == srv.connections);
    CHECK(px.requests().size() == srv.connections);
    CHECK_FALSE(any_get(px.requests()));
    CHECK_FALSE(events.mentions(password));
    CHECK_FALSE(events.mentions(basic("proxy-user", password).substr(6)));
    CHECK_FALSE(contains(y.d.message, password));
}

TEST_CASE("fetch through tinyproxy: percent-encoded credentials, and a proxy without them") {
    net::io_context ioc;
    server srv(ioc, provider_script);
    SUBCASE("user info is percent-decoded") {
        tinyproxy px({.user = "u.1", .password = "p-2.3"});
        // "%2D" is '-' and "%2e" is '.': the proxy only accepts the decoded password.
        auto cfg = config_for(srv, "http://u%2E1:p%2D2%2e3@127.0.0.1:" + std::to_string(px.port()));
        client c(ioc, cfg);
        auto const o = get<Yuno>(ioc, c, "po-2");
        CHECK_MESSAGE(!o.ec, o.ec.message(), ": ", o.d.message);
        CHECK(px.connects_to("localhost:" + std::to_string(srv.port())) == 1);
    }
    SUBCASE("no BasicAuth, no user info") {
        tinyproxy px;
        client c(ioc, config_for(srv, px.url()));
        auto const o = get<Yuno>(ioc, c, "po-3");
        CHECK_MESSAGE(!o.ec, o.ec.message(), ": ", o.d.message);
        CHECK(px.connects_to("localhost:" + std::to_string(srv.port())) == 1);
    }
}

TEST_CASE("fetch through tinyproxy with wrong or missing credentials: proxy_refused") {
    net::io_context ioc;
    server srv(ioc, provider_script);
    tinyproxy px({.user = "proxy-user", .password = "the-right-one"});
    event_log events;

    auto cfg = config_for(srv, px.url("proxy-user", "wr0ng-pa55"));
    cfg.on_event = events.hook();
    client wrong(ioc, cfg);
    auto const w = get<Yuno>(ioc, wrong, "po-4");
    CHECK(w.ec == errc::proxy_refused);
    CHECK_MESSAGE(contains(w.d.message, "401"), w.d.message); // tinyproxy's answer
    CHECK_FALSE(contains(w.d.message, "wr0ng-pa55"));
    CHECK_FALSE(contains(w.d.message, basic("proxy-user", "wr0ng-pa55").substr(6)));
    CHECK_FALSE(events.mentions("wr0ng-pa55"));
    CHECK_FALSE(events.mentions(basic("proxy-user", "wr0ng-pa55").substr(6)));

    // Druo: the token request is the first to meet the proxy.
    auto const t = get<Druo>(ioc, wrong, "trx_1");
    CHECK_MESSAGE(t.ec == errc::proxy_refused, t.ec.message(), ": ", t.d.message);
    CHECK_FALSE(contains(t.d.message, "wr0ng-pa55"));

    client none(ioc, config_for(srv, px.url()));
    auto const n = get<Yuno>(ioc, none, "po-5");
    CHECK(n.ec == errc::proxy_refused);
    CHECK_MESSAGE(contains(n.d.message, "407"), n.d.message);

    CHECK(srv.connections == 0);
    CHECK(px.connects_to("localhost:" + std::to_string(srv.port())) >= 3);
}

TEST_CASE("fetch through a proxy that never answers CONNECT: the connect timeout ends it") {
    net::io_context ioc;
    server srv(ioc, provider_script);
    fake_proxy fp(ioc, "", true);
    auto cfg = config_for(srv, "http://127.0.0.1:" + std::to_string(fp.port()));
    cfg.connect_timeout = 200ms;
    cfg.retry.max_attempts = 2;
    client c(ioc, cfg);
    auto const o = get<Yuno>(ioc, c, "po-stall");
    CHECK(o.ec == errc::timeout);
    CHECK(o.d.attempts == 2); // each attempt had its own connect limit, well inside the deadline
    CHECK_MESSAGE(o.d.message == "proxy 127.0.0.1:" + std::to_string(fp.port()) + ": timed out",
                  o.d.message);
    CHECK(fp.requests.size() == 2);
    CHECK(srv.connections == 0);
}

TEST_CASE("no_proxy: matching hosts go direct, others through the proxy") {
    net::io_context ioc;
    server srv(ioc, provider_script);
    // Nothing listens there: a fetch that used the proxy could not succeed.
    std::string const dead_proxy =
        "http://127.0.0.1:" + std::to_string(test_support::closed_loopback_port());

    for (std::string np : {"localhost", "*", ".localhost", "LOCALHOST", " example.com , localhost ",
                           "example.com,localhost"}) {
        CAPTURE(np);
        auto cfg = config_for(srv, dead_proxy);
        cfg.no_proxy = np;
        client c(ioc, cfg);
        auto const o = get<Yuno>(ioc, c, "direct");
        CHECK_MESSAGE(!o.ec, o.ec.message(), ": ", o.d.message);
    }
    {
        auto cfg = config_for(srv, dead_proxy, "127.0.0.1");
        cfg.no_proxy = "127.0.0.1";
        client c(ioc, cfg);
        auto const o = get<Yuno>(ioc, c, "direct-ip");
        CHECK_MESSAGE(!o.ec, o.ec.message(), ": ", o.d.message);
    }
    auto const direct = srv.connections;
    CHECK(direct == 7);

    // Names are compared as written, whole labels only: no resolving, no partial suffixes.
    for (std::string np : {"", "example.com", "calhost", "localhost.example", "127.0.0.1"}) {
        CAPTURE(np);
        auto cfg = config_for(srv, dead_proxy);
        cfg.no_proxy = np;
        cfg.retry.max_attempts = 2;
        client c(ioc, cfg);
        auto const o = get<Yuno>(ioc, c, "via-proxy");
        CHECK_MESSAGE(o.ec == net::error::connection_refused, o.ec.message(), ": ", o.d.message);
    }
    CHECK(srv.connections == direct);
}

TEST_CASE("plain http:// to loopback never uses the proxy") {
    net::io_context ioc;
    server srv(ioc, provider_script, {.tls = false});
    client_config cfg;
    cfg.allow_plaintext_loopback = true;
    cfg.deadline = 10s;
    cfg.proxy = "http://127.0.0.1:" + std::to_string(test_support::closed_loopback_port());
    cfg.providers["yuno"] = provider_config{
        srv.url("/yuno-like"), {}, {{"PUBLIC_API_KEY", "pk"}, {"PRIVATE_SECRET_KEY", "sk"}}};
    client c(ioc, cfg);
    auto const o = get<Yuno>(ioc, c, "plain");
    CHECK_MESSAGE(!o.ec, o.ec.message(), ": ", o.d.message);
    CHECK(srv.requests.size() == 1);
}

TEST_CASE("config_from_environment: proxy variables in curl's order") {
    auto const read = [](std::map<std::string, std::string> vars) {
        diagnostics d;
        auto cfg = config_from_environment<Yuno>(
            d, [&](std::string const& n) -> std::optional<std::string> {
                auto it = vars.find(n);
                if (it == vars.end()) return std::nullopt;
                return it->second;
            });
        REQUIRE_MESSAGE(cfg.has_value(), d.message);
        return std::pair{cfg->proxy, cfg->no_proxy};
    };
    CHECK(read({}) == std::pair<std::string, std::string>{});
    CHECK(read({{"PAYOUTS_PROXY", "http://a:1"},
                {"HTTPS_PROXY", "http://b:2"},
                {"https_proxy", "http://c:3"},
                {"PAYOUTS_NO_PROXY", "x"},
                {"NO_PROXY", "y"},
                {"no_proxy", "z"}}) == std::pair<std::string, std::string>{"http://a:1", "x"});
    CHECK(read({{"HTTPS_PROXY", "http://b:2"},
                {"https_proxy", "http://c:3"},
                {"NO_PROXY", "y"},
                {"no_proxy", "z"}}) == std::pair<std::string, std::string>{"http://b:2", "y"});
    CHECK(read({{"https_proxy", "http://c:3"}, {"no_proxy", "z"}}) ==
          std::pair<std::string, std::string>{"http://c:3", "z"});
    // Set but empty counts as unset.
    CHECK(read({{"PAYOUTS_PROXY", ""},
                {"https_proxy", "http://c:3"},
                {"PAYOUTS_NO_PROXY", ""},
                {"no_proxy", "z"}}) == std::pair<std::string, std::string>{"http://c:3", "z"});
    // HTTP_PROXY is for http:// URLs (and may come from a request's Proxy header under CGI):
    // never read.
    CHECK(read({{"HTTP_PROXY", "http://d:4"}, {"http_proxy", "http://e:5"}}) ==
          std::pair<std::string, std::string>{});
}

// --- the CLI against payouts-sandbox, through tinyproxy
// -------------------------------------------

namespace {

struct cli_run {
    int code = -1;
    std::string out, err;
};

class sandbox {
public:
    sandbox() {
        std::string t = (fs::temp_directory_path() / "payouts-proxy-test-XXXXXX").string();
        REQUIRE(::mkdtemp(t.data()) != nullptr);
        dir = t;
        REQUIRE_MESSAGE(fs::exists(PAYOUTS_SANDBOX_EXE), "build tools/sandbox/payouts-sandbox");
        child_.emplace(std::vector<std::string>{PAYOUTS_SANDBOX_EXE, "--port", "0", "--quiet",
                                                "--state-dir", (dir / "pki").string()},
                       std::map<std::string, std::string>{}, dir / "out", dir / "err");
        auto lines = test_support::first_two_lines(dir / "out", 1200);
        REQUIRE_MESSAGE(lines,
                        "the sandbox printed no base URL: ", test_support::slurp(dir / "err"));
        base = lines->first;
        ca = lines->second;
    }
    ~sandbox() {
        child_->stop(SIGTERM);
        std::error_code ignored;
        fs::remove_all(dir, ignored);
    }

    // `payouts args...` with exactly `env` (and PATH), waited for (10 s at most).
    cli_run cli(std::vector<std::string> args, std::map<std::string, std::string> const& env) {
        REQUIRE_MESSAGE(fs::exists(PAYOUTS_CLI_EXE), "build tools/cli/payouts");
        args.insert(args.begin(), PAYOUTS_CLI_EXE);
        cli_run r;
        {
            test_support::child_process p(std::move(args), env, dir / "cli.out", dir / "cli.err");
            r.code = p.stop(0);
        }
        r.out = test_support::slurp(dir / "cli.out");
        r.err = test_support::slurp(dir / "cli.err");
        return r;
    }

    fs::path dir;
    std::string base, ca;

private:
    std::optional<test_support::child_process> child_;
};

} // namespace

TEST_CASE("CLI: payouts get through tinyproxy from PAYOUTS_PROXY") {
    sandbox sb;
    tinyproxy px({.user = "cli-user", .password = "cli-pw.4417"});
    std::string const id = "1c58426d-2c1b-4476-b3c0-447a8c683466";
    std::map<std::string, std::string> env{
        {"PAYOUTS_CA_FILE", sb.ca},
        {"PAYOUTS_YUNO_BASE_URL", sb.base + "/yuno/v1"},
        {"PAYOUTS_YUNO_PUBLIC_API_KEY", "sandbox_yuno_public_api_key"},
        {"PAYOUTS_YUNO_PRIVATE_SECRET_KEY", "sandbox_yuno_private_secret_key"},
        {"PAYOUTS_TIMEOUT_MS", "8000"},
        {"PAYOUTS_PROXY", px.url("cli-user", "cli-pw.4417")},
        // Shadowed by PAYOUTS_PROXY; nothing listens there.
        {"HTTPS_PROXY", "http://127.0.0.1:" + std::to_string(test_support::closed_loopback_port())},
    };
    auto const host_port = sb.base.substr(sb.base.find("://") + 3);

    auto const r = sb.cli({"get", "yuno", id, "--format", "json"}, env);
    REQUIRE_MESSAGE(r.code == 0, r.err, "\n", px.log());
    auto const v = boost::json::parse(r.out);
    CHECK(v.at("id").as_string() == std::string_view(id));
    CHECK(v.at("status") == "paid");
    CHECK(px.connects_to(host_port) == 1);
    CHECK_FALSE(any_get(px.requests()));

    // Wrong proxy password: fails, says why, never shows the password.
    env["PAYOUTS_PROXY"] = px.url("cli-user", "n0t-the-pw");
    auto const w = sb.cli({"get", "yuno", id, "--verbose"}, env);
    CHECK(w.code != 0);
    CHECK(w.code != 1);
    CHECK_MESSAGE(contains(w.err, "401"), w.err);
    CHECK_FALSE(contains(w.err + w.out, "n0t-the-pw"));
    CHECK_FALSE(contains(w.err + w.out, basic("cli-user", "n0t-the-pw").substr(6)));
}
