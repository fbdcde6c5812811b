// The network half: an acceptor on 127.0.0.1 and one session per connection, plain or TLS,
// carrying out the sandbox's decisions. Everything runs on one io_context thread.
#pragma once

#include "log.hpp"
#include "sandbox.hpp"
#include "webhooks.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <array>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>

namespace payouts_sandbox {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

/// What every connection shares. Outlives the io_context's handlers that use it.
struct server_context {
    sandbox& logic;
    request_log& log;
    options const& opts;
    ssl::context* tls;        ///< nullptr: plaintext
    webhook_sender* webhooks; ///< nullptr: no --webhook-url
};

/// The target as logged: the path, with any query string redacted (keys sometimes travel
/// there, even though none of the five APIs asks for it).
inline std::string loggable_target(std::string_view target) {
    auto q = target.find('?');
    if (q == std::string_view::npos) return std::string(target);
    return std::string(target.substr(0, q)) + "?[redacted]";
}

template <class Stream>
class session : public std::enable_shared_from_this<session<Stream>> {
    static constexpr bool is_tls = !std::is_same_v<Stream, beast::tcp_stream>;

public:
    session(tcp::socket socket, server_context& ctx)
        : stream_(make_stream(std::move(socket), ctx))
        , ctx_(ctx)
        , timer_(stream_.get_executor()) {}

    void start() {
        if constexpr (is_tls) {
            // As long as an idle connection may last: under a herd of new connections the
            // handshakes queue behind each other (about 0.5 ms of CPU each with OpenSSL 3.0).
            tcp_layer().expires_after(ctx_.opts.idle_timeout);
            stream_.async_handshake(
                ssl::stream_base::server,
                beast::bind_front_handler(&session::on_handshake, this->shared_from_this()));
        } else {
            read();
        }
    }

private:
    static Stream make_stream(tcp::socket socket, server_context& ctx) {
        if constexpr (is_tls)
            return Stream(std::move(socket), *ctx.tls);
        else
            return Stream(std::move(socket));
    }

    beast::tcp_stream& tcp_layer() { return beast::get_lowest_layer(stream_); }

    void on_handshake(error_code ec) {
        if (ec) {
            ctx_.log.line("- - tls-handshake-failed: " + ec.message());
            return;
        }
        read();
    }

    void read() {
        parser_.emplace();
        parser_->header_limit(16 * 1024);
        parser_->body_limit(64 * 1024);
        tcp_layer().expires_after(ctx_.opts.idle_timeout);
        beast::http::async_read(
            stream_, buffer_, *parser_,
            beast::bind_front_handler(&session::on_read, this->shared_from_this()));
    }

    void on_read(error_code ec, std::size_t) {
        if (ec) {
            // A malformed request gets an answer; a closed, reset or idle connection does not.
            bool parse_error =
                ec.category() ==
                    beast::http::make_error_code(beast::http::error::bad_target).category() &&
                ec != beast::http::error::end_of_stream &&
                ec != beast::http::error::partial_message;
            if (!parse_error) return;
            method_ = "-";
            target_ = "-";
            started_ = steady::now();
            d_ = decision{};
            d_.rep.status = ec == beast::http::error::body_limit     ? 413
                            : ec == beast::http::error::header_limit ? 431
                                                                     : 400;
            d_.rep.content_type = "text/plain";
            d_.rep.set_body("payouts-sandbox: bad request: " + ec.message() + "\n");
            d_.close = true;
            d_.note = "bad-request";
            write();
            return;
        }
        auto const& req = parser_->get();
        method_ = std::string(req.method_string());
        target_ = loggable_target(req.target());
        keep_alive_ = req.keep_alive();
        started_ = steady::now();
        d_ = ctx_.logic.handle(req, started_);
        if (d_.delay.count() > 0) {
            timer_.expires_after(d_.delay);
            timer_.async_wait(beast::bind_front_handler(&session::act, this->shared_from_this()));
        } else {
            act({});
        }
    }

    void act(error_code ec) {
        if (ec) return; // shutting down
        switch (d_.what) {
        case action::reset: {
            log("reset");
            error_code ignored;
            tcp_layer().socket().set_option(asio::socket_base::linger(true, 0), ignored);
            tcp_layer().socket().close(ignored); // with linger 0: RST, not FIN
            return;
        }
        case action::stall:
            log("stall");
            tcp_layer().expires_never();
            stall();
            return;
        case action::respond:
            // A moving payout's stage is the one current now, after any slow- delay.
            ctx_.logic.settle(d_, steady::now());
            write();
            return;
        }
    }

    /// Reads and discards until the client gives up; never answers.
    void stall() {
        stream_.async_read_some(asio::buffer(discard_),
                                [self = this->shared_from_this()](error_code ec, std::size_t) {
                                    if (!ec) self->stall();
                                });
    }

    void write() {
        reply const& r = d_.rep;
        std::string_view body = r.body();
        close_ = d_.close || !keep_alive_;
        head_.clear();
        head_ += "HTTP/1.1 ";
        head_ += std::to_string(r.status);
        head_ += ' ';
        head_ += beast::http::obsolete_reason(static_cast<beast::http::status>(r.status));
        head_ += "\r\nServer: payouts-sandbox\r\n";
        if (!r.content_type.empty()) {
            head_ += "Content-Type: ";
            head_ += r.content_type;
            head_ += "\r\n";
        }
        head_ += "Content-Length: ";
        head_ += std::to_string(body.size());
        head_ += "\r\n";
        for (auto const& [name, value] : r.headers) {
            head_ += name;
            head_ += ": ";
            head_ += value;
            head_ += "\r\n";
        }
        if (close_) head_ += "Connection: close\r\n";
        head_ += "\r\n";
        // One contiguous buffer: the copy is cheap next to TLS, and Boost 1.81's ssl_stream
        // stops after the first element of a std::array<const_buffer, 2> whose second element
        // is larger than 16 KiB (async_write completes early, without an error).
        head_.append(body.data(), std::min(body.size(), d_.send_limit));
        tcp_layer().expires_after(std::chrono::seconds(30));
        asio::async_write(stream_, asio::buffer(head_),
                          beast::bind_front_handler(&session::on_write, this->shared_from_this()));
    }

    void on_write(error_code ec, std::size_t) {
        std::string status = std::to_string(d_.rep.status);
        if (d_.send_limit < d_.rep.body().size()) status += "(truncated)";
        if (ec) status += "(write failed: " + ec.message() + ")";
        log(status);
        // After the answer: the event of stage k follows the answer that showed stage k.
        if (d_.served && ctx_.webhooks) ctx_.webhooks->served(*d_.served);
        if (ec) return;
        ++served_;
        if (close_) return shutdown();
        // --close-after: the response promised keep-alive; the connection goes anyway, like
        // a server's idle close racing the client's next request.
        if (ctx_.opts.close_after && served_ >= ctx_.opts.close_after) return shutdown();
        read();
    }

    void shutdown() {
        if constexpr (is_tls) {
            tcp_layer().expires_after(std::chrono::seconds(5));
            stream_.async_shutdown([self = this->shared_from_this()](error_code) {});
        } else {
            error_code ignored;
            tcp_layer().socket().shutdown(tcp::socket::shutdown_send, ignored);
        }
    }

    void log(std::string_view status) {
        if (!ctx_.log.enabled()) return;
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - started_);
        std::string line;
        line.reserve(128);
        line += method_;
        line += ' ';
        line += target_;
        line += ' ';
        line += status;
        line += ' ';
        line += std::to_string(ms.count());
        line += "ms ";
        line += d_.note;
        ctx_.log.line(line);
    }

    Stream stream_;
    server_context& ctx_;
    asio::steady_timer timer_;
    beast::flat_buffer buffer_;
    std::optional<beast::http::request_parser<beast::http::string_body>> parser_;
    decision d_;
    std::string head_;
    std::string method_, target_;
    steady::time_point started_{};
    std::uint64_t served_ = 0;
    bool keep_alive_ = true;
    bool close_ = false;
    std::array<char, 512> discard_{};
};

/// Accepts connections on 127.0.0.1 and starts a session for each.
class listener {
public:
    listener(asio::io_context& ioc, std::uint16_t port, server_context& ctx)
        : ioc_(ioc)
        , acceptor_(ioc)
        , retry_(ioc)
        , ctx_(ctx) {
        tcp::endpoint ep(asio::ip::make_address_v4("127.0.0.1"), port);
        acceptor_.open(ep.protocol());
        acceptor_.set_option(asio::socket_base::reuse_address(true));
        acceptor_.bind(ep);
        acceptor_.listen(asio::socket_base::max_listen_connections);
        acceptor_.non_blocking(true); // for draining the backlog in accept(), never blocking
    }

    std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

    void start() { accept(); }

    void stop() {
        error_code ignored;
        acceptor_.close(ignored);
        retry_.cancel();
    }

private:
    void accept() {
        acceptor_.async_accept(ioc_, [this](error_code ec, tcp::socket socket) {
            if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
            if (ec) {
                // Out of descriptors (or similar): wait a little rather than spin.
                ctx_.log.line("- - accept failed: " + ec.message());
                retry_.expires_after(std::chrono::milliseconds(50));
                retry_.async_wait([this](error_code e) {
                    if (!e) accept();
                });
                return;
            }
            launch(std::move(socket));
            // Under load one accept per wake-up starves the backlog while handshakes keep the
            // loop busy: take what is already queued, without blocking.
            for (int i = 0; i < 256; ++i) {
                tcp::socket more(ioc_);
                acceptor_.accept(more, ec);
                if (ec) break;
                launch(std::move(more));
            }
            accept();
        });
    }

    void launch(tcp::socket socket) {
        error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        if (ctx_.tls)
            std::make_shared<session<beast::ssl_stream<beast::tcp_stream>>>(std::move(socket), ctx_)
                ->start();
        else
            std::make_shared<session<beast::tcp_stream>>(std::move(socket), ctx_)->start();
    }

    asio::io_context& ioc_;
    tcp::acceptor acceptor_;
    asio::steady_timer retry_;
    server_context& ctx_;
};

} // namespace payouts_sandbox
