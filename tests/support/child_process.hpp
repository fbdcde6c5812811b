// Child processes for the tests that drive the built programs (payouts-sandbox, the CLI) with
// their output in files.
#pragma once

#include <doctest/doctest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace test_support {

namespace fs = std::filesystem;

/// The whole file ("" when it cannot be read).
inline std::string slurp(fs::path const& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream os;
    os << in.rdbuf();
    return os.str();
}

/// The lines of `text`, without their line ends.
inline std::vector<std::string> lines_of(std::string const& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);)
        out.push_back(l);
    return out;
}

/// A child process: stdin /dev/null, stdout and stderr to files, the environment exactly
/// PATH=/usr/bin:/bin, the sanitizers' options (so that a report in the child fails it) and
/// `env`. It dies with the test (PR_SET_PDEATHSIG); the destructor kills and reaps it.
class child_process {
public:
    child_process(std::vector<std::string> argv_s, std::map<std::string, std::string> const& env,
                  fs::path const& out, fs::path const& err) {
        std::vector<std::string> env_s{"PATH=/usr/bin:/bin"};
        for (char const* s : {"ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"})
            if (char const* v = std::getenv(s)) env_s.push_back(std::string(s) + "=" + v);
        for (auto const& [k, v] : env)
            env_s.push_back(k + "=" + v);
        // Everything exec needs is prepared before fork.
        std::vector<char*> argv, envp;
        for (auto& s : argv_s)
            argv.push_back(s.data());
        argv.push_back(nullptr);
        for (auto& s : env_s)
            envp.push_back(s.data());
        envp.push_back(nullptr);
        int const ofd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        int const efd = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        REQUIRE(ofd >= 0);
        REQUIRE(efd >= 0);
        pid_t const parent = ::getpid();
        pid_ = ::fork();
        REQUIRE(pid_ >= 0);
        if (pid_ == 0) {
            // Only async-signal-safe calls from here on.
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (::getppid() != parent) ::_exit(127);
            int const in = ::open("/dev/null", O_RDONLY);
            ::dup2(in, STDIN_FILENO);
            ::dup2(ofd, STDOUT_FILENO);
            ::dup2(efd, STDERR_FILENO);
            ::execve(argv[0], argv.data(), envp.data());
            ::_exit(127);
        }
        ::close(ofd);
        ::close(efd);
    }
    child_process(child_process const&) = delete;
    child_process& operator=(child_process const&) = delete;
    ~child_process() { stop(SIGKILL); }

    /// Sends `sig` (0: none) and waits, at most 10 s before a SIGKILL (a child that ignores
    /// `sig` cannot hang the test); the exit code, or -1 for death by a signal. Later calls
    /// return the same.
    int stop(int sig) {
        if (pid_ > 0) {
            if (sig) ::kill(pid_, sig);
            int st = 0;
            auto const deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
            for (;;) {
                pid_t const r = ::waitpid(pid_, &st, WNOHANG);
                if (r == pid_ || (r < 0 && errno != EINTR)) break;
                if (std::chrono::steady_clock::now() > deadline) {
                    ::kill(pid_, SIGKILL);
                    ::waitpid(pid_, &st, 0);
                    break;
                }
                ::usleep(10000);
            }
            code_ = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
            pid_ = -1;
        }
        return code_;
    }

private:
    pid_t pid_ = -1;
    int code_ = -1;
};

/// The first two lines of a file a child writes (payouts-sandbox prints its base URL, then its
/// CA file), polled every 50 ms for up to `tries` polls; nullopt if they never came.
inline std::optional<std::pair<std::string, std::string>> first_two_lines(fs::path const& p,
                                                                          int tries) {
    for (int i = 0; i < tries; ++i) {
        std::istringstream lines(slurp(p));
        std::string l1, l2;
        if (std::getline(lines, l1) && std::getline(lines, l2))
            return std::pair{std::move(l1), std::move(l2)};
        ::usleep(50000);
    }
    return std::nullopt;
}

} // namespace test_support
