// One HTTP request/response exchange on a cached or new connection: the transport half of a
// fetch (and of an OAuth token request).
#pragma once

#include <payouts/client.hpp>
#include <payouts/detail/connection_cache.hpp>
#include <payouts/detail/request.hpp>
#include <payouts/detail/tls.hpp>
#include <payouts/error.hpp>

#include <boost/asio/compose.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/coroutine.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/read_size.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/optional/optional.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <memory_resource>
#include <optional>
#include <string>
#include <tuple>

namespace payouts::detail {

namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;
using steady = std::chrono::steady_clock;

enum class abort_reason { none, cancelled, deadline };

// A response body as one std::string, appended to as it arrives. Beast's string_body resizes
// (zero-filling) before it copies each piece in: about 2 300 instructions for a 2.3 KB body,
// nearly 4% of a keep-alive fetch's own work. Only reading is needed; nothing here writes a
// response.
struct response_body {
    using value_type = std::string;

    static std::uint64_t size(value_type const& v) noexcept { return v.size(); }

    class reader {
    public:
        template <bool isRequest, class Fields>
        reader(http::header<isRequest, Fields>&, value_type& b) noexcept
            : body_(b) {}

        // The parser has already held a declared length against its body limit.
        void init(boost::optional<std::uint64_t> const& length, error_code& ec) {
            if (length) {
                if (*length > body_.max_size()) {
                    ec = http::error::buffer_overflow;
                    return;
                }
                body_.reserve(static_cast<std::size_t>(*length));
            }
            ec = {};
        }

        template <class ConstBufferSequence>
        std::size_t put(ConstBufferSequence const& buffers, error_code& ec) {
            std::size_t n = 0;
            for (auto const b : boost::beast::buffers_range_ref(buffers)) {
                if (b.size() > body_.max_size() - body_.size()) {
                    ec = http::error::buffer_overflow;
                    return n;
                }
                body_.append(static_cast<char const*>(b.data()), b.size());
                n += b.size();
            }
            ec = {};
            return n;
        }

        void finish(error_code& ec) noexcept { ec = {}; }

    private:
        value_type& body_;
    };
};

// A response's header fields live in its exchange's arena (response_arena), not in one heap
// allocation per field: Beast's basic_fields allocates every field it parses, 10 to 20 of them
// for a real provider's response.
using response_fields = http::basic_fields<std::pmr::polymorphic_allocator<char>>;
using response_type = http::response<response_body, response_fields>;
using response_parser = http::response_parser<response_body, response_fields::allocator_type>;

// Room for a typical header's fields (about 48 bytes of bookkeeping plus the text per field);
// a larger header continues on the heap, in a few growing blocks. Reused for every response of
// an exchange: release() hands it back whole, so the parser using it must be gone first.
struct response_arena {
    response_arena() = default;
    response_arena(response_arena const&) = delete;
    response_arena& operator=(response_arena const&) = delete;

    alignas(std::max_align_t) std::byte bytes[1024];
    std::pmr::monotonic_buffer_resource resource{bytes, sizeof bytes,
                                                 std::pmr::new_delete_resource()};
};

// A new parser for the next response on `a` (the previous parser and its fields go first): the
// client's limits, and eager, so that the body is parsed as far as it came with the header and
// a response read whole by the header read needs no second read.
inline void start_response(std::optional<response_parser>& p, response_arena& a,
                           std::uint64_t body_limit, std::uint32_t header_limit) {
    p.reset();
    a.resource.release();
    p.emplace(std::piecewise_construct, std::make_tuple(),
              std::make_tuple(response_fields::allocator_type(&a.resource)));
    p->body_limit(body_limit);
    p->header_limit(header_limit);
    p->eager(true);
}

// The pure steps of reading a response, kept apart from the socket so that
// fuzz/fuzz_http_response.cpp drives them over in-memory bytes as exchange_op does.

// Our callers' codes for a failed read: the parser's limits and a full read buffer are
// errc::body_too_large, the stream's own timeout errc::timeout; the rest passes unchanged.
inline error_code transport_error(error_code ec) {
    if (ec == boost::beast::error::timeout) return errc::timeout;
    if (ec == http::error::body_limit || ec == http::error::header_limit ||
        ec == http::error::buffer_overflow)
        return errc::body_too_large;
    return ec;
}

// Interim 1xx responses (103 Early Hints; we never send Expect: 100-continue) come before the
// real one on the same connection. A few are skipped; a server sending more gets its next
// response taken as the answer, so a stream of them cannot hold the fetch.
inline constexpr int max_interim_responses = 4;

inline bool skip_interim(unsigned status, int skipped) noexcept {
    return status / 100 == 1 && skipped < max_interim_responses;
}

inline bool is_identity(std::string_view v) {
    return same_name(trim_ows(v), "identity");
}

// The transfer codings of a response, every Transfer-Encoding field taken as one list: exactly
// "chunked" (which the parser undoes) or nothing. Beast decides on chunked from the last coding
// alone, so "gzip, chunked" (or "chunked" with a stray byte after it) would leave a coding on
// the body that nobody removes.
inline bool only_chunked(response_fields const& f) {
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

// Checked once the header is in, before the body is read: an encoding we would have to undo
// (we asked for identity; repeated Content-Encoding fields form one list, so each counts), a
// transfer coding other than chunked, and a body whose end only the connection's end tells.
inline error_code refuse_before_body(response_parser const& p) {
    auto const [first, last] = p.get().equal_range(http::field::content_encoding);
    for (auto it = first; it != last; ++it)
        if (!it->value().empty() && !is_identity(it->value())) return errc::unsupported_encoding;
    if (!only_chunked(p.get())) return errc::unsupported_encoding;
    if (p.need_eof()) return errc::unsupported_encoding;
    return {};
}

// Reading a response: three pure steps around the connection's async_read_some, in place of
// Beast's async_read_header and async_read. Those run two composed operations per read, each
// tracking work on its own copy of the executor, and post a completion that is already known;
// here a read costs the connection's own operation only. fuzz/invariants.hpp drives the same
// steps over in-memory bytes.

// Feeds what `b` holds to `p`. True while `p` needs more bytes to end its header (header_only)
// or its whole message; false once it has, or on a parse error (in ec).
inline bool parse_buffered(response_parser& p, beast::flat_buffer& b, bool header_only,
                           error_code& ec) {
    auto const reached = [&] { return header_only ? p.is_header_done() : p.is_done(); };
    ec = {};
    while (!reached() && b.size() != 0) {
        auto const used = p.put(b.data(), ec);
        b.consume(used);
        if (ec == http::error::need_more) {
            ec = {};
            return true;
        }
        if (ec) return false;
        // Nothing taken and nothing wrong: the parser waits for more, like need_more.
        if (used == 0) return true;
    }
    return !reached();
}

// Whether the buffer can take another read; a full one (at its limit) is buffer_overflow.
inline bool room_to_read(beast::flat_buffer const& b, error_code& ec) {
    if (beast::read_size(b, 65536) != 0) return true;
    ec = http::error::buffer_overflow;
    return false;
}

// Where the next read goes: the buffer's spare capacity (at least 512 bytes), at most 64 KiB,
// never past its limit (so prepare cannot throw once room_to_read said yes).
inline net::mutable_buffer next_read(beast::flat_buffer& b) {
    return b.prepare(beast::read_size(b, 65536));
}

// Takes in a completed read of n bytes. The end of the stream ends the message if the parser
// says it may (it refuses a cut header or body with partial_message); before any byte of a
// response it is end_of_stream, which a stale keep-alive connection shows.
inline void take_read(response_parser& p, beast::flat_buffer& b, std::size_t n, error_code& ec) {
    b.commit(n);
    if (ec != net::error::eof) return;
    if (!p.got_some()) {
        ec = http::error::end_of_stream;
        return;
    }
    ec = {};
    p.put_eof(ec);
}

// State of exchanges run one after another by one owner (a fetch or a token request). It lives
// in the owner's shared state, so a cancellation handler can reach the socket and timers.
struct exchange_state {
    exchange_state(client_core& c)
        : core(c)
        , watchdog(c.ex) {}
    exchange_state(exchange_state const&) = delete;
    exchange_state& operator=(exchange_state const&) = delete;
    ~exchange_state() {
        if (w.queue) w.queue->remove(w);
        drop_connection();
    }

    client_core& core;
    net::steady_timer watchdog; // bounds the current phase (watch)
    tcp::resolver::results_type endpoints;
    waiter w;

    // The owner's waits (connection slot, token, backoff) and name resolution: made on first
    // use. A keep-alive fetch of an IP-literal URL needs neither, and each I/O object costs a
    // service lookup under the registry's lock to make and a lock of the scheduler to destroy.
    net::steady_timer& timer() {
        if (!timer_) {
            timer_.emplace(core.ex);
            w.timer = &*timer_;
        }
        return *timer_;
    }
    tcp::resolver& resolver() {
        if (!resolver_) resolver_.emplace(core.ex);
        return *resolver_;
    }
    void cancel_resolve() {
        if (resolver_) resolver_->cancel();
    }
    std::weak_ptr<exchange_state> weak; // set by the owner (the watchdog must not outlive us)

    // Where this exchange goes.
    base_url const* url = nullptr;
    host_pool* hp = nullptr;

    std::unique_ptr<connection> conn;
    bool reserved = false; // counts against the host's open connections
    bool reused = false;
    bool stale_retried = false;
    bool timed_out = false; // the watchdog fired during this exchange
    unsigned watch_generation = 0;
    int interim = 0;                       // 1xx responses skipped
    response_arena arena;                  // the fields of `parser`'s response: declared first,
    std::optional<response_parser> parser; // so that the parser goes first
    std::string wire;        // the request's bytes, written by the owner before each exchange
    std::size_t written = 0; // of wire, by connection::try_write
    steady::time_point deadline{};
    abort_reason aborted = abort_reason::none;
    char const* phase = "";

private:
    std::optional<net::steady_timer> timer_;
    std::optional<tcp::resolver> resolver_;

public:
    // Terminal: nothing this state runs may continue. Closing the socket makes pending
    // operations complete with operation_aborted; the connection is never reused.
    void abort(abort_reason r) {
        if (aborted == abort_reason::none) aborted = r;
        cancel_resolve();
        if (timer_) timer_->cancel();
        unwatch();
        if (conn) conn->close();
    }

    // One timer for every phase of an exchange (resolve, connect, handshake, then request and
    // response up to the deadline), re-armed per phase; Beast's tcp_stream would arm its timer
    // again for every read and write. At the limit the phase is ended the only way that
    // reaches every pending operation, by closing the connection (and cancelling the
    // resolver); the exchange then fails with timeout. A firing already queued when the phase
    // moved on is recognised by its generation and ignored.
    void watch(steady::time_point limit) {
        unsigned const g = ++watch_generation;
        watchdog.expires_at(limit);
        watchdog.async_wait([w = weak, g](error_code e) {
            if (e) return;
            auto s = w.lock();
            if (!s || s->watch_generation != g) return;
            s->timed_out = true;
            s->cancel_resolve();
            if (s->conn) s->conn->close();
        });
    }
    void unwatch() {
        ++watch_generation;
        watchdog.cancel();
    }

    void drop_connection() {
        if (!reserved) return;
        reserved = false;
        core.pool.discard(*hp, std::move(conn));
    }

    // Closes a stale connection but keeps its slot, for the one retry on a new connection.
    void retry_on_new_connection() {
        stale_retried = true;
        conn->close();
        conn.reset();
    }

    void release_connection(bool keep_alive) {
        if (!reserved) return;
        reserved = false;
        if (keep_alive && !core.shut_down)
            core.pool.give_back(*hp, std::move(conn));
        else
            core.pool.discard(*hp, std::move(conn));
    }

    error_code abort_error() const {
        return aborted == abort_reason::cancelled ? error_code(net::error::operation_aborted)
                                                  : error_code(errc::timeout);
    }

    // A stale keep-alive connection (closed by the server while idle) fails before any
    // response byte: worth one more try on a new connection, outside the attempt count.
    bool stale() const {
        return reused && !stale_retried && aborted == abort_reason::none && !timed_out &&
               steady::now() < deadline;
    }

    error_code map_error(error_code ec) const {
        if (aborted != abort_reason::none) return abort_error();
        if (timed_out) return errc::timeout;
        return transport_error(ec);
    }
};

#include <boost/asio/yield.hpp>

// Takes a connection (cached, new, or after waiting for a free slot), writes the request and
// reads the response into st.parser. Completes with error_code only; the response is in
// st.parser. A clean keep-alive connection goes back to the cache, anything else is closed.
struct exchange_op : net::coroutine {
    exchange_state& st;

    template <class Self>
    void operator()(Self& self, error_code ec = {}, std::size_t n = 0) {
        reenter(*this) {
            for (;;) {
                // A connection: a cached one, a new one, or wait until the host has a free slot.
                for (;;) {
                    if (st.aborted != abort_reason::none) return fail(self, {});
                    // After a stale connection the slot is still ours: a new connection, never
                    // another cached one (it may be just as stale).
                    if (st.reserved && !st.conn) break;
                    st.conn = st.core.pool.take_idle(*st.hp);
                    if (st.conn) {
                        st.reserved = true;
                        break;
                    }
                    if (st.core.pool.reserve_new(*st.hp)) {
                        st.reserved = true;
                        break;
                    }
                    st.phase = "waiting for a free connection";
                    st.timer().expires_at(st.deadline);
                    st.hp->waiters.push(st.w);
                    yield st.timer().async_wait(std::move(self));
                    st.hp->waiters.remove(st.w);
                    if (st.aborted != abort_reason::none) return fail(self, {});
                    if (!st.w.woken) return fail(self, errc::timeout);
                }
                st.reused = st.conn != nullptr;
                if (!st.conn) {
                    st.conn = std::make_unique<connection>(st.core.ex, st.core.read_buffer_max());
                    // Room for a typical answer in one read: a smaller buffer is read in
                    // pieces of its capacity, a system call each.
                    st.conn->buffer.reserve(4096);
                    st.phase = "connecting";
                    // Name resolution and connecting share the connect timeout.
                    st.watch(std::min(steady::now() + st.core.cfg.connect_timeout, st.deadline));
                    if (st.url->ip_literal) {
                        yield st.conn->socket().async_connect(
                            tcp::endpoint(net::ip::make_address(st.url->host), st.url->port),
                            std::move(self));
                    } else {
                        st.phase = "resolving the host name";
                        yield st.resolver().async_resolve(
                            st.url->host, std::to_string(st.url->port), std::move(self));
                        if (ec || st.timed_out) return fail(self, ec);
                        st.phase = "connecting";
                        // Once the watchdog has closed the socket no further address is tried.
                        yield net::async_connect(
                            st.conn->socket(), st.endpoints,
                            [s = &st](error_code const&, tcp::endpoint const&) {
                                return !s->timed_out && s->aborted == abort_reason::none;
                            },
                            std::move(self));
                    }
                    if (ec || st.timed_out) return fail(self, ec);
                    {
                        error_code ignored;
                        st.conn->socket().set_option(tcp::no_delay(true), ignored);
                    }
                    if (auto e = st.conn->set_non_blocking()) return fail(self, e);
                    if (st.url->tls) {
                        if (auto e = st.conn->start_tls(st.core.tls->native_handle()))
                            return fail(self, e);
                        if (auto e = prepare_tls_connection(st.conn->tls_handle(), st.url->host,
                                                            st.url->ip_literal))
                            return fail(self, e);
                        st.phase = "TLS handshake";
                        st.watch(
                            std::min(steady::now() + st.core.cfg.handshake_timeout, st.deadline));
                        yield st.conn->async_handshake(std::move(self));
                        if (ec || st.timed_out) return fail(self, ec);
                    }
                }

                st.phase = "sending the request";
                st.watch(st.deadline);
                st.written = st.conn->try_write(net::buffer(st.wire), ec);
                if (!ec && st.written < st.wire.size()) {
                    yield net::async_write(*st.conn, net::buffer(st.wire) + st.written,
                                           std::move(self));
                }
                if (ec) {
                    if (st.stale()) {
                        st.retry_on_new_connection();
                        continue;
                    }
                    return fail(self, ec);
                }

                st.phase = "reading the response";
                for (st.interim = 0;; ++st.interim) {
                    start_response(st.parser, st.arena, st.core.cfg.body_limit,
                                   st.core.cfg.header_limit);
                    while (parse_buffered(*st.parser, st.conn->buffer, true, ec)) {
                        if (!room_to_read(st.conn->buffer, ec)) break;
                        yield st.conn->async_read_some(next_read(st.conn->buffer), std::move(self));
                        take_read(*st.parser, st.conn->buffer, n, ec);
                        if (ec) break;
                    }
                    if (ec || !skip_interim(st.parser->get().result_int(), st.interim)) break;
                }
                if (ec) {
                    if (st.interim == 0 && st.stale() && !st.parser->got_some() &&
                        st.conn->buffer.size() == 0) {
                        st.retry_on_new_connection();
                        continue;
                    }
                    return fail(self, ec);
                }
                if (auto const e = refuse_before_body(*st.parser)) return fail(self, e);
                while (parse_buffered(*st.parser, st.conn->buffer, false, ec)) {
                    if (!room_to_read(st.conn->buffer, ec)) break;
                    yield st.conn->async_read_some(next_read(st.conn->buffer), std::move(self));
                    take_read(*st.parser, st.conn->buffer, n, ec);
                    if (ec) break;
                }
                if (ec) return fail(self, ec);
                st.unwatch();
                if (st.timed_out) return fail(self, {});
                // Leftover bytes would be read as the next response, and after too many interim
                // responses the real one is still to come: never reuse then.
                st.release_connection(st.parser->keep_alive() && st.conn->buffer.size() == 0 &&
                                      st.parser->get().result_int() / 100 != 1);
                return self.complete(error_code{});
            }
        }
    }

    template <class Self>
    void operator()(Self& self, error_code ec, tcp::resolver::results_type r) {
        st.endpoints = std::move(r);
        (*this)(self, ec);
    }

    template <class Self>
    void operator()(Self& self, error_code ec, tcp::endpoint const&) {
        (*this)(self, ec);
    }

    template <class Self>
    void fail(Self& self, error_code ec) {
        st.unwatch();
        auto const e = st.map_error(ec);
        st.drop_connection();
        self.complete(e);
    }
};

#include <boost/asio/unyield.hpp>

// The completion of every exchange: one non-template handler type, so the transport templates
// (resolve, connect, TLS, reads and writes) are instantiated once in a program, whoever
// waits for them. `keep` may own the waiter's state.
struct exchange_callback {
    void (*fn)(void*, error_code) = nullptr;
    void* target = nullptr;
    std::shared_ptr<void> keep;

    void operator()(error_code ec) {
        auto k = std::move(keep);
        fn(target, ec);
    }
};

/// Sends the request in `st.wire` and reads its response, for `st` (url, hp and deadline set by
/// the caller); `st` must outlive the operation.
inline void async_exchange(exchange_state& st, exchange_callback cb) {
    st.timed_out = false;
    net::async_compose<exchange_callback, void(error_code)>(exchange_op{{}, st}, cb, st.core.ex);
}

} // namespace payouts::detail
