// An HTTPS (or plain HTTP) server on 127.0.0.1 for transport tests: real TLS with a throwaway
// CA generated at construction, a port picked by the kernel, and a per-test script that decides,
// request by request, what the server answers — or how it misbehaves.
#pragma once

#include "../../tools/common/tls_certs.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <list>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace test_support {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

/// What the server received: one request.
struct request_record {
    std::string method;
    std::string target;
    std::vector<std::pair<std::string, std::string>> headers; // in order, as received
    std::string body;
    std::size_t connection = 0; // 1-based number of the connection it came on

    /// The value of header `name` (case-insensitive), "" if absent.
    std::string header(std::string_view name) const {
        for (auto const& [n, v] : headers)
            if (beast::iequals(n, name)) return v;
        return {};
    }
    bool has_header(std::string_view name) const {
        for (auto const& [n, v] : headers)
            if (beast::iequals(n, name)) return true;
        return false;
    }
};

/// What the server does about one request.
struct reply {
    unsigned status = 200;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
    bool chunked = false; // Transfer-Encoding: chunked instead of Content-Length
    std::string raw;      // when set: these bytes go out verbatim instead of a response
    bool close = false;   // close the connection after answering (without saying so)
    bool stall = false;   // never answer (until the server stops or the client goes)
    bool drop = false;    // close the connection without answering
    std::chrono::milliseconds delay{0}; // wait this long before answering

    // Misbehaving mid-answer. The answer (`raw`, or the response built from the fields above)
    // is written in pieces of `trickle_bytes`, `trickle` apart (0: at once); only its first
    // `cut_at` bytes are sent, and then the server does `after_cut`.
    enum class cut_action {
        close, // close the connection (TCP FIN, no TLS close_notify)
        reset, // reset it (SO_LINGER 0: RST)
        stall, // keep it open and send nothing more, until the client goes
    };
    std::chrono::milliseconds trickle{0};
    std::size_t trickle_bytes = 1;
    std::size_t cut_at = std::numeric_limits<std::size_t>::max();
    cut_action after_cut = cut_action::close;

    static reply json(unsigned status, std::string body) {
        reply r;
        r.status = status;
        r.body = std::move(body);
        r.headers.emplace_back("Content-Type", "application/json");
        return r;
    }
};

using script = std::function<reply(request_record const&)>;

struct server_options {
    bool tls = true;
    payouts_tools::pki_options pki{};
    /// Called with the server's TLS context after the certificate is loaded (protocol versions,
    /// security level, ciphers).
    std::function<void(net::ssl::context&)> tls_setup{};
};

class server {
public:
    server(net::io_context& ioc, script s, server_options o = {})
        : ioc_(ioc)
        , script_(std::move(s))
        , tls_(o.tls)
        , pki_(payouts_tools::make_test_pki(o.pki))
        , ctx_(net::ssl::context::tls_server)
        , acceptor_(ioc) {
        ctx_.use_certificate_chain(net::buffer(pki_.leaf.cert_pem));
        ctx_.use_private_key(net::buffer(pki_.leaf.key_pem), net::ssl::context::pem);
        if (o.tls_setup) o.tls_setup(ctx_);
        tcp::endpoint ep(net::ip::make_address("127.0.0.1"), 0);
        acceptor_.open(ep.protocol());
        acceptor_.set_option(net::socket_base::reuse_address(true));
        acceptor_.bind(ep);
        acceptor_.listen(1024);
        port_ = acceptor_.local_endpoint().port();
        net::co_spawn(ioc_, accept_loop(), net::detached);
    }
    ~server() { stop(); }
    server(server const&) = delete;
    server& operator=(server const&) = delete;

    std::uint16_t port() const noexcept { return port_; }

    /// "https://127.0.0.1:PORT" + prefix (or another host name for the same socket).
    std::string url(std::string_view prefix = "", std::string_view host = "127.0.0.1") const {
        return std::string(tls_ ? "https://" : "http://") + std::string(host) + ":" +
               std::to_string(port_) + std::string(prefix);
    }

    /// The CA that signed this server's certificate (public part only).
    std::string const& ca_pem() const noexcept { return pki_.ca.cert_pem; }

    /// Closes the listener and every connection; stalled answers end.
    void stop() {
        boost::system::error_code ec;
        acceptor_.close(ec);
        for (auto& s : sessions_) {
            s.tcp->close();
            s.timer->cancel();
        }
    }

    std::vector<request_record> requests;
    std::size_t connections = 0;       // TCP connections accepted
    std::size_t most_open = 0;         // the most connections open at once
    std::size_t handshakes = 0;        // TLS handshakes completed
    std::size_t failed_handshakes = 0; // TLS handshakes the client broke off
    std::size_t closed_by_client = 0;  // connections the client closed (EOF or reset)
    std::size_t bytes_sent = 0;        // answer bytes written by misbehaving (trickle, cut) replies

private:
    struct session_ctl {
        beast::tcp_stream* tcp;
        net::steady_timer* timer;
    };

    net::awaitable<void> accept_loop() {
        for (;;) {
            auto [ec, sock] = co_await acceptor_.async_accept(net::as_tuple(net::use_awaitable));
            if (ec) co_return;
            ++connections;
            net::co_spawn(ioc_, session(std::move(sock), connections), net::detached);
            most_open = std::max(most_open, sessions_.size());
        }
    }

    net::awaitable<void> session(tcp::socket sock, std::size_t id) {
        net::steady_timer timer(ioc_);
        if (tls_) {
            beast::ssl_stream<beast::tcp_stream> s(std::move(sock), ctx_);
            auto it = sessions_.insert(sessions_.end(), {&s.next_layer(), &timer});
            s.next_layer().expires_after(std::chrono::seconds(10));
            auto [ec] = co_await s.async_handshake(net::ssl::stream_base::server,
                                                   net::as_tuple(net::use_awaitable));
            s.next_layer().expires_never();
            if (ec) {
                ++failed_handshakes;
            } else {
                ++handshakes;
                co_await serve(s, timer, id);
            }
            s.next_layer().close();
            sessions_.erase(it);
        } else {
            beast::tcp_stream s(std::move(sock));
            auto it = sessions_.insert(sessions_.end(), {&s, &timer});
            co_await serve(s, timer, id);
            s.close();
            sessions_.erase(it);
        }
    }

    template <class Stream>
    net::awaitable<void> serve(Stream& stream, net::steady_timer& timer, std::size_t id) {
        beast::flat_buffer buf;
        for (;;) {
            http::request_parser<http::string_body> p;
            p.body_limit(16 * 1024 * 1024);
            auto [ec, n] =
                co_await http::async_read(stream, buf, p, net::as_tuple(net::use_awaitable));
            if (ec) {
                if (ec == http::error::end_of_stream || ec == net::error::eof ||
                    ec == net::error::connection_reset || ec == net::ssl::error::stream_truncated)
                    ++closed_by_client;
                co_return;
            }
            auto const& req = p.get();
            request_record rec;
            rec.method = std::string(req.method_string());
            rec.target = std::string(req.target());
            for (auto const& f : req)
                rec.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
            rec.body = req.body();
            rec.connection = id;
            requests.push_back(rec);
            reply r = script_(rec);
            if (r.delay.count() > 0) {
                timer.expires_after(r.delay);
                co_await timer.async_wait(net::as_tuple(net::use_awaitable));
            }
            if (r.stall) {
                // Never answer; a read notices when the client gives up and closes (or the
                // server stops and closes the socket).
                char byte;
                for (;;) {
                    auto [rec2, rn] = co_await stream.async_read_some(
                        net::buffer(&byte, 1), net::as_tuple(net::use_awaitable));
                    if (rec2) {
                        if (rec2 != net::error::operation_aborted) ++closed_by_client;
                        co_return;
                    }
                }
            }
            if (r.drop) co_return;
            if (r.trickle.count() > 0 || r.cut_at != std::numeric_limits<std::size_t>::max()) {
                if (!co_await misbehave(stream, timer, r)) co_return;
            } else if (!r.raw.empty()) {
                auto [wec, wn] = co_await net::async_write(stream, net::buffer(r.raw),
                                                           net::as_tuple(net::use_awaitable));
                if (wec) co_return;
            } else {
                http::response<http::string_body> res{http::status(r.status), 11};
                res.result(r.status);
                for (auto const& [hn, hv] : r.headers)
                    res.insert(hn, hv);
                res.body() = r.body;
                if (r.chunked)
                    res.chunked(true);
                else
                    res.prepare_payload();
                auto [wec, wn] =
                    co_await http::async_write(stream, res, net::as_tuple(net::use_awaitable));
                if (wec) co_return;
            }
            if (r.close) co_return;
        }
    }

    // The answer of `r` in pieces and/or cut short; false when the connection is finished.
    template <class Stream>
    net::awaitable<bool> misbehave(Stream& stream, net::steady_timer& timer, reply const& r) {
        std::string wire = r.raw;
        if (wire.empty()) {
            http::response<http::string_body> res{http::status(r.status), 11};
            res.result(r.status);
            for (auto const& [hn, hv] : r.headers)
                res.insert(hn, hv);
            res.body() = r.body;
            if (r.chunked)
                res.chunked(true);
            else
                res.prepare_payload();
            std::ostringstream os;
            os << res;
            wire = os.str();
        }
        bool const cut = r.cut_at < wire.size();
        if (cut) wire.resize(r.cut_at);
        std::size_t const piece = r.trickle.count() > 0 ? std::max<std::size_t>(r.trickle_bytes, 1)
                                                        : std::max<std::size_t>(wire.size(), 1);
        for (std::size_t at = 0; at < wire.size(); at += piece) {
            if (at > 0 && r.trickle.count() > 0) {
                timer.expires_after(r.trickle);
                auto [tec] = co_await timer.async_wait(net::as_tuple(net::use_awaitable));
                if (tec) co_return false;
            }
            auto const n = std::min(piece, wire.size() - at);
            auto [wec, wn] = co_await net::async_write(stream, net::buffer(wire.data() + at, n),
                                                       net::as_tuple(net::use_awaitable));
            if (wec) {
                if (wec != net::error::operation_aborted) ++closed_by_client;
                co_return false;
            }
            bytes_sent += wn;
        }
        if (!cut) co_return !r.close;
        auto& sock = beast::get_lowest_layer(stream).socket();
        boost::system::error_code ignored;
        switch (r.after_cut) {
        case reply::cut_action::close:
            co_return false;
        case reply::cut_action::reset:
            sock.set_option(net::socket_base::linger(true, 0), ignored);
            sock.close(ignored);
            co_return false;
        case reply::cut_action::stall:
            break;
        }
        char byte;
        for (;;) {
            auto [rec, rn] = co_await stream.async_read_some(net::buffer(&byte, 1),
                                                             net::as_tuple(net::use_awaitable));
            if (rec) {
                if (rec != net::error::operation_aborted) ++closed_by_client;
                co_return false;
            }
        }
    }

    net::io_context& ioc_;
    script script_;
    bool tls_;
    payouts_tools::test_pki pki_;
    net::ssl::context ctx_;
    tcp::acceptor acceptor_;
    std::uint16_t port_ = 0;
    std::list<session_ctl> sessions_;
};

} // namespace test_support
