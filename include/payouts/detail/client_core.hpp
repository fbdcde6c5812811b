// The state behind a payouts::client. Included by client.hpp only, after client_config.
#pragma once

#include <payouts/detail/connection_cache.hpp>
#include <payouts/detail/request.hpp>
#include <payouts/detail/tls.hpp>

#include <boost/asio/ssl/context.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace payouts::detail {

// One provider's OAuth token, shared by all fetches of that provider on a client. At most one
// token request runs at a time ("single flight"): fetches that need a token while it runs wait
// in `waiters` and are woken when it ends, successfully or not.
struct token_cache {
    std::string token;
    std::chrono::steady_clock::time_point expires{};
    bool in_flight = false;
    std::uint64_t flights = 0; // token requests finished so far
    waiter_queue waiters;
    // The last failed request, reported to the fetches that waited for it.
    error_code last_ec;
    bool last_retryable = false;
    int last_status = 0;
    std::string last_why, last_code, last_message;

    bool valid(std::chrono::steady_clock::time_point now) const noexcept {
        return !token.empty() && now < expires;
    }
    void invalidate(std::string_view used) {
        if (token == used) {
            token.clear();
            expires = {};
        }
    }
};

// A provider as configured on one client. Fetches hold it by shared_ptr, so replacing a
// provider's configuration does not pull it from under operations in progress.
struct provider_slot {
    std::string_view name;
    error_code ec; // the setup failed: every fetch fails with ec / why
    std::string why;
    provider_setup setup;
    host_pool* pool = nullptr;
    host_pool* token_pool = nullptr;
    token_cache token;
};

class client_core {
public:
    client_core(boost::asio::any_io_executor e, client_config c)
        : ex(std::move(e))
        , cfg(std::move(c))
        , pool(connection_pool::limits{cfg.idle_connections_per_host, cfg.max_connections_per_host,
                                       cfg.idle_timeout})
        , rng(std::random_device{}()) {
        check_config();
    }

    boost::asio::any_io_executor ex;
    client_config cfg;
    error_code config_ec;
    std::string config_why;
    std::unique_ptr<boost::asio::ssl::context> tls;
    connection_pool pool;
    std::minstd_rand rng;
    bool shut_down = false;

    // The provider's slot, set up from the configuration on first use.
    template <class P>
    std::shared_ptr<provider_slot> const& slot_for() {
        for (auto const& s : providers_)
            if (s->name == P::name) return s;
        auto s = std::make_shared<provider_slot>();
        s->name = P::name;
        provider_config const* pc = nullptr;
        if (auto const it = cfg.providers.find(P::name); it != cfg.providers.end())
            pc = &it->second;
        auto const credential = [pc](std::string_view n) -> std::string const* {
            if (!pc) return nullptr;
            auto const it = pc->credentials.find(n);
            return it == pc->credentials.end() || it->second.empty() ? nullptr : &it->second;
        };
        auto r = make_provider_setup<P>(pc ? std::string_view(pc->base_url) : std::string_view(),
                                        pc ? std::string_view(pc->token_url) : std::string_view(),
                                        credential, cfg.env, cfg.allow_plaintext_loopback, s->why);
        if (!r) {
            s->ec = r.error();
        } else {
            s->setup = std::move(*r);
            s->pool = &pool.host(s->setup.origin);
            if (s->setup.oauth) s->token_pool = &pool.host(s->setup.token_origin);
        }
        providers_.push_back(std::move(s));
        return providers_.back();
    }

    void set_provider_config(std::string const& name, provider_config pc) {
        cfg.providers.insert_or_assign(name, std::move(pc));
        std::erase_if(providers_, [&](auto const& s) { return s->name == name; });
    }

    void shutdown() {
        shut_down = true;
        pool.shutdown();
    }

    // Bytes a connection's read buffer may hold: a full header block plus room for body data
    // in transit (the parser moves body bytes out as it goes).
    std::size_t read_buffer_max() const noexcept { return std::size_t(cfg.header_limit) + 8192; }

private:
    void check_config() {
        auto const bad = [&](std::string w) {
            config_ec = errc::invalid_config;
            config_why = std::move(w);
        };
        if (!header_value_ok(cfg.user_agent)) return bad("user_agent contains a control character");
        if (cfg.body_limit == 0 || cfg.header_limit < 256)
            return bad("body_limit must be positive and header_limit at least 256");
        if (cfg.deadline.count() <= 0 || cfg.connect_timeout.count() <= 0 ||
            cfg.handshake_timeout.count() <= 0)
            return bad("deadline and timeouts must be positive");
        if (cfg.retry.max_attempts == 0) return bad("retry.max_attempts must be at least 1");
        tls = make_tls_context(tls_trust{cfg.use_system_roots, cfg.ca_file, cfg.ca_dir, cfg.ca_pem},
                               config_ec, config_why);
    }

    std::vector<std::shared_ptr<provider_slot>> providers_;
};

} // namespace payouts::detail
