// bench_fetch: payouts::fetch<P> against payouts-sandbox beside wrk and a libcurl client on the
// same endpoint in the same run, and the client's memory per fetch in flight.
//
//   bench_fetch [--seconds S] [--reps N] [--json FILE] [--no-memory] [--tls-10k]
//                                   the tables (default: 2 s per sample, 5 reps)
//   bench_fetch --smoke             everything, briefly (a few seconds; CI)
//   bench_fetch --memory-only       the memory table alone; --verbose: every sample as it ends
//   bench_fetch --only CELL --transport tls|http [--seconds S]
//                                   one cell, nothing else (for perf, callgrind, heaptrack);
//                                   CELL: payouts-seq payouts-64 wrk-1 wrk-64 curl-seq curl-64
//
// Throughput. The program starts two sandboxes (TLS, and plaintext with --http) serving
// Yuno's documented payout (2303 bytes, keep-alive), and for each transport runs six cells:
//   payouts-seq  fetch<Yuno> one after another on one client (one keep-alive connection)
//   payouts-64   64 chains of fetch<Yuno> on one client: 64 in flight at all times
//   wrk-1, wrk-64      `wrk -t1 -c1` and `wrk -t1 -c64`, the same URL and headers
//   curl-seq, curl-64  curl_client: a libcurl easy-handle loop, and a 64-way multi loop
// Every cell starts cold (new connections, TLS handshakes inside the sample) and runs for the
// same time; a rep runs every cell once, then the next rep, and the tables show medians. The
// client's CPU time: getrusage(RUSAGE_SELF) around the in-process loops, wait4's rusage of the
// wrk and curl processes (their start-up included). The sandbox's CPU per sample is shown too:
// near 100% of a core means the server, not the client, set the pace. Every payouts result is
// checked against the decoded file (id, status, amount, body) before it counts; curl's must be
// a 200 with the file's length; wrk's must have no non-2xx answer and no socket error.
//
// Memory. One child process per point (this program again, so peaks do not mix) starts n
// fetches of `slow-<ms>-<id>` at once, which the sandbox holds open; its VmHWM after they all
// completed, less that of the n = 1 point, over n - 1, is the client's bytes per fetch in
// flight. The child checks that the fetches overlapped (the last completion came less than
// the hold time after the first, so every request was on the wire before any answer).
#include "common.hpp"

#include <payouts/client.hpp>
#include <payouts/decode.hpp>
#include <payouts/fetch.hpp>
#include <payouts/providers/yuno.hpp>

#include <sandbox_path.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <boost/version.hpp>

#include <openssl/crypto.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#ifndef PAYOUTS_BENCH_BUILDTYPE
#define PAYOUTS_BENCH_BUILDTYPE "unknown"
#endif
#ifndef PAYOUTS_BENCH_CURL_CLIENT
#define PAYOUTS_BENCH_CURL_CLIENT ""
#endif

extern char** environ;

namespace {

using bench::load_average;
using bench::median;

namespace net = boost::asio;
using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;

// The documented body every cell fetches, and the sandbox's default Yuno credentials.
constexpr std::string_view payout_id = "1c58426d-2c1b-4476-b3c0-447a8c683466";
constexpr std::string_view public_key = "sandbox_yuno_public_api_key";
constexpr std::string_view secret_key = "sandbox_yuno_private_secret_key";
constexpr std::size_t concurrency = 64;

double since(clock_type::time_point t0) {
    return std::chrono::duration<double>(clock_type::now() - t0).count();
}

double cpu_seconds(rusage const& r) {
    auto const tv = [](timeval t) { return double(t.tv_sec) + double(t.tv_usec) * 1e-6; };
    return tv(r.ru_utime) + tv(r.ru_stime);
}

double self_cpu() {
    rusage r{};
    ::getrusage(RUSAGE_SELF, &r);
    return cpu_seconds(r);
}

// utime + stime of another process, from /proc/<pid>/stat.
double process_cpu(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto const close = s.rfind(')');
    if (close == std::string::npos) return 0;
    std::istringstream rest(s.substr(close + 2));
    std::string field;
    double utime = 0, stime = 0;
    // After the name: state is field 3; utime and stime are fields 14 and 15.
    for (int i = 3; i <= 15 && rest >> field; ++i) {
        if (i == 14) utime = std::atof(field.c_str());
        if (i == 15) stime = std::atof(field.c_str());
    }
    return (utime + stime) / double(::sysconf(_SC_CLK_TCK));
}

// A field of /proc/self/status in KiB (VmHWM, VmRSS), 0 if absent.
long status_kib(std::string_view name) {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
        if (line.starts_with(name) && line.size() > name.size() && line[name.size()] == ':')
            return std::atol(line.c_str() + name.size() + 1);
    return 0;
}

std::string read_file(std::string const& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Raises the soft descriptor limit to the hard one; returns the limit in force.
rlim_t raise_open_file_limit() {
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return 1024;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &rl);
        ::getrlimit(RLIMIT_NOFILE, &rl);
    }
    return rl.rlim_cur;
}

// ---------------------------------------------------------------------------------------------
// Child processes: the sandboxes, wrk, the curl client, and this program for memory points.

std::vector<char*> c_strings(std::vector<std::string>& v) {
    std::vector<char*> out;
    for (auto& s : v)
        out.push_back(s.data());
    out.push_back(nullptr);
    return out;
}

// The environment without PAYOUTS_* variables: the sandbox then expects its default
// credentials, which is what the clients here send.
std::vector<std::string> hermetic_environment() {
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e)
        if (std::strncmp(*e, "PAYOUTS_", 8) != 0) env.emplace_back(*e);
    return env;
}

// Starts argv[0] (searched in PATH when it has no '/') with stdout on a pipe; stderr is
// inherited. The child dies with us.
pid_t spawn(std::vector<std::string> args, int& out_fd) {
    auto env_s = hermetic_environment();
    auto argv = c_strings(args);
    auto envp = c_strings(env_s);
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
    pid_t const parent = ::getpid();
    pid_t const pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(127);
        ::dup2(out[1], STDOUT_FILENO);
        ::execvpe(argv[0], argv.data(), envp.data());
        ::_exit(127);
    }
    ::close(out[1]);
    out_fd = out[0];
    return pid;
}

std::string read_all(int fd) {
    std::string s;
    char buf[4096];
    for (;;) {
        ssize_t const n = ::read(fd, buf, sizeof buf);
        if (n > 0) {
            s.append(buf, std::size_t(n));
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            break;
        }
    }
    return s;
}

struct child_result {
    int status = -1; // wait status
    std::string out;
    double cpu = 0; // the child's user + system seconds
    bool ok() const { return WIFEXITED(status) && WEXITSTATUS(status) == 0; }
};

// Runs a program to its end. With `interrupt_after`, sends it SIGINT after that long (wrk
// stops and reports when interrupted, which allows samples shorter than its 1 s granularity).
child_result run_child(std::vector<std::string> args,
                       std::optional<std::chrono::duration<double>> interrupt_after = {}) {
    int fd = -1;
    pid_t const pid = spawn(std::move(args), fd);
    std::thread interrupter;
    if (interrupt_after)
        interrupter = std::thread([pid, d = *interrupt_after] {
            std::this_thread::sleep_for(d);
            ::kill(pid, SIGINT);
        });
    child_result r;
    r.out = read_all(fd);
    ::close(fd);
    rusage ru{};
    while (::wait4(pid, &r.status, 0, &ru) < 0 && errno == EINTR) {
    }
    if (interrupter.joinable()) interrupter.join();
    r.cpu = cpu_seconds(ru);
    return r;
}

bool on_path(std::string const& name) {
    char const* path = std::getenv("PATH");
    std::string_view p = path ? path : "/usr/bin:/bin";
    while (!p.empty()) {
        auto const colon = p.find(':');
        std::string dir(p.substr(0, colon));
        if (::access((dir + "/" + name).c_str(), X_OK) == 0) return true;
        if (colon == std::string_view::npos) break;
        p.remove_prefix(colon + 1);
    }
    return false;
}

// One payouts-sandbox process: line 1 of its stdout is the base URL, line 2 the CA file.
class sandbox {
public:
    explicit sandbox(bool tls) {
        std::vector<std::string> args{PAYOUTS_SANDBOX_EXE, "--port", "0", "--quiet"};
        if (!tls) args.emplace_back("--http");
        pid_ = spawn(std::move(args), fd_);
        url_ = read_line();
        ca_ = read_line();
        if (url_.empty()) throw std::runtime_error("payouts-sandbox printed no base URL");
        tls_ = url_.starts_with("https://");
        if (!tls_) ca_.clear(); // the plaintext sandbox prints "-"
    }
    sandbox(sandbox const&) = delete;
    sandbox& operator=(sandbox const&) = delete;
    ~sandbox() {
        ::kill(pid_, SIGTERM);
        int st = 0;
        ::waitpid(pid_, &st, 0);
        ::close(fd_);
    }

    std::string const& url() const { return url_; }
    std::string const& ca() const { return ca_; }
    bool tls() const { return tls_; }
    char const* name() const { return tls_ ? "tls" : "http"; }
    double cpu() const { return process_cpu(pid_); }
    std::string payout_url() const { return url_ + "/yuno/v1/payouts/" + std::string(payout_id); }

private:
    std::string read_line() {
        std::string line;
        char c;
        while (::read(fd_, &c, 1) == 1 && c != '\n')
            line += c;
        return line;
    }

    pid_t pid_ = -1;
    int fd_ = -1;
    std::string url_, ca_;
    bool tls_ = true;
};

// ---------------------------------------------------------------------------------------------
// The payouts client loops.

payouts::client_config config_for(std::string const& base_url, std::string const& ca) {
    payouts::client_config cfg;
    payouts::provider_config pc;
    pc.base_url = base_url + "/yuno/v1";
    pc.credentials.emplace("PUBLIC_API_KEY", std::string(public_key));
    pc.credentials.emplace("PRIVATE_SECRET_KEY", std::string(secret_key));
    cfg.providers.emplace("yuno", std::move(pc));
    cfg.use_system_roots = false;
    cfg.ca_file = ca;
    cfg.allow_plaintext_loopback = true;
    cfg.idle_connections_per_host = concurrency;
    // As wrk and libcurl here, a connection per fetch in flight (the default caps it at 32).
    cfg.max_connections_per_host = 0;
    cfg.retry.max_attempts = 1; // a failure must show, not be retried away
    cfg.deadline = 120s;
    cfg.connect_timeout = 60s;
    cfg.handshake_timeout = 60s;
    return cfg;
}

// What every fetch must produce: the sandbox's file, decoded.
struct expectation {
    payouts::payout want;

    bool matches(payouts::payout const& p) const {
        return p.id == want.id && p.status == want.status && p.amount == want.amount &&
               p.provider_status == want.provider_status && p.raw == want.raw;
    }
};

struct sample {
    double rps = 0;         // completed, checked requests per second of wall time
    double cpu_per_req = 0; // client CPU seconds per request
    double server_load = 0; // the sandbox's CPU seconds per second of the sample
    long long requests = 0;
    std::string error; // non-empty: the sample failed
};

struct loop_state {
    payouts::client& c;
    expectation const& expect;
    std::string id;
    clock_type::time_point t0;
    double seconds;
    long long ok = 0;
    long long bad = 0;
    std::string first_error;
};

void start_fetch(loop_state& s) {
    payouts::fetch<payouts::Yuno>(s.c, s.id, [&s](payouts::error_code ec, payouts::payout p) {
        if (ec) {
            if (s.first_error.empty()) s.first_error = "fetch failed: " + ec.message();
            ++s.bad;
        } else if (!s.expect.matches(p)) {
            if (s.first_error.empty()) s.first_error = "a fetch returned the wrong payout";
            ++s.bad;
        } else {
            ++s.ok;
        }
        if (s.bad == 0 && since(s.t0) < s.seconds) start_fetch(s);
    });
}

// `chains` fetch chains on one fresh client for `seconds`: 1 is the sequential loop.
sample run_payouts(sandbox const& sb, expectation const& expect, std::size_t chains,
                   double seconds) {
    net::io_context ioc(1);
    payouts::client c(ioc, config_for(sb.url(), sb.ca()));
    if (c.config_error()) return {.error = c.config_error_message()};
    loop_state s{c, expect, std::string(payout_id), {}, seconds, 0, 0, {}};
    double const server0 = sb.cpu();
    double const cpu0 = self_cpu();
    s.t0 = clock_type::now();
    for (std::size_t i = 0; i < chains; ++i)
        start_fetch(s);
    ioc.run();
    double const wall = since(s.t0);
    double const cpu = self_cpu() - cpu0;
    sample r;
    r.server_load = (sb.cpu() - server0) / wall;
    r.requests = s.ok;
    if (s.bad) r.error = s.first_error;
    if (s.ok) {
        r.rps = double(s.ok) / wall;
        r.cpu_per_req = cpu / double(s.ok);
    }
    return r;
}

std::vector<std::string> header_values() {
    return {"public-api-key: " + std::string(public_key),
            "private-secret-key: " + std::string(secret_key)};
}

// wrk's "N requests in 2.00s" line: the count and the time in seconds.
bool parse_wrk(std::string const& out, long long& requests, double& seconds, std::string& why) {
    if (out.find("Non-2xx") != std::string::npos) {
        why = "wrk saw non-2xx answers";
        return false;
    }
    if (out.find("Socket errors") != std::string::npos) {
        why = "wrk saw socket errors";
        return false;
    }
    auto const at = out.find(" requests in ");
    if (at == std::string::npos) {
        why = "no request count in wrk's output";
        return false;
    }
    auto start = out.rfind('\n', at);
    start = start == std::string::npos ? 0 : start + 1;
    requests = std::atoll(out.c_str() + start);
    char* unit = nullptr;
    double const t = std::strtod(out.c_str() + at + 13, &unit);
    if (!unit) return false;
    std::string_view const u(unit, 2);
    seconds = u == "us" ? t * 1e-6 : u == "ms" ? t * 1e-3 : u.front() == 'm' ? t * 60 : t;
    if (requests <= 0 || seconds <= 0) {
        why = "wrk completed no request";
        return false;
    }
    return true;
}

sample run_wrk(sandbox const& sb, std::size_t connections, double seconds) {
    std::vector<std::string> args{"wrk", "-t1", "-c" + std::to_string(connections),
                                  "-d" + std::to_string(int(std::ceil(seconds)) + 10)};
    for (auto const& h : header_values()) {
        args.emplace_back("-H");
        args.push_back(h);
    }
    args.push_back(sb.payout_url());
    double const server0 = sb.cpu();
    auto const t0 = clock_type::now();
    auto res = run_child(args, std::chrono::duration<double>(seconds));
    // A very short sample (--smoke on a slow machine) can end before 64 handshakes do: once,
    // give wrk a second instead of reporting nothing.
    if (res.ok() && res.out.find(" 0 requests in ") != std::string::npos && seconds < 1)
        res = run_child(args, std::chrono::duration<double>(1.0));
    double const wall = since(t0);
    sample r;
    r.server_load = (sb.cpu() - server0) / wall;
    double secs = 0;
    if (!res.ok()) {
        r.error = "wrk failed (status " + std::to_string(res.status) + ")";
    } else if (parse_wrk(res.out, r.requests, secs, r.error)) {
        r.rps = double(r.requests) / secs;
        r.cpu_per_req = res.cpu / double(r.requests);
    }
    return r;
}

sample run_curl(sandbox const& sb, expectation const& expect, std::size_t connections,
                double seconds) {
    std::vector<std::string> args{PAYOUTS_BENCH_CURL_CLIENT,
                                  "--url",
                                  sb.payout_url(),
                                  "--seconds",
                                  std::to_string(seconds),
                                  "--concurrency",
                                  std::to_string(connections),
                                  "--expect-bytes",
                                  std::to_string(expect.want.raw.size())};
    if (sb.tls()) {
        args.emplace_back("--cacert");
        args.push_back(sb.ca());
    }
    for (auto const& h : header_values()) {
        args.emplace_back("-H");
        args.push_back(h);
    }
    double const server0 = sb.cpu();
    auto const t0 = clock_type::now();
    auto const res = run_child(std::move(args));
    double const wall = since(t0);
    sample r;
    r.server_load = (sb.cpu() - server0) / wall;
    long long requests = 0, errors = 0;
    double secs = 0;
    if (std::sscanf(res.out.c_str(), "requests=%lld errors=%lld seconds=%lf", &requests, &errors,
                    &secs) != 3 ||
        !res.ok() || errors != 0 || requests == 0) {
        r.error = "curl_client failed: " + res.out;
        return r;
    }
    r.requests = requests;
    r.rps = double(requests) / secs;
    r.cpu_per_req = res.cpu / double(requests);
    return r;
}

// ---------------------------------------------------------------------------------------------
// Memory: one point in a child process.

struct memory_point {
    std::string transport;
    std::size_t n = 0;
    long hwm_kib = 0;  // VmHWM after the n fetches
    long base_kib = 0; // VmHWM before the first fetch (client constructed)
    long rss_kib = 0;  // VmRSS at the first answer
    double first_ms = 0, last_ms = 0;
    bool overlapped = false;
    std::string error;
};

// The child's side: n fetches of slow-<hold>-<id>, started at once (ramp_ms 0) or spread evenly
// over ramp_ms, one tick a millisecond.
int memory_child(std::string const& url, std::string const& ca, std::size_t n, int hold_ms,
                 int ramp_ms) {
    raise_open_file_limit();
    net::io_context ioc(1);
    payouts::client c(ioc, config_for(url, ca));
    std::string const id = "slow-" + std::to_string(hold_ms) + "-" + std::string(payout_id);
    long const base = status_kib("VmHWM");
    std::size_t ok = 0, bad = 0;
    std::string first_error;
    double first = -1, last = 0;
    long first_rss = 0; // VmRSS at the first answer: every fetch in flight, handshakes over
    auto const t0 = clock_type::now();
    auto const start_one = [&] {
        payouts::fetch<payouts::Yuno>(c, id, [&](payouts::error_code ec, payouts::payout p) {
            double const t = since(t0) * 1e3;
            if (first < 0) {
                first = t;
                first_rss = status_kib("VmRSS");
            }
            last = t;
            if (ec || p.id != payout_id || p.status != payouts::payout_status::paid) {
                if (first_error.empty()) first_error = ec ? ec.message() : "wrong payout";
                ++bad;
            } else {
                ++ok;
            }
        });
    };
    net::steady_timer tick(ioc);
    std::size_t started = 0;
    std::function<void()> ramp = [&] {
        // Fetches due by now: ramp_ms ticks share the n starts.
        auto const due = std::min(n, std::size_t(double(n) * since(t0) * 1e3 / ramp_ms) + 1);
        while (started < due) {
            start_one();
            ++started;
        }
        if (started == n) return;
        tick.expires_after(std::chrono::milliseconds(1));
        tick.async_wait([&](boost::system::error_code) { ramp(); });
    };
    if (ramp_ms <= 0) {
        for (; started < n; ++started)
            start_one();
    } else {
        ramp();
    }
    ioc.run();
    std::printf("ok=%zu bad=%zu hwm_kib=%ld base_kib=%ld rss_kib=%ld first_ms=%.1f last_ms=%.1f "
                "error=%s\n",
                ok, bad, status_kib("VmHWM"), base, first_rss, first, last, first_error.c_str());
    return bad == 0 && ok == n ? 0 : 1;
}

memory_point run_memory_point(sandbox const& sb, std::size_t n, int hold_ms, int ramp_ms) {
    memory_point m;
    m.transport = sb.name();
    m.n = n;
    auto const res = run_child({"/proc/self/exe", "--memory-child", std::to_string(n), "--url",
                                sb.url(), "--ca", sb.ca(), "--hold-ms", std::to_string(hold_ms),
                                "--ramp-ms", std::to_string(ramp_ms)});
    std::size_t ok = 0, bad = 0;
    char err[256] = {};
    int const got =
        std::sscanf(res.out.c_str(),
                    "ok=%zu bad=%zu hwm_kib=%ld base_kib=%ld rss_kib=%ld first_ms=%lf last_ms=%lf "
                    "error=%255[^\n]",
                    &ok, &bad, &m.hwm_kib, &m.base_kib, &m.rss_kib, &m.first_ms, &m.last_ms, err);
    if (got < 7 || !res.ok() || ok != n) {
        m.error = "memory child failed (" + std::to_string(ok) + " of " + std::to_string(n) +
                  " fetches ok): " + err;
        return m;
    }
    // Each request is held hold_ms from its arrival: when the last answer came less than that
    // after the first, every request had arrived before any was answered.
    m.overlapped = m.last_ms - m.first_ms < double(hold_ms);
    if (!m.overlapped) m.error = "the fetches did not all overlap (raise the hold time)";
    return m;
}

// ---------------------------------------------------------------------------------------------
// The run.

struct options {
    double seconds = 2;
    int reps = 5;
    bool smoke = false;
    bool memory = true;
    bool throughput = true;
    bool verbose = false;
    bool tls_10k = false;
    std::string json;
    std::string only;
    std::string transport = "tls";
    // --memory-child
    std::size_t child_n = 0;
    std::string url, ca;
    int hold_ms = 0;
    int ramp_ms = 0;
};

void usage(FILE* to) {
    std::fprintf(to, "usage: bench_fetch [--seconds S] [--reps N] [--json FILE] [--no-memory] "
                     "[--memory-only] [--tls-10k] [--verbose]\n"
                     "       bench_fetch --smoke [--json FILE]\n"
                     "       bench_fetch --only CELL --transport tls|http [--seconds S]\n"
                     "         CELL: payouts-seq payouts-64 wrk-1 wrk-64 curl-seq curl-64\n");
}

std::optional<options> parse_args(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        std::string_view const a = argv[i];
        auto value = [&]() -> char const* { return i + 1 < argc ? argv[++i] : nullptr; };
        char const* v = nullptr;
        if (a == "--smoke") {
            o.smoke = true;
            o.seconds = 0.15;
            o.reps = 1;
        } else if (a == "--no-memory") {
            o.memory = false;
        } else if (a == "--memory-only") {
            o.throughput = false;
        } else if (a == "--verbose") {
            o.verbose = true;
        } else if (a == "--tls-10k") {
            o.tls_10k = true;
        } else if (a == "--help" || a == "-h") {
            usage(stdout);
            std::exit(0);
        } else if (a == "--seconds" && (v = value())) {
            o.seconds = std::atof(v);
        } else if (a == "--reps" && (v = value())) {
            o.reps = std::atoi(v);
        } else if (a == "--json" && (v = value())) {
            o.json = v;
        } else if (a == "--only" && (v = value())) {
            o.only = v;
        } else if (a == "--transport" && (v = value())) {
            o.transport = v;
        } else if (a == "--memory-child" && (v = value())) {
            o.child_n = std::size_t(std::atol(v));
        } else if (a == "--url" && (v = value())) {
            o.url = v;
        } else if (a == "--ca" && (v = value())) {
            o.ca = v;
        } else if (a == "--hold-ms" && (v = value())) {
            o.hold_ms = std::atoi(v);
        } else if (a == "--ramp-ms" && (v = value())) {
            o.ramp_ms = std::atoi(v);
        } else {
            return std::nullopt;
        }
    }
    if (o.seconds <= 0 || o.reps < 1) return std::nullopt;
    if (o.transport != "tls" && o.transport != "http") return std::nullopt;
    return o;
}

constexpr std::array<std::string_view, 6> cell_names{"payouts-seq", "payouts-64", "wrk-1",
                                                     "wrk-64",      "curl-seq",   "curl-64"};
enum cell : std::size_t { payouts_seq, payouts_64, wrk_1, wrk_64, curl_seq, curl_64 };

struct tools_found {
    bool wrk = false;
    bool curl = false;
};

bool cell_available(std::size_t c, tools_found const& t) {
    if (c == wrk_1 || c == wrk_64) return t.wrk;
    if (c == curl_seq || c == curl_64) return t.curl;
    return true;
}

sample run_cell(std::size_t c, sandbox const& sb, expectation const& e, double seconds) {
    switch (c) {
    case payouts_seq:
        return run_payouts(sb, e, 1, seconds);
    case payouts_64:
        return run_payouts(sb, e, concurrency, seconds);
    case wrk_1:
        return run_wrk(sb, 1, seconds);
    case wrk_64:
        return run_wrk(sb, concurrency, seconds);
    case curl_seq:
        return run_curl(sb, e, 1, seconds);
    default:
        return run_curl(sb, e, concurrency, seconds);
    }
}

std::string first_line(std::string const& s) {
    return s.substr(0, s.find('\n'));
}

std::string cpu_model() {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line))
        if (line.starts_with("model name")) {
            auto const colon = line.find(':');
            return colon == std::string::npos ? line : line.substr(colon + 2);
        }
    return "unknown";
}

boost::json::object machine_info(tools_found const& t) {
    boost::json::object m;
    utsname u{};
    ::uname(&u);
    m["nproc"] = ::sysconf(_SC_NPROCESSORS_ONLN);
    m["cpu"] = cpu_model();
    m["kernel"] = std::string(u.release);
    m["build"] = PAYOUTS_BENCH_BUILDTYPE;
    m["gcc"] = __VERSION__;
    m["boost"] = std::to_string(BOOST_VERSION / 100000) + "." +
                 std::to_string(BOOST_VERSION / 100 % 1000) + "." +
                 std::to_string(BOOST_VERSION % 100);
    m["openssl"] = OpenSSL_version(OPENSSL_VERSION);
    if (t.wrk) m["wrk"] = first_line(run_child({"wrk", "-v"}).out);
    if (t.curl) m["libcurl"] = first_line(run_child({PAYOUTS_BENCH_CURL_CLIENT, "--version"}).out);
    m["load_average_start"] = load_average();
    return m;
}

std::string fmt(char const* f, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, f, v);
    return buf;
}

// Median of per-rep ratios a[r] / b[r] (each pair from the same rep, so drift cancels).
double paired_ratio(std::vector<sample> const& a, std::vector<sample> const& b, bool cpu) {
    std::vector<double> v;
    for (std::size_t r = 0; r < a.size() && r < b.size(); ++r) {
        double const x = cpu ? a[r].cpu_per_req : a[r].rps;
        double const y = cpu ? b[r].cpu_per_req : b[r].rps;
        if (x > 0 && y > 0) v.push_back(x / y);
    }
    return median(v);
}

int run_only(options const& o) {
    auto const it = std::find(cell_names.begin(), cell_names.end(), o.only);
    if (it == cell_names.end()) {
        usage(stderr);
        return 2;
    }
    sandbox sb(o.transport == "tls");
    expectation e;
    auto d = payouts::decode<payouts::Yuno>(read_file(std::string(PAYOUTS_SANDBOX_DATA_DIR) +
                                                      "/yuno/" + std::string(payout_id) + ".json"));
    if (!d) throw std::runtime_error("the sandbox's file does not decode");
    e.want = std::move(*d);
    auto const s = run_cell(std::size_t(it - cell_names.begin()), sb, e, o.seconds);
    std::printf("%s %s: %.0f requests/s, %.2f us CPU per request, %lld requests, server %.0f%% "
                "of a core%s%s\n",
                it->data(), sb.name(), s.rps, s.cpu_per_req * 1e6, s.requests, s.server_load * 100,
                s.error.empty() ? "" : "; FAILED: ", s.error.c_str());
    return s.error.empty() ? 0 : 1;
}

int run_all(options const& o) {
    auto const start = clock_type::now();
    tools_found t;
    t.wrk = on_path("wrk");
    t.curl = std::string_view(PAYOUTS_BENCH_CURL_CLIENT).size() > 0 &&
             ::access(PAYOUTS_BENCH_CURL_CLIENT, X_OK) == 0;
    rlim_t const fd_limit = raise_open_file_limit();

    boost::json::object doc;
    doc["machine"] = machine_info(t);
    auto const& m = doc["machine"].as_object();
    std::printf("bench_fetch: payouts::fetch<Yuno> beside wrk and libcurl, one run\n");
    std::printf("build: %s, GCC %s, %s, Boost %s, %s\n", PAYOUTS_BENCH_BUILDTYPE, __VERSION__,
#ifdef __OPTIMIZE__
                "optimised",
#else
                "NOT OPTIMISED",
#endif
                m.at("boost").as_string().c_str(), OpenSSL_version(OPENSSL_VERSION));
    std::printf("baselines: %s; %s\n",
                t.wrk ? m.at("wrk").as_string().c_str() : "wrk not found (its cells are empty)",
                t.curl ? m.at("libcurl").as_string().c_str()
                       : "libcurl client not built (its cells are empty)");
    std::printf("machine: %ld CPUs, %s, kernel %s\n", long(::sysconf(_SC_NPROCESSORS_ONLN)),
                cpu_model().c_str(), m.at("kernel").as_string().c_str());
    std::printf("body: Yuno %s (%s), keep-alive; %zu-way concurrency; %d rep(s) of %.3g s per "
                "cell%s; load average %s\n\n",
                std::string(payout_id).c_str(), "2303 bytes", concurrency, o.reps, o.seconds,
                o.smoke ? " (smoke)" : "", load_average().c_str());

    expectation e;
    {
        auto d = payouts::decode<payouts::Yuno>(read_file(
            std::string(PAYOUTS_SANDBOX_DATA_DIR) + "/yuno/" + std::string(payout_id) + ".json"));
        if (!d) throw std::runtime_error("the sandbox's file does not decode");
        e.want = std::move(*d);
    }

    sandbox tls(true), http(false);
    std::array<sandbox const*, 2> const sbs{&tls, &http};
    // samples[transport][cell][rep]
    std::array<std::array<std::vector<sample>, cell_names.size()>, 2> samples;
    bool failed = false;
    for (int r = 0; r < o.reps && o.throughput; ++r)
        for (std::size_t si = 0; si < sbs.size(); ++si)
            for (std::size_t c = 0; c < cell_names.size(); ++c) {
                if (!cell_available(c, t)) continue;
                auto const t0 = clock_type::now();
                auto s = run_cell(c, *sbs[si], e, o.seconds);
                if (o.verbose)
                    std::printf("rep %d %s %s: %.0f requests/s, %.2f us CPU per request, "
                                "server %.0f%%, %.3f s\n",
                                r, sbs[si]->name(), cell_names[c].data(), s.rps,
                                s.cpu_per_req * 1e6, s.server_load * 100, since(t0));
                if (!s.error.empty()) {
                    std::printf("FAILED: %s %s: %s\n", sbs[si]->name(), cell_names[c].data(),
                                s.error.c_str());
                    failed = true;
                }
                samples[si][c].push_back(std::move(s));
            }

    auto med = [&](std::size_t si, std::size_t c, auto field) {
        std::vector<double> v;
        for (auto const& s : samples[si][c])
            v.push_back(s.*field);
        return median(v);
    };
    auto cellv = [&](std::size_t si, std::size_t c, auto field, char const* f, double scale) {
        return samples[si][c].empty() ? std::string("-") : fmt(f, med(si, c, field) * scale);
    };
    auto ratio = [&](std::size_t si, std::size_t a, std::size_t b, bool cpu) {
        return samples[si][a].empty() || samples[si][b].empty()
                   ? std::string("-")
                   : fmt("%.2f", paired_ratio(samples[si][a], samples[si][b], cpu));
    };

    boost::json::object thr;
    struct row {
        std::size_t pay, wrk, curl;
        char const* mode;
    };
    std::array<row, 2> const rows{row{payouts_seq, wrk_1, curl_seq, "sequential, 1 connection"},
                                  row{payouts_64, wrk_64, curl_64, "64 concurrent"}};

    if (o.throughput) {
        std::printf("requests/s (median); ratios are medians of per-rep ratios:\n\n");
        std::printf("| transport | mode | payouts | wrk | libcurl | payouts/wrk | payouts/libcurl "
                    "|\n|---|---|---:|---:|---:|---:|---:|\n");
        for (std::size_t si = 0; si < sbs.size(); ++si)
            for (auto const& rw : rows)
                std::printf("| %s | %s | %s | %s | %s | %s | %s |\n", sbs[si]->name(), rw.mode,
                            cellv(si, rw.pay, &sample::rps, "%.0f", 1).c_str(),
                            cellv(si, rw.wrk, &sample::rps, "%.0f", 1).c_str(),
                            cellv(si, rw.curl, &sample::rps, "%.0f", 1).c_str(),
                            ratio(si, rw.pay, rw.wrk, false).c_str(),
                            ratio(si, rw.pay, rw.curl, false).c_str());

        std::printf(
            "\nclient CPU microseconds per request (median; below 1: payouts uses less):\n\n");
        std::printf("| transport | mode | payouts | wrk | libcurl | payouts/wrk | payouts/libcurl "
                    "|\n|---|---|---:|---:|---:|---:|---:|\n");
        for (std::size_t si = 0; si < sbs.size(); ++si)
            for (auto const& rw : rows)
                std::printf("| %s | %s | %s | %s | %s | %s | %s |\n", sbs[si]->name(), rw.mode,
                            cellv(si, rw.pay, &sample::cpu_per_req, "%.2f", 1e6).c_str(),
                            cellv(si, rw.wrk, &sample::cpu_per_req, "%.2f", 1e6).c_str(),
                            cellv(si, rw.curl, &sample::cpu_per_req, "%.2f", 1e6).c_str(),
                            ratio(si, rw.pay, rw.wrk, true).c_str(),
                            ratio(si, rw.pay, rw.curl, true).c_str());

        std::printf("\nthe sandbox's CPU while each cell ran (%% of one core, median; near 100%%: "
                    "the server set the pace):\n\n");
        std::printf("| transport | mode | payouts | wrk | libcurl |\n|---|---|---:|---:|---:|\n");
        for (std::size_t si = 0; si < sbs.size(); ++si)
            for (auto const& rw : rows)
                std::printf("| %s | %s | %s | %s | %s |\n", sbs[si]->name(), rw.mode,
                            cellv(si, rw.pay, &sample::server_load, "%.0f", 100).c_str(),
                            cellv(si, rw.wrk, &sample::server_load, "%.0f", 100).c_str(),
                            cellv(si, rw.curl, &sample::server_load, "%.0f", 100).c_str());

        // Targets: at least 0.9x libcurl in every cell, 1.0x at 64 in flight; wrk is shown.
        std::printf("\ntargets (throughput): payouts/libcurl >= 0.9, and >= 1.0 at 64 "
                    "concurrent (payouts/wrk shown, no target)\n");
        for (std::size_t si = 0; si < sbs.size(); ++si)
            for (auto const& rw : rows) {
                auto verdict = [&](std::size_t b, double target) -> std::string {
                    if (samples[si][b].empty() || samples[si][rw.pay].empty())
                        return "not measured";
                    double const x = paired_ratio(samples[si][rw.pay], samples[si][b], false);
                    if (target <= 0) return fmt("%.2f", x);
                    return fmt("%.2f ", x) + (x >= target ? "met" : "MISSED");
                };
                bool const many = std::string_view(rw.mode).starts_with("64");
                std::printf("  %s, %s: vs libcurl %s; vs wrk %s\n", sbs[si]->name(), rw.mode,
                            verdict(rw.curl, many ? 1.0 : 0.9).c_str(), verdict(rw.wrk, 0).c_str());
            }
    }

    for (std::size_t si = 0; si < sbs.size(); ++si) {
        boost::json::object tr;
        for (std::size_t c = 0; c < cell_names.size(); ++c) {
            if (samples[si][c].empty()) continue;
            boost::json::object cj;
            cj["requests_per_s"] = med(si, c, &sample::rps);
            cj["cpu_us_per_request"] = med(si, c, &sample::cpu_per_req) * 1e6;
            cj["server_load"] = med(si, c, &sample::server_load);
            boost::json::array reps;
            for (auto const& s : samples[si][c])
                reps.push_back(boost::json::object{{"requests_per_s", s.rps},
                                                   {"cpu_us_per_request", s.cpu_per_req * 1e6},
                                                   {"requests", s.requests}});
            cj["reps"] = std::move(reps);
            tr[cell_names[c]] = std::move(cj);
        }
        boost::json::object ratios;
        for (auto const& rw : rows) {
            std::string const k = rw.pay == payouts_seq ? "seq" : "c64";
            if (!samples[si][rw.wrk].empty()) {
                ratios[k + "_vs_wrk"] =
                    paired_ratio(samples[si][rw.pay], samples[si][rw.wrk], false);
                ratios[k + "_cpu_vs_wrk"] =
                    paired_ratio(samples[si][rw.pay], samples[si][rw.wrk], true);
            }
            if (!samples[si][rw.curl].empty()) {
                ratios[k + "_vs_libcurl"] =
                    paired_ratio(samples[si][rw.pay], samples[si][rw.curl], false);
                ratios[k + "_cpu_vs_libcurl"] =
                    paired_ratio(samples[si][rw.pay], samples[si][rw.curl], true);
            }
        }
        tr["ratios"] = std::move(ratios);
        thr[sbs[si]->name()] = std::move(tr);
    }
    doc["throughput"] = std::move(thr);

    if (o.memory) {
        // Points per transport. Over TLS every fetch in flight is its own connection and
        // handshake, so the 10 000 point is opt-in there (--tls-10k).
        // Over TLS the fetches are also started spread out (ramped), so that the peak holds
        // n established connections rather than n handshakes at once: OpenSSL's handshake
        // state (a zero-filled 16 KiB message buffer among it) is freed when a handshake ends.
        struct plan {
            sandbox const* sb;
            std::vector<std::size_t> ns;
            bool ramped = false;
        };
        std::vector<plan> plans;
        if (o.smoke) {
            plans = {{&http, {1, 100}}, {&tls, {1, 100}}, {&tls, {100}, true}};
        } else {
            plans = {{&http, {1, 1000, 10000}},
                     {&tls, o.tls_10k ? std::vector<std::size_t>{1, 1000, 10000}
                                      : std::vector<std::size_t>{1, 1000}},
                     {&tls, {1000}, true}};
        }
        int const mem_reps = o.smoke ? 1 : 3;
        std::printf("\nmemory: peak RSS of a child process with n fetches in flight (each held by "
                    "the sandbox); median of %d; descriptor limit %llu\n\n",
                    mem_reps, static_cast<unsigned long long>(fd_limit));
        std::printf("| transport | in flight | started | hold (ms) | peak RSS (KiB) | "
                    "over n = 1 (KiB) | bytes per fetch in flight |\n"
                    "|---|---:|---|---:|---:|---:|---:|\n");
        boost::json::array mem;
        double tls_base_kib = 0; // the at-once n = 1 point, the base of the ramped rows
        for (auto const& p : plans) {
            double base_kib = 0;
            for (std::size_t n : p.ns) {
                if (n + 256 > fd_limit) {
                    std::printf("| %s | %zu | | - | skipped: descriptor limit %llu | | |\n",
                                p.sb->name(), n, static_cast<unsigned long long>(fd_limit));
                    continue;
                }
                // Long enough for every connection (and handshake) to be made before the first
                // answer; the child checks that they overlapped.
                // A ramp of 4 ms a fetch is slower than the sandbox's handshakes.
                int const ramp = p.ramped ? int(n * 4) : 0;
                int const hold = ramp + (o.smoke       ? 150
                                         : p.sb->tls() ? int(500 + n * 3)
                                                       : int(500 + n * 7 / 20));
                std::vector<double> hwm;
                std::string error;
                for (int r = 0; r < mem_reps; ++r) {
                    auto const t0 = clock_type::now();
                    auto const pt = run_memory_point(*p.sb, n, hold, ramp);
                    if (o.verbose)
                        std::printf("memory %s n=%zu: VmHWM %ld KiB (%ld before the fetches), "
                                    "VmRSS %ld KiB at the first answer, answers from %.0f to "
                                    "%.0f ms, %.3f s\n",
                                    p.sb->name(), n, pt.hwm_kib, pt.base_kib, pt.rss_kib,
                                    pt.first_ms, pt.last_ms, since(t0));
                    if (!pt.error.empty()) error = pt.error;
                    hwm.push_back(double(pt.hwm_kib));
                }
                double const h = median(hwm);
                if (n == 1) base_kib = h;
                if (p.ramped) base_kib = tls_base_kib;
                if (n == 1 && p.sb->tls()) tls_base_kib = h;
                double const per =
                    n > 1 && base_kib > 0 ? (h - base_kib) * 1024 / double(n - 1) : 0;
                if (!error.empty()) {
                    std::printf("FAILED: memory %s n=%zu: %s\n", p.sb->name(), n, error.c_str());
                    failed = true;
                }
                std::printf("| %s | %zu | %s | %d | %.0f | %s | %s |\n", p.sb->name(), n,
                            p.ramped ? fmt("over %.0f ms", ramp).c_str() : "at once", hold, h,
                            n > 1 ? fmt("%.0f", h - base_kib).c_str() : "-",
                            n > 1 ? fmt("%.0f", per).c_str() : "-");
                mem.push_back(boost::json::object{{"transport", p.sb->name()},
                                                  {"in_flight", n},
                                                  {"ramp_ms", ramp},
                                                  {"hold_ms", hold},
                                                  {"peak_rss_kib", h},
                                                  {"bytes_per_fetch", per}});
            }
        }
        std::printf("\ntarget (memory): TLS at most 100 KiB (102400 bytes) per fetch in flight\n");
        for (auto const& v : mem) {
            auto const& x = v.as_object();
            if (x.at("in_flight").to_number<double>() < 2) continue;
            double const per = x.at("bytes_per_fetch").to_number<double>();
            std::printf("  %s, %lld in flight%s: %.0f bytes, %s\n",
                        x.at("transport").as_string().c_str(),
                        static_cast<long long>(x.at("in_flight").to_number<double>()),
                        x.at("ramp_ms").to_number<double>() > 0 ? " (ramped)" : "", per,
                        x.at("transport").as_string() != "tls" ? "no target"
                        : per <= 102400                        ? "met"
                                                               : "MISSED");
        }
        doc["memory"] = std::move(mem);
    }

    doc["machine"].as_object()["load_average_end"] = load_average();
    doc["seconds_per_sample"] = o.seconds;
    doc["reps"] = o.reps;
    doc["smoke"] = o.smoke;
    if (!o.json.empty()) {
        std::ofstream out(o.json);
        out << boost::json::serialize(doc) << "\n";
        if (!out) throw std::runtime_error("cannot write " + o.json);
    }
    std::printf("\ntotal %.1f s, load average now %s%s\n", since(start), load_average().c_str(),
                failed ? "; SOME CELLS FAILED" : "");
    return failed ? 1 : 0;
}

} // namespace

int main(int argc, char** argv) {
    auto const opt = parse_args(argc, argv);
    if (!opt) {
        usage(stderr);
        return 2;
    }
    // A child that dies (a sandbox) must not kill us through a write to its pipe.
    ::signal(SIGPIPE, SIG_IGN);
    try {
        if (opt->child_n > 0)
            return memory_child(opt->url, opt->ca, opt->child_n, opt->hold_ms, opt->ramp_ms);
        if (!opt->only.empty()) return run_only(*opt);
        return run_all(*opt);
    } catch (std::exception const& e) {
        std::fprintf(stderr, "bench_fetch: %s\n", e.what());
        return 1;
    }
}
