// TLS setup. Asio verifies nothing unless told to: peer verification, the minimum version and
// the host-name check are all switched on here, explicitly.
#pragma once

#include <payouts/error.hpp>

#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/context.hpp>

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>
#include <string_view>

namespace payouts::detail {

struct tls_trust {
    bool system_roots = true;
    std::string_view ca_file, ca_dir, ca_pem;
};

/// \brief A client TLS context: TLS 1.2 or later, verify_peer, the system roots (when asked)
/// plus the configured CAs. Failures name the CA source in `why` and return invalid_config.
inline std::unique_ptr<boost::asio::ssl::context>
make_tls_context(tls_trust const& t, error_code& ec, std::string& why) {
    namespace ssl = boost::asio::ssl;
    auto ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
    ec = {};
    boost::system::error_code e;
    SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
    // Idle keep-alive connections give back their 2 × 16 KiB record buffers.
    SSL_CTX_set_mode(ctx->native_handle(), SSL_MODE_RELEASE_BUFFERS);
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_compression, e);
    ctx->set_verify_mode(ssl::verify_peer, e);
    auto const fail = [&](std::string w) {
        why = std::move(w);
        ec = errc::invalid_config;
        return std::unique_ptr<ssl::context>();
    };
    if (t.system_roots) {
        ctx->set_default_verify_paths(e);
        if (e) return fail("cannot load the system's trusted roots: " + e.message());
    }
    if (!t.ca_file.empty()) {
        ctx->load_verify_file(std::string(t.ca_file), e);
        if (e)
            return fail("cannot load CA file \"" + std::string(t.ca_file) + "\": " + e.message());
    }
    if (!t.ca_dir.empty()) {
        ctx->add_verify_path(std::string(t.ca_dir), e);
        if (e)
            return fail("cannot use CA directory \"" + std::string(t.ca_dir) +
                        "\": " + e.message());
    }
    if (!t.ca_pem.empty()) {
        ctx->add_certificate_authority(boost::asio::buffer(t.ca_pem.data(), t.ca_pem.size()), e);
        if (e) return fail("cannot use the configured CA PEM: " + e.message());
    }
    return ctx;
}

/// \brief Per-connection settings: SNI for host names (RFC 6066 forbids it for IP literals)
/// and the peer name the certificate must match — DNS name or IP address.
inline error_code prepare_tls_connection(SSL* ssl, std::string const& host, bool ip_literal) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (ip_literal) {
        if (X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) != 1) return errc::invalid_config;
    } else {
        if (SSL_set_tlsext_host_name(ssl, host.c_str()) != 1) return errc::invalid_config;
        if (X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size()) != 1)
            return errc::invalid_config;
    }
    return {};
}

} // namespace payouts::detail
