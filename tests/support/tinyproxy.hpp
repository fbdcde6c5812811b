// A real tinyproxy on 127.0.0.1 for one test: its own config, log and pid file in a fresh temp
// directory, run in the foreground as a child process, stopped (SIGTERM, then SIGKILL) and
// cleaned up by the destructor. Its log tells a test which requests the proxy saw.
#pragma once

#include "child_process.hpp"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace test_support {

struct tinyproxy_options {
    /// `BasicAuth user password` when `user` is set. tinyproxy 1.11 accepts only
    /// [-A-Za-z0-9._] in both.
    std::string user{}, password{};
    /// ConnectPort lines. None: tinyproxy allows CONNECT to every port.
    std::vector<std::uint16_t> connect_ports{};
};

/// Connects to 127.0.0.1:`port` and closes (or, with port 0, binds a port the kernel picks and
/// releases it): the port, or 0 on failure.
inline std::uint16_t loopback_probe(std::uint16_t port) {
    int const fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return 0;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    socklen_t len = sizeof a;
    bool const ok = port == 0 ? ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
                                    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0
                              : ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    return ok ? ntohs(a.sin_port) : 0;
}

/// A port on 127.0.0.1 that nothing listens on (just bound and released).
inline std::uint16_t closed_loopback_port() {
    return loopback_probe(0);
}

class tinyproxy {
public:
    explicit tinyproxy(tinyproxy_options o = {})
        : opts_(std::move(o)) {
        exe_ = fs::exists("/usr/bin/tinyproxy") ? "/usr/bin/tinyproxy" : "/usr/sbin/tinyproxy";
        REQUIRE_MESSAGE(fs::exists(exe_), "tinyproxy is not installed: run tools/install-deps");
        std::string t = (fs::temp_directory_path() / "payouts-tinyproxy-XXXXXX").string();
        REQUIRE(::mkdtemp(t.data()) != nullptr);
        dir_ = t;
        // tinyproxy cannot bind port 0 and report it: take a free port, and another one
        // should something else take it before tinyproxy binds it.
        for (int attempt = 0; attempt < 5 && !start(); ++attempt) {
        }
        REQUIRE_MESSAGE(port_ != 0, "tinyproxy did not start; stderr: " << slurp(dir_ / "err")
                                                                        << "\nlog:\n"
                                                                        << log());
    }
    tinyproxy(tinyproxy const&) = delete;
    tinyproxy& operator=(tinyproxy const&) = delete;
    ~tinyproxy() {
        stop();
        std::error_code ignored;
        fs::remove_all(dir_, ignored);
    }

    std::uint16_t port() const noexcept { return port_; }
    /// "127.0.0.1:PORT", as diagnostics name the proxy.
    std::string name() const { return "127.0.0.1:" + std::to_string(port_); }
    /// "http://127.0.0.1:PORT"
    std::string url() const { return "http://" + name(); }
    /// "http://user:password@127.0.0.1:PORT", user and password percent-encoded.
    std::string url(std::string_view user, std::string_view password) const {
        return "http://" + encode(user) + ":" + encode(password) + "@" + name();
    }

    /// Everything tinyproxy logged so far.
    std::string log() const { return slurp(dir_ / "log"); }

    /// The request lines tinyproxy received, in order ("CONNECT localhost:8443 HTTP/1.1").
    std::vector<std::string> requests() const {
        std::vector<std::string> out;
        std::istringstream in(log());
        constexpr std::string_view mark = "]: Request (file descriptor ";
        for (std::string line; std::getline(in, line);) {
            auto const at = line.find(mark);
            if (at == std::string::npos) continue;
            auto const colon = line.find("): ", at + mark.size());
            if (colon != std::string::npos) out.push_back(line.substr(colon + 3));
        }
        return out;
    }

    /// How many of those were `CONNECT host_port HTTP/1.1`.
    std::size_t connects_to(std::string_view host_port) const {
        std::size_t n = 0;
        for (auto const& r : requests())
            n += r == "CONNECT " + std::string(host_port) + " HTTP/1.1";
        return n;
    }

    /// SIGTERM, at most 10 s for it to exit, then SIGKILL; its exit code (-1: a signal).
    int stop() { return child_ ? child_->stop(SIGTERM) : -1; }

private:
    static std::string encode(std::string_view s) {
        constexpr char hex[] = "0123456789ABCDEF";
        std::string out;
        for (char c : s) {
            auto const b = static_cast<unsigned char>(c);
            if (std::isalnum(b) || c == '-' || c == '.' || c == '_' || c == '~')
                out += c;
            else
                out += {'%', hex[b >> 4], hex[b & 15]};
        }
        return out;
    }

    // One try on a fresh port: true once tinyproxy has bound it and accepts connections.
    bool start() {
        std::uint16_t const port = loopback_probe(0);
        REQUIRE(port != 0);
        {
            std::ofstream conf(dir_ / "tinyproxy.conf", std::ios::trunc);
            conf << "Port " << port << "\nListen 127.0.0.1\nAllow 127.0.0.1\nMaxClients 64\n"
                 << "Timeout 60\nLogLevel Info\nLogFile \"" << (dir_ / "log").string()
                 << "\"\nPidFile \"" << (dir_ / "tinyproxy.pid").string() << "\"\n";
            if (!opts_.user.empty())
                conf << "BasicAuth " << opts_.user << " " << opts_.password << "\n";
            for (auto p : opts_.connect_ports)
                conf << "ConnectPort " << p << "\n";
        }
        std::error_code ignored;
        fs::remove(dir_ / "log", ignored);
        child_.reset();
        child_.emplace(
            std::vector<std::string>{exe_.string(), "-d", "-c", (dir_ / "tinyproxy.conf").string()},
            std::map<std::string, std::string>{}, dir_ / "out", dir_ / "err");
        // Ready: tinyproxy logged that it listens (so the port is its own, not a process that
        // took it meanwhile) and a connection is accepted. It reports a failed bind on stderr
        // and exits.
        auto const cap = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        while (std::chrono::steady_clock::now() < cap) {
            if (log().find("Accepting connections") != std::string::npos &&
                loopback_probe(port) == port) {
                port_ = port;
                return true;
            }
            if (!slurp(dir_ / "err").empty()) break;
            ::usleep(5000);
        }
        child_->stop(SIGKILL);
        return false;
    }

    tinyproxy_options opts_;
    fs::path exe_, dir_;
    std::optional<child_process> child_;
    std::uint16_t port_ = 0;
};

} // namespace test_support
