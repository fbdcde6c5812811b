// Definitions for client.hpp: inline when header-only, else compiled once in src.hpp.
#pragma once

#include <payouts/client.hpp>
#include <payouts/detail/client_core.hpp>

#include <charconv>
#include <cstdint>
#include <initializer_list>

namespace payouts {
namespace detail {

PAYOUTS_DECL bool read_common_environment(client_config& cfg, env_lookup const& env,
                                          std::string& why) {
    if (auto v = env("PAYOUTS_ENVIRONMENT"); v && !v->empty()) {
        if (*v == "sandbox")
            cfg.env = environment::sandbox;
        else if (*v == "production")
            cfg.env = environment::production;
        else {
            why = "PAYOUTS_ENVIRONMENT must be \"sandbox\" or \"production\"";
            return false;
        }
    }
    if (auto v = env("PAYOUTS_CA_FILE"); v && !v->empty()) cfg.ca_file = *v;
    // The first variable that is set and not empty, as curl reads its proxy variables.
    auto const first = [&](std::initializer_list<char const*> names) -> std::string {
        for (char const* n : names)
            if (auto v = env(n); v && !v->empty()) return *v;
        return {};
    };
    cfg.proxy = first({"PAYOUTS_PROXY", "HTTPS_PROXY", "https_proxy"});
    cfg.no_proxy = first({"PAYOUTS_NO_PROXY", "NO_PROXY", "no_proxy"});
    if (auto v = env("PAYOUTS_TIMEOUT_MS"); v && !v->empty()) {
        std::int64_t ms = 0;
        auto const [end, ec] = std::from_chars(v->data(), v->data() + v->size(), ms);
        if (ec != std::errc() || end != v->data() + v->size() || v->size() > 9 || ms <= 0) {
            why = "PAYOUTS_TIMEOUT_MS must be a positive number of milliseconds";
            return false;
        }
        cfg.deadline = std::chrono::milliseconds(ms);
    }
    return true;
}

} // namespace detail

PAYOUTS_DECL client::client(executor_type ex, client_config cfg)
    : core_(std::make_shared<detail::client_core>(std::move(ex), std::move(cfg))) {}

PAYOUTS_DECL client::~client() {
    if (core_) core_->shutdown();
}

PAYOUTS_DECL client::executor_type client::get_executor() const noexcept {
    return core_->ex;
}

PAYOUTS_DECL client_config const& client::config() const noexcept {
    return core_->cfg;
}

PAYOUTS_DECL error_code client::config_error() const noexcept {
    return core_->config_ec;
}

PAYOUTS_DECL std::string const& client::config_error_message() const noexcept {
    return core_->config_why;
}

PAYOUTS_DECL void client::close_idle_connections() {
    core_->pool.close_idle();
}

PAYOUTS_DECL std::size_t client::idle_connections() const noexcept {
    return core_->pool.idle_count();
}

PAYOUTS_DECL void client::set_provider_config(std::string const& name, provider_config pc) {
    core_->set_provider_config(name, std::move(pc));
}

} // namespace payouts
