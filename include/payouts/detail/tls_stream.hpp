// TLS straight over the connection's socket: OpenSSL reads and writes the non-blocking file
// descriptor itself (through a minimal BIO), and Asio only says when it is ready.
//
// Why not Asio's ssl::stream: it pipes every byte through a BIO pair and keeps two zero-filled
// 17 KiB staging buffers per connection whatever is in flight, about 70 KiB resident for a
// connection that waits for an answer. Here a waiting connection holds OpenSSL's session state
// only: with SSL_MODE_RELEASE_BUFFERS (and SSL_free_buffers when a read would block) the record
// buffers exist while a record is being read or written. It also saves the two copies through
// the pair.
#pragma once

#include <payouts/error.hpp>

#include <boost/asio/buffer.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <sys/socket.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>

namespace payouts::detail {

namespace net = boost::asio;

// What one OpenSSL call left to do.
enum class tls_step { done, want_read, want_write, failed };

// The codes Asio's ssl::stream gives for the same events, so that callers (and users matching
// on them) see no difference: a close_notify is eof, an end without one stream_truncated, and
// any other OpenSSL failure its packed error in Asio's ssl category (its message names the
// reason, e.g. "certificate verify failed").
inline tls_step tls_result(SSL* ssl, int ret, error_code& ec) {
    int const saved_errno = errno;
    switch (SSL_get_error(ssl, ret)) {
    case SSL_ERROR_NONE:
        return tls_step::done;
    case SSL_ERROR_WANT_READ:
        return tls_step::want_read;
    case SSL_ERROR_WANT_WRITE:
        return tls_step::want_write;
    case SSL_ERROR_ZERO_RETURN:
        ec = net::error::eof;
        return tls_step::failed;
    case SSL_ERROR_SYSCALL: {
        unsigned long const e = ERR_get_error();
        if (e != 0)
            ec = error_code(static_cast<int>(e), net::error::get_ssl_category());
        else if (saved_errno != 0)
            ec = error_code(saved_errno, boost::system::system_category());
        else
            ec = net::ssl::error::stream_truncated;
        return tls_step::failed;
    }
    default: {
        unsigned long const e = ERR_get_error();
        if (ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
            ec = net::ssl::error::stream_truncated;
        else
            ec = error_code(static_cast<int>(e), net::error::get_ssl_category());
        return tls_step::failed;
    }
    }
}

// The BIO OpenSSL reads and writes the socket through. OpenSSL's own socket BIO write()s, and a
// write to a connection the peer has closed would raise SIGPIPE and end the program; this one
// send()s with MSG_NOSIGNAL, as Asio does. The descriptor is the BIO's data.
inline int socket_bio_write(BIO* b, char const* data, int n) {
    BIO_clear_retry_flags(b);
    auto const fd = static_cast<int>(reinterpret_cast<std::intptr_t>(BIO_get_data(b)));
    auto const r = ::send(fd, data, static_cast<std::size_t>(n), MSG_NOSIGNAL);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        BIO_set_retry_write(b);
    return static_cast<int>(r);
}

inline int socket_bio_read(BIO* b, char* data, int n) {
    BIO_clear_retry_flags(b);
    auto const fd = static_cast<int>(reinterpret_cast<std::intptr_t>(BIO_get_data(b)));
    auto const r = ::recv(fd, data, static_cast<std::size_t>(n), 0);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) BIO_set_retry_read(b);
    return static_cast<int>(r);
}

inline long socket_bio_ctrl(BIO*, int cmd, long, void*) {
    return cmd == BIO_CTRL_FLUSH ? 1 : 0; // nothing is buffered here
}

inline int socket_bio_create(BIO* b) {
    BIO_set_init(b, 1);
    return 1;
}

// One method table for the process, made on first use (thread-safe static initialisation) and
// kept to the end: every BIO refers to it.
inline BIO_METHOD const* socket_bio_method() {
    static BIO_METHOD* const m = [] {
        BIO_METHOD* bm = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "payouts socket");
        if (bm) {
            BIO_meth_set_write(bm, socket_bio_write);
            BIO_meth_set_read(bm, socket_bio_read);
            BIO_meth_set_ctrl(bm, socket_bio_ctrl);
            BIO_meth_set_create(bm, socket_bio_create);
        }
        return bm;
    }();
    return m;
}

// SSL_free_buffers could free a read buffer still in use (CVE-2024-4741) before OpenSSL
// 3.0.14, 3.1.6, 3.2.2 and 3.3.1; with an older library the buffers are kept while waiting.
inline bool free_buffers_is_safe(unsigned long version) noexcept {
    unsigned long const major = version >> 28, minor = (version >> 20) & 0xff,
                        patch = (version >> 4) & 0xff; // 0xMNN00PP0
    if (major != 3) return major > 3;
    switch (minor) {
    case 0:
        return patch >= 14;
    case 1:
        return patch >= 6;
    case 2:
        return patch >= 2;
    case 3:
        return patch >= 1;
    default:
        return true;
    }
}

inline bool free_buffers_is_safe() {
    static bool const safe = free_buffers_is_safe(OpenSSL_version_num());
    return safe;
}

// An SSL session on a connected socket it does not own. The owner closes the socket; after
// `detach()` no OpenSSL call touches the descriptor again (its number may already belong to
// another socket by the time a completion runs).
class tls_session {
public:
    using socket_type = net::ip::tcp::socket;

    tls_session() = default;
    tls_session(tls_session const&) = delete;
    tls_session& operator=(tls_session const&) = delete;
    ~tls_session() {
        if (ssl_) SSL_free(ssl_);
    }

    /// Binds a new session of `ctx` to the connected, non-blocking `sock`.
    error_code attach(SSL_CTX* ctx, socket_type& sock) {
        ssl_ = SSL_new(ctx);
        if (!ssl_)
            return error_code(static_cast<int>(ERR_get_error()), net::error::get_ssl_category());
        // Partial writes and a buffer that moves between retries: a write_some writes what
        // the record layer takes, and its retry may come from another buffer position.
        SSL_set_mode(ssl_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                               SSL_MODE_RELEASE_BUFFERS);
        // One read call per burst of records rather than a header read and a body read each.
        SSL_set_read_ahead(ssl_, 1);
        auto const fd = static_cast<int>(sock.native_handle());
        BIO_METHOD const* const method = socket_bio_method();
        BIO* const bio = method ? BIO_new(method) : nullptr;
        if (!bio)
            return error_code(static_cast<int>(ERR_get_error()), net::error::get_ssl_category());
        BIO_set_data(bio, reinterpret_cast<void*>(static_cast<std::intptr_t>(fd)));
        SSL_set_bio(ssl_, bio, bio); // one reference, now the session's
        SSL_set_connect_state(ssl_);
        return {};
    }

    SSL* native_handle() const noexcept { return ssl_; }
    bool attached() const noexcept { return ssl_ != nullptr && !detached_; }
    void detach() noexcept { detached_ = true; }

    enum class kind { handshake, read, write };

    // One attempt of `k` on `buf` (read and write). `first` marks the attempt made before any
    // readiness wait.
    tls_step attempt(kind k, net::mutable_buffer buf, bool first, std::size_t& n, error_code& ec) {
        n = 0;
        if (!attached()) {
            ec = net::error::operation_aborted;
            return tls_step::failed;
        }
        ERR_clear_error();
        errno = 0;
        int ret = 0;
        switch (k) {
        case kind::handshake:
            ret = SSL_do_handshake(ssl_);
            break;
        case kind::read: {
            if (buf.size() == 0) return tls_step::done;
            // Just after a request nothing can have come yet: wait for the socket rather than
            // try a read (a system call that would fail, and OpenSSL's read buffer allocated
            // for nothing).
            if (first && awaiting_answer_ && !SSL_has_pending(ssl_)) return tls_step::want_read;
            ret = SSL_read_ex(ssl_, buf.data(), buf.size(), &n);
            if (ret == 1) awaiting_answer_ = false;
            break;
        }
        case kind::write:
            if (buf.size() == 0) return tls_step::done;
            ret = SSL_write_ex(ssl_, buf.data(), buf.size(), &n);
            if (ret == 1) awaiting_answer_ = true;
            break;
        }
        if (ret == 1) return tls_step::done;
        n = 0;
        auto const step = tls_result(ssl_, ret, ec);
        // Waiting for the peer with nothing buffered: give the record buffers back (OpenSSL
        // keeps the read buffer after post-handshake messages such as session tickets). It
        // refuses, harmlessly, while a partial record is held.
        if (step == tls_step::want_read && k == kind::read && free_buffers_is_safe())
            SSL_free_buffers(ssl_);
        return step;
    }

private:
    SSL* ssl_ = nullptr;
    bool detached_ = false;
    bool awaiting_answer_ = false; // written since the last read
};

// handshake / read_some / write_some on a tls_session, waiting on the socket's readiness
// between attempts. A result known at once is posted, never delivered inside the initiation.
struct tls_io_op {
    tls_session& s;
    net::ip::tcp::socket& sock;
    tls_session::kind k;
    net::mutable_buffer buf;
    int state = 0;
    error_code result{};
    std::size_t bytes = 0;

    template <class Self>
    void operator()(Self& self, error_code ec = {}) {
        switch (state) {
        case 2:
            return self.complete(result, bytes); // posted result
        case 1:
            if (ec) return self.complete(ec, 0); // the socket was closed, or the wait failed
            break;
        default:
            break;
        }
        bool const first = state == 0;
        auto const step = s.attempt(k, buf, first, bytes, result);
        switch (step) {
        case tls_step::want_read:
            state = 1;
            return sock.async_wait(net::socket_base::wait_read, std::move(self));
        case tls_step::want_write:
            state = 1;
            return sock.async_wait(net::socket_base::wait_write, std::move(self));
        case tls_step::done:
        case tls_step::failed:
            if (!first) return self.complete(result, bytes);
            state = 2;
            return net::post(std::move(self));
        }
    }
};

template <class Token>
auto async_tls_io(tls_session& s, net::ip::tcp::socket& sock, tls_session::kind k,
                  net::mutable_buffer buf, Token&& token) {
    return net::async_compose<Token, void(error_code, std::size_t)>(tls_io_op{s, sock, k, buf},
                                                                    token, sock);
}

// The first non-empty buffer of a sequence: a read_some or write_some may move fewer bytes
// than asked, and a TLS record carries one contiguous piece anyway.
template <class Buffers>
net::mutable_buffer first_buffer(Buffers const& bufs) {
    auto const end = net::buffer_sequence_end(bufs);
    for (auto it = net::buffer_sequence_begin(bufs); it != end; ++it) {
        auto const b = *it;
        if (b.size() != 0)
            return net::mutable_buffer(const_cast<void*>(static_cast<void const*>(b.data())),
                                       b.size());
    }
    return {};
}

} // namespace payouts::detail
