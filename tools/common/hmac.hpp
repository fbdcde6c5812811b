// HMAC-SHA256 and the two encodings payout webhooks carry it in: for the sandbox that signs
// webhooks, and for the tests and fuzz targets that check signatures independently of the
// library's verifier.
#pragma once

#include <boost/algorithm/hex.hpp>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <iterator>
#include <stdexcept>
#include <string>
#include <string_view>

namespace payouts_tools {

/// The 32 raw bytes of HMAC-SHA256(key, data).
inline std::string hmac_sha256(std::string_view key, std::string_view data) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
              reinterpret_cast<unsigned char const*>(data.data()), data.size(), md, &len))
        throw std::runtime_error("HMAC-SHA256 failed");
    return std::string(reinterpret_cast<char const*>(md), len);
}

/// Base16, lower case (Checkout's `Cko-Signature`).
inline std::string hex_lower(std::string_view bytes) {
    std::string out;
    boost::algorithm::hex_lower(bytes.begin(), bytes.end(), std::back_inserter(out));
    return out;
}

/// Standard Base64 with padding (Yuno's `x-hmac-signature`).
inline std::string base64(std::string_view bytes) {
    std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
    int const n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<unsigned char const*>(bytes.data()),
                                  static_cast<int>(bytes.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

/// HMAC-SHA256(key, data) as a signature header carries it: lower-case hex or Base64.
inline std::string hmac_hex(std::string_view key, std::string_view data) {
    return hex_lower(hmac_sha256(key, data));
}
inline std::string hmac_base64(std::string_view key, std::string_view data) {
    return base64(hmac_sha256(key, data));
}

} // namespace payouts_tools
