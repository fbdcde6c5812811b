// Keep-alive connections per origin (scheme, host, port), handed out as leases.
#pragma once

#include <payouts/error.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace payouts::detail {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;
using steady = std::chrono::steady_clock;

// One connection: a TCP socket, and Asio's TLS stream over it once TLS starts (plaintext
// loopback URLs, and the proxy's CONNECT before TLS, use the socket alone). The fetch's own
// timer bounds its I/O (io_job::limit_io): Beast's tcp_stream, whose timers and rate limit
// would go unused, would add a layer to every read and write.
struct connection {
    explicit connection(net::any_io_executor ex)
        : plain(std::move(ex)) {}

    tcp::socket plain; // moved into `tls` by start_tls
    std::optional<net::ssl::stream<tcp::socket>> tls;
    beast::flat_buffer buffer; // bytes read beyond the last message stay here
    steady::time_point idle_since{};

    tcp::socket& socket() noexcept { return tls ? tls->next_layer() : plain; }
    void start_tls(net::ssl::context& ctx) { tls.emplace(std::move(plain), ctx); }

    // Closing the socket ends whatever is pending on it (operation_aborted). A client that drops
    // a connection owes the server no TLS close_notify.
    void close() noexcept {
        error_code ignored;
        socket().shutdown(tcp::socket::shutdown_both, ignored);
        socket().close(ignored);
    }
};

// A coroutine waiting for what another hands over (a connection, an OAuth token) sleeps on its
// own timer until its deadline; the giver sets `woken` and cancels that timer.
struct waiter {
    explicit waiter(net::steady_timer& t) noexcept
        : timer(&t) {}
    net::steady_timer* timer;
    bool woken = false;
    std::unique_ptr<connection> handed; // from the pool: a connection, or null for a free slot
};

class waiter_list {
public:
    void remove(waiter& w) { std::erase(q_, &w); }
    waiter* wake_one() {
        if (q_.empty()) return nullptr;
        waiter* w = q_.front();
        q_.pop_front();
        w->woken = true;
        w->timer->cancel();
        return w;
    }
    void wake_all() {
        while (wake_one()) {
        }
    }

    // Waits in the list until woken (true), the deadline or the timer's cancellation (false).
    net::awaitable<bool> wait(waiter& w, steady::time_point deadline) {
        struct leave { // also when the coroutine is destroyed while waiting
            waiter_list& l;
            waiter& w;
            ~leave() { l.remove(w); }
        } guard{*this, w};
        w.woken = false;
        q_.push_back(&w);
        w.timer->expires_at(deadline);
        error_code ignored;
        co_await w.timer->async_wait(net::redirect_error(net::use_awaitable, ignored));
        co_return w.woken;
    }

private:
    std::deque<waiter*> q_;
};

class connection_pool {
    struct origin {
        std::vector<std::unique_ptr<connection>> idle; // most recently used last
        std::size_t open = 0;                          // idle and leased together
        waiter_list waiters;
    };

public:
    struct limits {
        std::size_t max_idle = 8;
        std::size_t max_open = 32; // 0: no limit
        steady::duration idle_timeout = std::chrono::seconds(30);
    };

    /// \brief The right to use one connection slot of an origin: `conn` is a cached keep-alive
    /// connection, or null for a new one the holder connects. Destroying the lease gives a
    /// clean keep-alive connection back (to a waiter first) and closes anything else.
    class lease {
    public:
        lease() = default;
        lease(lease&& o) noexcept
            : conn(std::move(o.conn))
            , reused(o.reused)
            , keep_alive(o.keep_alive)
            , pool_(std::exchange(o.pool_, nullptr))
            , origin_(o.origin_) {}
        lease& operator=(lease&&) = delete;
        ~lease() {
            if (pool_) pool_->release(*origin_, std::move(conn), keep_alive);
        }

        explicit operator bool() const noexcept { return pool_ != nullptr; }

        std::unique_ptr<connection> conn;
        bool reused = false;     // conn came from the cache
        bool keep_alive = false; // set once a response ended cleanly and may be followed

    private:
        friend class connection_pool;
        lease(connection_pool* p, origin* o)
            : pool_(p)
            , origin_(o) {}
        connection_pool* pool_ = nullptr;
        origin* origin_ = nullptr;
    };

    explicit connection_pool(limits l)
        : limits_(l) {}

    /// A lease on `key`'s connections: a fresh idle one, a slot for a new one, or one handed
    /// over by a lease ending, waited for on `timer` until `deadline`. An empty lease when the
    /// wait ended first (the deadline, or the timer cancelled).
    net::awaitable<lease> acquire(std::string const& key, net::steady_timer& timer,
                                  steady::time_point deadline) {
        auto& o = origins_[key];
        while (!o.idle.empty()) {
            auto c = std::move(o.idle.back());
            o.idle.pop_back();
            if (steady::now() - c->idle_since < limits_.idle_timeout) {
                lease l(this, &o);
                l.conn = std::move(c);
                l.reused = true;
                co_return l;
            }
            c->close();
            --o.open;
        }
        if (limits_.max_open == 0 || o.open < limits_.max_open) {
            ++o.open;
            co_return lease(this, &o);
        }
        waiter w(timer);
        bool const woken = co_await o.waiters.wait(w, deadline);
        if (!woken) co_return lease();
        lease l(this, &o);
        l.conn = std::move(w.handed);
        l.reused = l.conn != nullptr;
        co_return l;
    }

    void close_idle() {
        for (auto& [key, o] : origins_) {
            for (auto& c : o.idle)
                c->close();
            o.open -= o.idle.size();
            o.idle.clear();
        }
    }

    // After the client is gone: connections that come back are closed.
    void shutdown() {
        closed_ = true;
        close_idle();
    }

    std::size_t idle_count() const noexcept {
        std::size_t n = 0;
        for (auto const& [key, o] : origins_)
            n += o.idle.size();
        return n;
    }

private:
    void release(origin& o, std::unique_ptr<connection> c, bool keep_alive) {
        if (c && keep_alive && !closed_) {
            if (waiter* w = o.waiters.wake_one()) {
                w->handed = std::move(c);
                return;
            }
            if (o.idle.size() < limits_.max_idle) {
                c->idle_since = steady::now();
                o.idle.push_back(std::move(c));
                return;
            }
        }
        if (c) c->close();
        if (!o.waiters.wake_one()) --o.open; // else the slot passes on to the waiter
    }

    limits limits_;
    bool closed_ = false;
    std::unordered_map<std::string, origin> origins_;
};

} // namespace payouts::detail
