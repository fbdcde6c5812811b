// The README's main job, as CI sees it: tools/demo against this build prints the five payouts
// fetched from the sandbox over TLS, as one table, and leaves no sandbox behind.
#include <cli_path.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace fs = std::filesystem;

namespace {

std::string slurp(fs::path const& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::vector<std::string> lines_of(std::string const& text) {
    std::vector<std::string> v;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        v.push_back(line);
    return v;
}

} // namespace

TEST_CASE("tools/demo: five payouts, one per provider, through the sandbox; the sandbox stops") {
    // The CLI's path says which build this test belongs to: .../<build>/tools/cli/payouts.
    fs::path const build = fs::path(PAYOUTS_CLI_EXE).parent_path().parent_path().parent_path();
    auto const out = fs::temp_directory_path() / ("payouts-demo-" + std::to_string(::getpid()));
    std::string const cmd = "PAYOUTS_BUILD_DIR='" + build.string() + "' '" PAYOUTS_SOURCE_DIR +
                            std::string("/tools/demo' >'") + out.string() + "' 2>&1";
    int const st = std::system(cmd.c_str());
    auto const text = slurp(out);
    fs::remove(out);
    INFO(text);
    REQUIRE(WIFEXITED(st));
    REQUIRE(WEXITSTATUS(st) == 0);

    auto const lines = lines_of(text);
    std::size_t header = 0;
    while (header < lines.size() && lines[header].rfind("provider  id", 0) != 0)
        ++header;
    REQUIRE(header + 7 == lines.size()); // header, rule, five rows, nothing after
    struct row {
        char const* provider;
        char const* id;
        char const* status;
        char const* amount;
    } const want[] = {
        {"truust", "789", "paid", "-"},
        {"druo", "trx_1f4dc72b-5b76-432c-8f4f-e0919aaff3f5", "paid", "200.00 USD"},
        {"checkout", "pay_gwlowf7eap7uzm4cyaaqoq62au", "returned", "10.00 GBP"},
        {"yuno", "1c58426d-2c1b-4476-b3c0-447a8c683466", "paid", "100.00 USD"},
        {"introw", "pay_2x7n4q8z0w1a2b3c4d5e6f7g", "pending", "4250.00 USD"},
    };
    for (std::size_t i = 0; i < 5; ++i) {
        std::istringstream cells(lines[header + 2 + i]);
        std::string provider, id, status, provider_status, amount;
        cells >> provider >> id >> status >> provider_status >> amount;
        if (std::string(want[i].amount) != "-") {
            std::string currency;
            cells >> currency;
            amount += " " + currency;
        }
        CHECK(provider == want[i].provider);
        CHECK(id == want[i].id);
        CHECK(status == want[i].status);
        CHECK(amount == want[i].amount);
    }

    // "sandbox at https://127.0.0.1:PORT (CA ...)": nothing listens there any more.
    auto const at = text.find("sandbox at https://127.0.0.1:");
    REQUIRE(at != std::string::npos);
    int const port = std::stoi(text.substr(at + 29));
    std::string const probe = "exec 3<>/dev/tcp/127.0.0.1/" + std::to_string(port) + " 2>/dev/null";
    CHECK(std::system(("bash -c '" + probe + "' 2>/dev/null").c_str()) != 0);
}

namespace {

// "127.0.0.1:<port>" as "127.0.0.1:PORT": ports differ from run to run.
std::string portless(std::string text) {
    std::string const host = "127.0.0.1:";
    for (auto at = text.find(host); at != std::string::npos; at = text.find(host, at + 1)) {
        auto end = at + host.size();
        while (end < text.size() && text[end] >= '0' && text[end] <= '9')
            ++end;
        text.replace(at + host.size(), end - at - host.size(), "PORT");
    }
    return text;
}

} // namespace

TEST_CASE("tools/demo <command>: the README's reconcile run, line for line") {
    fs::path const build = fs::path(PAYOUTS_CLI_EXE).parent_path().parent_path().parent_path();
    auto const out = fs::temp_directory_path() / ("payouts-demo-rc-" + std::to_string(::getpid()));
    std::string const cmd = "cd '" PAYOUTS_SOURCE_DIR "' && PAYOUTS_BUILD_DIR='" + build.string() +
                            "' tools/demo reconcile examples/ledger.csv >'" + out.string() +
                            "' 2>&1";
    int const st = std::system(cmd.c_str());
    auto const text = portless(slurp(out));
    fs::remove(out);
    INFO(text);
    REQUIRE(WIFEXITED(st));
    CHECK(WEXITSTATUS(st) == 9); // rows that did not match

    // The README shows the run: every line it shows after the command is in the output.
    auto const readme = lines_of(slurp(fs::path(PAYOUTS_SOURCE_DIR) / "README.md"));
    auto at = std::find(readme.begin(), readme.end(), "$ tools/demo reconcile examples/ledger.csv");
    REQUIRE(at != readme.end());
    std::size_t shown = 0;
    for (++at; at != readme.end() && *at != "```"; ++at, ++shown)
        CHECK_MESSAGE(text.find(portless(*at) + "\n") != std::string::npos, *at);
    CHECK(shown == 10); // the stderr line, the header, seven rows, the summary
}
