// The request log: lines are buffered and written to a file descriptor (stderr) from a timer,
// never blocking the event loop. When the reader does not keep up (a pipe nobody drains) lines
// are dropped, and the count of dropped lines is reported once writing works again.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstddef>
#include <cstdio>
#include <ctime>
#include <string>
#include <string_view>

namespace payouts_sandbox {

class request_log {
public:
    request_log(boost::asio::io_context& ioc, int fd, bool enabled)
        : timer_(ioc)
        , fd_(fd)
        , enabled_(enabled) {
        struct stat st {};
        // Regular files never block for long; pipes, sockets and terminals can.
        regular_file_ = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    }

    bool enabled() const { return enabled_; }

    /// Appends one line (a time stamp is prepended, a newline appended).
    void line(std::string_view text) {
        if (!enabled_) return;
        if (buf_.size() > max_buffer) {
            ++dropped_;
            return;
        }
        append_time();
        buf_ += text;
        buf_ += '\n';
        if (!scheduled_) {
            scheduled_ = true;
            timer_.expires_after(std::chrono::milliseconds(10));
            timer_.async_wait([this](boost::system::error_code ec) {
                scheduled_ = false;
                if (!ec) flush();
            });
        }
    }

    /// Writes what is buffered without blocking; with `wait`, waits up to that long for a slow
    /// reader (used once, at exit).
    void flush(std::chrono::milliseconds wait = {}) {
        auto const deadline = std::chrono::steady_clock::now() + wait;
        if (dropped_ && buf_.size() <= max_buffer) {
            buf_ += "request log: " + std::to_string(dropped_) + " lines dropped (slow reader)\n";
            dropped_ = 0;
        }
        while (!buf_.empty()) {
            std::size_t chunk = buf_.size();
            if (!regular_file_) {
                auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now());
                pollfd p{fd_, POLLOUT, 0};
                if (::poll(&p, 1, static_cast<int>(std::max<long>(0, left.count()))) != 1 ||
                    !(p.revents & POLLOUT))
                    break;
                chunk = std::min<std::size_t>(chunk, PIPE_BUF); // fits in a writable pipe
            }
            ssize_t n = ::write(fd_, buf_.data(), chunk);
            if (n < 0) {
                if (errno == EINTR) continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK) break;
                buf_.clear(); // the reader is gone
                break;
            }
            buf_.erase(0, static_cast<std::size_t>(n));
        }
        if (!buf_.empty() && wait.count() == 0 && !scheduled_) {
            scheduled_ = true;
            timer_.expires_after(std::chrono::milliseconds(50));
            timer_.async_wait([this](boost::system::error_code ec) {
                scheduled_ = false;
                if (!ec) flush();
            });
        }
    }

private:
    static constexpr std::size_t max_buffer = 4 * 1024 * 1024;

    void append_time() {
        auto now = std::chrono::system_clock::now();
        std::time_t t = std::chrono::system_clock::to_time_t(now);
        auto ms =
            std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
        std::tm tm{};
        ::gmtime_r(&t, &tm);
        char stamp[32];
        std::size_t n = std::strftime(stamp, sizeof stamp, "%H:%M:%S", &tm);
        buf_.append(stamp, n);
        char frac[8];
        int f = std::snprintf(frac, sizeof frac, ".%03dZ ", static_cast<int>(ms.count()));
        buf_.append(frac, static_cast<std::size_t>(f));
    }

    boost::asio::steady_timer timer_;
    int fd_;
    bool enabled_;
    bool regular_file_ = false;
    bool scheduled_ = false;
    std::size_t dropped_ = 0;
    std::string buf_;
};

} // namespace payouts_sandbox
