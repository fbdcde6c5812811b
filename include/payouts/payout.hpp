// The unified payout model: one exact, typed payout whichever provider holds it.
#pragma once

#include <boost/describe/class.hpp>
#include <boost/describe/enum.hpp>
#include <boost/system/result.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace payouts {

/// \brief The unified status of a payout.
///
/// Each provider's own status strings map onto these by an exact, case-sensitive table in the
/// provider's header (see README "Status mapping"). A value the table does not know becomes
/// `unknown`, and the provider's text is kept in `payout::provider_status`.
enum class payout_status {
    pending,    ///< accepted, not yet handed to the rail (or awaiting approval)
    processing, ///< handed to the provider or bank; outcome not known yet
    on_hold,    ///< held, waiting for a human or a release
    paid,       ///< the money arrived
    failed,     ///< refused or failed; `payout::reason` says why when the provider does
    cancelled,  ///< withdrawn before any money moved
    returned,   ///< paid, then returned or reversed
    unknown     ///< a status the provider's table does not list
};
BOOST_DESCRIBE_ENUM(payout_status, pending, processing, on_hold, paid, failed, cancelled, returned,
                    unknown)

/// \brief The status's name as written in the enum ("on_hold", ...). Never fails; a value outside
/// the enum gives "unknown".
constexpr std::string_view to_string(payout_status s) noexcept {
    switch (s) {
    case payout_status::pending:
        return "pending";
    case payout_status::processing:
        return "processing";
    case payout_status::on_hold:
        return "on_hold";
    case payout_status::paid:
        return "paid";
    case payout_status::failed:
        return "failed";
    case payout_status::cancelled:
        return "cancelled";
    case payout_status::returned:
        return "returned";
    case payout_status::unknown:
        break;
    }
    return "unknown";
}

namespace detail {
/// A three-letter code packed into one integer (0 for any other length): compares in one step.
constexpr std::uint32_t alpha3(std::string_view s) noexcept {
    if (s.size() != 3) return 0;
    return std::uint32_t(static_cast<unsigned char>(s[0])) << 16 |
           std::uint32_t(static_cast<unsigned char>(s[1])) << 8 |
           std::uint32_t(static_cast<unsigned char>(s[2]));
}
// The ISO 4217 codes whose minor-unit exponent is not 2, as alpha3 values: a lookup is integer
// compares only (this runs for every decoded amount).
inline constexpr std::uint32_t exponent_0[] = {
    alpha3("BIF"), alpha3("CLP"), alpha3("DJF"), alpha3("GNF"), alpha3("ISK"), alpha3("JPY"),
    alpha3("KMF"), alpha3("KRW"), alpha3("PYG"), alpha3("RWF"), alpha3("UGX"), alpha3("UYI"),
    alpha3("VND"), alpha3("VUV"), alpha3("XAF"), alpha3("XOF"), alpha3("XPF")};
inline constexpr std::uint32_t exponent_3[] = {alpha3("BHD"), alpha3("IQD"), alpha3("JOD"),
                                               alpha3("KWD"), alpha3("LYD"), alpha3("OMR"),
                                               alpha3("TND")};
inline constexpr std::uint32_t exponent_4[] = {alpha3("CLF"), alpha3("UYW")};

template <std::size_t N>
constexpr bool alpha3_in(std::uint32_t code, std::uint32_t const (&codes)[N]) noexcept {
    for (auto c : codes)
        if (c == code) return true;
    return false;
}
// The same over codes as text, for a provider's own table.
template <std::size_t N>
constexpr bool alpha3_in(std::uint32_t code, std::string_view const (&codes)[N]) noexcept {
    for (auto c : codes)
        if (alpha3(c) == code) return true;
    return false;
}
} // namespace detail

/// \brief The ISO 4217 minor-unit exponent of an alpha-3 currency code: 0 for JPY, KRW, ...;
/// 3 for BHD, KWD, ...; 4 for CLF and UYW; 2 for every other code (including unknown ones).
constexpr int iso4217_exponent(std::string_view currency) noexcept {
    auto const code = detail::alpha3(currency);
    if (code == 0) return 2;
    if (detail::alpha3_in(code, detail::exponent_0)) return 0;
    if (detail::alpha3_in(code, detail::exponent_3)) return 3;
    if (detail::alpha3_in(code, detail::exponent_4)) return 4;
    return 2;
}

/// \brief An exact amount of money: `units × 10^-scale` major units of `currency`.
///
/// `scale` is never negative in values this library produces and is at least the currency's
/// ISO 4217 exponent, so USD 100 is `{10000, 2, "USD"}`. Values with more fraction digits than
/// the currency has (a provider sending BRL 10.015) are kept exactly, with a larger scale.
/// Equality compares the value and the currency, not the representation.
struct money {
    std::int64_t units = 0;
    std::int8_t scale = 0;
    std::string currency; ///< ISO 4217 alpha-3, as the provider sent it

    /// \brief The amount in the currency's ISO 4217 minor units (cents for USD, yen for JPY,
    /// fils for KWD).
    /// \returns `errc::inexact_amount` if that would drop non-zero digits, or
    /// `errc::amount_out_of_range` if the result does not fit in 64 bits.
    boost::system::result<std::int64_t> minor_units() const;

    /// \brief The amount as a decimal string with exactly `scale` fraction digits ("10.01").
    std::string to_decimal_string() const;

    friend bool operator==(money const& a, money const& b) noexcept;
};

/// A point in time in UTC, to the nanosecond (the finest any provider sends).
using timestamp = std::chrono::sys_time<std::chrono::nanoseconds>;

/// \brief One payout, as every provider's Get-Payout answer is decoded into.
///
/// Everything a provider said is kept: fields it has no unified place for remain in `raw`.
struct payout {
    std::string_view provider; ///< "truust", "druo", "checkout", "yuno", "introw"
    std::string id;            ///< the provider's payout id, as text
    payout_status status = payout_status::unknown; ///< unified
    std::string provider_status;                   ///< exactly as the provider sent it
    std::optional<money> amount;          ///< absent where the provider does not say (Truust)
    std::optional<std::string> reference; ///< the merchant's own reference, when there is one
    std::optional<std::string> reason;    ///< decline/failure reason, when there is one
    std::optional<timestamp> created_at;
    std::optional<timestamp> updated_at;
    std::optional<std::string> request_id; ///< the provider's request-id header, when sent
    std::string raw;                       ///< the response body exactly as received
};

BOOST_DESCRIBE_STRUCT(money, (), (units, scale, currency))
BOOST_DESCRIBE_STRUCT(payout, (),
                      (provider, id, status, provider_status, amount, reference, reason, created_at,
                       updated_at, request_id, raw))

/// \brief Formats a timestamp as RFC 3339 in UTC with `Z`, keeping every non-zero fraction digit
/// in groups of three ("2024-05-27T14:49:10.215801437Z", "2023-10-09T16:46:16.766Z").
std::string format_rfc3339(timestamp t);

} // namespace payouts

#include <payouts/impl/payout.ipp>
