// curl_client: the libcurl baseline of bench_fetch. The same GET, the same headers, on
// keep-alive connections, for a fixed time; every response is checked (status 200, the expected
// body length) before it is counted.
//
//   curl_client --url URL --seconds S [--concurrency C] [--cacert FILE]
//                    [--expect-bytes N] [-H 'name: value']...
//   curl_client --version       libcurl's version line
//
// C = 1 (the default): one easy handle, performed again and again (libcurl keeps its connection
// alive between transfers). C > 1: a multi handle with C easy handles, each re-added as soon as
// it finishes, so C requests are in flight at all times on C connections.
//
// Prints one line, `requests=N errors=E seconds=T`, and exits 0 when there was no error. The
// parent (bench_fetch) measures this process's CPU time with wait4.
#include <curl/curl.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace {

struct options {
    std::string url;
    std::string cacert;
    std::vector<std::string> headers;
    double seconds = 1;
    long concurrency = 1;
    long long expect_bytes = -1;
};

// One transfer's state: the easy handle and what its current response has delivered.
struct transfer {
    CURL* easy = nullptr;
    long long bytes = 0;
};

std::size_t on_body(char*, std::size_t size, std::size_t n, void* user) {
    static_cast<transfer*>(user)->bytes += static_cast<long long>(size * n);
    return size * n;
}

bool setup(transfer& t, options const& o, curl_slist* headers) {
    t.easy = curl_easy_init();
    if (!t.easy) return false;
    curl_easy_setopt(t.easy, CURLOPT_URL, o.url.c_str());
    curl_easy_setopt(t.easy, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(t.easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(t.easy, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(t.easy, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(t.easy, CURLOPT_NOSIGNAL, 1L);
    // Verify like payouts does: the CA given, the peer and its name (the sandbox's certificate
    // names 127.0.0.1).
    if (!o.cacert.empty()) curl_easy_setopt(t.easy, CURLOPT_CAINFO, o.cacert.c_str());
    curl_easy_setopt(t.easy, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(t.easy, CURLOPT_SSL_VERIFYHOST, 2L);
    return true;
}

// A finished transfer counts only when it is a complete 200 with the expected body.
bool check(transfer& t, CURLcode rc, options const& o) {
    long status = 0;
    curl_easy_getinfo(t.easy, CURLINFO_RESPONSE_CODE, &status);
    bool const ok =
        rc == CURLE_OK && status == 200 && (o.expect_bytes < 0 || t.bytes == o.expect_bytes);
    t.bytes = 0;
    return ok;
}

using clock_type = std::chrono::steady_clock;

double since(clock_type::time_point t0) {
    return std::chrono::duration<double>(clock_type::now() - t0).count();
}

int run(options const& o) {
    curl_slist* headers = nullptr;
    for (auto const& h : o.headers)
        headers = curl_slist_append(headers, h.c_str());
    std::vector<transfer> ts(static_cast<std::size_t>(o.concurrency));
    for (auto& t : ts)
        if (!setup(t, o, headers)) return 1;

    long long requests = 0, errors = 0;
    auto const t0 = clock_type::now();
    if (o.concurrency == 1) {
        do {
            if (check(ts[0], curl_easy_perform(ts[0].easy), o))
                ++requests;
            else
                ++errors;
        } while (since(t0) < o.seconds && errors == 0);
    } else {
        CURLM* multi = curl_multi_init();
        curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, o.concurrency);
        for (auto& t : ts) {
            curl_easy_setopt(t.easy, CURLOPT_PRIVATE, &t);
            curl_multi_add_handle(multi, t.easy);
        }
        bool stopping = false;
        int running = o.concurrency;
        while (running > 0) {
            curl_multi_perform(multi, &running);
            int left = 0;
            while (CURLMsg* m = curl_multi_info_read(multi, &left)) {
                if (m->msg != CURLMSG_DONE) continue;
                void* p = nullptr;
                curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &p);
                auto& t = *static_cast<transfer*>(p);
                CURLcode const rc = m->data.result;
                if (check(t, rc, o))
                    ++requests;
                else
                    ++errors;
                curl_multi_remove_handle(multi, t.easy);
                stopping = stopping || errors != 0 || since(t0) >= o.seconds;
                if (!stopping) {
                    curl_multi_add_handle(multi, t.easy);
                    ++running;
                }
            }
            if (running > 0) curl_multi_poll(multi, nullptr, 0, 100, nullptr);
        }
        curl_multi_cleanup(multi);
    }
    double const seconds = since(t0);
    for (auto& t : ts)
        curl_easy_cleanup(t.easy);
    curl_slist_free_all(headers);
    std::printf("requests=%lld errors=%lld seconds=%.6f\n", requests, errors, seconds);
    return errors == 0 ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
    if (argc == 2 && std::string_view(argv[1]) == "--version") {
        std::printf("%s\n", curl_version());
        return 0;
    }
    options o;
    for (int i = 1; i < argc; ++i) {
        std::string_view const a = argv[i];
        char const* v = i + 1 < argc ? argv[i + 1] : nullptr;
        if (!v) {
            std::fprintf(stderr, "curl_client: %s needs a value\n", argv[i]);
            return 2;
        }
        ++i;
        if (a == "--url")
            o.url = v;
        else if (a == "--cacert")
            o.cacert = v;
        else if (a == "-H")
            o.headers.emplace_back(v);
        else if (a == "--seconds")
            o.seconds = std::atof(v);
        else if (a == "--concurrency")
            o.concurrency = std::atol(v);
        else if (a == "--expect-bytes")
            o.expect_bytes = std::atoll(v);
        else {
            std::fprintf(stderr, "curl_client: unknown option %s\n", argv[i - 1]);
            return 2;
        }
    }
    if (o.url.empty() || o.seconds <= 0 || o.concurrency < 1) {
        std::fprintf(stderr, "usage: curl_client --url URL --seconds S [--concurrency C] "
                             "[--cacert FILE] [--expect-bytes N] [-H 'name: value']...\n");
        return 2;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return 1;
    int const rc = run(o);
    curl_global_cleanup();
    return rc;
}
