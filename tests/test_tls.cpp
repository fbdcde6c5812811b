// The TLS pieces the transport calls (include/payouts/detail/tls.hpp): the client context, the
// per-connection settings that no context can switch off, and the message a person reads when
// a handshake fails. Real handshakes run here against the in-test HTTPS server (tests/support)
// through Asio's ssl::stream<beast::tcp_stream>, as the transport drives them.
#include <payouts/detail/tls.hpp>

#include "support/https_server.hpp"
#include "support/run_until.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <doctest/doctest.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

using namespace std::chrono_literals;
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace http = boost::beast::http;
using payouts::error_code;
using payouts::detail::client_tls_context;
using payouts::detail::prepare_tls_connection;
using payouts::detail::tls_failure_message;
using payouts::detail::tls_options;
using test_support::reply;
using test_support::request_record;
using test_support::server;
using test_support::server_options;

namespace {

reply ok(request_record const&) {
    return reply::json(200, R"({"ok":true})");
}

using test_support::run_until;

// What one client connection went through.
struct outcome {
    bool done = false;
    std::string host_port;
    error_code connect, prepare, handshake, write, read;
    int version = 0;         // the negotiated protocol, after a handshake
    unsigned status = 0;     // the HTTP status, after an exchange
    std::string message;     // tls_failure_message for the first TLS failure
    std::string failed_step; // "handshake", "write" or "read"
};

// Connects to 127.0.0.1:`port`, verifying the certificate for `host`, as the transport does:
// client_tls_context's context, prepare_tls_connection, handshake; then, when `exchange`, one
// request and its response.
net::awaitable<void> connect_and_talk(std::shared_ptr<ssl::context> ctx, std::uint16_t port,
                                      std::string host, bool ip_literal, bool exchange,
                                      outcome* out) {
    auto const ex = co_await net::this_coro::executor;
    ssl::stream<boost::beast::tcp_stream> s(ex, *ctx);
    auto const fail = [&](char const* step, error_code ec) {
        out->failed_step = step;
        out->message = tls_failure_message(s.native_handle(), ec, out->host_port);
    };
    s.next_layer().expires_after(30s);
    co_await s.next_layer().async_connect(
        net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), port),
        net::redirect_error(net::use_awaitable, out->connect));
    if (out->connect) co_return;
    out->prepare = prepare_tls_connection(s.native_handle(), host, ip_literal);
    if (out->prepare) co_return;
    co_await s.async_handshake(ssl::stream_base::client,
                               net::redirect_error(net::use_awaitable, out->handshake));
    if (out->handshake) co_return fail("handshake", out->handshake);
    out->version = SSL_version(s.native_handle());
    if (!exchange) co_return;
    std::string const request =
        "GET /tls HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n";
    co_await net::async_write(s, net::buffer(request),
                              net::redirect_error(net::use_awaitable, out->write));
    if (out->write) co_return fail("write", out->write);
    boost::beast::flat_buffer buf;
    http::response<http::string_body> res;
    co_await http::async_read(s, buf, res, net::redirect_error(net::use_awaitable, out->read));
    if (out->read) co_return fail("read", out->read);
    out->status = res.result_int();
}

outcome attempt(net::io_context& ioc, std::shared_ptr<ssl::context> ctx, std::uint16_t port,
                std::string const& host, bool ip_literal, bool exchange = false) {
    outcome out;
    out.host_port = host + ":" + std::to_string(port);
    net::co_spawn(
        ioc,
        [&]() -> net::awaitable<void> {
            co_await connect_and_talk(ctx, port, host, ip_literal, exchange, &out);
            out.done = true;
        },
        net::detached);
    REQUIRE(run_until(ioc, [&] { return out.done; }));
    REQUIRE_MESSAGE(!out.connect, out.connect.message());
    REQUIRE_MESSAGE(!out.prepare, out.prepare.message());
    return out;
}

// Our context, trusting only `ca_pem`.
std::shared_ptr<ssl::context> trusting(std::string const& ca_pem) {
    error_code ec;
    std::string why;
    auto ctx = client_tls_context(tls_options{.system_roots = false, .ca_pem = ca_pem}, ec, why);
    REQUIRE_MESSAGE(!ec, why);
    REQUIRE(ctx);
    return ctx;
}

std::size_t occurrences(std::string_view text, std::string_view part) {
    std::size_t n = 0;
    for (auto at = text.find(part); at != std::string_view::npos; at = text.find(part, at + 1))
        ++n;
    return n;
}

// What every failure message must be: one sentence naming the server once, the reason once,
// no error number, no stretch of words said twice.
void check_readable(std::string const& m, std::string const& host_port, std::string_view reason) {
    CAPTURE(m);
    CHECK(m.starts_with("TLS handshake with " + host_port + " failed: "));
    CHECK(occurrences(m, host_port) == 1);
    CHECK(occurrences(m, reason) == 1);
    std::string rest = m;
    if (auto const at = rest.find(host_port); at != std::string::npos)
        rest.erase(at, host_port.size());
    std::size_t run = 0, longest = 0;
    for (char c : rest) {
        run = (c >= '0' && c <= '9') ? run + 1 : 0;
        longest = std::max(longest, run);
    }
    CHECK(longest < 4); // "TLS 1.2" and "tlsv13" are fine; 167772294 is not
    CHECK(m.find("asio.ssl") == std::string::npos);
    CHECK(m.find("SSL routines") == std::string::npos);
    constexpr std::size_t window = 16;
    for (std::size_t i = 0; i + window <= m.size(); ++i) {
        CAPTURE(m.substr(i, window));
        CHECK(m.find(m.substr(i, window), i + 1) == std::string::npos);
    }
}

// A handshake the client refused: the exact message, and the server never finished one.
void check_refused(net::io_context& ioc, server& srv, outcome const& o, std::string_view problem) {
    CAPTURE(o.message);
    CHECK(o.handshake.category() == net::error::get_ssl_category());
    CHECK(o.failed_step == "handshake");
    CHECK(o.message == "TLS handshake with " + o.host_port + " failed: " + std::string(problem));
    check_readable(o.message, o.host_port, problem);
    CHECK(run_until(ioc, [&] { return srv.failed_handshakes == 1; }));
    CHECK(srv.handshakes == 0);
    CHECK(srv.requests.empty());
}

// The server presents `pair` (certificate and key) instead of its own leaf.
std::function<void(ssl::context&)> presenting(payouts_tools::pem_pair const& pair) {
    return [&pair](ssl::context& ctx) {
        ctx.use_certificate_chain(net::buffer(pair.cert_pem));
        ctx.use_private_key(net::buffer(pair.key_pem), ssl::context::pem);
    };
}

// A client certificate (EKU clientAuth) signed by `ca`: the test PKI's leaf is a server
// certificate only, which OpenSSL refuses as a client's (checked below).
payouts_tools::pem_pair client_certificate(payouts_tools::pem_pair const& ca) {
    namespace d = payouts_tools::detail;
    d::openssl_ptr<BIO> cert_bio(BIO_new_mem_buf(ca.cert_pem.data(), int(ca.cert_pem.size())));
    d::openssl_ptr<BIO> key_bio(BIO_new_mem_buf(ca.key_pem.data(), int(ca.key_pem.size())));
    REQUIRE(cert_bio);
    REQUIRE(key_bio);
    d::openssl_ptr<X509> ca_cert(PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr));
    d::openssl_ptr<EVP_PKEY> ca_key(
        PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
    REQUIRE(ca_cert);
    REQUIRE(ca_key);
    auto key = d::make_p256_key();
    auto cert = d::new_cert(key.get());
    d::set_validity(cert.get(), -1h, 24h);
    d::set_common_name(cert.get(), "payouts test client");
    REQUIRE(X509_set_issuer_name(cert.get(), X509_get_subject_name(ca_cert.get())) == 1);
    d::add_extension(cert.get(), ca_cert.get(), NID_basic_constraints, "critical,CA:FALSE");
    d::add_extension(cert.get(), ca_cert.get(), NID_key_usage, "critical,digitalSignature");
    d::add_extension(cert.get(), ca_cert.get(), NID_ext_key_usage, "clientAuth");
    d::add_extension(cert.get(), ca_cert.get(), NID_subject_key_identifier, "hash");
    d::add_extension(cert.get(), ca_cert.get(), NID_authority_key_identifier, "keyid:always");
    REQUIRE(X509_sign(cert.get(), ca_key.get(), EVP_sha256()) > 0);
    return d::to_pem(cert.get(), key.get());
}

// A user context trusting `ca_pem` and presenting `client` (when given).
std::shared_ptr<ssl::context> user_context(std::string const& ca_pem,
                                           payouts_tools::pem_pair const* client) {
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
    ctx->add_certificate_authority(net::buffer(ca_pem));
    ctx->set_verify_mode(ssl::verify_peer);
    if (client) {
        ctx->use_certificate_chain(net::buffer(client->cert_pem));
        ctx->use_private_key(net::buffer(client->key_pem), ssl::context::pem);
    }
    error_code ec;
    std::string why;
    auto out = client_tls_context(tls_options{.user_context = ctx}, ec, why);
    REQUIRE(!ec);
    REQUIRE(out == ctx);
    return out;
}

// OpenSSL's packed code, as Asio's ssl category carries it.
error_code ssl_error(unsigned long packed) {
    return error_code(static_cast<int>(packed), net::error::get_ssl_category());
}

} // namespace

TEST_CASE("client_tls_context: ours from the trust settings, the user's as given") {
    auto const pki = payouts_tools::make_test_pki();
    error_code ec;
    std::string why;

    auto ours =
        client_tls_context(tls_options{.system_roots = false, .ca_pem = pki.ca.cert_pem}, ec, why);
    REQUIRE_MESSAGE(!ec, why);
    REQUIRE(ours);
    CHECK(SSL_CTX_get_verify_mode(ours->native_handle()) == SSL_VERIFY_PEER);
    CHECK(SSL_CTX_get_min_proto_version(ours->native_handle()) == TLS1_2_VERSION);

    // A user context wins: the trust settings, even unusable ones, are not looked at.
    auto mine = std::make_shared<ssl::context>(ssl::context::tls_client);
    auto given = client_tls_context(
        tls_options{.system_roots = false, .ca_file = "/nonexistent/ca.pem", .user_context = mine},
        ec, why);
    CHECK(!ec);
    CHECK(given == mine);

    why.clear();
    auto none = client_tls_context(
        tls_options{.system_roots = false, .ca_file = "/nonexistent/ca.pem"}, ec, why);
    CHECK(ec == payouts::errc::invalid_config);
    CHECK(!none);
    CHECK(why.find("CA file \"/nonexistent/ca.pem\"") != std::string::npos);

    why.clear();
    none = client_tls_context(tls_options{.system_roots = false, .ca_pem = "not a certificate"}, ec,
                              why);
    CHECK(ec == payouts::errc::invalid_config);
    CHECK(!none);
    CHECK(why.find("CA PEM") != std::string::npos);
}

TEST_CASE("prepare_tls_connection: verification, TLS 1.2+, SNI and the peer name, whatever "
          "the context says") {
    ssl::context lax(ssl::context::tls_client);
    lax.set_verify_mode(ssl::verify_none);
    SSL_CTX_set_min_proto_version(lax.native_handle(), TLS1_VERSION);
    lax.set_verify_callback([](bool preverified, ssl::verify_context&) { return preverified; });
    auto const ctx_callback = SSL_CTX_get_verify_callback(lax.native_handle());
    REQUIRE((ctx_callback != nullptr));

    SUBCASE("a host name") {
        SSL* s = SSL_new(lax.native_handle());
        REQUIRE(s);
        REQUIRE(!prepare_tls_connection(s, "api.example.com", false));
        CHECK((SSL_get_verify_mode(s) & SSL_VERIFY_PEER) != 0);
        CHECK((SSL_get_verify_callback(s) == ctx_callback));
        CHECK(SSL_get_min_proto_version(s) == TLS1_2_VERSION);
        CHECK(std::string(SSL_get_servername(s, TLSEXT_NAMETYPE_host_name)) == "api.example.com");
        X509_VERIFY_PARAM* p = SSL_get0_param(s);
        REQUIRE(X509_VERIFY_PARAM_get0_host(p, 0) != nullptr);
        CHECK(std::string(X509_VERIFY_PARAM_get0_host(p, 0)) == "api.example.com");
        CHECK(X509_VERIFY_PARAM_get0_host(p, 1) == nullptr);
        CHECK(X509_VERIFY_PARAM_get1_ip_asc(p) == nullptr);
        CHECK(X509_VERIFY_PARAM_get_hostflags(p) == X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        // The context itself is left as the user made it.
        CHECK(SSL_CTX_get_verify_mode(lax.native_handle()) == SSL_VERIFY_NONE);
        SSL_free(s);
    }
    SUBCASE("IP literals: no SNI (RFC 6066), the address is checked") {
        for (std::string const ip : {"127.0.0.1", "::1"}) {
            CAPTURE(ip);
            SSL* s = SSL_new(lax.native_handle());
            REQUIRE(s);
            REQUIRE(!prepare_tls_connection(s, ip, true));
            CHECK(SSL_get_servername(s, TLSEXT_NAMETYPE_host_name) == nullptr);
            X509_VERIFY_PARAM* p = SSL_get0_param(s);
            char* checked = X509_VERIFY_PARAM_get1_ip_asc(p);
            REQUIRE(checked != nullptr);
            CHECK(std::string(checked) == (ip == "::1" ? "0:0:0:0:0:0:0:1" : ip));
            OPENSSL_free(checked);
            CHECK(X509_VERIFY_PARAM_get0_host(p, 0) == nullptr);
            SSL_free(s);
        }
    }
    SUBCASE("a peer name set on the context does not linger") {
        X509_VERIFY_PARAM* cp = SSL_CTX_get0_param(lax.native_handle());
        REQUIRE(X509_VERIFY_PARAM_set1_host(cp, "stale.example", 0) == 1);
        REQUIRE(X509_VERIFY_PARAM_set1_ip_asc(cp, "10.0.0.1") == 1);
        SSL* a = SSL_new(lax.native_handle());
        REQUIRE(!prepare_tls_connection(a, "127.0.0.1", true));
        CHECK(X509_VERIFY_PARAM_get0_host(SSL_get0_param(a), 0) == nullptr);
        SSL_free(a);
        SSL* b = SSL_new(lax.native_handle());
        REQUIRE(!prepare_tls_connection(b, "api.example.com", false));
        CHECK(X509_VERIFY_PARAM_get1_ip_asc(SSL_get0_param(b)) == nullptr);
        CHECK(X509_VERIFY_PARAM_get0_host(SSL_get0_param(b), 1) == nullptr);
        SSL_free(b);
    }
    SUBCASE("a context that demands TLS 1.3 keeps it") {
        SSL_CTX_set_min_proto_version(lax.native_handle(), TLS1_3_VERSION);
        SSL* s = SSL_new(lax.native_handle());
        REQUIRE(!prepare_tls_connection(s, "api.example.com", false));
        CHECK(SSL_get_min_proto_version(s) == TLS1_3_VERSION);
        SSL_free(s);
    }
    SUBCASE("unusable peer names") {
        SSL* s = SSL_new(lax.native_handle());
        CHECK(prepare_tls_connection(s, "", false) == payouts::errc::invalid_config);
        CHECK(prepare_tls_connection(s, "not-an-address", true) == payouts::errc::invalid_config);
        CHECK(prepare_tls_connection(nullptr, "api.example.com", false) ==
              payouts::errc::invalid_config);
        SSL_free(s);
        ERR_clear_error();
    }
}

TEST_CASE("tls_failure_message: without a connection, from the error code alone") {
    std::string const hp = "api.example.com:443";
    auto const msg = [&](error_code ec) { return tls_failure_message(nullptr, ec, hp); };
    std::string const head = "TLS handshake with " + hp + " failed: ";

    CHECK(msg(ssl_error(ERR_PACK(ERR_LIB_SSL, 0, SSL_R_CERTIFICATE_VERIFY_FAILED))) ==
          head + "SSL certificate problem: certificate verify failed");
    CHECK(msg(ssl::error::stream_truncated) == head + "the server closed the connection");
    CHECK(msg(net::error::eof) == head + "the server closed the connection");
    CHECK(msg(ssl_error(ERR_PACK(ERR_LIB_SSL, 0, SSL_R_UNEXPECTED_EOF_WHILE_READING))) ==
          head + "the server closed the connection");
    CHECK(msg(ssl_error(ERR_PACK(ERR_LIB_SSL, 0, SSL_R_WRONG_VERSION_NUMBER))) ==
          head + "the server's answer is not TLS, perhaps a plain-HTTP port "
                 "(wrong version number)");
    CHECK(msg(ssl_error(ERR_PACK(ERR_LIB_SSL, 0, SSL_R_UNSUPPORTED_PROTOCOL))) ==
          head + "the server and this client have no TLS version in common "
                 "(unsupported protocol)");
    CHECK(msg(ssl_error(ERR_PACK(ERR_LIB_SSL, 0, SSL_R_NO_SHARED_CIPHER))) ==
          head + "no shared cipher");
    // OpenSSL 3 marks a system error with the top bit; Asio's int keeps it.
    CHECK(msg(ssl_error(ERR_SYSTEM_FLAG | ECONNRESET)) ==
          head + std::system_category().message(ECONNRESET));
    CHECK(msg(net::error::connection_refused) ==
          head + error_code(net::error::connection_refused).message());
    CHECK(tls_failure_message(nullptr, ssl::error::stream_truncated, "") ==
          "TLS handshake failed: the server closed the connection");
    check_readable(msg(ssl_error(ERR_PACK(ERR_LIB_SSL, 0, SSL_R_CERTIFICATE_VERIFY_FAILED))), hp,
                   "certificate verify failed");
}

TEST_CASE("tls_failure_message: a name mismatch names the host as the caller wrote it") {
    ssl::context ctx(ssl::context::tls_client);
    SSL* s = SSL_new(ctx.native_handle());
    REQUIRE(s);
    REQUIRE(!prepare_tls_connection(s, "::1", true));
    SSL_set_verify_result(s, X509_V_ERR_IP_ADDRESS_MISMATCH);
    auto const failed = ssl_error(ERR_PACK(ERR_LIB_SSL, 0, SSL_R_CERTIFICATE_VERIFY_FAILED));
    CHECK(tls_failure_message(s, failed, "[::1]:8443") ==
          "TLS handshake with [::1]:8443 failed: SSL certificate problem: the certificate does "
          "not match IP address \"::1\"");
    // Without host_port, the address the verifier was given.
    CHECK(tls_failure_message(s, failed, "") ==
          "TLS handshake failed: SSL certificate problem: the certificate does not match IP "
          "address \"0:0:0:0:0:0:0:1\"");
    SSL_free(s);
}

// A TCP server on 127.0.0.1 that, on each connection, writes `answer` (maybe nothing) and
// ends its side: no TLS at all. It reads until the client goes, so that the close is a FIN
// and not a reset for unread bytes.
struct raw_server {
    net::ip::tcp::acceptor acceptor;
    std::string answer;
    std::size_t served = 0;

    raw_server(net::io_context& ioc, std::string a)
        : acceptor(ioc, net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), 0))
        , answer(std::move(a)) {
        net::co_spawn(ioc, serve(), net::detached);
    }
    std::uint16_t port() const { return acceptor.local_endpoint().port(); }

    net::awaitable<void> serve() {
        for (;;) {
            error_code ec;
            auto sock = co_await acceptor.async_accept(net::redirect_error(net::use_awaitable, ec));
            if (ec) co_return;
            if (!answer.empty())
                co_await net::async_write(sock, net::buffer(answer),
                                          net::redirect_error(net::use_awaitable, ec));
            sock.shutdown(net::ip::tcp::socket::shutdown_send, ec);
            ++served;
            char sink[4096];
            while (!ec)
                co_await sock.async_read_some(net::buffer(sink),
                                              net::redirect_error(net::use_awaitable, ec));
        }
    }
};

TEST_CASE("handshake: a server that is not speaking TLS") {
    net::io_context ioc;
    auto const ctx = trusting(payouts_tools::make_test_pki().ca.cert_pem);

    SUBCASE("closes the connection at once") {
        raw_server raw(ioc, "");
        auto o = attempt(ioc, ctx, raw.port(), "localhost", false);
        CHECK(o.failed_step == "handshake");
        CHECK(o.message ==
              "TLS handshake with " + o.host_port + " failed: the server closed the connection");
        check_readable(o.message, o.host_port, "closed the connection");
        CHECK(raw.served == 1);
    }
    SUBCASE("answers in plain HTTP") {
        raw_server raw(ioc, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        auto o = attempt(ioc, ctx, raw.port(), "localhost", false);
        CHECK(o.handshake == ssl_error(ERR_PACK(ERR_LIB_SSL, 0, SSL_R_WRONG_VERSION_NUMBER)));
        CHECK(o.message == "TLS handshake with " + o.host_port +
                               " failed: the server's answer is not TLS, perhaps a plain-HTTP "
                               "port (wrong version number)");
        check_readable(o.message, o.host_port, "wrong version number");
    }
}

TEST_CASE("handshake: a certificate the client cannot verify is refused, and says why") {
    net::io_context ioc;

    SUBCASE("expired") {
        server srv(ioc, ok, {.pki = {.not_before_offset = -2h, .lifetime = 1h}});
        auto o = attempt(ioc, trusting(srv.ca_pem()), srv.port(), "localhost", false);
        check_refused(ioc, srv, o, "SSL certificate problem: certificate has expired");
    }
    SUBCASE("not yet valid") {
        server srv(ioc, ok, {.pki = {.not_before_offset = 1h}});
        auto o = attempt(ioc, trusting(srv.ca_pem()), srv.port(), "localhost", false);
        check_refused(ioc, srv, o, "SSL certificate problem: certificate is not yet valid");
    }
    SUBCASE("self-signed") {
        // The server presents a self-signed certificate of its own, which nothing trusts.
        auto const own = payouts_tools::make_test_pki();
        server srv(ioc, ok, {.tls_setup = presenting(own.ca)});
        auto o = attempt(ioc, trusting(srv.ca_pem()), srv.port(), "localhost", false);
        check_refused(ioc, srv, o, "SSL certificate problem: self-signed certificate");
    }
    SUBCASE("unknown issuer") {
        auto const other = payouts_tools::make_test_pki();
        server srv(ioc, ok);
        auto o = attempt(ioc, trusting(other.ca.cert_pem), srv.port(), "localhost", false);
        check_refused(ioc, srv, o,
                      "SSL certificate problem: unable to get local issuer certificate");
    }
    SUBCASE("issued for another host name") {
        server srv(ioc, ok, {.pki = {.dns_names = {"other.example"}, .ip_addresses = {}}});
        auto o = attempt(ioc, trusting(srv.ca_pem()), srv.port(), "localhost", false);
        check_refused(ioc, srv, o,
                      "SSL certificate problem: the certificate does not match host name "
                      "\"localhost\"");
    }
    SUBCASE("issued for another IP address") {
        server srv(ioc, ok, {.pki = {.dns_names = {"localhost"}, .ip_addresses = {"127.0.0.2"}}});
        auto o = attempt(ioc, trusting(srv.ca_pem()), srv.port(), "127.0.0.1", true);
        check_refused(ioc, srv, o,
                      "SSL certificate problem: the certificate does not match IP address "
                      "\"127.0.0.1\"");
    }
    SUBCASE("a partial wildcard matches nothing") {
        server srv(ioc, ok, {.pki = {.dns_names = {"ap*.example.com"}, .ip_addresses = {}}});
        auto o = attempt(ioc, trusting(srv.ca_pem()), srv.port(), "api.example.com", false);
        check_refused(ioc, srv, o,
                      "SSL certificate problem: the certificate does not match host name "
                      "\"api.example.com\"");
    }
}

TEST_CASE("handshake: the right certificate is accepted, by DNS name, IP address and wildcard") {
    net::io_context ioc;
    server srv(ioc, ok, {.pki = {.dns_names = {"localhost", "*.example.com"}}});
    auto const ctx = trusting(srv.ca_pem());
    for (auto const& [host, ip] : {std::pair{"localhost", false}, std::pair{"127.0.0.1", true},
                                   std::pair{"api.example.com", false}}) {
        CAPTURE(host);
        auto o = attempt(ioc, ctx, srv.port(), host, ip, true);
        CHECK_MESSAGE(!o.handshake, o.message);
        CHECK(o.version == TLS1_3_VERSION);
        CHECK(o.status == 200);
    }
    CHECK(srv.handshakes == 3);
    REQUIRE(srv.requests.size() == 3);
    CHECK(srv.requests[2].header("Host") == "api.example.com");
}

TEST_CASE("handshake: below TLS 1.2 is refused, whatever the context allows") {
    net::io_context ioc;
    // OpenSSL 3 offers TLS 1.0/1.1 only at security level 0 (their SHA-1 based handshake).
    auto const old_only = [](ssl::context& ctx) {
        SSL_CTX_set_security_level(ctx.native_handle(), 0);
        SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_VERSION);
        SSL_CTX_set_max_proto_version(ctx.native_handle(), TLS1_1_VERSION);
    };
    server srv(ioc, ok, {.tls_setup = old_only});

    // A context that would take TLS 1.0 and 1.1 (the control shows the server speaks them).
    auto const lax = std::make_shared<ssl::context>(ssl::context::tls_client);
    SSL_CTX_set_security_level(lax->native_handle(), 0);
    SSL_CTX_set_min_proto_version(lax->native_handle(), TLS1_VERSION);
    lax->add_certificate_authority(net::buffer(srv.ca_pem()));
    lax->set_verify_mode(ssl::verify_peer);
    {
        outcome control;
        net::co_spawn(
            ioc,
            [&]() -> net::awaitable<void> {
                ssl::stream<boost::beast::tcp_stream> s(ioc, *lax);
                co_await s.next_layer().async_connect(
                    net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), srv.port()),
                    net::redirect_error(net::use_awaitable, control.connect));
                if (!control.connect) {
                    SSL_set_tlsext_host_name(s.native_handle(), "localhost");
                    co_await s.async_handshake(
                        ssl::stream_base::client,
                        net::redirect_error(net::use_awaitable, control.handshake));
                    control.version = SSL_version(s.native_handle());
                }
                control.done = true;
            },
            net::detached);
        REQUIRE(run_until(ioc, [&] { return control.done; }));
        REQUIRE_MESSAGE(!control.handshake, control.handshake.message());
        CHECK(control.version == TLS1_1_VERSION);
        REQUIRE(run_until(ioc, [&] { return srv.handshakes == 1; }));
    }

    SUBCASE("our context") {
        auto o = attempt(ioc, trusting(srv.ca_pem()), srv.port(), "localhost", false);
        CHECK(o.handshake.category() == net::error::get_ssl_category());
        CHECK(o.message == "TLS handshake with " + o.host_port +
                               " failed: the server and this client have no TLS version in "
                               "common; this client requires TLS 1.2 or later "
                               "(tlsv1 alert protocol version)");
        check_readable(o.message, o.host_port, "tlsv1 alert protocol version");
    }
    SUBCASE("the user's context allowing TLS 1.0") {
        auto o = attempt(ioc, lax, srv.port(), "localhost", false);
        CHECK(o.handshake.category() == net::error::get_ssl_category());
        CHECK(o.message == "TLS handshake with " + o.host_port +
                               " failed: the server and this client have no TLS version in "
                               "common; this client requires TLS 1.2 or later "
                               "(tlsv1 alert protocol version)");
        check_readable(o.message, o.host_port, "tlsv1 alert protocol version");
    }
    SUBCASE("the user's context speaking TLS 1.2 only: the server answers in TLS 1.1") {
        // Without a supported_versions list to refuse, the server picks its own highest version
        // and the client is the one to say no.
        auto v12 = std::make_shared<ssl::context>(ssl::context::tlsv12_client);
        v12->add_certificate_authority(net::buffer(srv.ca_pem()));
        auto o = attempt(ioc, v12, srv.port(), "localhost", false);
        CHECK(o.handshake == ssl_error(ERR_PACK(ERR_LIB_SSL, 0, SSL_R_UNSUPPORTED_PROTOCOL)));
        CHECK(o.message == "TLS handshake with " + o.host_port +
                               " failed: the server and this client have no TLS version in "
                               "common; this client requires TLS 1.2 or later "
                               "(unsupported protocol)");
        check_readable(o.message, o.host_port, "unsupported protocol");
    }
    CHECK(run_until(ioc, [&] { return srv.failed_handshakes == 1; }));
    CHECK(srv.handshakes == 1); // the control's only
    CHECK(srv.requests.empty());
}

TEST_CASE("handshake: a user context demanding TLS 1.3 keeps its minimum") {
    net::io_context ioc;
    server srv(ioc, ok, {.tls_setup = [](ssl::context& ctx) {
                   SSL_CTX_set_max_proto_version(ctx.native_handle(), TLS1_2_VERSION);
               }});
    auto const strict = std::make_shared<ssl::context>(ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(strict->native_handle(), TLS1_3_VERSION);
    strict->add_certificate_authority(net::buffer(srv.ca_pem()));
    auto o = attempt(ioc, strict, srv.port(), "localhost", false);
    CHECK(o.handshake.category() == net::error::get_ssl_category());
    CHECK(o.message == "TLS handshake with " + o.host_port +
                           " failed: the server and this client have no TLS version in "
                           "common; this client requires TLS 1.3 or later "
                           "(tlsv1 alert protocol version)");
    check_readable(o.message, o.host_port, "tlsv1 alert protocol version");

    // Our own context meets the same server at TLS 1.2.
    auto ours = attempt(ioc, trusting(srv.ca_pem()), srv.port(), "localhost", false, true);
    CHECK_MESSAGE(!ours.handshake, ours.message);
    CHECK(ours.version == TLS1_2_VERSION);
    CHECK(ours.status == 200);
}

TEST_CASE("user context: verification cannot be switched off") {
    net::io_context ioc;
    server srv(ioc, ok);

    SUBCASE("verify_none and no trusted CA: refused") {
        auto none = std::make_shared<ssl::context>(ssl::context::tls_client);
        none->set_verify_mode(ssl::verify_none);
        error_code ec;
        std::string why;
        auto ctx = client_tls_context(tls_options{.user_context = none}, ec, why);
        REQUIRE(ctx == none);
        auto o = attempt(ioc, ctx, srv.port(), "localhost", false);
        check_refused(ioc, srv, o,
                      "SSL certificate problem: unable to get local issuer certificate");
    }
    SUBCASE("verify_none and the right CA: the name is still checked") {
        auto none = user_context(srv.ca_pem(), nullptr);
        none->set_verify_mode(ssl::verify_none);
        auto o = attempt(ioc, none, srv.port(), "api.example.com", false);
        check_refused(ioc, srv, o,
                      "SSL certificate problem: the certificate does not match host name "
                      "\"api.example.com\"");
    }
    SUBCASE("the right CA: accepted, and the context's verify callback still runs") {
        auto ctx = user_context(srv.ca_pem(), nullptr);
        int calls = 0;
        ctx->set_verify_callback([&calls](bool preverified, ssl::verify_context&) {
            ++calls;
            return preverified;
        });
        auto o = attempt(ioc, ctx, srv.port(), "localhost", false, true);
        CHECK_MESSAGE(!o.handshake, o.message);
        CHECK(o.status == 200);
        CHECK(calls >= 2); // the CA and the leaf
        CHECK(srv.handshakes == 1);
    }
}

TEST_CASE("mutual TLS: the server asks for a client certificate") {
    net::io_context ioc;
    auto const clients = payouts_tools::make_test_pki(); // the CA the server trusts for clients
    auto const client_cert = client_certificate(clients.ca);
    auto const demand = [&clients](ssl::context& ctx) {
        ctx.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
        ctx.add_certificate_authority(net::buffer(clients.ca.cert_pem));
    };

    SUBCASE("a user context with the client certificate is accepted") {
        server srv(ioc, ok, {.tls_setup = demand});
        auto o = attempt(ioc, user_context(srv.ca_pem(), &client_cert), srv.port(), "localhost",
                         false, true);
        CHECK_MESSAGE(!o.handshake, o.message);
        CHECK(o.version == TLS1_3_VERSION);
        CHECK(o.status == 200);
        CHECK(srv.handshakes == 1);
        CHECK(srv.requests.size() == 1);
    }
    SUBCASE("TLS 1.3 without one: the client's handshake succeeds, the first read fails") {
        server srv(ioc, ok, {.tls_setup = demand});
        auto o =
            attempt(ioc, user_context(srv.ca_pem(), nullptr), srv.port(), "localhost", false, true);
        CHECK(!o.handshake);
        CHECK(!o.write);
        CHECK(o.failed_step == "read");
        CHECK(o.read ==
              ssl_error(ERR_PACK(ERR_LIB_SSL, 0, SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED)));
        CHECK(o.message == "TLS handshake with " + o.host_port +
                               " failed: the server requires a client certificate "
                               "(tlsv13 alert certificate required)");
        check_readable(o.message, o.host_port, "tlsv13 alert certificate required");
        CHECK(run_until(ioc, [&] { return srv.failed_handshakes == 1; }));
        CHECK(srv.requests.empty());
    }
    SUBCASE("TLS 1.2 without one: the handshake fails") {
        server srv(ioc, ok, {.tls_setup = [&](ssl::context& ctx) {
                       demand(ctx);
                       SSL_CTX_set_max_proto_version(ctx.native_handle(), TLS1_2_VERSION);
                   }});
        auto o =
            attempt(ioc, user_context(srv.ca_pem(), nullptr), srv.port(), "localhost", false, true);
        CHECK(o.failed_step == "handshake");
        CHECK(o.handshake ==
              ssl_error(ERR_PACK(ERR_LIB_SSL, 0, SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE)));
        CHECK(o.message == "TLS handshake with " + o.host_port +
                               " failed: the server refused the handshake "
                               "(sslv3 alert handshake failure)");
        check_readable(o.message, o.host_port, "sslv3 alert handshake failure");
        CHECK(run_until(ioc, [&] { return srv.failed_handshakes == 1; }));
    }
    SUBCASE("a server-only certificate (the test PKI's leaf) is refused as a client's") {
        server srv(ioc, ok, {.tls_setup = demand});
        auto o = attempt(ioc, user_context(srv.ca_pem(), &clients.leaf), srv.port(), "localhost",
                         false, true);
        CHECK(o.failed_step == "read");
        CHECK(o.message == "TLS handshake with " + o.host_port +
                               " failed: the server rejected the client certificate "
                               "(sslv3 alert unsupported certificate)");
        check_readable(o.message, o.host_port, "sslv3 alert unsupported certificate");
        CHECK(run_until(ioc, [&] { return srv.failed_handshakes == 1; }));
        CHECK(srv.requests.empty());
    }
}
