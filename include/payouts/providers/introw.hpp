// Introw: GET {base}/api/v1/payouts/{id}, as documented at https://developers.introw.io
// (Get a payout).
#pragma once

#include <payouts/provider.hpp>

#include <string>

namespace payouts {

/// \brief Introw (introw.io) commission payouts. The status is the payout's `stage`; amounts
/// are decimal strings in major units; `reference` is the partner's PO number. Rate-limit
/// budget per minute comes in `x-ratelimit-remaining-minute`.
struct Introw {
    static constexpr std::string_view name = "introw";
    static constexpr base_urls urls{"https://api.staging.introw.io", "https://api.introw.io"};
    static constexpr std::string_view path = "/api/v1/payouts/{id}";
    using id_type = std::string;
    static constexpr id_rule id{1, 128};

    static constexpr std::array credentials{credential_header{"x-api-key", "", "API_KEY"}};
    static constexpr std::optional<oauth_client_credentials> oauth{};
    static constexpr std::array<header_field, 0> extra_headers{};

    static constexpr std::string_view envelope = "/data";
    static constexpr bool envelope_optional = false;

    static constexpr std::array fields{
        field{"/id", member::id, conv::id},
        field{"/stage", member::provider_status, conv::text},
        field{"/amount/value", member::amount, conv::decimal_text},
        field{"/amount/currency", member::amount_currency, conv::currency},
        field{"/poNumber", member::reference, conv::optional_text},
        field{"/createdAt", member::created_at, conv::timestamp, time_format::seconds_optional},
        field{"/updatedAt", member::updated_at, conv::timestamp, time_format::seconds_optional},
    };

    static constexpr std::array statuses{
        status_entry{"DRAFT", payout_status::pending},
        status_entry{"PENDING_REVIEW", payout_status::pending},
        status_entry{"PENDING_INVOICE", payout_status::pending},
        status_entry{"APPROVED", payout_status::pending},
        status_entry{"SCHEDULED", payout_status::pending},
        status_entry{"PENDING_PAYMENT", payout_status::processing},
        status_entry{"PAID", payout_status::paid},
        status_entry{"FAILED", payout_status::failed},
        status_entry{"DECLINED", payout_status::cancelled},
        status_entry{"POSTPONED", payout_status::on_hold},
        status_entry{"BLOCKED", payout_status::on_hold},
    };
    static constexpr status_set reason_statuses = status_set::all();
    static constexpr int amount_exponent(std::string_view c) noexcept {
        return iso4217_exponent(c);
    }

    static constexpr error_body errors{{"/error/code"}, {"/error/message"}};
    static constexpr std::array<std::string_view, 0> not_found_codes{};
    static constexpr std::array<std::string_view, 0> request_id_headers{};
    static constexpr std::string_view rate_limit_remaining_header = "x-ratelimit-remaining-minute";

    /// No webhook decoding: Introw documents no payout webhooks; its model is polling
    /// (https://developers.introw.io/general/commission-overview).
    struct webhook : no_webhook {
        static constexpr std::string_view why = "Introw documents no payout webhooks";
    };
};

} // namespace payouts
