// Throwaway TLS certificates for loopback servers (the sandbox, in-test HTTPS servers): a fresh
// CA and a leaf it signed, generated in memory with the OpenSSL 3 EVP/X509 API. Nothing here is
// meant for production, and no key made here is ever written into the repository.
//
//     auto pki = payouts_tools::make_test_pki();          // SANs localhost + 127.0.0.1
//     ssl_ctx.use_certificate_chain(asio::buffer(pki.leaf.cert_pem));
//     ssl_ctx.use_private_key(asio::buffer(pki.leaf.key_pem), asio::ssl::context::pem);
//     client_ctx.add_certificate_authority(asio::buffer(pki.ca.cert_pem));
//
// An expired leaf: `make_test_pki({.not_before_offset = -2h, .lifetime = 1h})`. The CA's own
// validity always covers the leaf's and now, so only the leaf is ever out of date.
#pragma once

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace payouts_tools {

/// A certificate and its private key, both PEM (the key unencrypted PKCS#8).
struct pem_pair {
    std::string cert_pem;
    std::string key_pem;
};

/// A throwaway CA and a server certificate it signed.
struct test_pki {
    pem_pair ca;
    pem_pair leaf;
};

/// What the leaf certificate says. Times are relative to now; the leaf is valid from
/// `now + not_before_offset` for `lifetime`.
struct pki_options {
    std::vector<std::string> dns_names{"localhost"};
    std::vector<std::string> ip_addresses{"127.0.0.1"};
    std::chrono::seconds not_before_offset{-3600};
    std::chrono::seconds lifetime{7 * 24 * 3600};
    /// The leaf's extended key usage: "clientAuth" makes a client certificate (mutual TLS).
    std::string extended_key_usage = "serverAuth";
};

namespace detail {

struct openssl_free {
    void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
    void operator()(EVP_PKEY_CTX* p) const noexcept { EVP_PKEY_CTX_free(p); }
    void operator()(X509* p) const noexcept { X509_free(p); }
    void operator()(X509_EXTENSION* p) const noexcept { X509_EXTENSION_free(p); }
    void operator()(BIGNUM* p) const noexcept { BN_free(p); }
    void operator()(BIO* p) const noexcept { BIO_free(p); }
};
template <class T>
using openssl_ptr = std::unique_ptr<T, openssl_free>;

/// Throws std::runtime_error naming the failed step and OpenSSL's queued reasons (and clears
/// the queue, so the next caller starts clean).
[[noreturn]] inline void throw_openssl(std::string_view step) {
    std::string what = "make_test_pki: ";
    what += step;
    what += " failed";
    char buf[256];
    while (unsigned long e = ERR_get_error()) {
        ERR_error_string_n(e, buf, sizeof buf);
        what += "; ";
        what += buf;
    }
    throw std::runtime_error(what);
}

inline void check(int ok, std::string_view step) {
    if (ok <= 0) throw_openssl(step);
}

inline openssl_ptr<EVP_PKEY> make_p256_key() {
    openssl_ptr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
    if (!ctx) throw_openssl("EVP_PKEY_CTX_new_from_name(EC)");
    check(EVP_PKEY_keygen_init(ctx.get()), "EVP_PKEY_keygen_init");
    check(EVP_PKEY_CTX_set_group_name(ctx.get(), "P-256"), "EVP_PKEY_CTX_set_group_name");
    EVP_PKEY* raw = nullptr;
    check(EVP_PKEY_generate(ctx.get(), &raw), "EVP_PKEY_generate");
    return openssl_ptr<EVP_PKEY>(raw);
}

/// A random positive 159-bit serial number (RFC 5280 allows up to 20 octets).
inline void set_random_serial(X509* cert) {
    unsigned char bytes[20];
    check(RAND_bytes(bytes, sizeof bytes), "RAND_bytes");
    bytes[0] &= 0x7f;
    bytes[0] |= 0x40; // never a short (leading-zero) serial
    openssl_ptr<BIGNUM> bn(BN_bin2bn(bytes, sizeof bytes, nullptr));
    if (!bn) throw_openssl("BN_bin2bn");
    if (!BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert)))
        throw_openssl("BN_to_ASN1_INTEGER");
}

inline void set_validity(X509* cert, std::chrono::seconds from, std::chrono::seconds to) {
    if (!X509_gmtime_adj(X509_getm_notBefore(cert), static_cast<long>(from.count())))
        throw_openssl("X509_gmtime_adj(notBefore)");
    if (!X509_gmtime_adj(X509_getm_notAfter(cert), static_cast<long>(to.count())))
        throw_openssl("X509_gmtime_adj(notAfter)");
}

inline void set_common_name(X509* cert, char const* cn) {
    X509_NAME* name = X509_get_subject_name(cert); // owned by cert
    check(X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                                     reinterpret_cast<unsigned char const*>("payouts test PKI"), -1,
                                     -1, 0),
          "X509_NAME_add_entry_by_txt(O)");
    check(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                     reinterpret_cast<unsigned char const*>(cn), -1, -1, 0),
          "X509_NAME_add_entry_by_txt(CN)");
}

/// Adds one v3 extension in OpenSSL's config syntax ("critical,CA:TRUE"); `issuer` is the
/// certificate whose key identifier the authorityKeyIdentifier refers to.
inline void add_extension(X509* cert, X509* issuer, int nid, std::string const& value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
    openssl_ptr<X509_EXTENSION> ext(X509V3_EXT_nconf_nid(nullptr, &ctx, nid, value.c_str()));
    if (!ext) throw_openssl(std::string("X509V3_EXT_nconf_nid(") + OBJ_nid2sn(nid) + ")");
    check(X509_add_ext(cert, ext.get(), -1), "X509_add_ext");
}

inline openssl_ptr<X509> new_cert(EVP_PKEY* key) {
    openssl_ptr<X509> cert(X509_new());
    if (!cert) throw_openssl("X509_new");
    check(X509_set_version(cert.get(), X509_VERSION_3), "X509_set_version");
    set_random_serial(cert.get());
    check(X509_set_pubkey(cert.get(), key), "X509_set_pubkey");
    return cert;
}

inline std::string bio_text(BIO* bio) {
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    if (n < 0 || (n > 0 && !data)) throw_openssl("BIO_get_mem_data");
    return std::string(data, static_cast<std::size_t>(n));
}

inline pem_pair to_pem(X509* cert, EVP_PKEY* key) {
    pem_pair out;
    {
        openssl_ptr<BIO> bio(BIO_new(BIO_s_mem()));
        if (!bio) throw_openssl("BIO_new");
        check(PEM_write_bio_X509(bio.get(), cert), "PEM_write_bio_X509");
        out.cert_pem = bio_text(bio.get());
    }
    {
        openssl_ptr<BIO> bio(BIO_new(BIO_s_mem()));
        if (!bio) throw_openssl("BIO_new");
        check(PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr),
              "PEM_write_bio_PrivateKey");
        out.key_pem = bio_text(bio.get());
    }
    return out;
}

/// "DNS:a,DNS:b,IP:127.0.0.1" — rejects names that would change the list's meaning.
inline std::string subject_alt_names(pki_options const& o) {
    std::string san;
    auto add = [&](char const* kind, std::string const& v) {
        if (v.empty() || v.find_first_of(",\r\n") != std::string::npos)
            throw std::invalid_argument("make_test_pki: bad subject alternative name '" + v + "'");
        if (!san.empty()) san += ',';
        san += kind;
        san += ':';
        san += v;
    };
    for (auto const& d : o.dns_names)
        add("DNS", d);
    for (auto const& ip : o.ip_addresses)
        add("IP", ip);
    if (san.empty()) throw std::invalid_argument("make_test_pki: no subject alternative names");
    return san;
}

/// Writes `data` to a new or truncated file with the given permission bits (applied at
/// creation, so a key is never briefly world-readable).
inline void write_file(std::filesystem::path const& path, std::string_view data, mode_t mode) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) throw std::system_error(errno, std::generic_category(), "open " + path.string());
    struct closer {
        int fd;
        ~closer() { ::close(fd); }
    } guard{fd};
    if (::fchmod(fd, mode) != 0)
        throw std::system_error(errno, std::generic_category(), "fchmod " + path.string());
    while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            throw std::system_error(errno, std::generic_category(), "write " + path.string());
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
}

} // namespace detail

/// \brief A fresh throwaway CA (EC P-256, CA:TRUE, keyCertSign) and a leaf it signed (EC P-256,
/// the options' SANs, serverAuth, random serials), both SHA-256 signed.
/// \throws std::runtime_error when OpenSSL fails; std::invalid_argument for unusable options.
inline test_pki make_test_pki(pki_options const& options = {}) {
    using std::chrono::seconds;
    std::string const san = detail::subject_alt_names(options);
    seconds const leaf_from = options.not_before_offset;
    seconds const leaf_to = options.not_before_offset + options.lifetime;
    // The CA outlives the leaf and is valid now, so an expired or not-yet-valid leaf is the
    // only thing a verifier can complain about.
    seconds const ca_from = std::min(leaf_from, seconds{-3600});
    seconds const ca_to = std::max(leaf_to, seconds{7 * 24 * 3600});

    auto ca_key = detail::make_p256_key();
    auto ca = detail::new_cert(ca_key.get());
    detail::set_validity(ca.get(), ca_from, ca_to);
    detail::set_common_name(ca.get(), "payouts throwaway test CA");
    detail::check(X509_set_issuer_name(ca.get(), X509_get_subject_name(ca.get())),
                  "X509_set_issuer_name");
    detail::add_extension(ca.get(), ca.get(), NID_basic_constraints, "critical,CA:TRUE");
    detail::add_extension(ca.get(), ca.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
    detail::add_extension(ca.get(), ca.get(), NID_subject_key_identifier, "hash");
    detail::add_extension(ca.get(), ca.get(), NID_authority_key_identifier, "keyid:always");
    if (!X509_sign(ca.get(), ca_key.get(), EVP_sha256())) detail::throw_openssl("X509_sign(CA)");

    auto leaf_key = detail::make_p256_key();
    auto leaf = detail::new_cert(leaf_key.get());
    detail::set_validity(leaf.get(), leaf_from, leaf_to);
    detail::set_common_name(leaf.get(), options.dns_names.empty()
                                            ? options.ip_addresses.front().c_str()
                                            : options.dns_names.front().c_str());
    detail::check(X509_set_issuer_name(leaf.get(), X509_get_subject_name(ca.get())),
                  "X509_set_issuer_name");
    detail::add_extension(leaf.get(), ca.get(), NID_basic_constraints, "critical,CA:FALSE");
    detail::add_extension(leaf.get(), ca.get(), NID_key_usage, "critical,digitalSignature");
    detail::add_extension(leaf.get(), ca.get(), NID_ext_key_usage, options.extended_key_usage);
    detail::add_extension(leaf.get(), ca.get(), NID_subject_alt_name, san);
    detail::add_extension(leaf.get(), ca.get(), NID_subject_key_identifier, "hash");
    detail::add_extension(leaf.get(), ca.get(), NID_authority_key_identifier, "keyid:always");
    if (!X509_sign(leaf.get(), ca_key.get(), EVP_sha256()))
        detail::throw_openssl("X509_sign(leaf)");

    return test_pki{detail::to_pem(ca.get(), ca_key.get()),
                    detail::to_pem(leaf.get(), leaf_key.get())};
}

/// \brief Writes a certificate (mode 0644) and its key (mode 0600) to files, replacing them.
/// \throws std::system_error when a file cannot be written.
inline void write_pem_files(pem_pair const& pair, std::filesystem::path const& cert_file,
                            std::filesystem::path const& key_file) {
    detail::write_file(key_file, pair.key_pem, 0600);
    detail::write_file(cert_file, pair.cert_pem, 0644);
}

} // namespace payouts_tools
