// End to end with spawned processes: payouts-sandbox on 127.0.0.1 (real TLS, throwaway CA) and
// the `payouts` CLI run against it — get for every provider and format, exit codes by error
// class, faults seen from the client, a 1 000-id batch where every id is answered once, and
// watch over the sandbox's moving payouts (changes, deadline, failures, signals).
#include <cli_path.hpp>
#include <sandbox_path.hpp>

#include "support/child_process.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value_to.hpp>
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

std::string slurp(fs::path const& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// Shell-quotes one argument.
std::string q(std::string_view s) {
    std::string out = "'";
    for (char c : s)
        out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

class sandbox {
public:
    explicit sandbox(std::vector<std::string> extra = {}) {
        dir_ = fs::temp_directory_path() / ("payouts-cli-test-" + std::to_string(::getpid()) + "-" +
                                            std::to_string(counter_++));
        fs::create_directories(dir_);
        std::string cmd = "exec " + q(PAYOUTS_SANDBOX_EXE) + " --port 0 --quiet --state-dir " +
                          q((dir_ / "pki").string());
        for (auto const& e : extra)
            cmd += " " + q(e);
        cmd += " >" + q((dir_ / "out").string()) + " 2>" + q((dir_ / "err").string());
        pid_ = ::fork();
        if (pid_ == 0) {
            ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
            ::_exit(127);
        }
        for (int i = 0; i < 200; ++i) {
            std::istringstream lines(slurp(dir_ / "out"));
            std::string l1, l2;
            if (std::getline(lines, l1) && std::getline(lines, l2)) {
                base = l1;
                ca = l2;
                return;
            }
            ::usleep(50000);
        }
        FAIL("the sandbox did not print its base URL");
    }
    ~sandbox() {
        ::kill(pid_, SIGTERM);
        int st = 0;
        ::waitpid(pid_, &st, 0);
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }
    fs::path dir() const { return dir_; }

    std::string base, ca;

private:
    static inline int counter_ = 0;
    pid_t pid_ = -1;
    fs::path dir_;
};

struct run_result {
    int code = -1;
    std::string out, err;
};

// The environment a user would set for the sandbox, with its default credentials.
std::map<std::string, std::string> env_for(sandbox const& s) {
    return {
        {"PAYOUTS_CA_FILE", s.ca},
        {"PAYOUTS_TRUUST_BASE_URL", s.base + "/truust/2.0"},
        {"PAYOUTS_TRUUST_SECRET_KEY", "sandbox_truust_secret"},
        {"PAYOUTS_DRUO_BASE_URL", s.base + "/druo"},
        {"PAYOUTS_DRUO_TOKEN_URL", s.base + "/druo-auth/oauth/token"},
        {"PAYOUTS_DRUO_CLIENT_ID", "sandbox_druo_client_id"},
        {"PAYOUTS_DRUO_CLIENT_SECRET", "sandbox_druo_client_secret"},
        {"PAYOUTS_CHECKOUT_BASE_URL", s.base + "/checkout"},
        {"PAYOUTS_CHECKOUT_SECRET_KEY", "sandbox_checkout_secret_key"},
        {"PAYOUTS_YUNO_BASE_URL", s.base + "/yuno/v1"},
        {"PAYOUTS_YUNO_PUBLIC_API_KEY", "sandbox_yuno_public_api_key"},
        {"PAYOUTS_YUNO_PRIVATE_SECRET_KEY", "sandbox_yuno_private_secret_key"},
        {"PAYOUTS_INTROW_BASE_URL", s.base + "/introw"},
        {"PAYOUTS_INTROW_API_KEY", "sandbox_introw_api_key"},
        {"PAYOUTS_TIMEOUT_MS", "8000"},
    };
}

// `env -i` and the variables given, plus the sanitizers' options when the tests run under them
// (so a report in the spawned CLI fails its run rather than scrolling by).
std::string clean_env(std::map<std::string, std::string> const& env) {
    std::string cmd = "env -i PATH=/usr/bin:/bin";
    for (char const* s : {"ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", "TSAN_OPTIONS"})
        if (char const* v = std::getenv(s)) cmd += std::string(" ") + s + "=" + q(v);
    for (auto const& [k, v] : env)
        cmd += " " + k + "=" + q(v);
    return cmd;
}

run_result run_cli(std::map<std::string, std::string> const& env, std::string const& args,
                   fs::path const& work, std::string const& stdin_file = "/dev/null") {
    std::string cmd = clean_env(env);
    auto const out = work / "cli.out", err = work / "cli.err";
    cmd += " " + q(PAYOUTS_CLI_EXE) + " " + args + " <" + q(stdin_file) + " >" + q(out.string()) +
           " 2>" + q(err.string());
    int const st = std::system(cmd.c_str());
    run_result r;
    r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    r.out = slurp(out);
    r.err = slurp(err);
    return r;
}

// Runs the CLI with stderr on a pseudo-terminal (util-linux `script` records what the terminal
// showed) and stdout to a file: the exit code, what the terminal showed, what went to stdout.
struct tty_run {
    int code = -1;
    std::string shown, out;
};
tty_run run_on_terminal(std::map<std::string, std::string> const& env, std::string const& args,
                        fs::path const& work) {
    auto const out = work / "tty.out", typescript = work / "tty.log";
    auto const cli =
        clean_env(env) + " " + q(PAYOUTS_CLI_EXE) + " " + args + " >" + q(out.string());
    int const st = std::system(
        ("script -q -e -c " + q(cli) + " " + q(typescript.string()) + " </dev/null >/dev/null 2>&1")
            .c_str());
    return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, slurp(typescript), slurp(out)};
}

struct known {
    char const* provider;
    char const* id;
    char const* status;
    char const* amount; // decimal text, or "" for none
};

constexpr known documented[] = {
    {"truust", "456", "paid", ""},
    {"druo", "trx_1f4dc72b-5b76-432c-8f4f-e0919aaff3f5", "paid", "200.00"},
    {"checkout", "pay_gwlowf7eap7uzm4cyaaqoq62au", "returned", "10.00"},
    {"yuno", "1c58426d-2c1b-4476-b3c0-447a8c683466", "paid", "100.00"},
    {"introw", "pay_2x7n4q8z0w1a2b3c4d5e6f7g", "pending", "4250.00"},
};

} // namespace

TEST_CASE("get: every provider, as JSON and as a table") {
    sandbox s;
    auto const env = env_for(s);
    for (auto const& k : documented) {
        CAPTURE(k.provider);
        auto r = run_cli(env, std::string("get ") + k.provider + " " + q(k.id) + " --format json",
                         s.dir());
        REQUIRE(r.code == 0);
        auto const v = json::parse(r.out);
        CHECK(v.at("provider") == k.provider);
        CHECK(v.at("status") == k.status);
        if (*k.amount)
            CHECK(v.at("amount").at("value") == k.amount);
        else
            CHECK(v.at("amount").is_null());
        CHECK(!v.at("raw").as_string().empty());

        r = run_cli(env, std::string("get ") + k.provider + " " + q(k.id), s.dir());
        REQUIRE(r.code == 0);
        CHECK(r.out.find("provider_status") != std::string::npos);
        CHECK(r.out.find(k.status) != std::string::npos);
    }
}

TEST_CASE("get --verbose shows attempts and never a credential") {
    sandbox s;
    auto env = env_for(s);
    env["PAYOUTS_YUNO_PRIVATE_SECRET_KEY"] = "canary-secret-0451";
    auto const r = run_cli(env, "get yuno 1c58426d-2c1b-4476-b3c0-447a8c683466 --verbose", s.dir());
    CHECK(r.code == 4); // the sandbox refuses the canary: auth class
    CHECK(r.err.find("attempt 1") != std::string::npos);
    CHECK(r.err.find("private-secret-key: <redacted>") != std::string::npos);
    CHECK(r.err.find("canary-secret-0451") == std::string::npos);
    CHECK(r.out.find("canary-secret-0451") == std::string::npos);

    // The request as sent, a line per header, each attempt with its own status and time; the
    // OAuth token request of DRUO shown too; no credential of any kind printed.
    auto const v = run_cli(env_for(s),
                           "get yuno flaky-1-tag-v-1c58426d-2c1b-4476-b3c0-447a8c683466 druo "
                           "trx_1f4dc72b-5b76-432c-8f4f-e0919aaff3f5 --verbose",
                           s.dir());
    CHECK(v.code == 0);
    CHECK(v.err.find("  | GET /yuno/v1/payouts/flaky-1-tag-v-1c58426d") != std::string::npos);
    CHECK(v.err.find("  | Accept-Encoding: identity\n") != std::string::npos);
    CHECK(v.err.find("  | public-api-key: <redacted>\n") != std::string::npos);
    CHECK(v.err.find("  | private-secret-key: <redacted>\n") != std::string::npos);
    CHECK(v.err.find("  | DRUO-Version: 2021-11-22\n") != std::string::npos);
    CHECK(v.err.find("  | Authorization: <redacted>\n") != std::string::npos);
    // Each line names its payout: the two fetches run at once.
    std::string const yuno = "yuno flaky-1-tag-v-1c58426d-2c1b-4476-b3c0-447a8c683466";
    CHECK(v.err.find("> " + yuno + " attempt 1 to 127.0.0.1:") != std::string::npos);
    CHECK(v.err.find("< " + yuno + " attempt 1: status 503 in ") != std::string::npos);
    CHECK(v.err.find("< " + yuno + " attempt 2: status 200 in ") != std::string::npos);
    CHECK(v.err.find("  druo trx_1f4dc72b-5b76-432c-8f4f-e0919aaff3f5 OAuth token from "
                     "127.0.0.1:") != std::string::npos);
    CHECK(v.err.find(": status 200\n") != std::string::npos);
    for (auto const& [name, value] : env_for(s))
        if (name.find("KEY") != std::string::npos || name.find("SECRET") != std::string::npos)
            CHECK_MESSAGE(v.err.find(value) == std::string::npos, name);
    CHECK(v.err.find("Bearer") == std::string::npos);
}

TEST_CASE("exit codes follow the error class") {
    sandbox s;
    auto const env = env_for(s);
    auto code = [&](std::map<std::string, std::string> const& e, std::string const& args) {
        return run_cli(e, args, s.dir()).code;
    };
    CHECK(code(env, "frobnicate") == 2);
    CHECK(code(env, "get nosuchprovider x") == 2);
    CHECK(code(env, "get yuno x --format xml") == 2);
    CHECK(code(env, "get truust not-a-number") == 2);
    CHECK(code(env, "--help") == 0);

    auto no_key = env;
    no_key.erase("PAYOUTS_INTROW_API_KEY");
    CHECK(code(no_key, "get introw pay_2x7n4q8z0w1a2b3c4d5e6f7g") == 3);
    auto bad_env = env;
    bad_env["PAYOUTS_ENVIRONMENT"] = "staging";
    CHECK(code(bad_env, "get introw pay_2x7n4q8z0w1a2b3c4d5e6f7g") == 3);

    auto wrong_key = env;
    wrong_key["PAYOUTS_TRUUST_SECRET_KEY"] = "wrong";
    CHECK(code(wrong_key, "get truust 456") == 4);

    CHECK(code(env, "get truust 999") == 5);
    CHECK(code(env, "get druo trx_00000000-0000-0000-0000-000000000000") == 5);
    CHECK(code(env, "get checkout pay_doesnotexist") == 5);
    CHECK(code(env, "get yuno 00000000-0000-0000-0000-000000000000") == 5); // Yuno's 400 NOT_FOUND
    CHECK(code(env, "get introw pay_doesnotexist") == 5);

    auto untrusted = env;
    untrusted.erase("PAYOUTS_CA_FILE");
    CHECK(code(untrusted, "get introw pay_2x7n4q8z0w1a2b3c4d5e6f7g") == 6);
    auto closed = env;
    closed["PAYOUTS_INTROW_BASE_URL"] = "https://127.0.0.1:1/introw";
    CHECK(code(closed, "get introw pay_2x7n4q8z0w1a2b3c4d5e6f7g") == 6);

    CHECK(code(env, "get yuno flaky-9-1c58426d-2c1b-4476-b3c0-447a8c683466") == 7);
    CHECK(code(env, "get yuno malformed-1c58426d-2c1b-4476-b3c0-447a8c683466") == 8);
    CHECK(code(env, "get yuno oversized-1c58426d-2c1b-4476-b3c0-447a8c683466") == 8);
}

TEST_CASE("faults seen through the CLI: retried ones succeed, broken streams fail typed") {
    sandbox s;
    auto const env = env_for(s);
    auto get = [&](std::string const& id) {
        return run_cli(env, "get yuno " + q(id) + " --format json", s.dir());
    };
    std::string const id = "1c58426d-2c1b-4476-b3c0-447a8c683466";
    CHECK(get("flaky-2-" + id).code == 0);     // two 503s, then the payout
    CHECK(get("ratelimit-1-" + id).code == 0); // 429 + Retry-After: 1, then the payout
    CHECK(get("slow-300-" + id).code == 0);
    auto const t = get("truncate-" + id);
    CHECK(t.code == 6);
    auto const r = get("reset-" + id);
    CHECK(r.code == 6);
    // A stalled answer: the overall deadline ends it, as a timeout (network class).
    auto quick = env;
    quick["PAYOUTS_TIMEOUT_MS"] = "1000";
    auto const st = run_cli(quick, "get yuno " + q("stall-" + id) + " --format json", s.dir());
    CHECK(st.code == 6);
    CHECK(st.err.find("timeout") != std::string::npos);
}

TEST_CASE("batch: 1 000 ids with faults, each answered exactly once, in order, right") {
    sandbox s;
    auto const env = env_for(s);
    std::string const good = "1c58426d-2c1b-4476-b3c0-447a8c683466";
    std::vector<std::string> ids;
    std::vector<std::string> expect; // "paid", or the error code name
    for (int i = 0; i < 1000; ++i) {
        std::string const tag = "tag-b" + std::to_string(i) + "-";
        switch (i % 20) {
        case 3:
            ids.push_back(tag + "flaky-1-" + good);
            expect.push_back("paid");
            break;
        case 7:
            ids.push_back(tag + "ratelimit-1-" + good);
            expect.push_back("paid");
            break;
        case 11:
            ids.push_back(tag + "missing-" + std::to_string(i));
            expect.push_back("not_found");
            break;
        case 13:
            ids.push_back(tag + "malformed-" + good);
            expect.push_back("invalid_response");
            break;
        case 17:
            ids.push_back(tag + "flaky-5-" + good);
            expect.push_back("provider_unavailable");
            break;
        default:
            ids.push_back(tag + good);
            expect.push_back("paid");
            break;
        }
    }
    auto const file = s.dir() / "ids.txt";
    {
        std::ofstream out(file);
        for (std::size_t i = 0; i < ids.size(); ++i)
            out << ids[i] << (i % 100 == 0 ? "\n\n" : "\n"); // blank lines are skipped
    }
    auto const r = run_cli(env, "batch yuno " + q(file.string()) + " --concurrency 32", s.dir());
    CHECK(r.code == 9); // some ids fail, on purpose
    std::istringstream lines(r.out);
    std::size_t n = 0;
    for (std::string line; std::getline(lines, line); ++n) {
        REQUIRE(n < ids.size());
        auto const v = json::parse(line);
        CAPTURE(line);
        CHECK(v.at("id") == ids[n].c_str());
        if (expect[n] == "paid") {
            REQUIRE(v.at("ok") == true);
            CHECK(v.at("payout").at("status") == "paid");
            CHECK(v.at("payout").at("amount").at("value") == "100.00");
        } else {
            REQUIRE(v.at("ok") == false);
            CHECK(v.at("error").at("code") == expect[n].c_str());
        }
    }
    CHECK(n == ids.size());
    CHECK(r.err.find("summary: 1000 ids") != std::string::npos);
}

TEST_CASE("batch reads stdin and writes CSV; unparsable Truust ids keep their place") {
    sandbox s;
    auto const env = env_for(s);
    auto const file = s.dir() / "ids.txt";
    {
        std::ofstream out(file);
        out << "456\nabc\n457\n999\n";
    }
    auto const r = run_cli(env, "batch truust - --format csv", s.dir(), file.string());
    CHECK(r.code == 9);
    std::istringstream lines(r.out);
    std::vector<std::string> rows;
    for (std::string line; std::getline(lines, line);)
        rows.push_back(line);
    REQUIRE(rows.size() == 5);
    CHECK(rows[0].rfind("id,ok,status", 0) == 0);
    CHECK(rows[1].rfind("456,true,paid,CONFIRMED", 0) == 0);
    CHECK(rows[2].rfind("abc,false,", 0) == 0);
    CHECK(rows[2].find("invalid_id") != std::string::npos);
    CHECK(rows[3].rfind("457,true,pending,CREATED", 0) == 0);
    CHECK(rows[4].rfind("999,false,", 0) == 0);
    CHECK(rows[4].find("not_found") != std::string::npos);
}

TEST_CASE("batch: a progress bar on stderr only when stderr is a terminal; stdout stays clean") {
    sandbox s;
    auto const env = env_for(s);
    auto const file = s.dir() / "ids.txt";
    {
        std::ofstream out(file);
        for (int i = 0; i < 10; ++i)
            out << "tag-p" << i << "-1c58426d-2c1b-4476-b3c0-447a8c683466\n";
    }
    // Not a terminal: no bar.
    auto const plain = run_cli(env, "batch yuno " + q(file.string()), s.dir());
    CHECK(plain.code == 0);
    CHECK(plain.err.find('\r') == std::string::npos);
    CHECK(plain.err.find("summary: 10 ids, paid 10") != std::string::npos);

    // stderr on a pseudo-terminal (util-linux `script` records what the terminal showed).
    auto const [code, shown, lines] =
        run_on_terminal(env, "batch yuno " + q(file.string()) + " <" + q(file.string()), s.dir());
    CHECK(code == 0);
    CHECK(shown.find("\r[########################################] 10/10") != std::string::npos);
    CHECK(shown.find("] 1/10") != std::string::npos);
    CHECK(shown.find("summary: 10 ids, paid 10") != std::string::npos);
    // The results went to the file, one line per id, without any of the bar.
    CHECK(std::count(lines.begin(), lines.end(), '\n') == 10);
    CHECK(lines.find('\r') == std::string::npos);
    CHECK(lines.find("10/10") == std::string::npos);
}

TEST_CASE("get with several provider/id pairs: one table, a JSON array, the first failure's code") {
    sandbox s;
    auto const env = env_for(s);
    std::string args = "get";
    for (auto const& k : documented)
        args += std::string(" ") + k.provider + " " + q(k.id);
    auto r = run_cli(env, args, s.dir());
    REQUIRE(r.code == 0);
    std::istringstream lines(r.out);
    std::vector<std::string> rows;
    for (std::string line; std::getline(lines, line);)
        rows.push_back(line);
    REQUIRE(rows.size() == 2 + std::size(documented)); // header, rule, one row per pair
    CHECK(rows[0].rfind("provider ", 0) == 0);
    for (std::size_t i = 0; i < std::size(documented); ++i) {
        CAPTURE(documented[i].provider);
        CHECK(rows[2 + i].rfind(documented[i].provider, 0) == 0); // argument order
        CHECK(rows[2 + i].find(documented[i].status) != std::string::npos);
        // One set of column widths: the id column starts at the same place in every row.
        auto const col = rows[0].find(" id ") + 1;
        REQUIRE(rows[2 + i].size() > col);
        CHECK(rows[2 + i][col - 1] == ' ');
        CHECK(rows[2 + i][col] != ' ');
    }

    r = run_cli(
        env, args + " truust 999 yuno malformed-1c58426d-2c1b-4476-b3c0-447a8c683466 --format json",
        s.dir());
    CHECK(r.code == 5); // the first failure (not found) decides, not the later decode error
    auto const v = json::parse(r.out);
    REQUIRE(v.as_array().size() == std::size(documented) + 2);
    for (std::size_t i = 0; i < std::size(documented); ++i)
        CHECK(v.at(i).at("status") == documented[i].status);
    CHECK(v.at(5).at("provider") == "truust");
    CHECK(v.at(5).at("id") == "999");
    CHECK(v.at(5).at("error").at("code") == "not_found");
    CHECK(v.at(6).at("error").at("code") == "invalid_response");
    CHECK(r.err.find("payouts: truust 999: not_found") != std::string::npos);

    CHECK(run_cli(env, "get yuno", s.dir()).code == 2);            // a provider without an id
    CHECK(run_cli(env, "get yuno x nosuch y", s.dir()).code == 2); // an unknown provider
}

TEST_CASE("batch: a server closing every keep-alive connection loses no id") {
    // --close-after 1: each connection is closed after its first answer, unannounced, so most
    // fetches find a stale cached connection; resets and truncations on top.
    sandbox s({"--close-after", "1"});
    auto const env = env_for(s);
    std::string const good = "1c58426d-2c1b-4476-b3c0-447a8c683466";
    std::vector<std::string> ids, expect;
    for (int i = 0; i < 300; ++i) {
        std::string const tag = "tag-k" + std::to_string(i) + "-";
        if (i % 25 == 5) {
            ids.push_back(tag + "reset-" + good);
            expect.push_back("error");
        } else if (i % 25 == 9) {
            ids.push_back(tag + "slow-50-" + good);
            expect.push_back("paid");
        } else {
            ids.push_back(tag + good);
            expect.push_back("paid");
        }
    }
    auto const file = s.dir() / "ids.txt";
    {
        std::ofstream out(file);
        for (auto const& id : ids)
            out << id << '\n';
    }
    auto const r = run_cli(env, "batch yuno " + q(file.string()) + " --concurrency 8", s.dir());
    CHECK(r.code == 9); // the resets fail, on purpose; nothing else may
    std::istringstream lines(r.out);
    std::size_t n = 0, paid = 0;
    for (std::string line; std::getline(lines, line); ++n) {
        REQUIRE(n < ids.size());
        auto const v = json::parse(line);
        CHECK(v.at("id") == ids[n].c_str()); // in input order, each once
        if (expect[n] == "paid") {
            CHECK_MESSAGE(v.at("ok") == true, line);
            paid += v.at("ok") == true;
        } else {
            CHECK(v.at("ok") == false);
        }
    }
    CHECK(n == ids.size());
    CHECK(paid == 288);
    CHECK(r.err.find("summary: 300 ids") != std::string::npos);
}

TEST_CASE("--env: sandbox or production only; base URL overrides win in either") {
    sandbox s;
    auto env = env_for(s);
    std::string const id = "1c58426d-2c1b-4476-b3c0-447a8c683466";
    CHECK(run_cli(env, "get yuno " + id + " --env staging", s.dir()).code == 2);
    auto r = run_cli(env, "get yuno " + id + " --env production --format json", s.dir());
    CHECK(r.code == 0);
    CHECK(json::parse(r.out).at("id") == id.c_str());
    env["PAYOUTS_ENVIRONMENT"] = "staging";
    r = run_cli(env, "get yuno " + id, s.dir());
    CHECK(r.code == 3);
    CHECK(r.err.find("PAYOUTS_ENVIRONMENT") != std::string::npos);
    // The flag overrides the variable.
    CHECK(run_cli(env, "get yuno " + id + " --env sandbox", s.dir()).code == 0);
}

namespace {

// One line of `payouts watch`, whichever format it came in.
struct change_line {
    std::string time, provider, id, status, provider_status, amount; // amount: "150.00 USD" or "-"
};

// Milliseconds since the epoch of "2026-12-07T03:41:07.123Z" (exactly that shape), or nullopt.
std::optional<long long> parse_time(std::string const& t) {
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0, ms = 0, n = 0;
    if (t.size() != 24 ||
        std::sscanf(t.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ%n", &y, &mo, &d, &h, &mi, &s, &ms,
                    &n) != 7 ||
        n != 24)
        return std::nullopt;
    using namespace std::chrono;
    year_month_day const ymd{year(y), month(unsigned(mo)), day(unsigned(d))};
    if (!ymd.ok() || h > 23 || mi > 59 || s > 60) return std::nullopt;
    auto const tp = sys_days(ymd) + hours(h) + minutes(mi) + seconds(s) + milliseconds(ms);
    return tp.time_since_epoch().count();
}

// The table's rows under its header and rule, each column starting where its header does.
std::vector<change_line> table_lines(std::string const& out) {
    std::istringstream in(out);
    std::string header, rule;
    REQUIRE(std::getline(in, header));
    REQUIRE(std::getline(in, rule));
    std::vector<std::size_t> starts;
    for (char const* name : {"time", "provider", "id", "status", "provider_status", "amount"}) {
        auto const at = header.find(std::string(name) + (std::string(name) == "amount" ? "" : " "),
                                    starts.empty() ? 0 : starts.back() + 1);
        REQUIRE(at != std::string::npos);
        starts.push_back(at);
    }
    CHECK(rule.find_first_not_of("- ") == std::string::npos);
    std::vector<change_line> lines;
    for (std::string row; std::getline(in, row);) {
        CAPTURE(row);
        std::array<std::string, 6> cell;
        for (std::size_t i = 0; i < starts.size(); ++i) {
            REQUIRE(row.size() > starts[i]);
            CHECK(row[starts[i]] != ' ');
            if (i) CHECK(row[starts[i] - 1] == ' ');
            auto c = row.substr(starts[i], i + 1 < starts.size() ? starts[i + 1] - starts[i]
                                                                 : std::string::npos);
            cell[i] = c.substr(0, c.find_last_not_of(' ') + 1);
        }
        lines.push_back({cell[0], cell[1], cell[2], cell[3], cell[4], cell[5]});
    }
    return lines;
}

std::vector<change_line> jsonl_lines(std::string const& out) {
    std::istringstream in(out);
    std::vector<change_line> lines;
    for (std::string row; std::getline(in, row);) {
        CAPTURE(row);
        auto const v = json::parse(row).as_object();
        CHECK(v.size() == 7);
        auto const& amount = v.at("amount");
        auto const& currency = v.at("currency");
        CHECK(amount.is_null() == currency.is_null());
        lines.push_back({json::value_to<std::string>(v.at("time")),
                         json::value_to<std::string>(v.at("provider")),
                         json::value_to<std::string>(v.at("id")),
                         json::value_to<std::string>(v.at("status")),
                         json::value_to<std::string>(v.at("provider_status")),
                         amount.is_null() ? std::string("-")
                                          : json::value_to<std::string>(amount) + " " +
                                                json::value_to<std::string>(currency)});
    }
    return lines;
}

// "status provider_status amount" per change of one pair, in the order seen; every time valid
// and none earlier than the one before it.
using changes_by_pair = std::map<std::string, std::vector<std::string>>;
changes_by_pair by_pair(std::vector<change_line> const& lines) {
    changes_by_pair out;
    std::map<std::string, long long> last_time;
    for (auto const& l : lines) {
        auto const key = l.provider + " " + l.id;
        auto const t = parse_time(l.time);
        REQUIRE_MESSAGE(t, l.time);
        if (last_time.count(key)) CHECK(*t >= last_time[key]);
        last_time[key] = *t;
        out[key].push_back(l.status + " " + l.provider_status + " " + l.amount);
    }
    return out;
}

// The moving payouts' lifecycles (tools/sandbox/README.md), `tag` making each a fresh one.
changes_by_pair lifecycles(std::string const& tag, std::string const& truust) {
    return {
        {"truust " + truust, {"pending CREATED -", "paid CONFIRMED -"}},
        {"druo " + tag + "trx_moving-1",
         {"pending PENDING 150.00 USD", "processing PROCESSING 150.00 USD",
          "paid SUCCESSFUL 150.00 USD"}},
        {"checkout " + tag + "pay_moving1",
         {"processing Pending 50.00 GBP", "paid Paid 50.00 GBP"}},
        {"yuno " + tag + "moving-1",
         {"pending CREATED 250.75 BRL", "processing PENDING 250.75 BRL",
          "paid SUCCEEDED 250.75 BRL"}},
        {"introw " + tag + "pay_moving1",
         {"pending PENDING_REVIEW 2980.40 EUR", "pending APPROVED 2980.40 EUR",
          "pending SCHEDULED 2980.40 EUR", "processing PENDING_PAYMENT 2980.40 EUR",
          "paid PAID 2980.40 EUR"}},
    };
}

std::string watch_args(changes_by_pair const& expected) {
    std::string args = "watch";
    for (auto const& [pair, changes] : expected)
        args += " " + pair;
    return args + " --interval 1ms --max-interval 4ms";
}

// Polls `done` until it holds or `cap` passes; says whether it holds.
template <class Pred>
bool eventually(Pred const& done, std::chrono::seconds cap = std::chrono::seconds(60)) {
    auto const end = std::chrono::steady_clock::now() + cap;
    while (!done()) {
        if (std::chrono::steady_clock::now() > end) return false;
        ::usleep(20000);
    }
    return true;
}

} // namespace

TEST_CASE("watch: every provider's moving payout at once, each change a line, in both formats") {
    sandbox s;
    auto const env = env_for(s);

    auto const table = lifecycles("", "470");
    auto r = run_cli(env, watch_args(table), s.dir());
    CHECK_MESSAGE(r.code == 0, r.err);
    CHECK(r.err.empty());
    CHECK(by_pair(table_lines(r.out)) == table);

    // A fresh lifecycle of each (Truust's numeric form of a tag: mode 0, parameter 1).
    auto const jsonl = lifecycles("tag-j-", "99000001000000470");
    r = run_cli(env, watch_args(jsonl) + " --format jsonl", s.dir());
    CHECK_MESSAGE(r.code == 0, r.err);
    CHECK(r.err.empty());
    CHECK(by_pair(jsonl_lines(r.out)) == jsonl);

    // Without paid among the terminal statuses, the return after payment is seen.
    r = run_cli(env,
                "watch druo tag-u-trx_moving-1 checkout tag-u-pay_moving1 --until "
                "failed,cancelled,returned --interval 1ms --max-interval 4ms --format jsonl",
                s.dir());
    CHECK_MESSAGE(r.code == 0, r.err);
    CHECK(by_pair(jsonl_lines(r.out)) ==
          changes_by_pair{
              {"druo tag-u-trx_moving-1",
               {"pending PENDING 150.00 USD", "processing PROCESSING 150.00 USD",
                "paid SUCCESSFUL 150.00 USD", "returned REVERSED 150.00 USD"}},
              {"checkout tag-u-pay_moving1",
               {"processing Pending 50.00 GBP", "paid Paid 50.00 GBP",
                "returned Returned 50.00 GBP"}},
          });
}

TEST_CASE("watch: the deadline, a failed pair, and usage errors have their exit codes") {
    sandbox s;
    auto const env = env_for(s);
    std::string const pending = "64bc81c3-928f-45bf-af97-f3772238627b"; // Yuno, stays PENDING

    auto r = run_cli(env, "watch yuno " + pending + " --timeout 300ms --interval 5ms --verbose",
                     s.dir());
    CHECK(r.code == 10);
    CHECK(r.err.find("  yuno " + pending + " watch: next fetch in ") != std::string::npos);
    CHECK(by_pair(table_lines(r.out)) ==
          changes_by_pair{{"yuno " + pending, {"processing PENDING 10.01 BRL"}}});
    CHECK(r.err.find("payouts: yuno " + pending + ": timeout: ") != std::string::npos);
    CHECK(r.err.find("still processing (PENDING)") != std::string::npos);

    // The failure decides over the other pair's success and the third's deadline.
    r = run_cli(env,
                "watch yuno " + pending +
                    " introw pay_doesnotexist yuno tag-f-moving-1 --timeout 2s --interval 1ms "
                    "--max-interval 4ms --format jsonl",
                s.dir());
    CHECK(r.code == 5);
    auto const seen = by_pair(jsonl_lines(r.out));
    CHECK(seen.count("introw pay_doesnotexist") == 0);
    CHECK(seen.at("yuno tag-f-moving-1").back() == "paid SUCCEEDED 250.75 BRL");
    CHECK(r.err.find("payouts: introw pay_doesnotexist: not_found: ") != std::string::npos);
    CHECK(r.err.find("HTTP 404") != std::string::npos); // the last attempt's diagnostics
    for (auto const& [name, value] : env)
        if (name.find("KEY") != std::string::npos || name.find("SECRET") != std::string::npos)
            CHECK_MESSAGE(r.err.find(value) == std::string::npos, name);

    auto usage = [&](std::string const& args, std::string const& says) {
        CAPTURE(args);
        auto const u = run_cli(env, "watch yuno " + pending + " " + args, s.dir());
        CHECK(u.code == 2);
        CHECK(u.out.empty());
        CHECK(u.err.find(says) != std::string::npos);
    };
    for (char const* d : {"5", "0s", "-1s", "5 min", "99999999999h", "1.5s", "2d", "ms", ""}) {
        usage("--interval " + q(d), "--interval takes a duration");
        usage("--timeout " + q(d), "--timeout takes a duration");
    }
    usage("--max-interval 5", "--max-interval takes a duration");
    usage("--interval 2s --max-interval 1s", "--interval must not be longer");
    usage("--until paid,settled", "pending, processing, on_hold, paid, failed");
    usage("--until ''", "--until: unknown status ''");
    usage("--format json", "unknown format json for watch");
    usage("--format csv", "unknown format csv for watch");
    usage("truust abc", "truust ids are integers");
    usage("--interval", "--interval needs a value");
    CHECK(run_cli(env, "get yuno " + pending + " --timeout 1s", s.dir()).code == 2);
    CHECK(run_cli(env, "watch yuno", s.dir()).code == 2);
}

TEST_CASE("watch: SIGTERM and SIGINT cancel every watch, exit 143 and 130") {
    sandbox s;
    auto const env = env_for(s);
    auto const out = s.dir() / "watch.out", err = s.dir() / "watch.err";
    std::string const pending = "64bc81c3-928f-45bf-af97-f3772238627b";

    SUBCASE("SIGTERM while waiting between fetches") {
        test_support::child_process cli({PAYOUTS_CLI_EXE, "watch", "yuno", pending, "yuno",
                                         "tag-t-moving-1", "--interval", "1h"},
                                        env, out, err);
        // Both seen once; the next fetches are up to an hour of backoff away.
        REQUIRE(eventually([&] {
            auto const o = slurp(out);
            return o.find(pending + "  ") != std::string::npos &&
                   o.find("CREATED") != std::string::npos;
        }));
        CHECK(cli.stop(SIGTERM) == 143);
        auto const seen = by_pair(table_lines(slurp(out)));
        CHECK(seen.at("yuno " + pending).front() == "processing PENDING 10.01 BRL");
        CHECK(slurp(err).find("stopped by SIGTERM") != std::string::npos);
    }
    SUBCASE("SIGINT during a fetch the server never answers") {
        test_support::child_process cli(
            {PAYOUTS_CLI_EXE, "watch", "yuno", "stall-" + pending, "--interval", "1h", "--verbose"},
            env, out, err);
        REQUIRE(eventually([&] {
            return slurp(err).find("yuno stall-" + pending + " attempt 1") != std::string::npos;
        }));
        CHECK(cli.stop(SIGINT) == 130);
        CHECK(slurp(err).find("stopped by SIGINT") != std::string::npos);
    }
}

namespace {

using test_support::lines_of;

// The sandbox's host:port replaced by HOST, so expected output can be a fixture.
std::string hostless(std::string text, sandbox const& s) {
    auto const host = s.base.substr(s.base.find("//") + 2);
    for (auto at = text.find(host); at != std::string::npos; at = text.find(host, at))
        text.replace(at, host.size(), "HOST");
    return text;
}

fs::path ledger(char const* name) {
    return fs::path(PAYOUTS_FIXTURES_DIR) / "ledgers" / name;
}

} // namespace

TEST_CASE("reconcile: matches, each kind of mismatch, unknown ids and malformed rows, in order") {
    sandbox s;
    auto const env = env_for(s);
    // mixed.csv (CRLF line ends, a blank line, quoting, spaces around fields) has a matching
    // row for every provider; amount, currency, status and all three at once differing; a
    // payout without an amount where the ledger has one; unknown Yuno and Checkout ids; a row
    // for each malformation; a broken body; and one moving payout on two rows (fetched once:
    // both see its first stage).
    auto const r = run_cli(env, "reconcile " + q(ledger("mixed.csv").string()), s.dir());
    CHECK(r.code == 9);
    CHECK(hostless(r.out, s) == slurp(ledger("mixed.expected.csv")));
    for (auto const* line :
         {"mixed.csv line 14: id: truust ids are integers",
          "mixed.csv line 15: provider: unknown provider 'paypal'",
          "mixed.csv line 16: amount: '2O0.00' is not a decimal number in major units",
          "mixed.csv line 17: status: unknown status 'payed'",
          "mixed.csv line 18: currency: 'usd' is not an ISO 4217 code",
          "mixed.csv line 19: 3 fields where the header has 5",
          "mixed.csv line 20: field 2: a quoted field is not closed on its line",
          "summary: 23 rows, match 8, mismatch 5, not_found 2, error 8\n"})
        CHECK_MESSAGE(r.err.find(line) != std::string::npos, line);

    // The same ledger as JSON Lines: the same rows, results and differences, typed (from a
    // fresh sandbox, where the moving payout starts again).
    sandbox fresh;
    auto const j =
        run_cli(env_for(fresh), "reconcile " + q(ledger("mixed.csv").string()) + " --format jsonl",
                fresh.dir());
    CHECK(j.code == 9);
    auto const csv = lines_of(r.out);
    auto const objects = lines_of(j.out);
    REQUIRE(objects.size() + 1 == csv.size());
    for (std::size_t i = 0; i < objects.size(); ++i) {
        auto const o = json::parse(objects[i]).as_object();
        auto const cells = csv[i + 1];
        auto const lead = std::to_string(o.at("line").as_int64()) + "," +
                          std::string(o.at("provider").as_string()) + ",";
        CHECK(cells.starts_with(lead));
        CHECK(cells.find("," + std::string(o.at("result").as_string()) + ",") != std::string::npos);
    }
    auto const all_three = json::parse(objects[8]).as_object(); // ledger line 10
    CHECK(all_three.at("line") == 10);
    CHECK(all_three.at("differences") ==
          json::parse(R"([{"field":"amount","expected":"4250.01","actual":"4250.00"},
                          {"field":"currency","expected":"EUR","actual":"USD"},
                          {"field":"status","expected":"paid","actual":"pending"}])"));
    auto const no_amount = json::parse(objects[9]).as_object(); // Truust: no amount to compare
    CHECK(no_amount.at("differences") ==
          json::parse(R"([{"field":"amount","expected":"10.00","actual":null},
                          {"field":"currency","expected":"EUR","actual":null}])"));
    auto const unknown = json::parse(objects[11]).as_object();
    CHECK(unknown.at("result") == "not_found");
    CHECK(unknown.at("error").at("http_status") == 404);
    auto const malformed = json::parse(objects[12]).as_object();
    CHECK(malformed.at("error").at("code") == "malformed_row");
    CHECK(!malformed.contains("expected"));
    auto const broken = json::parse(objects[20]).as_object();
    CHECK(broken.at("error").at("code") == "invalid_response");
}

TEST_CASE("reconcile: columns in any order, stdin, every row matching exits 0") {
    sandbox s;
    auto const env = env_for(s);
    auto const r = run_cli(env, "reconcile -", s.dir(), ledger("reordered.csv").string());
    CHECK_MESSAGE(r.code == 0, r.err);
    CHECK(lines_of(r.out) ==
          std::vector<std::string>{
              "line,provider,id,result,error,detail,expected_amount,actual_amount,"
              "expected_currency,actual_currency,expected_status,actual_status,"
              "actual_provider_status",
              "2,truust,456,match,,,,,,,paid,paid,CONFIRMED",
              "3,checkout,pay_gwlowf7eap7uzm4cyaaqoq62au,match,,,,10.00,,GBP,returned,returned,"
              "Returned",
              "4,yuno,1c58426d-2c1b-4476-b3c0-447a8c683466,match,,,,100.00,,USD,paid,paid,"
              "SUCCEEDED"});
    CHECK(r.err == "summary: 3 rows, match 3, mismatch 0, not_found 0, error 0\n");
}

TEST_CASE("reconcile: rows answered out of order across providers are written in ledger order") {
    sandbox s;
    auto const env = env_for(s);
    auto const file = s.dir() / "ledger.csv";
    constexpr char const* rows[] = {
        "yuno,slow-400-tag-%d-1c58426d-2c1b-4476-b3c0-447a8c683466,100,USD,paid",
        "druo,tag-%d-trx_1f4dc72b-5b76-432c-8f4f-e0919aaff3f5,200.00,USD,paid",
        "checkout,flaky-1-tag-%d-pay_gwlowf7eap7uzm4cyaaqoq62au,10,GBP,returned",
        "introw,tag-%d-pay_2x7n4q8z0w1a2b3c4d5e6f7g,4250,USD,pending",
    };
    {
        std::ofstream out(file);
        out << "provider,id,amount,currency,status\n";
        for (int i = 0; i < 40; ++i) {
            char row[160];
            std::snprintf(row, sizeof row, rows[i % 4], i);
            out << row << '\n';
        }
    }
    auto const r =
        run_cli(env, "reconcile " + q(file.string()) + " --concurrency 2 --format jsonl", s.dir());
    CHECK_MESSAGE(r.code == 0, r.err);
    auto const lines = lines_of(r.out);
    REQUIRE(lines.size() == 40);
    for (std::size_t i = 0; i < lines.size(); ++i) {
        auto const o = json::parse(lines[i]).as_object();
        CHECK(o.at("line") == i + 2);
        CHECK(o.at("result") == "match");
    }
    CHECK(r.err == "summary: 40 rows, match 40, mismatch 0, not_found 0, error 0\n");
}

TEST_CASE("reconcile: a bad header, an empty or missing ledger are usage errors") {
    sandbox s;
    auto const env = env_for(s);
    auto with = [&](std::string const& text) {
        auto const file = s.dir() / "bad.csv";
        std::ofstream(file, std::ios::binary) << text;
        return run_cli(env, "reconcile " + q(file.string()), s.dir());
    };
    auto r = with("provider,id,ammount\ntruust,456,1\n");
    CHECK(r.code == 2);
    CHECK(r.err.find("line 1: the header row: unknown column 'ammount'") != std::string::npos);
    CHECK(r.out.empty());
    r = with("provider,amount\ntruust,1\n");
    CHECK(r.code == 2);
    CHECK(r.err.find("must name the columns provider and id") != std::string::npos);
    r = with("provider,id,id\n");
    CHECK(r.code == 2);
    CHECK(r.err.find("column 'id' appears twice") != std::string::npos);
    r = with("\n\n");
    CHECK(r.code == 2);
    CHECK(r.err.find("the ledger is empty") != std::string::npos);
    // A header alone is a ledger of no rows: nothing to disagree with.
    r = with("\xEF\xBB\xBFProvider,ID\r\n");
    CHECK(r.code == 0);
    CHECK(r.err == "summary: 0 rows, match 0, mismatch 0, not_found 0, error 0\n");
    r = run_cli(env, "reconcile " + q((s.dir() / "absent.csv").string()), s.dir());
    CHECK(r.code == 2);
    CHECK(r.err.find("cannot read") != std::string::npos);
    CHECK(run_cli(env, "reconcile " + q(ledger("reordered.csv").string()) + " --format table",
                  s.dir())
              .code == 2);
    CHECK(run_cli(env, "reconcile a.csv b.csv", s.dir()).code == 2);
}

TEST_CASE("reconcile: a progress bar only when stderr is a terminal") {
    sandbox s;
    auto const env = env_for(s);
    auto const [code, shown, written] =
        run_on_terminal(env, "reconcile " + q(ledger("reordered.csv").string()), s.dir());
    CHECK(code == 0);
    CHECK(shown.find("\r[########################################] 3/3") != std::string::npos);
    CHECK(shown.find("summary: 3 rows, match 3") != std::string::npos);
    CHECK(std::count(written.begin(), written.end(), '\n') == 4);
    CHECK(written.find('\r') == std::string::npos);
}

namespace {

// Signatures computed independently (Python's hmac, OpenSSL) over the published bodies with the
// providers' sample keys (Checkout's manage-webhooks page, Yuno's webhook API reference).
constexpr char const* checkout_key = "8V8x0dLK%AyD*DNS8JJr";
constexpr char const* checkout_paid_signature =
    "6da7309de691df32a0ab507ba0ade3572474109cbbeda4838cebca569ee8d22e";
constexpr char const* yuno_key = "my-hmac-secret";
constexpr char const* yuno_signature = "voTeYLqfjCmhnGK/N4/dSMtM7Ooce+yP7MNxh6T49L4=";

std::string webhook_body(char const* file) {
    return (fs::path(PAYOUTS_FIXTURES_DIR) / "webhooks" / file).string();
}

} // namespace

TEST_CASE("webhook: verifies, decodes and prints a notification; exit codes by class") {
    auto const work =
        fs::temp_directory_path() / ("payouts-cli-webhook-" + std::to_string(::getpid()));
    fs::create_directories(work);
    auto const paid = webhook_body("checkout/webhook-payment-paid-bank-payout.json");
    std::string const cko =
        " --header " + q(std::string("Cko-Signature: ") + checkout_paid_signature);
    std::map<std::string, std::string> env{{"PAYOUTS_CHECKOUT_WEBHOOK_SECRET", checkout_key}};

    auto r = run_cli(env, "webhook checkout" + cko, work, paid);
    CHECK_MESSAGE(r.code == 0, r.err);
    auto lines = lines_of(r.out);
    REQUIRE(lines.size() == 5); // event, blank, header, rule, the payout
    CHECK(lines[0].starts_with("event payment_paid evt_"));
    CHECK(lines[4].starts_with("checkout "));
    CHECK(lines[4].find(" paid ") != std::string::npos);

    // JSON, and a rotation: the second of two secrets matches.
    env["PAYOUTS_CHECKOUT_WEBHOOK_SECRET"] = std::string("retired-key,") + checkout_key;
    r = run_cli(env, "webhook checkout --format json" + cko, work, paid);
    CHECK_MESSAGE(r.code == 0, r.err);
    auto const doc = json::parse(r.out).as_object();
    CHECK(doc.at("event_type") == "payment_paid");
    CHECK(doc.at("event_id").as_string().starts_with("evt_"));
    CHECK(doc.at("payout").at("status") == "paid");
    CHECK(doc.at("payout").at("amount").at("value") == "0.10"); // 10 minor units of USD

    // Yuno: Base64 in x-hmac-signature, the header name in any case.
    std::map<std::string, std::string> const yenv{{"PAYOUTS_YUNO_WEBHOOK_SECRET", yuno_key}};
    r = run_cli(yenv,
                "webhook yuno --format json --header " +
                    q(std::string("X-HMAC-Signature: ") + yuno_signature),
                work, webhook_body("yuno/webhook-payout-succeeded-v2.json"));
    CHECK_MESSAGE(r.code == 0, r.err);
    CHECK(json::parse(r.out).at("payout").at("status") == "paid");

    // A wrong key, a missing header, a changed byte: exit 11, the reason, never the secret.
    env["PAYOUTS_CHECKOUT_WEBHOOK_SECRET"] = "not-the-key";
    r = run_cli(env, "webhook checkout" + cko, work, paid);
    CHECK(r.code == 11);
    CHECK(r.out.empty());
    CHECK(r.err.find("invalid_signature") != std::string::npos);
    CHECK(r.err.find("matches none of the 1 secret") != std::string::npos);
    CHECK(r.err.find("not-the-key") == std::string::npos);
    env["PAYOUTS_CHECKOUT_WEBHOOK_SECRET"] = checkout_key;
    r = run_cli(env, "webhook checkout", work, paid);
    CHECK(r.code == 11);
    CHECK(r.err.find("missing header Cko-Signature") != std::string::npos);
    auto const changed = work / "changed.json";
    {
        auto text = slurp(paid);
        text[text.find("\"amount\": 10") + 11] = '2';
        std::ofstream(changed, std::ios::binary) << text;
    }
    r = run_cli(env, "webhook checkout" + cko, work, changed.string());
    CHECK(r.code == 11);

    // No secret configured: configuration. A provider without webhooks: usage, saying why.
    r = run_cli({}, "webhook checkout" + cko, work, paid);
    CHECK(r.code == 3);
    CHECK(r.err.find("PAYOUTS_CHECKOUT_WEBHOOK_SECRET") != std::string::npos);
    r = run_cli({{"PAYOUTS_DRUO_WEBHOOK_SECRET", "x"}}, "webhook druo", work, paid);
    CHECK(r.code == 2);
    CHECK(r.err.find("DRUO documents no signature algorithm") != std::string::npos);
    CHECK(run_cli(env, "webhook checkout --header NoColon", work, paid).code == 2);
    CHECK(run_cli(env, "get checkout pay_x" + cko, work).code == 2); // --header is webhook's
    std::error_code ec;
    fs::remove_all(work, ec);
}
