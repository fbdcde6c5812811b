// Truust: GET {base}/orders/{order_id}/payout, as documented at https://docs.truust.io
// (Get Order Payout).
#pragma once

#include <payouts/provider.hpp>

#include <cstdint>

namespace payouts {

/// \brief Truust (truust.io), API 2.0. The id is the integer *order* id; the payout object has
/// no amount, so `payout::amount` stays empty. `updated_at` is the later of `confirmed_at` and
/// `denied_at`.
///
/// Base URLs carry the account subdomain (`https://{subdomain}-sandbox.truust.io/2.0`): set
/// yours with PAYOUTS_TRUUST_BASE_URL; the defaults use the documentation's placeholder.
struct Truust {
    static constexpr std::string_view name = "truust";
    static constexpr base_urls urls{"https://your-subdomain-sandbox.truust.io/2.0",
                                    "https://your-subdomain.truust.io/2.0"};
    static constexpr std::string_view path = "/orders/{id}/payout";
    using id_type = std::int64_t;
    static constexpr id_rule id{1, 19};

    static constexpr std::array credentials{
        credential_header{"Authorization", "Bearer ", "SECRET_KEY"}};
    static constexpr std::optional<oauth_client_credentials> oauth{};
    static constexpr std::array<header_field, 0> extra_headers{};

    // Real Truust responses wrap resources in {"data": ...}; the OpenAPI schema does not.
    static constexpr std::string_view envelope = "/data";
    static constexpr bool envelope_optional = true;

    static constexpr std::array fields{
        field{"/id", member::id, conv::id},
        field{"/status", member::provider_status, conv::text},
        field{"/reference", member::reference, conv::optional_text},
        field{"/created_at", member::created_at, conv::timestamp},
        field{"/confirmed_at", member::updated_at, conv::timestamp},
        field{"/denied_at", member::updated_at, conv::timestamp},
    };

    static constexpr std::array statuses{
        status_entry{"CREATED", payout_status::pending},
        status_entry{"CONFIRMED", payout_status::paid},
        status_entry{"DENIED", payout_status::failed},
        status_entry{"CANCELLED", payout_status::cancelled},
    };
    static constexpr status_set reason_statuses = status_set::all();
    static constexpr int amount_exponent(std::string_view c) noexcept {
        return iso4217_exponent(c);
    }

    static constexpr error_body errors{{}, {"/message"}};
    static constexpr std::array<std::string_view, 0> not_found_codes{};
    static constexpr std::array<std::string_view, 0> request_id_headers{};
    static constexpr std::string_view rate_limit_remaining_header = "";

    /// No webhook decoding: Truust documents no webhook signature and no payout notification
    /// body (https://docs.truust.io, Developers > Webhooks). Fetch the payout on a notification.
    struct webhook : no_webhook {
        static constexpr std::string_view why =
            "Truust documents no webhook signature and no payout event body";
    };
};

} // namespace payouts
