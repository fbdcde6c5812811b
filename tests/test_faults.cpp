// The fault matrix (docs/RELIABILITY.md): each scenario the client must survive, against the
// in-test HTTPS server (tests/support) or the spawned sandbox and CLI. Every case asserts the
// typed error, that no payout came out, and where it matters what the server saw. Rows that
// tests/test_fetch.cpp, test_decode.cpp, test_request.cpp, test_sandbox.cpp or test_cli.cpp
// already cover are not repeated here.
#include <payouts/payouts.hpp>
// make_provider_setup, for the URL cases (in payouts.hpp only when header-only).
#include <payouts/detail/request.hpp>

#include "support/child_process.hpp"
#include "support/fetch_helpers.hpp"
#include "support/https_server.hpp"
#include "support/run_until.hpp"

#include <cli_path.hpp>
#include <sandbox_path.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <doctest/doctest.h>

#include <openssl/ssl.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

extern char** environ;

using namespace payouts;
using namespace std::chrono_literals;
namespace net = boost::asio;
namespace fs = std::filesystem;
using test_support::add_provider;
using test_support::config_for;
using test_support::creds;
using test_support::get;
using test_support::outcome;
using test_support::reply;
using test_support::request_record;
using test_support::server;
using test_support::slurp;
using child = test_support::child_process;
using cut = test_support::reply::cut_action;

namespace {

std::string fixture(std::string const& rel) {
    auto const p = fs::path(PAYOUTS_FIXTURES_DIR) / rel;
    REQUIRE_MESSAGE(fs::exists(p), rel);
    return slurp(p);
}

std::string yuno_body(std::string const& id) {
    return R"({"id":")" + id +
           R"(","status":"SUCCEEDED","amount":{"value":10.01,"currency":"BRL"}})";
}

std::string last_segment(std::string const& target) {
    return target.substr(target.rfind('/') + 1);
}

// "HTTP/1.1 200 OK" + `headers` (each ending in CRLF) + CRLF + `body`, byte for byte.
std::string raw_response(std::string const& headers, std::string const& body,
                         std::string const& status_line = "HTTP/1.1 200 OK") {
    return status_line + "\r\n" + headers + "\r\n" + body;
}

creds const yuno_creds{{"PUBLIC_API_KEY", "p"}, {"PRIVATE_SECRET_KEY", "s"}};

bool no_payout(outcome const& o) {
    return o.p.id.empty() && o.p.raw.empty() && o.p.provider.empty() && !o.p.amount;
}

using test_support::run_until;

unsigned long ssl_reason(error_code const& ec) {
    return ERR_GET_REASON(static_cast<unsigned long>(ec.value()));
}

// IMF-fixdate for `t` ("Sun, 06 Nov 1994 08:49:37 GMT").
std::string http_date(std::chrono::system_clock::time_point t) {
    std::time_t const tt = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    ::gmtime_r(&tt, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    return buf;
}

// How many times `part` occurs in `text`.
std::size_t occurrences(std::string_view text, std::string_view part) {
    std::size_t n = 0;
    for (auto at = text.find(part); at != std::string_view::npos; at = text.find(part, at + 1))
        ++n;
    return n;
}

// The longest run of digits in `text` once `host_port` is taken out of it: an error number
// leaking into a message shows up as one.
std::size_t longest_digit_run(std::string text, std::string const& host_port) {
    if (auto const at = text.find(host_port); at != std::string::npos)
        text.erase(at, host_port.size());
    std::size_t run = 0, longest = 0;
    for (char ch : text) {
        run = ch >= '0' && ch <= '9' ? run + 1 : 0;
        longest = std::max(longest, run);
    }
    return longest;
}

// A client TLS context of the caller's own, as client_config::tls_context takes it: trusting
// `ca_pem` and presenting `cert` (with its key) when given.
std::shared_ptr<net::ssl::context> user_tls_context(std::string const& ca_pem,
                                                    payouts_tools::pem_pair const* cert) {
    auto ctx = std::make_shared<net::ssl::context>(net::ssl::context::tls_client);
    ctx->add_certificate_authority(net::buffer(ca_pem));
    ctx->set_verify_mode(net::ssl::verify_peer);
    if (cert) {
        ctx->use_certificate_chain(net::buffer(cert->cert_pem));
        ctx->use_private_key(net::buffer(cert->key_pem), net::ssl::context::pem);
    }
    return ctx;
}

} // namespace

// --- TLS ----------------------------------------------------------------------------------------

TEST_CASE("faults: an expired or not yet valid certificate fails the handshake; nothing is sent") {
    net::io_context ioc;
    auto ok = [](request_record const& r) {
        return reply::json(200, yuno_body(last_segment(r.target)));
    };
    test_support::server_options expired, future;
    expired.pki.not_before_offset = -48h;
    expired.pki.lifetime = 24h; // ended a day ago
    future.pki.not_before_offset = 24h;
    future.pki.lifetime = 24h; // starts tomorrow
    server srv_expired(ioc, ok, expired);
    server srv_future(ioc, ok, future);
    server srv_valid(ioc, ok); // the same setup with a current certificate: the control

    struct bad_certificate {
        server* s;
        std::string problem; // as the verifier names it
    };
    for (auto const& [s, problem] :
         {bad_certificate{&srv_expired, "certificate has expired"},
          bad_certificate{&srv_future, "certificate is not yet valid"}}) {
        CAPTURE(problem);
        auto cfg = config_for(*s);
        add_provider(cfg, "yuno", s->url(), yuno_creds);
        add_provider(cfg, "introw", s->url("", "localhost"), {{"API_KEY", "k"}});
        client c(ioc, cfg);
        std::string const by_ip = "127.0.0.1:" + std::to_string(s->port());
        std::string const by_name = "localhost:" + std::to_string(s->port());
        auto o = get<Yuno>(ioc, c, "x");
        CHECK(o.ec.category() == net::error::get_ssl_category());
        CHECK(ssl_reason(o.ec) == SSL_R_CERTIFICATE_VERIFY_FAILED);
        CHECK_FALSE(o.ec == condition::retryable);
        CHECK(o.d.attempts == 1);
        // The host once and the verifier's reason, as curl says it; no error number.
        CHECK(o.d.message ==
              "TLS handshake with " + by_ip + " failed: SSL certificate problem: " + problem);
        CHECK(longest_digit_run(o.d.message, by_ip) < 4);
        CHECK(no_payout(o));
        auto o2 = get<Introw>(ioc, c, "x"); // by host name (SNI) as well
        CHECK(ssl_reason(o2.ec) == SSL_R_CERTIFICATE_VERIFY_FAILED);
        CHECK(o2.d.message ==
              "TLS handshake with " + by_name + " failed: SSL certificate problem: " + problem);
        CHECK(longest_digit_run(o2.d.message, by_name) < 4);
        CHECK(no_payout(o2));
        // Both handshakes broken off, as the server saw them: nothing more can come after that.
        server const& seen_by = *s;
        CHECK(run_until(ioc, [&] { return seen_by.failed_handshakes == 2; }));
        CHECK(s->requests.empty());
        CHECK(s->handshakes == 0);
    }
    auto cfg = config_for(srv_valid);
    add_provider(cfg, "yuno", srv_valid.url(), yuno_creds);
    client c(ioc, cfg);
    auto o = get<Yuno>(ioc, c, "x");
    CHECK_MESSAGE(!o.ec, o.d.message);
    CHECK(o.p.id == "x");
}

TEST_CASE("faults: a server offering only TLS 1.0/1.1 is refused; TLS 1.2 is accepted") {
    net::io_context ioc;
    auto ok = [](request_record const& r) {
        return reply::json(200, yuno_body(last_segment(r.target)));
    };
    // OpenSSL 3 offers TLS 1.0/1.1 only at security level 0 (their SHA-1 based handshake).
    test_support::server_options old;
    old.tls_setup = [](net::ssl::context& ctx) {
        SSL_CTX_set_security_level(ctx.native_handle(), 0);
        SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_VERSION);
        SSL_CTX_set_max_proto_version(ctx.native_handle(), TLS1_1_VERSION);
    };
    test_support::server_options v12;
    v12.tls_setup = [](net::ssl::context& ctx) {
        SSL_CTX_set_max_proto_version(ctx.native_handle(), TLS1_2_VERSION);
    };
    server srv_old(ioc, ok, old);
    server srv_12(ioc, ok, v12);

    // Control: the old server really completes a TLS 1.1 handshake with a client that allows it.
    int version = 0;
    error_code control_ec = net::error::would_block;
    net::ssl::context cctx(net::ssl::context::tls_client);
    SSL_CTX_set_security_level(cctx.native_handle(), 0);
    SSL_CTX_set_min_proto_version(cctx.native_handle(), TLS1_VERSION);
    SSL_CTX_set_max_proto_version(cctx.native_handle(), TLS1_1_VERSION);
    cctx.add_certificate_authority(net::buffer(srv_old.ca_pem()));
    cctx.set_verify_mode(net::ssl::verify_peer);
    {
        boost::beast::ssl_stream<boost::beast::tcp_stream> s(ioc, cctx);
        s.next_layer().async_connect(
            net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), srv_old.port()),
            [&](error_code ec) {
                if (ec) {
                    control_ec = ec;
                    return;
                }
                s.async_handshake(net::ssl::stream_base::client, [&](error_code hec) {
                    control_ec = hec;
                    version = SSL_version(s.native_handle());
                    s.next_layer().close();
                });
            });
        REQUIRE(run_until(ioc, [&] { return control_ec != net::error::would_block; }));
    }
    REQUIRE_MESSAGE(!control_ec, control_ec.message());
    CHECK(version == TLS1_1_VERSION);
    CHECK(run_until(ioc, [&] { return srv_old.handshakes == 1; }));

    auto cfg = config_for(srv_old);
    add_provider(cfg, "yuno", srv_old.url(), yuno_creds);
    client c(ioc, cfg);
    auto o = get<Yuno>(ioc, c, "x");
    CHECK(o.ec.category() == net::error::get_ssl_category());
    CHECK_FALSE(o.ec == condition::retryable);
    CHECK(o.d.attempts == 1);
    CHECK(no_payout(o));
    // The server ends its side of the refused handshake; nothing more can come after that.
    CHECK(run_until(ioc, [&] { return srv_old.failed_handshakes == 1; }));
    CHECK(srv_old.handshakes == 1); // only the control's
    CHECK(srv_old.requests.empty());

    auto cfg12 = config_for(srv_12);
    add_provider(cfg12, "yuno", srv_12.url(), yuno_creds);
    client c12(ioc, cfg12);
    auto o12 = get<Yuno>(ioc, c12, "x");
    CHECK_MESSAGE(!o12.ec, o12.d.message);
    CHECK(o12.p.id == "x");
}

TEST_CASE("faults: mutual TLS through client_config::tls_context: with the client certificate "
          "the fetch succeeds; without it, a typed TLS error, not retried, nothing sent") {
    net::io_context ioc;
    auto ok = [](request_record const& r) {
        return reply::json(200, yuno_body(last_segment(r.target)));
    };
    // A client certificate (extended key usage clientAuth) and the CA that signed it, which the
    // server requires its clients to present.
    auto const clients = payouts_tools::make_test_pki({.extended_key_usage = "clientAuth"});
    test_support::server_options demanding;
    demanding.tls_setup = [&clients](net::ssl::context& ctx) {
        ctx.set_verify_mode(net::ssl::verify_peer | net::ssl::verify_fail_if_no_peer_cert);
        ctx.add_certificate_authority(net::buffer(clients.ca.cert_pem));
    };
    server srv(ioc, ok, demanding);
    // Only the user's context says whom to trust: the configuration's own CA settings are empty.
    auto const config_with = [&](std::shared_ptr<net::ssl::context> ctx) {
        auto cfg = config_for(srv);
        cfg.ca_pem.clear();
        cfg.tls_context = std::move(ctx);
        add_provider(cfg, "yuno", srv.url(), yuno_creds);
        return cfg;
    };

    client with_cert(ioc, config_with(user_tls_context(srv.ca_pem(), &clients.leaf)));
    auto o = get<Yuno>(ioc, with_cert, "m1");
    CHECK_MESSAGE(!o.ec, o.d.message);
    CHECK(o.p.id == "m1");
    CHECK(srv.handshakes == 1);
    CHECK(srv.requests.size() == 1);

    // TLS 1.3: the client's side of the handshake completes and its request goes out; the
    // server's refusal arrives as the response is read.
    int attempts_started = 0;
    auto cfg = config_with(user_tls_context(srv.ca_pem(), nullptr));
    cfg.on_event = [&](fetch_event const& e) {
        attempts_started += e.kind == fetch_event_kind::attempt_start;
    };
    client without(ioc, cfg);
    auto o2 = get<Yuno>(ioc, without, "m2");
    CHECK(o2.ec.category() == net::error::get_ssl_category());
    CHECK(ssl_reason(o2.ec) == SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED);
    CHECK_FALSE(o2.ec == condition::retryable);
    CHECK(o2.d.attempts == 1);
    CHECK(attempts_started == 1);
    CHECK(o2.d.message == "TLS handshake with 127.0.0.1:" + std::to_string(srv.port()) +
                              " failed: the server requires a client certificate (tlsv13 alert "
                              "certificate required)");
    CHECK(no_payout(o2));
    CHECK(run_until(ioc, [&] { return srv.failed_handshakes == 1; }));
    CHECK(srv.handshakes == 1);      // the first client's only
    CHECK(srv.requests.size() == 1); // the request sent without a certificate never arrived
}

TEST_CASE("faults: a user TLS context replaces the configured trust, and cannot switch "
          "verification off") {
    net::io_context ioc;
    auto ok = [](request_record const& r) {
        return reply::json(200, yuno_body(last_segment(r.target)));
    };
    server srv(ioc, ok);
    server other(ioc, ok); // its CA did not sign srv's certificate
    std::string const host_port = "127.0.0.1:" + std::to_string(srv.port());

    // The configuration trusts srv's CA and the system roots: enough on its own (the control).
    auto cfg = config_for(srv);
    cfg.use_system_roots = true;
    add_provider(cfg, "yuno", srv.url(), yuno_creds);
    {
        client control(ioc, cfg);
        auto o = get<Yuno>(ioc, control, "x");
        CHECK_MESSAGE(!o.ec, o.d.message);
        CHECK(srv.requests.size() == 1);
    }

    // A user context with verify_none and no trusted CA: the configuration's CAs are not used,
    // and the peer is verified anyway.
    auto none = std::make_shared<net::ssl::context>(net::ssl::context::tls_client);
    none->set_verify_mode(net::ssl::verify_none);
    cfg.tls_context = none;
    client c(ioc, cfg);
    auto o = get<Yuno>(ioc, c, "x");
    CHECK(o.ec.category() == net::error::get_ssl_category());
    CHECK(ssl_reason(o.ec) == SSL_R_CERTIFICATE_VERIFY_FAILED);
    CHECK_FALSE(o.ec == condition::retryable);
    CHECK(o.d.attempts == 1);
    CHECK(o.d.message == "TLS handshake with " + host_port +
                             " failed: SSL certificate problem: unable to get local issuer "
                             "certificate");
    CHECK(no_payout(o));
    CHECK(run_until(ioc, [&] { return srv.failed_handshakes == 1; }));
    CHECK(srv.handshakes == 1); // the control's
    CHECK(srv.requests.size() == 1);

    // The other way round: the configuration trusts only another CA, the user context srv's.
    auto cfg2 = config_for(other);
    cfg2.tls_context = user_tls_context(srv.ca_pem(), nullptr);
    add_provider(cfg2, "yuno", srv.url(), yuno_creds);
    client mine(ioc, cfg2);
    auto o2 = get<Yuno>(ioc, mine, "y");
    CHECK_MESSAGE(!o2.ec, o2.d.message);
    CHECK(o2.p.id == "y");
    CHECK(srv.requests.size() == 2);
}

TEST_CASE("faults: the CLI reports a certificate problem once: host, port and the reason") {
    net::io_context ioc;
    test_support::server_options expired;
    expired.pki.not_before_offset = -48h;
    expired.pki.lifetime = 24h; // ended a day ago
    server srv(
        ioc, [](request_record const&) { return reply::json(200, yuno_body("x")); }, expired);
    fs::path const dir =
        fs::temp_directory_path() / ("payouts-faults-cli-tls-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    std::ofstream(dir / "ca.pem") << srv.ca_pem(); // trusted: only the dates are wrong
    std::map<std::string, std::string> const env{
        {"PAYOUTS_YUNO_BASE_URL", srv.url()}, {"PAYOUTS_CA_FILE", (dir / "ca.pem").string()},
        {"PAYOUTS_YUNO_PUBLIC_API_KEY", "p"}, {"PAYOUTS_YUNO_PRIVATE_SECRET_KEY", "s"},
        {"PAYOUTS_TIMEOUT_MS", "10000"},
    };
    child cli({PAYOUTS_CLI_EXE, "get", "yuno", "x"}, env, dir / "cli.out", dir / "cli.err");
    // The server answers on a thread of its own while this one waits for the CLI to exit; the
    // server is touched here again only after that thread has ended.
    std::thread serving([&ioc] { ioc.run(); });
    int const code = cli.stop(0);
    ioc.stop();
    serving.join();

    std::string const host_port = "127.0.0.1:" + std::to_string(srv.port());
    std::string const reason = "SSL certificate problem: certificate has expired";
    auto const err = slurp(dir / "cli.err");
    CAPTURE(err);
    CHECK(code == 6); // a network-class failure, as `payouts --help` lists the exit codes
    CHECK(err.substr(0, err.find('\n')) ==
          "payouts: tls: TLS handshake with " + host_port + " failed: " + reason);
    CHECK(occurrences(err, reason) == 1);
    CHECK(occurrences(err, host_port) == 1);
    CHECK(slurp(dir / "cli.out").empty());
    CHECK(run_until(ioc, [&] { return srv.failed_handshakes == 1; }));
    CHECK(srv.requests.empty());
    std::error_code ignored;
    fs::remove_all(dir, ignored);
}

// --- connecting -------------------------------------------------------------------------------

TEST_CASE("faults: connection refused is retried, then reported as the transport error") {
    net::io_context ioc;
    std::uint16_t port = 0;
    {
        net::ip::tcp::acceptor a(ioc, {net::ip::make_address("127.0.0.1"), 0});
        port = a.local_endpoint().port();
    } // closed: nothing listens there now
    client_config cfg;
    cfg.use_system_roots = false;
    cfg.retry.backoff_base = 1ms;
    cfg.retry.backoff_cap = 4ms;
    add_provider(cfg, "yuno", "https://127.0.0.1:" + std::to_string(port), yuno_creds);
    int attempts_started = 0;
    cfg.on_event = [&](fetch_event const& e) {
        attempts_started += e.kind == fetch_event_kind::attempt_start;
    };
    client c(ioc, cfg);
    auto o = get<Yuno>(ioc, c, "x");
    CHECK(o.ec == net::error::connection_refused);
    CHECK(o.ec == condition::retryable);
    CHECK(o.d.attempts == 3);
    CHECK(attempts_started == 3);
    CHECK(o.d.http_status == 0);
    CHECK(o.d.message.find("connecting") != std::string::npos);
    CHECK(no_payout(o));
}

// --- slow and broken responses ----------------------------------------------------------------

TEST_CASE("faults: a byte-trickle (slowloris) response is ended by the deadline, not waited out") {
    net::io_context ioc;
    std::string const body = yuno_body("trickle") + std::string(3000, ' ');
    std::string const wire = raw_response(
        "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n",
        body);
    server srv(ioc, [&](request_record const& r) {
        reply rep;
        rep.raw = wire;
        if (last_segment(r.target) == "bytes") {
            rep.trickle = 25ms; // one byte at a time: the whole answer would take ~80 s
        } else {
            rep.trickle = 20ms; // 64-byte pieces: the whole answer would take ~1 s
            rep.trickle_bytes = 64;
        }
        return rep;
    });
    auto cfg = config_for(srv);
    cfg.deadline = 500ms;
    add_provider(cfg, "yuno", srv.url(), yuno_creds);
    int retries = 0;
    cfg.on_event = [&](fetch_event const& e) {
        retries += e.kind == fetch_event_kind::retry_scheduled;
    };
    client c(ioc, cfg);
    for (std::string id : {"bytes", "pieces"}) {
        CAPTURE(id);
        auto const sent_before = srv.bytes_sent;
        auto const closed_before = srv.closed_by_client;
        auto o = get<Yuno>(ioc, c, id, 10s);
        CHECK(o.ec == errc::timeout);
        CHECK(o.ec == condition::retryable);
        // The overall deadline ended the read, leaving no time for another attempt.
        CHECK(o.d.message == "reading the response: timed out; no time left for another attempt");
        CHECK(o.d.attempts == 1);
        CHECK(retries == 0);
        CHECK(no_payout(o));
        CHECK(c.idle_connections() == 0);
        // The server's next write finds the connection closed, before the answer was all out.
        CHECK(run_until(ioc, [&] { return srv.closed_by_client == closed_before + 1; }));
        CHECK(srv.bytes_sent - sent_before < wire.size());
    }
}

TEST_CASE("faults: invalid, duplicate and conflicting Content-Length; with chunked; bad chunks") {
    net::io_context ioc;
    std::string const body = yuno_body("x");
    std::string const len = std::to_string(body.size());
    std::map<std::string, std::string> const wires{
        {"cl-letters", raw_response("Content-Length: abc\r\n", body)},
        {"cl-negative", raw_response("Content-Length: -1\r\n", body)},
        {"cl-plus", raw_response("Content-Length: +" + len + "\r\n", body)},
        {"cl-huge", raw_response("Content-Length: 184467440737095516160\r\n", body)},
        {"cl-duplicate",
         raw_response("Content-Length: " + len + "\r\nContent-Length: " + len + "\r\n", body)},
        {"cl-list", raw_response("Content-Length: " + len + ", " + len + "\r\n", body)},
        {"cl-conflict", raw_response("Content-Length: " + len + "\r\nContent-Length: 7\r\n", body)},
        {"cl-and-chunked",
         raw_response("Content-Length: " + len + "\r\nTransfer-Encoding: chunked\r\n",
                      "5\r\n{\"id\"\r\n0\r\n\r\n")},
        {"chunk-letters",
         raw_response("Transfer-Encoding: chunked\r\n", "zz\r\n" + body + "\r\n0\r\n\r\n")},
        {"chunk-huge", raw_response("Transfer-Encoding: chunked\r\n",
                                    "ffffffffffffffffffff\r\n" + body + "\r\n0\r\n\r\n")},
        {"chunk-negative",
         raw_response("Transfer-Encoding: chunked\r\n", "-5\r\n" + body + "\r\n0\r\n\r\n")},
        {"chunk-no-crlf", raw_response("Transfer-Encoding: chunked\r\n",
                                       "4\r\n" + body + "\r\n0\r\n\r\n")}, // says 4, sends more
    };
    server srv(ioc, [&](request_record const& r) {
        auto const id = last_segment(r.target);
        reply rep;
        if (auto it = wires.find(id); it != wires.end())
            rep.raw = it->second;
        else
            rep = reply::json(200, yuno_body(id));
        return rep;
    });
    auto cfg = config_for(srv);
    add_provider(cfg, "yuno", srv.url(), yuno_creds);
    client c(ioc, cfg);
    namespace http = boost::beast::http;
    std::map<std::string, error_code> const expected{
        {"cl-letters", http::error::bad_content_length},
        {"cl-negative", http::error::bad_content_length},
        {"cl-plus", http::error::bad_content_length},
        {"cl-huge", http::error::bad_content_length},
        {"cl-conflict", http::error::multiple_content_length},
        {"cl-and-chunked", http::error::bad_transfer_encoding},
        {"chunk-letters", http::error::bad_chunk},
        {"chunk-huge", http::error::bad_chunk},
        {"chunk-negative", http::error::bad_chunk},
        {"chunk-no-crlf", http::error::bad_chunk},
    };
    for (auto const& [id, want] : expected) {
        CAPTURE(id);
        auto const before = srv.requests.size();
        auto o = get<Yuno>(ioc, c, id);
        CHECK_MESSAGE(o.ec == want, o.ec.message());
        CHECK_FALSE(o.ec == condition::retryable); // the same bytes would come again
        CHECK(o.d.attempts == 1);
        CHECK(srv.requests.size() == before + 1);
        CHECK(no_payout(o));
        CHECK(c.idle_connections() == 0); // a connection that framed a response wrong is closed
        // The next fetch works, on a fresh connection.
        auto const conns = srv.connections;
        auto ok = get<Yuno>(ioc, c, "ok");
        CHECK_MESSAGE(!ok.ec, ok.d.message);
        CHECK(ok.p.id == "ok");
        CHECK(srv.connections == conns + 1);
    }
    // Repeated identical values are one length (RFC 9110 section 8.6 lets a recipient accept
    // them): the exact payout, and the framing is unambiguous, so the connection stays.
    for (std::string id : {"cl-duplicate", "cl-list"}) {
        CAPTURE(id);
        c.close_idle_connections();
        auto o = get<Yuno>(ioc, c, id);
        CHECK_MESSAGE(!o.ec, o.d.message);
        CHECK(o.p.id == "x");
        CHECK(o.p.amount == money{1001, 2, "BRL"});
        CHECK(o.p.raw == body);
        CHECK(c.idle_connections() == 1);
    }
}

TEST_CASE("faults: oversized headers: one long field, many short ones, a long status line") {
    net::io_context ioc;
    std::string many;
    for (int i = 0; i < 400; ++i)
        many += "X-H-" + std::to_string(i) + ": " + std::string(20, 'v') + "\r\n";
    std::string const body = yuno_body("x");
    std::string const framing =
        "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
    std::map<std::string, std::string> const wires{
        {"one-long", raw_response(framing + "X-Pad: " + std::string(9000, 'h') + "\r\n", body)},
        {"many", raw_response(framing + many, body)},
        {"status-line", raw_response(framing, body, "HTTP/1.1 200 " + std::string(9000, 'K'))},
        {"under-limit", raw_response(framing + "X-Pad: " + std::string(6000, 'h') + "\r\n", body)},
    };
    server srv(ioc, [&](request_record const& r) {
        reply rep;
        rep.raw = wires.at(last_segment(r.target));
        return rep;
    });
    auto cfg = config_for(srv);
    add_provider(cfg, "yuno", srv.url(), yuno_creds);
    client c(ioc, cfg);
    for (std::string id : {"one-long", "many", "status-line"}) {
        CAPTURE(id);
        auto o = get<Yuno>(ioc, c, id);
        CHECK(o.ec == errc::body_too_large);
        CHECK(o.d.attempts == 1);
        CHECK(no_payout(o));
        CHECK(c.idle_connections() == 0);
    }
    auto o = get<Yuno>(ioc, c, "under-limit"); // 6 KB of headers is within the 8 KiB default
    CHECK_MESSAGE(!o.ec, o.d.message);
    CHECK(o.p.id == "x");
}

TEST_CASE(
    "faults: huge and non-finite numbers in amounts end in invalid_response, never a payout") {
    net::io_context ioc;
    struct provider_body {
        std::string prefix, body, token; // where the amount's value is in the fixture
    };
    std::map<std::string, provider_body> const bodies{
        {"druo", {"/druo/", fixture("druo/get-payout-200-successful.json"), "\"amount\": 20000"}},
        {"checkout",
         {"/checkout/", fixture("checkout/get-payout-200-returned-gbp.json"), "\"amount\": 1000"}},
        {"yuno", {"/yuno/", fixture("yuno/get-payout-200-succeeded-usd.json"), "\"value\": 100"}},
        {"introw",
         {"/introw/", fixture("introw/get-payout-200-pending-review.json"),
          "\"value\": \"4250.00\""}},
    };
    std::string value; // what replaces the amount in every body
    server srv(ioc, [&](request_record const& r) {
        for (auto const& [name, b] : bodies)
            if (r.target.starts_with(b.prefix)) {
                auto body = b.body;
                auto const at = body.find(b.token);
                auto const colon = body.find(':', at);
                std::string const v = name == "introw" ? "\"" + value + "\"" : value;
                body.replace(colon + 2, at + b.token.size() - colon - 2, v);
                return reply::json(200, body);
            }
        return reply::json(404, "");
    });
    auto cfg = config_for(srv);
    add_provider(cfg, "druo", srv.url("/druo"), {{"ACCESS_TOKEN", "t"}});
    add_provider(cfg, "checkout", srv.url("/checkout"), {{"SECRET_KEY", "k"}});
    add_provider(cfg, "yuno", srv.url("/yuno"), yuno_creds);
    add_provider(cfg, "introw", srv.url("/introw"), {{"API_KEY", "k"}});
    client c(ioc, cfg);
    for (std::string v :
         std::vector<std::string>{"NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1e-400",
                                  "99999999999999999999999999", "-99999999999999999999999999",
                                  "9223372036854775808", "1" + std::string(400, '0')}) {
        CAPTURE(v);
        value = v;
        std::vector<outcome> const os{get<Druo>(ioc, c, "trx_1"), get<Checkout>(ioc, c, "pay_1"),
                                      get<Yuno>(ioc, c, "y1"), get<Introw>(ioc, c, "pay_1")};
        for (auto const& o : os) {
            CHECK(o.ec == errc::invalid_response);
            CHECK(o.d.attempts == 1);
            CHECK(o.d.http_status == 200);
            CHECK_FALSE(o.d.message.empty());
            CHECK(no_payout(o));
        }
    }
    // The same bodies with an ordinary amount decode: the edit is what is refused.
    value = "12";
    CHECK_MESSAGE(!get<Druo>(ioc, c, "trx_1").ec, "druo");
    CHECK_MESSAGE(!get<Checkout>(ioc, c, "pay_1").ec, "checkout");
    CHECK_MESSAGE(!get<Yuno>(ioc, c, "y1").ec, "yuno");
    CHECK_MESSAGE(!get<Introw>(ioc, c, "pay_1").ec, "introw");
}

// --- statuses and retries ---------------------------------------------------------------------

TEST_CASE("faults: 429 Retry-After end to end: HTTP-date, huge, garbage; 503 with Retry-After") {
    net::io_context ioc;
    std::map<std::string, int> seen;
    std::map<std::string, std::string> retry_after; // id -> header of its first answer
    std::map<std::string, unsigned> first_status;
    server srv(ioc, [&](request_record const& r) {
        auto const id = last_segment(r.target);
        if (seen[id]++ == 0) {
            auto rep = reply::json(first_status.count(id) ? first_status[id] : 429, "{}");
            if (!retry_after[id].empty()) rep.headers.emplace_back("Retry-After", retry_after[id]);
            return rep;
        }
        return reply::json(200, yuno_body(id));
    });
    auto cfg = config_for(srv);
    cfg.deadline = 10s;
    add_provider(cfg, "yuno", srv.url(), yuno_creds);
    std::map<std::string, std::vector<std::chrono::milliseconds>> delays;
    std::map<std::string, std::chrono::system_clock::time_point> scheduled_at;
    std::string current;
    cfg.on_event = [&](fetch_event const& e) {
        if (e.kind != fetch_event_kind::retry_scheduled) return;
        delays[current].push_back(e.delay);
        scheduled_at[current] = std::chrono::system_clock::now();
    };
    client c(ioc, cfg);
    auto fetch_id = [&](client& cl, std::string const& id) {
        current = id;
        return get<Yuno>(ioc, cl, id);
    };

    SUBCASE("an HTTP-date three seconds ahead is waited for") {
        using std::chrono::duration_cast;
        using std::chrono::milliseconds;
        auto const date = std::chrono::floor<std::chrono::seconds>(
            std::chrono::system_clock::now() + 3s); // whole seconds, as the header has it
        retry_after["date"] = http_date(date);
        auto const started = std::chrono::system_clock::now();
        auto o = fetch_id(c, "date");
        CHECK_MESSAGE(!o.ec, o.d.message);
        CHECK(o.p.id == "date");
        CHECK(o.d.attempts == 2);
        REQUIRE(delays["date"].size() == 1);
        // The wait lasts until the date, reckoned when the 429 arrived: at most the date less
        // the fetch's start, at least the date less the moment the wait was reported. Neither
        // bound depends on how long anything took.
        CHECK(delays["date"][0] <= duration_cast<milliseconds>(date - started));
        CHECK(delays["date"][0] >= duration_cast<milliseconds>(date - scheduled_at["date"]));
    }
    SUBCASE("a huge value: no time for it, rate_limited at once; clamped, it is retried") {
        retry_after["huge"] = "99999999999999999999";
        auto o = fetch_id(c, "huge");
        CHECK(o.ec == errc::rate_limited);
        CHECK(o.d.http_status == 429);
        CHECK(o.d.attempts == 1);
        CHECK(o.d.message.ends_with("; no time left for another attempt"));
        CHECK(no_payout(o));
        CHECK(delays["huge"].empty());

        auto cfg2 = cfg;
        cfg2.retry.max_retry_after = 50ms;
        client c2(ioc, cfg2);
        retry_after["huge2"] = "99999999999999999999";
        auto o2 = fetch_id(c2, "huge2");
        CHECK_MESSAGE(!o2.ec, o2.d.message);
        REQUIRE(delays["huge2"].size() == 1);
        CHECK(delays["huge2"][0] == 50ms);
    }
    SUBCASE("garbage values are ignored: the backoff decides") {
        std::vector<std::string> const garbage{
            "soon", "-1", "1.5", "0x10", "Sun, 32 Nov 1994 08:49:37 GMT", "Sunday 06 Nov 1994",
            "\t"};
        for (std::size_t i = 0; i < garbage.size(); ++i) {
            auto const id = "garbage" + std::to_string(i);
            CAPTURE(garbage[i]);
            retry_after[id] = garbage[i];
            auto o = fetch_id(c, id);
            CHECK_MESSAGE(!o.ec, o.d.message);
            CHECK(o.d.attempts == 2);
            REQUIRE(delays[id].size() == 1);
            CHECK(delays[id][0] <= cfg.retry.backoff_cap); // full jitter, not a parsed wait
        }
    }
    SUBCASE("503 with Retry-After: 1 is waited for like a 429") {
        retry_after["u503"] = "1";
        first_status["u503"] = 503;
        auto o = fetch_id(c, "u503");
        CHECK_MESSAGE(!o.ec, o.d.message);
        REQUIRE(delays["u503"].size() == 1);
        CHECK(delays["u503"][0] == 1000ms);
    }
}

TEST_CASE("faults: 5xx bursts over many fetches at once; 501 and 505 are not retried") {
    net::io_context ioc;
    std::map<std::string, int> seen;
    server srv(ioc, [&](request_record const& r) {
        auto const id = last_segment(r.target);
        int const n = seen[id]++;
        int const k = std::stoi(id.substr(2)) % 6;
        reply rep = reply::json(200, yuno_body(id));
        rep.delay = 5ms;
        switch (k) {
        case 0: // 500, 502, then the payout
            if (n == 0) rep = reply::json(500, "");
            if (n == 1) rep = reply::json(502, "<html>bad gateway</html>");
            break;
        case 1: // a burst longer than the retry budget
            rep = reply::json(503, R"({"code":"INTERNAL_ERROR","messages":["down"]})");
            break;
        case 2: // 504 once
            if (n == 0) rep = reply::json(504, "");
            break;
        case 3:
            rep = reply::json(501, "");
            break;
        case 4:
            rep = reply::json(505, "");
            break;
        default:
            break;
        }
        return rep;
    });
    auto cfg = config_for(srv);
    cfg.deadline = 30s;
    cfg.max_connections_per_host = 16;
    cfg.idle_connections_per_host = 16;
    add_provider(cfg, "yuno", srv.url(), yuno_creds);
    client c(ioc, cfg);
    constexpr int n = 240;
    std::vector<int> calls(n, 0);
    std::vector<outcome> out(n);
    int done = 0;
    for (int i = 0; i < n; ++i) {
        auto const id = "id" + std::to_string(i);
        fetch<Yuno>(c, id, out[std::size_t(i)].d, [&, i](error_code ec, payout p) {
            ++calls[std::size_t(i)];
            out[std::size_t(i)].ec = ec;
            out[std::size_t(i)].p = std::move(p);
            ++done;
        });
    }
    auto const all_answered = [&] { return done == n; };
    REQUIRE(run_until(ioc, all_answered, 60s));
    for (int i = 0; i < n; ++i) {
        CAPTURE(i);
        auto const& o = out[std::size_t(i)];
        auto const id = "id" + std::to_string(i);
        CHECK(calls[std::size_t(i)] == 1);
        switch (i % 6) {
        case 0:
        case 2:
        case 5:
            CHECK_MESSAGE(!o.ec, o.d.message);
            CHECK(o.p.id == id);
            CHECK(o.p.amount == money{1001, 2, "BRL"});
            CHECK(o.d.attempts == (i % 6 == 0 ? 3u : i % 6 == 2 ? 2u : 1u));
            break;
        case 1:
            CHECK(o.ec == errc::provider_unavailable);
            CHECK(o.d.attempts == 3);
            CHECK(o.d.http_status == 503);
            CHECK(o.d.provider_code == "INTERNAL_ERROR");
            CHECK(no_payout(o));
            break;
        default:
            CHECK(o.ec == errc::unexpected_status);
            CHECK(o.d.attempts == 1);
            CHECK(no_payout(o));
        }
        CHECK(seen[id] == int(o.d.attempts));
    }
    CHECK(srv.connections <= 16);
}

TEST_CASE("faults: a reset in the middle of a response is retried on new connections") {
    net::io_context ioc;
    std::string const body = yuno_body("r") + std::string(2000, ' ');
    std::string const wire = raw_response(
        "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n",
        body);
    std::map<std::string, int> seen;
    server srv(ioc, [&](request_record const& r) {
        auto const id = last_segment(r.target);
        int const n = seen[id]++;
        reply rep;
        if (id == "always" || (id == "once" && n == 0)) {
            rep.raw = wire;
            rep.cut_at = wire.find("\r\n\r\n") + 4 + 100; // the headers and 100 bytes of body
            rep.after_cut = cut::reset;
        } else if (id == "headers") {
            rep.raw = wire;
            rep.cut_at = 30; // inside the header block
            rep.after_cut = cut::reset;
        } else {
            rep = reply::json(200, yuno_body(id));
        }
        return rep;
    });
    auto cfg = config_for(srv);
    add_provider(cfg, "yuno", srv.url(), yuno_creds);
    client c(ioc, cfg);
    {
        auto o = get<Yuno>(ioc, c, "always");
        CHECK_MESSAGE(o.ec == net::error::connection_reset, o.ec.message());
        CHECK(o.ec == condition::retryable);
        CHECK(o.d.attempts == 3);
        CHECK(no_payout(o));
        CHECK(seen["always"] == 3);
        auto o2 = get<Yuno>(ioc, c, "headers");
        CHECK_MESSAGE(o2.ec == net::error::connection_reset, o2.ec.message());
        CHECK(o2.d.attempts == 3);
        CHECK(no_payout(o2));
        auto o3 = get<Yuno>(ioc, c, "once");
        CHECK_MESSAGE(!o3.ec, o3.d.message);
        CHECK(o3.p.id == "once");
        CHECK(o3.d.attempts == 2);
    }
    // Every request after a reset came on a connection of its own.
    std::set<std::size_t> conns;
    for (auto const& r : srv.requests)
        conns.insert(r.connection);
    CHECK(conns.size() == srv.requests.size());
}

TEST_CASE("faults: keep-alive connection closed (FIN or RST) by the server between requests") {
    net::io_context ioc;
    std::set<std::size_t> used; // connections that have answered a request already
    std::string mode;
    server srv(ioc, [&](request_record const& r) {
        bool const again = !used.insert(r.connection).second;
        reply rep = reply::json(200, yuno_body(last_segment(r.target)));
        if (again && mode == "fin") rep.drop = true; // gone: FIN, no answer
        if (again && mode == "rst") {
            rep.cut_at = 0; // gone: RST, no answer
            rep.after_cut = cut::reset;
        }
        return rep;
    });
    auto cfg = config_for(srv);
    cfg.retry.max_attempts = 1; // the silent retry on a fresh connection is not an attempt
    add_provider(cfg, "yuno", srv.url(), yuno_creds);
    int retries = 0;
    cfg.on_event = [&](fetch_event const& e) {
        retries += e.kind == fetch_event_kind::retry_scheduled;
    };
    client c(ioc, cfg);
    for (std::string m : {"fin", "rst"}) {
        CAPTURE(m);
        mode = m;
        c.close_idle_connections();
        auto const conns = srv.connections;
        auto const reqs = srv.requests.size();
        auto o = get<Yuno>(ioc, c, "first-" + m);
        CHECK_MESSAGE(!o.ec, o.d.message);
        CHECK(c.idle_connections() == 1);
        for (int i = 0; i < 3; ++i) {
            auto const id = m + std::to_string(i);
            o = get<Yuno>(ioc, c, id);
            CHECK_MESSAGE(!o.ec, o.d.message);
            CHECK(o.p.id == id);
            CHECK(o.d.attempts == 1);
        }
        // Each later fetch found its kept connection gone and went on over a new one.
        CHECK(srv.connections == conns + 4);
        CHECK(srv.requests.size() == reqs + 1 + 3 * 2);
    }
    CHECK(retries == 0);
}

TEST_CASE("faults: redirects are not followed; the Location host never sees a connection") {
    net::io_context ioc;
    auto nothing = [](request_record const&) { return reply::json(200, yuno_body("elsewhere")); };
    server elsewhere(ioc, nothing);
    unsigned status = 302;
    server srv(ioc, [&](request_record const& r) {
        auto rep = reply::json(status, "");
        rep.headers.emplace_back("Location", elsewhere.url("/steal" + r.target, "localhost"));
        return rep;
    });
    auto cfg = config_for(srv);
    cfg.ca_pem = srv.ca_pem() + elsewhere.ca_pem(); // following would even pass TLS
    add_provider(cfg, "yuno", srv.url(),
                 {{"PUBLIC_API_KEY", "pub-k"}, {"PRIVATE_SECRET_KEY", "priv-k"}});
    add_provider(cfg, "introw", srv.url(), {{"API_KEY", "introw-k"}});
    add_provider(cfg, "druo", srv.url(), {{"CLIENT_ID", "cid"}, {"CLIENT_SECRET", "csecret"}},
                 srv.url("/oauth/token"));
    client c(ioc, cfg);
    for (unsigned s : {301u, 302u, 303u, 307u, 308u}) {
        CAPTURE(s);
        status = s;
        auto o = get<Yuno>(ioc, c, "x");
        CHECK(o.ec == errc::unexpected_status);
        CHECK(o.d.http_status == int(s));
        CHECK(o.d.attempts == 1);
        CHECK(o.d.message.find("redirect") != std::string::npos);
        CHECK(no_payout(o));
        auto o2 = get<Introw>(ioc, c, "x");
        CHECK(o2.ec == errc::unexpected_status);
        CHECK(no_payout(o2));
        // The token endpoint redirecting: no token, and nothing sent to the Location either.
        auto o3 = get<Druo>(ioc, c, "x");
        CHECK(o3.ec == errc::token_request_failed);
        CHECK(no_payout(o3));
    }
    CHECK(srv.requests.size() == 5 * 3);
    CHECK(srv.requests.front().header("private-secret-key") == "priv-k"); // sent where it belongs
    // A fetch of elsewhere's own: its connection is counted after any earlier one would have
    // been, so elsewhere having seen only this one proves no redirect reached it.
    auto direct = config_for(elsewhere);
    add_provider(direct, "yuno", elsewhere.url(), yuno_creds);
    client d(ioc, direct);
    auto control = get<Yuno>(ioc, d, "control");
    CHECK_MESSAGE(!control.ec, control.d.message);
    CHECK(elsewhere.connections == 1);
    REQUIRE(elsewhere.requests.size() == 1);
    CHECK(elsewhere.requests[0].target == "/payouts/control");
}

TEST_CASE("faults: cancellation mid-body closes that connection; the next fetch opens a new one") {
    net::io_context ioc;
    std::string const body = yuno_body("slow") + std::string(4000, ' ');
    std::string const wire = raw_response(
        "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n",
        body);
    std::size_t const cut_at = wire.find("\r\n\r\n") + 4 + 1000;
    server srv(ioc, [&](request_record const& r) {
        reply rep = reply::json(200, yuno_body(last_segment(r.target)));
        if (last_segment(r.target) == "slow") {
            rep = reply{};
            rep.raw = wire;
            rep.cut_at = cut_at; // headers and a quarter of the body, then nothing
            rep.after_cut = cut::stall;
        }
        return rep;
    });
    auto cfg = config_for(srv);
    add_provider(cfg, "yuno", srv.url(), yuno_creds);
    client c(ioc, cfg);
    {
        auto warm = get<Yuno>(ioc, c, "warm"); // a kept connection, so "slow" reuses it
        CHECK_MESSAGE(!warm.ec, warm.d.message);
        REQUIRE(c.idle_connections() == 1);
    }
    net::cancellation_signal sig;
    outcome o;
    fetch<Yuno>(c, "slow", o.d,
                net::bind_cancellation_slot(sig.slot(), [&](error_code ec, payout p) {
                    o.ec = ec;
                    o.p = std::move(p);
                    o.done = true;
                }));
    // Cancel once the server has sent its part of the body.
    REQUIRE(run_until(ioc, [&] { return srv.bytes_sent >= cut_at; }));
    sig.emit(net::cancellation_type::terminal);
    REQUIRE(run_until(ioc, [&] { return o.done; }));
    CHECK(srv.bytes_sent == cut_at);
    CHECK(o.ec == net::error::operation_aborted);
    CHECK(o.d.message == "cancelled while reading the response");
    CHECK(o.d.attempts == 1);
    CHECK(no_payout(o));
    CHECK(c.idle_connections() == 0);
    CHECK(run_until(ioc, [&] { return srv.closed_by_client == 1; }));
    auto const conns = srv.connections;
    auto next = get<Yuno>(ioc, c, "after");
    CHECK_MESSAGE(!next.ec, next.d.message);
    CHECK(next.p.id == "after");
    CHECK(srv.connections == conns + 1);
    CHECK(srv.requests.back().connection == srv.connections);
}

// --- secrets ----------------------------------------------------------------------------------

namespace {

constexpr char const* canary_mark = "5ecret"; // in every canary; found nowhere else

// Every credential of every provider, OAuth client ids and secrets included.
std::map<std::string, std::string> const canary_env{
    {"PAYOUTS_TRUUST_SECRET_KEY", "CANARY-5ecret-truust-sk-41f7"},
    {"PAYOUTS_DRUO_ACCESS_TOKEN", "CANARY-5ecret-druo-at-09c2"},
    {"PAYOUTS_DRUO_CLIENT_ID", "CANARY-5ecret-druo-cid-77e1"},
    {"PAYOUTS_DRUO_CLIENT_SECRET", "CANARY-5ecret-druo-cs-5d3a"},
    {"PAYOUTS_CHECKOUT_SECRET_KEY", "CANARY-5ecret-checkout-sk-c0de"},
    {"PAYOUTS_CHECKOUT_CLIENT_ID", "CANARY-5ecret-checkout-cid-8b10"},
    {"PAYOUTS_CHECKOUT_CLIENT_SECRET", "CANARY-5ecret-checkout-cs-fe22"},
    {"PAYOUTS_YUNO_PUBLIC_API_KEY", "CANARY-5ecret-yuno-pk-6a6a"},
    {"PAYOUTS_YUNO_PRIVATE_SECRET_KEY", "CANARY-5ecret-yuno-sk-1e4f"},
    {"PAYOUTS_INTROW_API_KEY", "CANARY-5ecret-introw-k-b33f"},
};

std::string const& canary(std::string const& var) {
    return canary_env.at(var);
}

// Collects every text a user of the library can see, to search for the canary.
struct visible_text {
    std::vector<std::string> texts;

    void add(std::string_view s) { texts.emplace_back(s); }
    void add(error_code const& ec) {
        add(ec.message());
        add(ec.what());
    }
    void add(outcome const& o) {
        add(o.ec);
        add(boost::system::system_error(o.ec, o.d.message).what());
        add(o.d.message);
        add(o.d.provider_code);
        add(o.d.provider_message);
        add(o.d.request_id);
        add(o.d.host);
        add(o.p.id);
        add(o.p.provider_status);
        add(o.p.raw);
        if (o.p.reference) add(*o.p.reference);
        if (o.p.reason) add(*o.p.reason);
        if (o.p.request_id) add(*o.p.request_id);
    }
    void add(fetch_event const& e) {
        add(e.provider);
        add(e.host);
        add(e.message);
        add(e.rate_limit_remaining);
        add(e.error);
    }
    std::size_t hits(std::string_view needle) const {
        std::size_t n = 0;
        for (auto const& t : texts)
            n += t.find(needle) != std::string::npos;
        return n;
    }
};

} // namespace

TEST_CASE("faults: a canary secret in every credential never shows in errors, diagnostics or "
          "events") {
    net::io_context ioc;
    int tokens = 0;
    std::string token_mode = "ok";
    std::set<std::string> creds_seen; // canary values that arrived where they belong
    server srv(ioc, [&](request_record const& r) {
        auto const& t = r.target;
        if (t == "/druo-token" || t == "/checkout-token") {
            for (auto const& [k, v] : canary_env)
                if (r.body.find(v) != std::string::npos) creds_seen.insert(v);
            if (token_mode == "400")
                return reply::json(400, R"({"error":"invalid_client","error_description":"no"})");
            if (token_mode == "503") return reply::json(503, "");
            if (token_mode == "garbage") return reply::json(200, R"({"access_token":)");
            ++tokens;
            return reply::json(200, R"({"access_token":"CANARY-5ecret-token-)" +
                                        std::to_string(tokens) +
                                        R"(","expires_in":3600,"token_type":"Bearer"})");
        }
        for (auto const& h : r.headers)
            for (auto const& [k, v] : canary_env)
                if (h.second.find(v) != std::string::npos) creds_seen.insert(v);
        // The scenario: the id, or Truust's order id mapped onto the same names.
        std::string id = last_segment(t);
        if (id == "payout") {
            auto const order = t.substr(0, t.size() - 7);
            static std::map<std::string, std::string> const by_order{
                {"1", "ok"},        {"2", "s401"},   {"3", "s403"},     {"4", "s404"},
                {"5", "s429"},      {"6", "s500"},   {"7", "s302"},     {"8", "malformed"},
                {"9", "truncated"}, {"10", "reset"}, {"11", "bigbody"}, {"12", "stall"},
                {"13", "gzip"}};
            auto const it = by_order.find(last_segment(order));
            id = it == by_order.end() ? "s404" : it->second;
        }
        std::string ok_body;
        if (t.starts_with("/truust/"))
            ok_body = fixture("truust/get-order-payout-200-from-schema.json");
        if (t.starts_with("/druo/")) ok_body = fixture("druo/get-payout-200-successful.json");
        if (t.starts_with("/checkout/"))
            ok_body = fixture("checkout/get-payout-200-returned-gbp.json");
        if (t.starts_with("/yuno/")) ok_body = fixture("yuno/get-payout-200-succeeded-usd.json");
        if (t.starts_with("/introw/"))
            ok_body = fixture("introw/get-payout-200-pending-review.json");
        if (t.starts_with("/druo/") &&
            r.header("Authorization").starts_with("Bearer CANARY-5ecret-token-"))
            creds_seen.insert("token");
        reply rep;
        if (id == "ok") rep = reply::json(200, ok_body);
        if (id == "s401") rep = reply::json(401, R"({"message":"Unauthenticated."})");
        if (id == "s403") rep = reply::json(403, "");
        if (id == "s404")
            rep = reply::json(404, R"({"error":{"code":"NOT_FOUND","message":"no"}})");
        if (id == "s429") {
            rep = reply::json(429, R"({"code":"TOO_MANY_REQUESTS"})");
            rep.headers.emplace_back("Retry-After", "0");
        }
        if (id == "s500") rep = reply::json(500, "");
        if (id == "s302") {
            rep = reply::json(302, "");
            rep.headers.emplace_back("Location", "https://elsewhere.invalid/");
        }
        if (id == "malformed") rep = reply::json(200, ok_body.substr(0, ok_body.size() / 2));
        if (id == "truncated" || id == "reset") {
            rep = reply::json(200, ok_body);
            rep.cut_at = 60;
            rep.after_cut = id == "reset" ? cut::reset : cut::close;
        }
        if (id == "bigbody") rep = reply::json(200, ok_body + std::string(2 << 20, ' '));
        if (id == "stall") rep.stall = true;
        if (id == "gzip") {
            rep = reply::json(200, ok_body);
            rep.headers.emplace_back("Content-Encoding", "gzip");
        }
        return rep;
    });
    server stranger(ioc, [](request_record const&) { return reply::json(200, "{}"); });

    visible_text seen;
    auto base_cfg = config_for(srv);
    base_cfg.deadline = 2s;
    base_cfg.on_event = [&](fetch_event const& e) { seen.add(e); };
    auto static_cfg = base_cfg;
    add_provider(static_cfg, "truust", srv.url("/truust/2.0"),
                 {{"SECRET_KEY", canary("PAYOUTS_TRUUST_SECRET_KEY")}});
    add_provider(static_cfg, "druo", srv.url("/druo"),
                 {{"ACCESS_TOKEN", canary("PAYOUTS_DRUO_ACCESS_TOKEN")}});
    add_provider(static_cfg, "checkout", srv.url("/checkout"),
                 {{"SECRET_KEY", canary("PAYOUTS_CHECKOUT_SECRET_KEY")}});
    add_provider(static_cfg, "yuno", srv.url("/yuno"),
                 {{"PUBLIC_API_KEY", canary("PAYOUTS_YUNO_PUBLIC_API_KEY")},
                  {"PRIVATE_SECRET_KEY", canary("PAYOUTS_YUNO_PRIVATE_SECRET_KEY")}});
    add_provider(static_cfg, "introw", srv.url("/introw"),
                 {{"API_KEY", canary("PAYOUTS_INTROW_API_KEY")}});
    auto oauth_cfg = base_cfg;
    add_provider(oauth_cfg, "druo", srv.url("/druo"),
                 {{"CLIENT_ID", canary("PAYOUTS_DRUO_CLIENT_ID")},
                  {"CLIENT_SECRET", canary("PAYOUTS_DRUO_CLIENT_SECRET")}},
                 srv.url("/druo-token"));
    add_provider(oauth_cfg, "checkout", srv.url("/checkout"),
                 {{"CLIENT_ID", canary("PAYOUTS_CHECKOUT_CLIENT_ID")},
                  {"CLIENT_SECRET", canary("PAYOUTS_CHECKOUT_CLIENT_SECRET")}},
                 srv.url("/checkout-token"));

    std::vector<std::string> const scenarios{"ok",      "s401",  "s403",      "s404",      "s429",
                                             "s500",    "s302",  "malformed", "truncated", "reset",
                                             "bigbody", "stall", "gzip"};
    int successes = 0, failures = 0;
    auto record = [&](outcome const& o) {
        seen.add(o);
        (o.ec ? failures : successes) += 1;
    };
    {
        client c(ioc, static_cfg);
        for (std::size_t i = 0; i < scenarios.size(); ++i) {
            auto const& s = scenarios[i];
            CAPTURE(s);
            auto o = get<Truust>(ioc, c, std::int64_t(i + 1));
            CHECK((s == "ok") == !o.ec);
            record(o);
            record(get<Druo>(ioc, c, s));
            record(get<Checkout>(ioc, c, s));
            record(get<Yuno>(ioc, c, s));
            record(get<Introw>(ioc, c, s));
        }
        record(get<Yuno>(ioc, c, "")); // invalid id: refused before any I/O
        record(get<Truust>(ioc, c, -5));
    }
    {
        client c(ioc, oauth_cfg);
        for (auto const& s : {"ok", "s401", "s404", "s500", "truncated"}) {
            record(get<Druo>(ioc, c, s));
            record(get<Checkout>(ioc, c, s));
        }
        for (std::string mode : {"400", "503", "garbage"}) {
            token_mode = mode;
            client fresh(ioc, oauth_cfg); // no cached token
            auto o = get<Druo>(ioc, fresh, "ok");
            CHECK(o.ec == errc::token_request_failed);
            record(o);
            record(get<Checkout>(ioc, fresh, "ok"));
        }
        token_mode = "ok";
    }
    {
        // Transport failures before anything is sent, and a credential that cannot be sent.
        auto cfg = static_cfg;
        cfg.providers["yuno"].base_url = stranger.url("/yuno"); // a CA the client does not trust
        cfg.providers["introw"].base_url = "https://127.0.0.1:1/introw"; // refused
        cfg.providers["druo"].credentials["ACCESS_TOKEN"] =
            "CANARY-5ecret-druo-crlf\r\nX-Injected: 1";
        client c(ioc, cfg);
        auto o = get<Yuno>(ioc, c, "ok");
        CHECK(o.ec.category() == net::error::get_ssl_category());
        record(o);
        o = get<Introw>(ioc, c, "ok");
        CHECK(o.ec == net::error::connection_refused);
        record(o);
        o = get<Druo>(ioc, c, "ok");
        CHECK(o.ec == errc::invalid_config);
        record(o);
    }
    CHECK(successes == 5 + 2);
    CHECK(failures > 60);
    // The canaries really travelled: every credential (and an issued token) reached the server.
    for (auto const& [k, v] : canary_env) {
        CAPTURE(k);
        CHECK(creds_seen.count(v) == 1);
    }
    CHECK(creds_seen.count("token") == 1);
    CHECK(seen.texts.size() > 500);
    CHECK(seen.hits(canary_mark) == 0);
    CHECK(seen.hits("CANARY") == 0);
    CHECK(seen.hits("Bearer") == 0);
}

TEST_CASE("faults: a canary secret never shows in the sandbox's request log or the CLI's "
          "--verbose output") {
    fs::path dir = fs::temp_directory_path() / ("payouts-faults-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    // The sandbox accepts exactly the canary credentials; its request log is on.
    child sandbox({PAYOUTS_SANDBOX_EXE, "--port", "0", "--state-dir", (dir / "pki").string()},
                  canary_env, dir / "sandbox.out", dir / "sandbox.log");
    auto const lines = test_support::first_two_lines(dir / "sandbox.out", 400);
    REQUIRE_MESSAGE(lines, "the sandbox printed no base URL");
    std::string const base = lines->first, ca = lines->second;

    std::map<std::string, std::string> env = canary_env;
    env.insert({{"PAYOUTS_CA_FILE", ca},
                {"PAYOUTS_TIMEOUT_MS", "10000"},
                {"PAYOUTS_TRUUST_BASE_URL", base + "/truust/2.0"},
                {"PAYOUTS_DRUO_BASE_URL", base + "/druo"},
                {"PAYOUTS_DRUO_TOKEN_URL", base + "/druo-auth/oauth/token"},
                {"PAYOUTS_CHECKOUT_BASE_URL", base + "/checkout"},
                {"PAYOUTS_CHECKOUT_TOKEN_URL", base + "/checkout-access/connect/token"},
                {"PAYOUTS_YUNO_BASE_URL", base + "/yuno/v1"},
                {"PAYOUTS_INTROW_BASE_URL", base + "/introw"}});
    auto oauth_env = env; // DRUO and Checkout through their token endpoints
    oauth_env.erase("PAYOUTS_DRUO_ACCESS_TOKEN");
    oauth_env.erase("PAYOUTS_CHECKOUT_SECRET_KEY");
    auto wrong_env = env; // every credential a canary the sandbox does not accept
    for (auto& [k, v] : wrong_env)
        if (canary_env.count(k)) v = "CANARY-5ecret-wrong-" + k;
    auto wrong_oauth_env = oauth_env;
    wrong_oauth_env["PAYOUTS_DRUO_CLIENT_SECRET"] = "CANARY-5ecret-wrong-druo-cs";
    wrong_oauth_env["PAYOUTS_CHECKOUT_CLIENT_SECRET"] = "CANARY-5ecret-wrong-checkout-cs";

    std::string const y = "1c58426d-2c1b-4476-b3c0-447a8c683466";
    std::string const all_ok = "get truust 456 druo trx_1f4dc72b-5b76-432c-8f4f-e0919aaff3f5 "
                               "checkout pay_gwlowf7eap7uzm4cyaaqoq62au yuno " +
                               y + " introw pay_2x7n4q8z0w1a2b3c4d5e6f7g";
    struct run {
        std::map<std::string, std::string> const* env;
        std::string args;
        int code;
    };
    std::vector<run> const runs{
        {&env, all_ok + " --verbose", 0},
        {&env, all_ok + " --verbose --format json", 0},
        {&oauth_env,
         "get druo trx_1f4dc72b-5b76-432c-8f4f-e0919aaff3f5 checkout "
         "pay_gwlowf7eap7uzm4cyaaqoq62au --verbose",
         0},
        {&env,
         "get truust 999 yuno flaky-9-" + y + " yuno malformed-" + y + " yuno truncate-" + y +
             " yuno reset-" + y + " yuno oversized-" + y + " yuno ratelimit-1-" + y +
             " introw pay_doesnotexist checkout pay_doesnotexist druo trx_nope --verbose",
         5},
        {&wrong_env, all_ok + " --verbose", 4},
        {&wrong_oauth_env,
         "get druo trx_1f4dc72b-5b76-432c-8f4f-e0919aaff3f5 checkout "
         "pay_gwlowf7eap7uzm4cyaaqoq62au --verbose --format json",
         4},
    };
    std::size_t n = 0;
    std::string everything;
    for (auto const& r : runs) {
        CAPTURE(r.args);
        std::vector<std::string> argv{PAYOUTS_CLI_EXE};
        std::istringstream words(r.args);
        for (std::string w; words >> w;)
            argv.push_back(w);
        auto const out = dir / ("cli" + std::to_string(n) + ".out");
        auto const err = dir / ("cli" + std::to_string(n) + ".err");
        ++n;
        child cli(argv, *r.env, out, err);
        CHECK(cli.stop(0) == r.code);
        auto const o = slurp(out), e = slurp(err);
        CHECK(e.find("attempt 1") != std::string::npos); // --verbose really printed attempts
        CHECK(o.find(canary_mark) == std::string::npos);
        CHECK(e.find(canary_mark) == std::string::npos);
        CHECK(e.find("CANARY") == std::string::npos);
        everything += o + e;
    }
    CHECK(everything.find("<redacted>") != std::string::npos);
    CHECK(everything.find("token_request_failed") != std::string::npos);
    CHECK(everything.find("unauthorized") != std::string::npos);

    CHECK(sandbox.stop(SIGTERM) == 0); // flushes the log
    auto const log = slurp(dir / "sandbox.log");
    CHECK(log.find("/druo-auth/oauth/token 200") != std::string::npos);
    CHECK(log.find("/checkout-access/connect/token 200") != std::string::npos);
    CHECK(log.find("[redacted]") != std::string::npos);
    CHECK(log.find("fault=") != std::string::npos);
    CHECK(log.find(canary_mark) == std::string::npos);
    CHECK(log.find("CANARY") == std::string::npos);
    std::error_code ignored;
    fs::remove_all(dir, ignored);
}

// --- what never reaches the server ------------------------------------------------------------

TEST_CASE("faults: path and CR/LF injection through ids, URLs and credentials never reaches the "
          "server") {
    net::io_context ioc;
    server srv(ioc, [](request_record const&) { return reply::json(200, "{}"); });
    std::vector<std::string> const ids{"../../admin",
                                       "x?admin=1#frag",
                                       "a/b/c",
                                       "%2e%2e%2fadmin",
                                       "x\r\nX-Injected: 1",
                                       "x\nX-Injected: 1",
                                       std::string("x\0y", 3),
                                       "x\r\n\r\nGET /evil HTTP/1.1",
                                       "..;/admin",
                                       "x y"};
    auto cfg = config_for(srv);
    add_provider(cfg, "druo", srv.url("/d"), {{"ACCESS_TOKEN", "t"}});
    add_provider(cfg, "checkout", srv.url("/c"), {{"SECRET_KEY", "k"}});
    add_provider(cfg, "yuno", srv.url("/y"), yuno_creds);
    add_provider(cfg, "introw", srv.url("/i"), {{"API_KEY", "k"}});
    client c(ioc, cfg);
    auto one_segment = [&](std::string const& prefix) {
        auto const& t = srv.requests.back().target;
        CHECK(t.starts_with(prefix));
        auto const seg = t.substr(prefix.size());
        CHECK(seg.find('/') == std::string::npos);
        CHECK(seg.find('?') == std::string::npos);
        CHECK(seg.find('#') == std::string::npos);
        CHECK(seg.find_first_of(std::string("\r\n \0", 4)) == std::string::npos);
        CHECK(seg != "..");
    };
    for (auto const& id : ids) {
        CAPTURE(id);
        get<Druo>(ioc, c, id);
        one_segment("/d/payouts/");
        get<Checkout>(ioc, c, id);
        one_segment("/c/payments/");
        get<Yuno>(ioc, c, id);
        one_segment("/y/payouts/");
        get<Introw>(ioc, c, id);
        one_segment("/i/api/v1/payouts/");
    }
    CHECK(srv.requests.size() == ids.size() * 4);
    for (auto const& r : srv.requests) {
        CHECK_FALSE(r.has_header("X-Injected"));
        CHECK(r.header("Host") == "127.0.0.1:" + std::to_string(srv.port()));
        CHECK(r.method == "GET");
    }
    auto const sent = srv.requests.size();
    auto const conns = srv.connections;

    // URLs and credentials that would change the request: refused before anything is sent.
    std::vector<std::string> const bad_urls{
        srv.url("/y\r\nX-Injected: 1"),
        srv.url("/y\nX"),
        srv.url("/y?x=1"),
        srv.url("/y#f"),
        "https://user:pass@127.0.0.1:" + std::to_string(srv.port()) + "/y",
        srv.url("/y x"),
        srv.url(std::string("/y\0z", 4))};
    for (auto const& u : bad_urls) {
        CAPTURE(u);
        auto bad = config_for(srv);
        add_provider(bad, "yuno", u, yuno_creds);
        add_provider(bad, "druo", srv.url(), {{"CLIENT_ID", "i"}, {"CLIENT_SECRET", "s"}}, u);
        client b(ioc, bad);
        auto o = get<Yuno>(ioc, b, "x");
        CHECK(o.ec == errc::invalid_config);
        CHECK(o.d.attempts == 0);
        auto o2 = get<Druo>(ioc, b, "x"); // as the token URL
        CHECK(o2.ec == errc::invalid_config);
    }
    for (auto const& v : {std::string("k\r\nX-Injected: 1"), std::string("k\n"), std::string("k\r"),
                          std::string("k\x7f"), std::string("a\0b", 3)}) {
        auto bad = config_for(srv);
        add_provider(bad, "introw", srv.url(), {{"API_KEY", v}});
        add_provider(bad, "yuno", srv.url(), {{"PUBLIC_API_KEY", "p"}, {"PRIVATE_SECRET_KEY", v}});
        add_provider(bad, "truust", srv.url(), {{"SECRET_KEY", v}});
        client b(ioc, bad);
        CHECK(get<Introw>(ioc, b, "x").ec == errc::invalid_config);
        CHECK(get<Yuno>(ioc, b, "x").ec == errc::invalid_config);
        CHECK(get<Truust>(ioc, b, 1).ec == errc::invalid_config);
    }
    // A request of a good client on a new connection: the server accepts it after any earlier
    // connection, and reads it after any request that came before it.
    c.close_idle_connections();
    get<Yuno>(ioc, c, "control");
    CHECK(srv.requests.size() == sent + 1);
    CHECK(srv.requests.back().target == "/y/payouts/control");
    CHECK(srv.connections == conns + 1);
}

TEST_CASE("faults: plaintext to a production host is refused before any connection") {
    // Pure first: the provider setup refuses these URLs without any I/O, so the fetches below
    // cannot reach the network even if this ever regressed.
    struct url_case {
        char const* provider;
        char const* base;
        char const* token;
    };
    url_case const cases[] = {
        {"truust", "http://acme.truust.io/2.0", ""},
        {"druo", "http://api.druo.com", "http://auth.druo.com/oauth/token"},
        {"checkout", "http://api.checkout.com", "http://access.checkout.com/connect/token"},
        {"yuno", "http://api.y.uno/v1", ""},
        {"introw", "http://api.introw.io", ""},
        {"yuno", "http://10.0.0.1/v1", ""},
        {"yuno", "http://127.0.0.1.example.com/v1", ""},
    };
    for (bool allow_loopback : {false, true}) {
        for (auto const& u : cases) {
            CAPTURE(u.provider);
            CAPTURE(u.base);
            CAPTURE(allow_loopback);
            std::string why;
            auto const none = [](std::string_view) -> std::string const* { return nullptr; };
            auto r = detail::make_provider_setup<Yuno>(u.base, "", none, environment::production,
                                                       allow_loopback, why);
            REQUIRE(r.has_error());
            CHECK(r.error() == errc::invalid_config);
            CHECK(why.find("http://") != std::string::npos);
        }
        // An https API with a plaintext token endpoint: refused as well.
        std::string const id = "i", secret = "s";
        auto const client_creds = [&](std::string_view n) -> std::string const* {
            return n == "CLIENT_ID" ? &id : n == "CLIENT_SECRET" ? &secret : nullptr;
        };
        std::string why;
        auto r = detail::make_provider_setup<Druo>("https://api.druo.com",
                                                   "http://auth.druo.com/oauth/token", client_creds,
                                                   environment::production, allow_loopback, why);
        REQUIRE(r.has_error());
        CHECK(r.error() == errc::invalid_config);
        CHECK(why.find("token URL") != std::string::npos);
    }
    net::io_context ioc;
    for (bool allow_loopback : {false, true}) {
        client_config cfg;
        cfg.env = environment::production;
        cfg.allow_plaintext_loopback = allow_loopback;
        for (auto const& u : cases)
            cfg.providers[u.provider] = provider_config{u.base, u.token, {}};
        cfg.providers["truust"].credentials = {{"SECRET_KEY", "k"}};
        cfg.providers["druo"].credentials = {{"CLIENT_ID", "i"}, {"CLIENT_SECRET", "s"}};
        cfg.providers["checkout"].credentials = {{"SECRET_KEY", "k"}};
        cfg.providers["yuno"] = provider_config{"http://api.y.uno/v1", "", yuno_creds};
        cfg.providers["introw"].credentials = {{"API_KEY", "k"}};
        int events = 0;
        cfg.on_event = [&](fetch_event const&) { ++events; };
        client c(ioc, cfg);
        std::vector<outcome> os{get<Truust>(ioc, c, 456), get<Druo>(ioc, c, "x"),
                                get<Checkout>(ioc, c, "x"), get<Yuno>(ioc, c, "x"),
                                get<Introw>(ioc, c, "x")};
        for (auto const& o : os) {
            CHECK(o.ec == errc::invalid_config);
            CHECK(o.ec == condition::invalid_input);
            CHECK(o.d.attempts == 0);
            CHECK(o.d.message.find("http://") != std::string::npos);
            CHECK(no_payout(o));
        }
        CHECK(events == 0); // not one attempt started
    }
}
