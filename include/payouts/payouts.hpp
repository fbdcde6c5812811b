// payouts: fetch one payout by id from Truust, DRUO, Checkout.com, Yuno or Introw and get one
// exact, unified payout. Include this header for everything.
#pragma once

#include <payouts/client.hpp>
#include <payouts/convert.hpp>
#include <payouts/detail/config.hpp>
#include <payouts/diagnostics.hpp>
#include <payouts/error.hpp>
#include <payouts/fetch.hpp>
#include <payouts/fetch_many.hpp>
#ifdef PAYOUTS_SEPARATE_COMPILATION
// Declarations only: the built-in providers' decoders are compiled in src.hpp. For a provider
// of your own, include <payouts/decode.hpp> as well.
#include <payouts/detail/decode_decl.hpp>
#else
#include <payouts/decode.hpp>
#endif
#include <payouts/json.hpp>
#include <payouts/payout.hpp>
#include <payouts/provider.hpp>
#include <payouts/watch.hpp>
#include <payouts/webhook.hpp>

#include <payouts/providers/checkout.hpp>
#include <payouts/providers/druo.hpp>
#include <payouts/providers/introw.hpp>
#include <payouts/providers/truust.hpp>
#include <payouts/providers/yuno.hpp>

#include <boost/mp11/list.hpp>

namespace payouts {

/// Every provider this library knows, for code that picks one at run time by `P::name`
/// (the CLI does). A new provider's header is added here and in the contract test.
using all_providers = boost::mp11::mp_list<Truust, Druo, Checkout, Yuno, Introw>;

} // namespace payouts

#ifdef PAYOUTS_SEPARATE_COMPILATION
// Separate mode: the built-in providers' decoders (and webhook decoders) are compiled once, in
// src.hpp.
#define PAYOUTS_DETAIL_PROVIDER(P, kind)                                                           \
    kind template boost::system::result<payout> decode<P>(std::string_view);                       \
    kind template boost::system::result<payout> decode<P>(std::string_view, diagnostics&);         \
    kind template boost::system::result<payout> detail::decode_impl<P>(                            \
        std::string_view, std::string&, std::string*);                                             \
    kind template detail::provider_error detail::read_error_body<P>(std::string_view);
// decode_webhook<P>, for the providers with webhook decoding.
#define PAYOUTS_DETAIL_WEBHOOK_PROVIDER(P, kind)                                                   \
    kind template boost::system::result<webhook_event> decode_webhook<P>(                          \
        std::string_view, std::span<header const>, std::span<std::string_view const>);             \
    kind template boost::system::result<webhook_event> decode_webhook<P>(                          \
        std::string_view, std::span<header const>, std::span<std::string_view const>,              \
        diagnostics&);                                                                             \
    kind template boost::system::result<webhook_event> decode_webhook<P>(                          \
        std::string_view, boost::beast::http::fields const&, std::span<std::string_view const>);   \
    kind template boost::system::result<webhook_event> decode_webhook<P>(                          \
        std::string_view, boost::beast::http::fields const&, std::span<std::string_view const>,    \
        diagnostics&);
#define PAYOUTS_DETAIL_BUILTIN_PROVIDERS(kind)                                                     \
    PAYOUTS_DETAIL_PROVIDER(Truust, kind)                                                          \
    PAYOUTS_DETAIL_PROVIDER(Druo, kind)                                                            \
    PAYOUTS_DETAIL_PROVIDER(Checkout, kind)                                                        \
    PAYOUTS_DETAIL_PROVIDER(Yuno, kind)                                                            \
    PAYOUTS_DETAIL_PROVIDER(Introw, kind)                                                          \
    PAYOUTS_DETAIL_WEBHOOK_PROVIDER(Checkout, kind)                                                \
    PAYOUTS_DETAIL_WEBHOOK_PROVIDER(Yuno, kind)
namespace payouts {
PAYOUTS_DETAIL_BUILTIN_PROVIDERS(extern)
} // namespace payouts
#endif
