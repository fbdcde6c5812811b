// The connection's own transport (include/payouts/detail/tls_stream.hpp and the connection in
// connection_cache.hpp), below the HTTP layer: TLS straight over the socket must move any
// amount of data both ways intact, through partial writes and multi-record reads, report the
// same codes Asio's ssl::stream would, and never touch the socket after close().
#include <payouts/payouts.hpp>

#include "../tools/common/tls_certs.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <doctest/doctest.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

using namespace std::chrono_literals;
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;
using payouts::error_code;
using payouts::detail::connection;

namespace {

// Bytes that differ from one position to the next, so that a lost or repeated piece shows.
std::string pattern(std::size_t n, unsigned seed) {
    std::string s(n, '\0');
    unsigned x = seed * 2654435761u + 1;
    for (auto& c : s) {
        x = x * 1103515245u + 12345u;
        c = static_cast<char>(x >> 24);
    }
    return s;
}

// A client connection (ours) and a server stream (Asio's) over loopback, handshake done when
// `tls`; the server side is the reference implementation.
struct pair_fixture {
    net::io_context ioc;
    payouts_tools::test_pki pki = payouts_tools::make_test_pki();
    ssl::context server_ctx{ssl::context::tls_server};
    std::unique_ptr<ssl::context> client_ctx;
    tcp::acceptor acceptor{ioc, {net::ip::make_address("127.0.0.1"), 0}};
    std::optional<ssl::stream<tcp::socket>> server;
    connection client{ioc.get_executor(), std::size_t(1) << 24};

    explicit pair_fixture(bool tls) {
        server_ctx.use_certificate_chain(net::buffer(pki.leaf.cert_pem));
        server_ctx.use_private_key(net::buffer(pki.leaf.key_pem), ssl::context::pem);
        error_code ec;
        std::string why;
        client_ctx = payouts::detail::make_tls_context({false, "", "", pki.ca.cert_pem}, ec, why);
        REQUIRE_MESSAGE(!ec, why);
        server.emplace(ioc, server_ctx);
        bool accepted = false, connected = false;
        acceptor.async_accept(server->next_layer(), [&](error_code e) {
            REQUIRE(!e);
            accepted = true;
        });
        client.socket().async_connect(acceptor.local_endpoint(), [&](error_code e) {
            REQUIRE(!e);
            connected = true;
        });
        ioc.run();
        ioc.restart();
        REQUIRE((accepted && connected));
        REQUIRE(!client.set_non_blocking());
        if (!tls) return;
        REQUIRE(!client.start_tls(client_ctx->native_handle()));
        REQUIRE(!payouts::detail::prepare_tls_connection(client.tls_handle(), "127.0.0.1", true));
        error_code cec = net::error::would_block, sec = net::error::would_block;
        client.async_handshake([&](error_code e, std::size_t) { cec = e; });
        server->async_handshake(ssl::stream_base::server, [&](error_code e) { sec = e; });
        ioc.run();
        ioc.restart();
        REQUIRE_MESSAGE(!cec, cec.message());
        REQUIRE_MESSAGE(!sec, sec.message());
    }

    // The server's side as one stream type whichever the transport.
    template <class F>
    void with_server(bool tls, F&& f) {
        if (tls)
            f(*server);
        else
            f(server->next_layer());
    }
};

void move_both_ways(bool tls) {
    pair_fixture fx(tls);
    CHECK(fx.client.is_tls() == tls);
    std::size_t const n = std::size_t(6) << 20; // far beyond the socket buffers
    std::string const up = pattern(n, 1), down = pattern(n, 2);

    // Up: what the socket takes at once, then the rest while the server reads late and in
    // small pieces (so the client's writes must wait for room, more than once).
    error_code ec;
    std::size_t const at_once = fx.client.try_write(net::buffer(up), ec);
    REQUIRE_MESSAGE(!ec, ec.message());
    CHECK(at_once > 0);
    CHECK(at_once < n); // the rest needs the waiting path
    std::string got_up;
    error_code wec = net::error::would_block;
    std::size_t written = 0;
    net::async_write(fx.client, net::buffer(up) + at_once, [&](error_code e, std::size_t k) {
        wec = e;
        written = k;
    });
    net::steady_timer late(fx.ioc, 100ms);
    char piece[3000];
    std::function<void()> read_piece;
    fx.with_server(tls, [&](auto& s) {
        read_piece = [&] {
            s.async_read_some(net::buffer(piece), [&](error_code e, std::size_t k) {
                REQUIRE_MESSAGE(!e, e.message());
                got_up.append(piece, k);
                if (got_up.size() < n) read_piece();
            });
        };
    });
    late.async_wait([&](error_code) { read_piece(); });
    fx.ioc.run();
    fx.ioc.restart();
    CHECK_MESSAGE(!wec, wec.message());
    CHECK(at_once + written == n);
    CHECK(got_up.size() == n);
    CHECK(got_up == up);

    // Down: the server writes it all (TLS: hundreds of 16 KiB records); the client reads into
    // buffers of several sizes, as Beast's reads do.
    std::string got_down;
    got_down.reserve(n);
    error_code sec = net::error::would_block;
    fx.with_server(tls, [&](auto& s) {
        net::async_write(s, net::buffer(down), [&](error_code e, std::size_t) { sec = e; });
    });
    std::size_t sizes[] = {1, 512, 4096, 70000};
    std::size_t turn = 0;
    std::vector<char> buf(70000);
    std::function<void()> read_down = [&] {
        auto const want = std::min(sizes[turn++ % 4], n - got_down.size());
        fx.client.async_read_some(net::buffer(buf.data(), want), [&](error_code e, std::size_t k) {
            REQUIRE_MESSAGE(!e, e.message());
            got_down.append(buf.data(), k);
            if (got_down.size() < n) read_down();
        });
    };
    read_down();
    fx.ioc.run();
    fx.ioc.restart();
    CHECK_MESSAGE(!sec, sec.message());
    CHECK(got_down.size() == n);
    CHECK(got_down == down);
}

} // namespace

TEST_CASE("transport: 6 MiB each way over TLS, through partial writes and multi-record reads") {
    move_both_ways(true);
}

TEST_CASE("transport: 6 MiB each way over plaintext, through partial writes") {
    move_both_ways(false);
}

TEST_CASE("transport: a TLS read completes at once on data already decrypted and buffered") {
    pair_fixture fx(true);
    std::string const msg = pattern(5000, 3);
    error_code sec = net::error::would_block;
    net::async_write(*fx.server, net::buffer(msg), [&](error_code e, std::size_t) { sec = e; });
    fx.ioc.run();
    fx.ioc.restart();
    REQUIRE(!sec);
    // The first read takes 100 bytes of the record; the rest is OpenSSL's, already decrypted.
    std::string got(5000, '\0');
    std::size_t k1 = 0, k2 = 0;
    error_code e1 = net::error::would_block, e2 = net::error::would_block;
    bool inline_call = true;
    fx.client.async_read_some(net::buffer(got.data(), 100), [&](error_code e, std::size_t k) {
        e1 = e;
        k1 = k;
        CHECK_FALSE(inline_call); // never inside the initiating call
    });
    inline_call = false;
    fx.ioc.run();
    fx.ioc.restart();
    REQUIRE(!e1);
    CHECK(k1 == 100);
    CHECK(SSL_pending(fx.client.tls_handle()) > 0);
    inline_call = true;
    fx.client.async_read_some(net::buffer(got.data() + 100, 4900),
                              [&](error_code e, std::size_t k) {
                                  e2 = e;
                                  k2 = k;
                                  CHECK_FALSE(inline_call);
                              });
    inline_call = false;
    fx.ioc.run();
    fx.ioc.restart();
    REQUIRE(!e2);
    CHECK(k1 + k2 == 5000);
    CHECK(got == msg);
}

TEST_CASE("transport: the peer's close_notify is eof; a cut without one is stream_truncated") {
    {
        pair_fixture fx(true);
        error_code sd;
        fx.server->async_shutdown([&](error_code e) { sd = e; });
        char b[100];
        error_code rec;
        fx.client.async_read_some(net::buffer(b), [&](error_code e, std::size_t k) {
            rec = e;
            CHECK(k == 0);
            fx.server->next_layer().close(); // the server's shutdown waits for ours otherwise
        });
        fx.ioc.run();
        CHECK_MESSAGE(rec == net::error::eof, rec.message());
    }
    {
        pair_fixture fx(true);
        fx.server->next_layer().close(); // no close_notify
        char b[100];
        error_code rec;
        fx.client.async_read_some(net::buffer(b), [&](error_code e, std::size_t) { rec = e; });
        fx.ioc.run();
        CHECK_MESSAGE(rec == ssl::error::stream_truncated, rec.message());
        CHECK(rec == payouts::condition::retryable);
    }
    {
        pair_fixture fx(true);
        // A reset: the server's socket closes with unread data and SO_LINGER 0.
        fx.server->next_layer().set_option(net::socket_base::linger(true, 0));
        fx.server->next_layer().close();
        char b[100];
        error_code rec;
        fx.client.async_read_some(net::buffer(b), [&](error_code e, std::size_t) { rec = e; });
        fx.ioc.run();
        CHECK_MESSAGE(rec == net::error::connection_reset, rec.message());
    }
}

TEST_CASE("transport: close() ends a pending TLS read and write with operation_aborted") {
    pair_fixture fx(true);
    char b[100];
    error_code rec = net::error::would_block;
    fx.client.async_read_some(net::buffer(b), [&](error_code e, std::size_t) { rec = e; });
    // A write that cannot finish: the server never reads.
    std::string const big = pattern(std::size_t(8) << 20, 4);
    error_code wec = net::error::would_block;
    net::async_write(fx.client, net::buffer(big), [&](error_code e, std::size_t) { wec = e; });
    net::steady_timer t(fx.ioc, 50ms);
    t.async_wait([&](error_code) { fx.client.close(); });
    fx.ioc.run();
    CHECK(rec == net::error::operation_aborted);
    CHECK(wec == net::error::operation_aborted);
    // Closed: any further operation fails at once, without touching the old descriptor.
    fx.ioc.restart();
    error_code again;
    fx.client.async_read_some(net::buffer(b), [&](error_code e, std::size_t) { again = e; });
    fx.ioc.run();
    CHECK(again);
}

TEST_CASE("transport: record buffers are given back while waiting only where OpenSSL does it "
          "safely (CVE-2024-4741)") {
    using payouts::detail::free_buffers_is_safe;
    auto const v = [](unsigned long major, unsigned long minor, unsigned long patch) {
        return (major << 28) | (minor << 20) | (patch << 4);
    };
    CHECK_FALSE(free_buffers_is_safe(0x1010117fUL)); // 1.1.1w
    CHECK_FALSE(free_buffers_is_safe(v(3, 0, 13)));
    CHECK(free_buffers_is_safe(v(3, 0, 14)));
    CHECK(free_buffers_is_safe(v(3, 0, 19)));
    CHECK_FALSE(free_buffers_is_safe(v(3, 1, 5)));
    CHECK(free_buffers_is_safe(v(3, 1, 6)));
    CHECK_FALSE(free_buffers_is_safe(v(3, 2, 1)));
    CHECK(free_buffers_is_safe(v(3, 2, 2)));
    CHECK_FALSE(free_buffers_is_safe(v(3, 3, 0)));
    CHECK(free_buffers_is_safe(v(3, 3, 1)));
    CHECK(free_buffers_is_safe(v(3, 4, 0)));
    CHECK(free_buffers_is_safe(v(4, 0, 0)));
}

TEST_CASE("transport: a plaintext read started before the answer waits for it and reads it; "
          "the peer's close is eof, and close() ends the wait with operation_aborted") {
    pair_fixture fx(false);
    auto& peer = fx.server->next_layer();
    std::string const request = "GET / HTTP/1.1\r\n\r\n";
    std::string const answer = pattern(3000, 5);
    error_code ec;
    CHECK(fx.client.try_write(net::buffer(request), ec) == request.size());
    REQUIRE(!ec);

    // One read of a client's, its outcome in `rec` and `k` (would_block until it completes).
    error_code rec;
    std::size_t k = 0;
    auto const start_read = [&](connection& c, net::mutable_buffer b) {
        rec = net::error::would_block;
        k = 0;
        c.async_read_some(b, [&](error_code e, std::size_t n) {
            rec = e;
            k = n;
        });
    };

    // The read starts before any answer exists: it must wait, not complete with nothing.
    std::string got(4096, '\0');
    start_read(fx.client, net::buffer(got));
    fx.ioc.poll();
    fx.ioc.restart();
    CHECK(rec == net::error::would_block); // still pending
    net::steady_timer later(fx.ioc, 30ms);
    later.async_wait([&](error_code) { net::write(peer, net::buffer(answer)); });
    fx.ioc.run();
    fx.ioc.restart();
    REQUIRE_MESSAGE(!rec, rec.message());
    std::string received = got.substr(0, k);
    CHECK(received == answer.substr(0, k));
    // The rest of the answer, by ordinary reads (no request written since).
    while (received.size() < answer.size()) {
        char b[4096];
        start_read(fx.client, net::buffer(b));
        fx.ioc.run();
        fx.ioc.restart();
        REQUIRE_MESSAGE(!rec, rec.message());
        received.append(b, k);
    }
    CHECK(received == answer);

    // Another request, and the peer closes instead of answering: eof.
    CHECK(fx.client.try_write(net::buffer(request), ec) == request.size());
    REQUIRE(!ec);
    start_read(fx.client, net::buffer(got));
    net::steady_timer gone(fx.ioc, 20ms);
    gone.async_wait([&](error_code) {
        error_code ignored;
        peer.shutdown(tcp::socket::shutdown_send, ignored);
    });
    fx.ioc.run();
    fx.ioc.restart();
    CHECK(rec == net::error::eof);

    // A request on a fresh pair, no answer, and close() while the read waits.
    pair_fixture fy(false);
    CHECK(fy.client.try_write(net::buffer(request), ec) == request.size());
    start_read(fy.client, net::buffer(got));
    net::steady_timer t(fy.ioc, 30ms);
    t.async_wait([&](error_code) { fy.client.close(); });
    fy.ioc.run();
    CHECK(rec == net::error::operation_aborted);
}
