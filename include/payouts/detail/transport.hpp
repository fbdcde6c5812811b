// One HTTP request and its response over a pooled connection, from Beast's and Asio's parts:
// a TCP socket, ssl::stream, http::async_write, http::async_read_header/async_read.
#pragma once

#include <payouts/detail/client_core.hpp>
#include <payouts/detail/connection_pool.hpp>
#include <payouts/detail/proxy.hpp>
#include <payouts/detail/request.hpp>
#include <payouts/detail/tls.hpp>
#include <payouts/error.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

namespace payouts::detail {

namespace http = boost::beast::http;
using response_parser = http::response_parser<http::string_body>;
using response_type = http::response<http::string_body>;

inline auto on_error(error_code& ec) {
    return net::redirect_error(net::use_awaitable, ec);
}

// Our code for a failed read: the parser's limits are body_too_large; the rest passes unchanged.
inline error_code transport_error(error_code ec) {
    if (ec == http::error::body_limit || ec == http::error::header_limit ||
        ec == http::error::buffer_overflow)
        return errc::body_too_large;
    return ec;
}

// Interim 1xx responses (103 Early Hints; we never send Expect: 100-continue) come before the
// real one. A few are skipped; after that the next one is taken as the answer, so a stream of
// them cannot hold the fetch.
inline constexpr int max_interim_responses = 4;

// The transfer codings of a response, all Transfer-Encoding fields as one list: exactly
// "chunked" (which the parser undoes) or nothing. Beast decides on chunked from the last coding
// alone, so "gzip, chunked" would leave a coding on the body that nobody removes.
inline bool only_chunked(http::fields const& f) {
    int elements = 0;
    auto const [first, last] = f.equal_range(http::field::transfer_encoding);
    for (auto it = first; it != last; ++it) {
        std::string_view v = it->value();
        while (!v.empty()) {
            auto const comma = v.find(',');
            auto const e = trim_ows(v.substr(0, comma));
            v = comma == std::string_view::npos ? std::string_view() : v.substr(comma + 1);
            if (e.empty()) continue;
            if (++elements > 1 || !same_name(e, "chunked")) return false;
        }
    }
    return true;
}

// Checked once the header is in: a content coding we would have to undo (we asked for
// identity; repeated fields form one list), a transfer coding other than chunked, and a body
// whose end only the connection's end tells.
inline error_code refuse_before_body(response_parser const& p) {
    auto const [first, last] = p.get().equal_range(http::field::content_encoding);
    for (auto it = first; it != last; ++it)
        if (!trim_ows(it->value()).empty() && !same_name(trim_ows(it->value()), "identity"))
            return errc::unsupported_encoding;
    if (!only_chunked(p.get()) || p.need_eof()) return errc::unsupported_encoding;
    return {};
}

/// Reads one response from `s` into `p` (made anew), skipping a few interim 1xx responses and
/// refusing codings we cannot undo. The fuzz target fuzz_http_response drives this function.
template <class Stream>
net::awaitable<error_code> read_response(Stream& s, beast::flat_buffer& b,
                                         std::optional<response_parser>& p,
                                         std::uint64_t body_limit, std::uint32_t header_limit) {
    error_code ec;
    for (int interim = 0;; ++interim) {
        p.emplace();
        p->body_limit(body_limit);
        p->header_limit(header_limit);
        co_await http::async_read_header(s, b, *p, on_error(ec));
        if (ec) co_return ec;
        if (p->get().result_int() / 100 != 1 || interim == max_interim_responses) break;
    }
    if (auto const e = refuse_before_body(*p)) co_return e;
    // Room for the whole body: Beast reads as much as the buffer's capacity holds (512 bytes at
    // first, and the parser empties it), so a 3 KiB body would otherwise take six reads.
    if (auto const n = p->content_length())
        b.reserve(b.size() + std::min<std::uint64_t>(*n, 65536));
    co_await http::async_read(s, b, *p, on_error(ec));
    co_return ec;
}

// What a fetch or token request shares with the I/O it runs, so that a cancellation or a time
// limit reaches whatever is pending: the connection in use is closed, a name lookup cancelled.
struct io_job : std::enable_shared_from_this<io_job> {
    explicit io_job(net::any_io_executor const& ex)
        : timer(ex)
        , watchdog(ex) {}

    net::steady_timer timer;    // every wait: a connection, a token, a backoff
    net::steady_timer watchdog; // the limit of the I/O in progress (limit_io)
    bool cancelled = false;
    bool timed_out = false; // the watchdog ended the I/O in progress
    connection* conn = nullptr;
    tcp::resolver* resolver = nullptr;
    char const* phase = "";
    bool sent = false;      // the request went (or began to go) out
    bool transient = false; // a failure worth another attempt though its code does not say so

    void cancel() {
        cancelled = true;
        timer.cancel();
        stop_io();
    }

    void stop_io() {
        if (resolver) resolver->cancel();
        if (conn) conn->close();
    }

    // Bounds the I/O from here on by `limit`: one timer per phase, where one per read and write
    // (tcp_stream's) cost a timerfd update and a trip through the scheduler each.
    void limit_io(steady::time_point limit) {
        timed_out = false;
        // A wait for a limit still ahead is pending already (the watchdog is never cancelled).
        if (watchdog.expiry() == limit && limit > steady::now()) return;
        watchdog.expires_at(limit);
        watchdog.async_wait([w = weak_from_this()](error_code ec) {
            auto const j = w.lock();
            // A wait of an earlier limit may complete after the limit changed: only the current
            // one counts.
            if (ec || !j || j->watchdog.expiry() > steady::now()) return;
            j->timed_out = true;
            j->stop_io();
        });
    }

    // The outcome of the I/O that just failed with `ec`, in our codes.
    error_code io_error(error_code ec) const {
        if (cancelled) return net::error::operation_aborted;
        return timed_out ? errc::timeout : transport_error(ec);
    }
};

// Connects `c` to `url`: directly or through the proxy's CONNECT tunnel, then for https the TLS
// handshake, verified (peer, host name, SNI) whatever context the client uses.
inline net::awaitable<error_code> connect(client_core& core, io_job& j, connection& c,
                                          base_url const& url, steady::time_point deadline,
                                          std::string& why) {
    auto const& cfg = core.cfg;
    error_code ec;
    bool const tunnel = url.tls && core.proxy && !no_proxy_matches(cfg.no_proxy, url.host);
    std::string const& host = tunnel ? core.proxy->host : url.host;
    std::uint16_t const port = tunnel ? core.proxy->port : url.port;
    bool const ip_literal = tunnel ? core.proxy->ip_literal : url.ip_literal;
    std::string const where = authority(host, port);
    auto const fail = [&](std::string w) {
        why = j.cancelled ? "cancelled" : std::move(w);
        return j.io_error(ec);
    };

    j.limit_io(std::min(steady::now() + cfg.connect_timeout, deadline));
    j.phase = "connecting";
    if (ip_literal) {
        co_await c.socket().async_connect(tcp::endpoint(net::ip::make_address(host), port),
                                          on_error(ec));
    } else {
        j.phase = "resolving the host name";
        tcp::resolver r(c.socket().get_executor());
        j.resolver = &r;
        auto const endpoints = co_await r.async_resolve(host, std::to_string(port), on_error(ec));
        j.resolver = nullptr;
        if (ec) co_return fail("resolving " + host + ": " + j.io_error(ec).message());
        j.phase = "connecting";
        co_await net::async_connect(c.socket(), endpoints, on_error(ec));
    }
    if (ec) co_return fail("connecting to " + where + ": " + j.io_error(ec).message());
    c.socket().set_option(tcp::no_delay(true), ec);
    if (tunnel) {
        j.phase = "opening the proxy tunnel";
        tunnel_result t;
        ec = co_await open_tunnel(c.socket(), c.buffer, where, url.host, url.port,
                                  core.proxy_authorization, cfg.user_agent, t);
        j.transient = t.retryable; // the proxy's 502-504, or its close before answering
        if (ec)
            co_return fail(t.why.empty() ? "proxy " + where + ": " + j.io_error(ec).message()
                                         : t.why);
    }
    if (!url.tls) co_return error_code();

    c.start_tls(*core.tls);
    if ((ec = prepare_tls_connection(c.tls->native_handle(), url.host, url.ip_literal)))
        co_return fail("cannot set up TLS for " + url.host);
    j.phase = "TLS handshake";
    j.limit_io(std::min(steady::now() + cfg.handshake_timeout, deadline));
    co_await c.tls->async_handshake(net::ssl::stream_base::client, on_error(ec));
    auto const peer = authority(url.host, url.port);
    if (ec)
        co_return fail(j.timed_out ? "TLS handshake with " + peer + " timed out"
                                   : tls_failure_message(c.tls->native_handle(), ec, peer));
    co_return error_code();
}

/// \brief Sends `req` to `url` and reads its response into `p`, on a connection leased from
/// the client's pool for `origin`: a cached one (tried once more on a new connection when it
/// turns out to be stale: closed by the server while idle), or a new one. Returns our error
/// codes (timeout, body_too_large, operation_aborted when `j` was cancelled) or the transport's;
/// `why` says what failed. The connection goes back to the pool only after a clean keep-alive
/// response.
template <class Body>
net::awaitable<error_code> round_trip(client_core& core, io_job& j, base_url const& url,
                                      std::string const& origin, http::request<Body> const& req,
                                      std::optional<response_parser>& p,
                                      steady::time_point deadline, std::string& why) {
    j.phase = "waiting for a free connection";
    auto lease = co_await core.pool.acquire(origin, j.timer, deadline);
    if (j.cancelled) {
        why = "cancelled while waiting for a free connection";
        co_return net::error::operation_aborted;
    }
    if (!lease) {
        why = "timed out waiting for a free connection to " + origin;
        co_return errc::timeout;
    }
    error_code ec;
    for (bool fresh_retry = false;; fresh_retry = true) {
        p.reset();
        if (!lease.conn) {
            lease.conn = std::make_unique<connection>(core.ex);
            j.conn = lease.conn.get();
            ec = co_await connect(core, j, *lease.conn, url, deadline, why);
            if (ec) break;
        }
        auto& c = *lease.conn;
        j.conn = &c;
        j.limit_io(deadline);
        j.phase = "sending the request";
        j.sent = true;
        if (c.tls)
            co_await http::async_write(*c.tls, req, on_error(ec));
        else
            co_await http::async_write(c.socket(), req, on_error(ec));
        if (!ec) {
            j.phase = "reading the response";
            // (No co_await inside ?: — GCC 12 miscompiles it.)
            auto const limits = std::pair(core.cfg.body_limit, core.cfg.header_limit);
            if (c.tls)
                ec = co_await read_response(*c.tls, c.buffer, p, limits.first, limits.second);
            else
                ec = co_await read_response(c.socket(), c.buffer, p, limits.first, limits.second);
        }
        bool const nothing_came = (!p || !p->got_some()) && c.buffer.size() == 0;
        if (ec && lease.reused && !fresh_retry && nothing_came && !j.cancelled && !j.timed_out) {
            c.close();
            lease.conn.reset();
            lease.reused = false;
            continue;
        }
        if (ec && c.tls && !lease.reused && ec.category() == net::error::get_ssl_category())
            // TLS 1.3 reports a refused client certificate on the first read, not the handshake.
            why = tls_failure_message(c.tls->native_handle(), ec, authority(url.host, url.port));
        else if (ec)
            why = std::string(j.phase) + ": " + j.io_error(ec).message();
        break;
    }
    j.conn = nullptr;
    if (j.cancelled) {
        why = std::string("cancelled while ") + j.phase;
        co_return net::error::operation_aborted;
    }
    if (ec) co_return j.io_error(ec);
    // Leftover bytes would be read as the next response: never reuse then.
    lease.keep_alive = p->keep_alive() && lease.conn->buffer.size() == 0 &&
                       p->get().result_int() / 100 != 1 && !core.shut_down;
    co_return error_code();
}

} // namespace payouts::detail
