// The state behind a payouts::client. Reached through <payouts/client.hpp> (impl/client.ipp),
// which declares client_config first.
#pragma once

#include <payouts/client.hpp>
#include <payouts/decode.hpp>
#include <payouts/detail/connection_pool.hpp>
#include <payouts/detail/provider_ops.hpp>
#include <payouts/detail/request.hpp>
#include <payouts/detail/tls.hpp>
#include <payouts/detail/url.hpp>
#include <payouts/payout.hpp>

#include <boost/asio/ssl/context.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace payouts::detail {

// One provider's OAuth token, shared by all fetches of that provider on a client. At most one
// token request runs at a time ("single flight"); the fetches that need it wait in `waiters`
// and are all woken when it ends, successfully or not.
struct token_cache {
    std::string token;
    std::chrono::steady_clock::time_point expires{};
    bool in_flight = false;
    std::uint64_t flights = 0; // token requests finished so far
    waiter_list waiters;
    // How the last request went, reported to the fetches that waited for it.
    struct outcome {
        error_code ec;
        bool retryable = false;
        int status = 0;
        std::string why, code, message;
    } last;

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
    provider_ops const* ops = nullptr;
    error_code ec; // the setup failed: every fetch fails with ec / why
    std::string why;
    provider_setup setup;
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
    std::shared_ptr<boost::asio::ssl::context> tls;
    std::optional<proxy_url> proxy;
    std::string proxy_authorization; // a credential: never shown
    connection_pool pool;
    std::minstd_rand rng;
    bool shut_down = false;

    // The provider's slot, set up from the configuration on first use.
    std::shared_ptr<provider_slot> const& slot_for(provider_ops const& ops) {
        for (auto const& s : providers_)
            if (s->ops->transport.name == ops.transport.name) return s;
        auto s = std::make_shared<provider_slot>();
        s->ops = &ops;
        auto const it = cfg.providers.find(ops.transport.name);
        provider_config const* pc = it == cfg.providers.end() ? nullptr : &it->second;
        auto const credential = [pc](std::string_view n) -> std::string const* {
            if (!pc) return nullptr;
            auto const c = pc->credentials.find(n);
            return c == pc->credentials.end() || c->second.empty() ? nullptr : &c->second;
        };
        auto r = make_provider_setup(ops.transport, pc ? std::string_view(pc->base_url) : "",
                                     pc ? std::string_view(pc->token_url) : "", credential, cfg.env,
                                     cfg.allow_plaintext_loopback, s->why);
        if (r)
            s->setup = std::move(*r);
        else
            s->ec = r.error();
        providers_.push_back(std::move(s));
        return providers_.back();
    }

    void set_provider_config(std::string const& name, provider_config pc) {
        cfg.providers.insert_or_assign(name, std::move(pc));
        std::erase_if(providers_, [&](auto const& s) { return s->ops->transport.name == name; });
    }

    void shutdown() {
        shut_down = true;
        pool.shutdown();
    }

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
        if (!cfg.proxy.empty()) {
            auto p = parse_proxy_url(cfg.proxy, config_why);
            if (!p) return bad(std::move(config_why));
            if (!p->user.empty() || !p->password.empty())
                proxy_authorization = detail::proxy_authorization(p->user, p->password);
            proxy = std::move(*p);
        }
        tls = client_tls_context(
            tls_options{cfg.use_system_roots, cfg.ca_file, cfg.ca_dir, cfg.ca_pem, cfg.tls_context},
            config_ec, config_why);
    }

    std::vector<std::shared_ptr<provider_slot>> providers_;
};

} // namespace payouts::detail
