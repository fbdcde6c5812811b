// payouts-sandbox as a child process of a test, and a client configured for it.
#pragma once

#include "child_process.hpp"

#include <payouts/client.hpp>

#include <sandbox_path.hpp>

#include <doctest/doctest.h>

#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace test_support {

/// payouts-sandbox on 127.0.0.1, any free port, stdout to a file (its two first lines: base URL
/// and CA file), dying with the test. `extra` are more command-line arguments; `quiet: false`
/// keeps the request log (on stderr, stderr_text()).
class sandbox_process {
public:
    explicit sandbox_process(fs::path dir, std::vector<std::string> extra = {}, bool quiet = true)
        : dir_((fs::create_directories(dir), std::move(dir)))
        // The bundled default credentials: no PAYOUTS_* variable reaches the sandbox.
        , child_(args(dir_, std::move(extra), quiet), {}, dir_ / "out", dir_ / "err") {
        auto lines = first_two_lines(dir_ / "out", 600);
        if (!lines) FAIL("the sandbox printed no base URL; stderr: " << slurp(dir_ / "err"));
        base = std::move(lines->first);
        ca = std::move(lines->second);
    }
    sandbox_process(sandbox_process const&) = delete;
    sandbox_process& operator=(sandbox_process const&) = delete;
    ~sandbox_process() {
        stop();
        std::error_code ignored;
        fs::remove_all(dir_, ignored);
    }

    /// SIGTERM and wait: the exit code (0 for a clean stop), -1 for death by signal.
    int stop() { return child_.stop(SIGTERM); }
    std::string stderr_text() const { return slurp(dir_ / "err"); }
    fs::path const& dir() const { return dir_; }

    /// A client configuration for all five providers at this sandbox, with its default
    /// credentials (static ones; DRUO and Checkout not through OAuth).
    payouts::client_config config() const {
        payouts::client_config c;
        c.use_system_roots = false;
        c.ca_file = ca;
        c.providers["truust"] = {
            base + "/truust/2.0", "", {{"SECRET_KEY", "sandbox_truust_secret"}}};
        c.providers["druo"] = {base + "/druo", "", {{"ACCESS_TOKEN", "sandbox_druo_access_token"}}};
        c.providers["checkout"] = {
            base + "/checkout", "", {{"SECRET_KEY", "sandbox_checkout_secret_key"}}};
        c.providers["yuno"] = {base + "/yuno/v1",
                               "",
                               {{"PUBLIC_API_KEY", "sandbox_yuno_public_api_key"},
                                {"PRIVATE_SECRET_KEY", "sandbox_yuno_private_secret_key"}}};
        c.providers["introw"] = {base + "/introw", "", {{"API_KEY", "sandbox_introw_api_key"}}};
        return c;
    }

    std::string base, ca;

private:
    static std::vector<std::string> args(fs::path const& dir, std::vector<std::string> extra,
                                         bool quiet) {
        std::vector<std::string> a{PAYOUTS_SANDBOX_EXE, "--port", "0", "--state-dir",
                                   (dir / "pki").string()};
        if (quiet) a.push_back("--quiet");
        a.insert(a.end(), extra.begin(), extra.end());
        return a;
    }

    fs::path dir_;
    child_process child_;
};

/// A directory of its own under the system's temporary directory, for `what` in this process.
inline fs::path temp_dir(std::string const& what) {
    return fs::temp_directory_path() / ("payouts-" + what + "-" + std::to_string(::getpid()));
}

} // namespace test_support
