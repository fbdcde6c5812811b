// What decode.hpp defines, declared: all that fetch.hpp, and the umbrella in separate mode,
// need of the decoder. In separate mode the five built-in providers' decoders are compiled in
// <payouts/src.hpp>; a file that decodes or fetches a provider of its own includes
// <payouts/decode.hpp> for the definitions (without it the link fails on
// payouts::detail::decode_impl<YourProvider>).
#pragma once

#include <payouts/detail/config.hpp>
#include <payouts/diagnostics.hpp>
#include <payouts/payout.hpp>
#include <payouts/provider.hpp>

#include <boost/system/result.hpp>

#include <string>
#include <string_view>

namespace payouts {
namespace detail {

/// The code and message a provider's error body carries, where its shape says they are.
struct provider_error {
    std::string code;
    std::string message;
};

// Reads a provider's error body (JSON in P's error shape). Anything else yields empty fields.
template <class P>
provider_error read_error_body(std::string_view body);

// `owned`, when given, holds the bytes `body` views; a payout that decodes takes them as its raw
// copy instead of copying them (fetch hands over the response body it no longer needs).
template <class P>
boost::system::result<payout> decode_impl(std::string_view body, std::string& why,
                                          std::string* owned = nullptr);

} // namespace detail

// Documented in <payouts/decode.hpp>.
template <provider P>
boost::system::result<payout> decode(std::string_view body);
template <provider P>
boost::system::result<payout> decode(std::string_view body, diagnostics& diag);

} // namespace payouts

#ifdef PAYOUTS_HEADER_ONLY
#include <payouts/decode.hpp>
#endif
