// Keep-alive connections, cached per origin (scheme, host, port).
#pragma once

#include <payouts/detail/tls_stream.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace payouts::detail {

namespace net = boost::asio;
namespace beast = boost::beast;

// One transport connection: a socket, and for HTTPS a TLS session on it. HTTPS and plaintext
// share one type so the exchange op is instantiated once. No per-operation timers here: the
// exchange bounds each phase with one watchdog that closes the connection.
class connection {
public:
    using executor_type = net::any_io_executor;
    using socket_type = net::ip::tcp::socket;

    connection(executor_type ex, std::size_t buffer_max)
        : sock_(std::move(ex))
        , buffer(buffer_max) {}

    executor_type get_executor() noexcept { return sock_.get_executor(); }
    socket_type& socket() noexcept { return sock_; }
    bool is_tls() const noexcept { return tls_.native_handle() != nullptr; }
    // HTTPS connections only, after start_tls.
    SSL* tls_handle() const noexcept { return tls_.native_handle(); }

    /// Once connected: the socket's own calls (try_write, OpenSSL's) must never block.
    error_code set_non_blocking() {
        error_code ec;
        sock_.non_blocking(true, ec);
        return ec;
    }

    /// Starts a client TLS session on the connected socket (before async_handshake).
    error_code start_tls(SSL_CTX* ctx) { return tls_.attach(ctx, sock_); }

    /// Writes what the socket (or the TLS record layer) takes now, without waiting: a request
    /// almost always fits a socket's send buffer whole, and written here it costs no posted
    /// completion and no extra pass of the event loop. The rest, if any, goes by async_write.
    std::size_t try_write(net::const_buffer b, error_code& ec) {
        ec = {};
        if (is_tls()) {
            std::size_t n = 0; // ec is set only when the write failed
            tls_.attempt(tls_session::kind::write,
                         net::mutable_buffer(const_cast<void*>(b.data()), b.size()), false, n, ec);
            return n;
        }
        auto const n = sock_.write_some(b, ec);
        if (ec == net::error::would_block || ec == net::error::try_again) ec = {};
        return n;
    }

    template <class Token>
    auto async_handshake(Token&& token) {
        return async_tls_io(tls_, sock_, tls_session::kind::handshake, {},
                            std::forward<Token>(token));
    }

    template <class MutableBuffers, class Token>
    auto async_read_some(MutableBuffers const& b, Token&& token) {
        return net::async_initiate<Token, void(error_code, std::size_t)>(
            [this](auto handler, MutableBuffers const& bufs) {
                if (is_tls())
                    async_tls_io(tls_, sock_, tls_session::kind::read, first_buffer(bufs),
                                 std::move(handler));
                else
                    sock_.async_read_some(bufs, std::move(handler));
            },
            token, b);
    }

    template <class ConstBuffers, class Token>
    auto async_write_some(ConstBuffers const& b, Token&& token) {
        return net::async_initiate<Token, void(error_code, std::size_t)>(
            [this](auto handler, ConstBuffers const& bufs) {
                if (is_tls())
                    async_tls_io(tls_, sock_, tls_session::kind::write, first_buffer(bufs),
                                 std::move(handler));
                else
                    sock_.async_write_some(bufs, std::move(handler));
            },
            token, b);
    }

    // Closing the socket (not a TLS shutdown) is enough for a client that discards the
    // connection, and it also aborts whatever is pending on it. The TLS session lets go of
    // the descriptor first: its number is free for reuse from here on.
    void close() noexcept {
        tls_.detach();
        boost::system::error_code ec;
        sock_.shutdown(socket_type::shutdown_both, ec);
        sock_.close(ec);
    }

private:
    socket_type sock_;
    tls_session tls_;

public:
    // Reused for every response on this connection: its capacity stays, so a keep-alive fetch
    // does not allocate a read buffer.
    beast::flat_buffer buffer;
    std::chrono::steady_clock::time_point idle_since{};
};

// A fetch waiting for something another operation hands over (a connection slot, an OAuth
// token). It waits on its own timer; the hand-over cancels that timer.
class waiter_queue;
struct waiter {
    net::steady_timer* timer = nullptr;
    bool woken = false;
    waiter_queue* queue = nullptr; // where it waits, if anywhere
};

class waiter_queue {
public:
    void push(waiter& w) {
        w.woken = false;
        w.queue = this;
        q_.push_back(&w);
    }
    void remove(waiter& w) {
        if (w.queue != this) return;
        auto const it = std::find(q_.begin(), q_.end(), &w);
        if (it != q_.end()) q_.erase(it);
        w.queue = nullptr;
    }
    bool wake_one() {
        if (q_.empty()) return false;
        waiter* w = q_.front();
        q_.pop_front();
        w->queue = nullptr;
        w->woken = true;
        w->timer->cancel();
        return true;
    }
    void wake_all() {
        while (wake_one()) {
        }
    }
    bool empty() const noexcept { return q_.empty(); }

private:
    std::deque<waiter*> q_;
};

// The connections of one origin: idle ones (most recently used last) and how many are open
// (idle or in use), for the per-host limit.
struct host_pool {
    std::vector<std::unique_ptr<connection>> idle;
    std::size_t open = 0;
    waiter_queue waiters;
};

class connection_pool {
public:
    struct limits {
        std::size_t max_idle = 8;
        std::size_t max_open = 0; // 0: no limit
        std::chrono::steady_clock::duration idle_timeout = std::chrono::seconds(30);
    };

    explicit connection_pool(limits l)
        : limits_(l) {}

    host_pool& host(std::string const& origin) { return hosts_[origin]; }

    // An idle connection if one is fresh enough, else null. Stale ones are closed on the way.
    std::unique_ptr<connection> take_idle(host_pool& h) {
        auto const now = std::chrono::steady_clock::now();
        while (!h.idle.empty()) {
            auto c = std::move(h.idle.back());
            h.idle.pop_back();
            if (now - c->idle_since < limits_.idle_timeout) return c;
            c->close();
            --h.open;
        }
        return nullptr;
    }

    // Reserves a slot for a new connection; false when the host is at its limit.
    bool reserve_new(host_pool& h) {
        if (limits_.max_open != 0 && h.open >= limits_.max_open) return false;
        ++h.open;
        return true;
    }

    // A clean keep-alive connection comes back; beyond the idle limit (or after shutdown) it
    // is closed instead.
    void give_back(host_pool& h, std::unique_ptr<connection> c) {
        if (!closed_ && h.idle.size() < limits_.max_idle) {
            c->idle_since = std::chrono::steady_clock::now();
            h.idle.push_back(std::move(c));
        } else {
            c->close();
            --h.open;
        }
        h.waiters.wake_one();
    }

    // A connection that failed, timed out, was cancelled or was not keep-alive.
    void discard(host_pool& h, std::unique_ptr<connection> c) {
        if (c) c->close();
        --h.open;
        h.waiters.wake_one();
    }

    // A reserved slot released without a connection ever being handed out.
    void unreserve(host_pool& h) {
        --h.open;
        h.waiters.wake_one();
    }

    void close_idle() {
        for (auto& [origin, h] : hosts_) {
            for (auto& c : h.idle) {
                c->close();
                --h.open;
            }
            h.idle.clear();
            h.waiters.wake_all();
        }
    }

    void shutdown() {
        closed_ = true;
        close_idle();
    }

    std::size_t idle_count() const {
        std::size_t n = 0;
        for (auto const& [origin, h] : hosts_)
            n += h.idle.size();
        return n;
    }

    limits const& get_limits() const noexcept { return limits_; }

private:
    limits limits_;
    bool closed_ = false;
    std::unordered_map<std::string, host_pool> hosts_;
};

} // namespace payouts::detail
