// TLS setup and TLS failure messages. Asio verifies nothing unless told to: peer verification,
// the minimum version and the host-name check are all switched on here, explicitly, for every
// connection, whichever context (ours or the user's) it was made from.
#pragma once

#include <payouts/error.hpp>

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/url/authority_view.hpp>
#include <boost/url/parse.hpp>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

namespace payouts::detail {

/// Where a client's TLS context comes from: the user's own, or ours built from the trust
/// settings (which are ignored when `user_context` is set).
struct tls_options {
    bool system_roots = true;
    std::string_view ca_file{}, ca_dir{}, ca_pem{};
    std::shared_ptr<boost::asio::ssl::context> user_context{};
};

/// \brief The context connections are made from. A user context is returned as given (its
/// client certificate and key, ciphers, roots and callbacks stay the user's);
/// prepare_tls_connection still enforces verification on each connection made from it.
/// Otherwise ours: TLS 1.2 or later, verify_peer, the system roots (when asked) plus the
/// configured CAs; on failure null, errc::invalid_config and `why` naming the CA source.
inline std::shared_ptr<boost::asio::ssl::context>
client_tls_context(tls_options const& o, error_code& ec, std::string& why) {
    namespace ssl = boost::asio::ssl;
    ec = {};
    if (o.user_context) return o.user_context;
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
    // Idle keep-alive connections give back their record buffers.
    SSL_CTX_set_mode(ctx->native_handle(), SSL_MODE_RELEASE_BUFFERS);
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_compression, ec);
    ctx->set_verify_mode(ssl::verify_peer, ec);
    auto const fail = [&](std::string w) {
        why = std::move(w) + ": " + ec.message();
        ec = errc::invalid_config;
        return nullptr;
    };
    // (With BOOST_ASIO_NO_DEPRECATED these calls return void: ec says how they went.)
    if (o.system_roots) ctx->set_default_verify_paths(ec);
    if (ec) return fail("cannot load the system's trusted roots");
    if (!o.ca_file.empty()) ctx->load_verify_file(std::string(o.ca_file), ec);
    if (ec) return fail("cannot load CA file \"" + std::string(o.ca_file) + "\"");
    if (!o.ca_dir.empty()) ctx->add_verify_path(std::string(o.ca_dir), ec);
    if (ec) return fail("cannot use CA directory \"" + std::string(o.ca_dir) + "\"");
    if (!o.ca_pem.empty()) ctx->add_certificate_authority(boost::asio::buffer(o.ca_pem), ec);
    if (ec) return fail("cannot use the configured CA PEM");
    return ctx;
}

/// \brief Per-connection settings, applied whatever the context says, before the handshake:
/// a verified peer certificate (the context's verify callback is kept, `verify_none` is not),
/// TLS 1.2 or later (a context demanding more keeps its minimum), SNI for host names (RFC 6066
/// forbids it for IP literals) and the peer name the certificate must match — DNS name
/// (no partial wildcards) or IP address. errc::invalid_config when OpenSSL refuses a setting.
inline error_code prepare_tls_connection(SSL* ssl, std::string const& host, bool ip_literal) {
    if (!ssl || host.empty()) return errc::invalid_config;
    // The connection's callback (the context's, copied by SSL_new) stays: only verify_none
    // goes. Other mode bits (post-handshake authentication) stay the user's choice.
    SSL_set_verify(ssl, SSL_get_verify_mode(ssl) | SSL_VERIFY_PEER, SSL_get_verify_callback(ssl));
    // 0 means "the lowest the library supports".
    if (long const min = SSL_get_min_proto_version(ssl); min == 0 || min < TLS1_2_VERSION) {
        if (SSL_set_min_proto_version(ssl, TLS1_2_VERSION) != 1) return errc::invalid_config;
    }
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    // Each branch also clears the other kind of peer name, so none inherited from a user
    // context can add a second, unrelated requirement.
    if (ip_literal) {
        if (X509_VERIFY_PARAM_set1_host(param, nullptr, 0) != 1 ||
            X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) != 1)
            return errc::invalid_config;
    } else {
        if (SSL_set_tlsext_host_name(ssl, host.c_str()) != 1) return errc::invalid_config;
        if (X509_VERIFY_PARAM_set1_ip(param, nullptr, 0) != 1 ||
            X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size()) != 1)
            return errc::invalid_config;
    }
    return {};
}

namespace tls_message_detail {

// "host" of "host:port" or "[v6]:port" (the whole text when it is no authority).
inline std::string host_of(std::string_view host_port) {
    auto const a = boost::urls::parse_authority(host_port);
    return a ? std::string(a->encoded_host_address()) : std::string(host_port);
}

// "TLS 1.x" for OpenSSL's TLS1_x_VERSION, the wire's {3, x + 1}; empty for anything else.
inline std::string version_name(long v) {
    if (v < TLS1_VERSION || v > TLS1_3_VERSION) return {};
    return "TLS 1." + std::to_string(v - TLS1_VERSION);
}

// The verifier's own account of a failed verification: which check failed and, for a name
// mismatch, the name that was checked.
inline std::string verify_problem(SSL const* ssl, std::string_view host_port) {
    long const v = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
    std::string m = "SSL certificate problem: ";
    if (v == X509_V_ERR_HOSTNAME_MISMATCH || v == X509_V_ERR_IP_ADDRESS_MISMATCH) {
        // The name as the caller wrote it; else the one the verifier was given.
        std::string name = host_of(host_port);
        if (name.empty()) {
            // SSL_get0_param only reads here; OpenSSL lacks a const overload.
            X509_VERIFY_PARAM* param = SSL_get0_param(const_cast<SSL*>(ssl));
            if (v == X509_V_ERR_HOSTNAME_MISMATCH) {
                if (char const* h = X509_VERIFY_PARAM_get0_host(param, 0)) name = h;
            } else if (char* ip = X509_VERIFY_PARAM_get1_ip_asc(param)) {
                name = ip;
                OPENSSL_free(ip);
            }
        }
        m += v == X509_V_ERR_HOSTNAME_MISMATCH ? "the certificate does not match host name \""
                                               : "the certificate does not match IP address \"";
        return m + name + '"';
    }
    return m + (v != X509_V_OK ? X509_verify_cert_error_string(v) : "certificate verify failed");
}

// What went wrong, from an error of Asio's OpenSSL category: the library's reason string,
// after a plain account where the reason alone leaves a person guessing.
inline std::string openssl_problem(SSL const* ssl, unsigned long packed,
                                   std::string_view host_port) {
    if (ERR_GET_LIB(packed) == ERR_LIB_SYS)
        return std::system_category().message(ERR_GET_REASON(packed));
    char const* const text = ERR_reason_error_string(packed);
    std::string const reason = text ? text : "an unidentified TLS error";
    if (ERR_GET_LIB(packed) != ERR_LIB_SSL) return reason;
    auto const with = [&](std::string account) { return account + " (" + reason + ")"; };
    switch (ERR_GET_REASON(packed)) {
    case SSL_R_CERTIFICATE_VERIFY_FAILED:
        return verify_problem(ssl, host_port);
    case SSL_R_UNEXPECTED_EOF_WHILE_READING:
        return "the server closed the connection";
    case SSL_R_UNSUPPORTED_PROTOCOL:
    case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION: {
        // The server chose a version below this connection's minimum, or said so itself.
        std::string const min =
            ssl ? version_name(SSL_get_min_proto_version(const_cast<SSL*>(ssl))) : std::string();
        std::string account = "the server and this client have no TLS version in common";
        if (!min.empty()) account += "; this client requires " + min + " or later";
        return with(std::move(account));
    }
    case SSL_R_WRONG_VERSION_NUMBER:
        return with("the server's answer is not TLS, perhaps a plain-HTTP port");
    case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
        return with("the server requires a client certificate");
    case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
        // Alerts about a certificate, received by a client, are about the client's own.
        return with("the server rejected the client certificate");
    case SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE:
        return with("the server refused the handshake");
    case SSL_R_TLSV1_UNRECOGNIZED_NAME:
        return with("the server does not serve this host name");
    default:
        return reason;
    }
}

} // namespace tls_message_detail

/// \brief One sentence a person can act on, for a TLS failure of the connection `ssl` (may be
/// null) to `host_port`: the verifier's result when the certificate was refused
/// ("TLS handshake with api.example.com:443 failed: SSL certificate problem: certificate has
/// expired"), else OpenSSL's reason for the error — never a bare error number. Meant for the
/// handshake's errors and those of the first exchange on a new connection, where TLS 1.3
/// reports the server's refusal of the client certificate.
inline std::string tls_failure_message(SSL const* ssl, error_code ec, std::string_view host_port) {
    namespace msg = tls_message_detail;
    // Reason strings are loaded with libssl's initialisation; a null `ssl` may mean it never ran.
    OPENSSL_init_ssl(OPENSSL_INIT_LOAD_SSL_STRINGS | OPENSSL_INIT_LOAD_CRYPTO_STRINGS, nullptr);
    std::string m = host_port.empty()
                        ? std::string("TLS handshake failed: ")
                        : "TLS handshake with " + std::string(host_port) + " failed: ";
    // A reset (the server closed with our hello unread) means the same to the reader.
    if (ec == boost::asio::ssl::error::stream_truncated || ec == boost::asio::error::eof ||
        ec == boost::asio::error::connection_reset)
        m += "the server closed the connection";
    else if (ec.category() == boost::asio::error::get_ssl_category())
        m += msg::openssl_problem(ssl, static_cast<unsigned int>(ec.value()), host_port);
    else
        m += ec.message();
    return m;
}

} // namespace payouts::detail
