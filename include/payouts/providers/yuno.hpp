// Yuno: GET {base}/payouts/{payout_id}, as documented at https://docs.y.uno/reference
// (Retrieve payout; statuses: https://docs.y.uno/reference/payouts/payout-workflow).
#pragma once

#include <payouts/provider.hpp>

#include <string>

namespace payouts {

/// \brief Yuno (y.uno). Amounts are JSON numbers in major units ("value": 10.01 is BRL 10.01),
/// decoded exactly from their text. A PENDING payout whose latest transaction (the last in
/// `transactions`, which Yuno lists oldest first) has response_code AUTHORIZED waits for the
/// merchant's release: `on_hold`. For failed payouts, `reason` is the latest transaction's
/// provider status detail, else its response code. A 400 with code NOT_FOUND means not found.
struct Yuno {
    static constexpr std::string_view name = "yuno";
    static constexpr base_urls urls{"https://api-sandbox.y.uno/v1", "https://api.y.uno/v1"};
    static constexpr std::string_view path = "/payouts/{id}";
    using id_type = std::string;
    static constexpr id_rule id{1, 64};

    static constexpr std::array credentials{
        credential_header{"public-api-key", "", "PUBLIC_API_KEY"},
        credential_header{"private-secret-key", "", "PRIVATE_SECRET_KEY"},
    };
    static constexpr std::optional<oauth_client_credentials> oauth{};
    static constexpr std::array<header_field, 0> extra_headers{};

    static constexpr std::string_view envelope = "";
    static constexpr bool envelope_optional = false;

    static constexpr std::array fields{
        field{"/id", member::id, conv::id},
        field{"/status", member::provider_status, conv::text},
        field{"/amount/value", member::amount, conv::major_number},
        field{"/amount/currency", member::amount_currency, conv::currency},
        field{"/merchant_reference", member::reference, conv::optional_text},
        field{"/transactions/*/provider_data/status_detail", member::reason, conv::optional_text},
        field{"/transactions/*/response_code", member::reason, conv::optional_text},
        field{"/created_at", member::created_at, conv::timestamp},
        field{"/updated_at", member::updated_at, conv::timestamp},
        field{"/transactions/*/response_code", member::status_qualifier, conv::optional_text},
    };

    static constexpr std::array statuses{
        status_entry{"CREATED", payout_status::pending},
        status_entry{"PENDING", payout_status::on_hold, "AUTHORIZED"},
        status_entry{"PENDING", payout_status::processing},
        status_entry{"PROCESSING", payout_status::processing},
        status_entry{"SUCCEEDED", payout_status::paid},
        status_entry{"REJECTED", payout_status::failed},
        status_entry{"DECLINED", payout_status::failed},
        status_entry{"ERROR", payout_status::failed},
        status_entry{"CANCELED", payout_status::cancelled},
    };
    static constexpr status_set reason_statuses{payout_status::failed, payout_status::cancelled};
    static constexpr int amount_exponent(std::string_view c) noexcept {
        return iso4217_exponent(c);
    }

    static constexpr error_body errors{{"/code"}, {"/messages/0", "/message"}};
    static constexpr std::array<std::string_view, 1> not_found_codes{"NOT_FOUND"};
    static constexpr std::array<std::string_view, 0> request_id_headers{};
    static constexpr std::string_view rate_limit_remaining_header = "";

    /// \brief Webhooks (`type_event` "payout.payout" for every payout change): `x-hmac-signature`
    /// is the Base64 HMAC-SHA256 of the raw body under the webhook's `hmac_client_secret`
    /// (https://docs.y.uno/zh-hans/docs/webhooks/verify-webhook-signatures-hmac). The payout object
    /// of Get Payout sits at `/data` and decodes with the fields and statuses above. Payout events
    /// carry no event id, so decode_webhook derives one (https://docs.y.uno/zh-hans/docs/webhooks).
    struct webhook {
        static constexpr webhook_signature signature{"x-hmac-signature",
                                                     signature_encoding::base64};
        static constexpr std::string_view payout_object = "/data";
        static constexpr std::array fields{field{"/type_event", member::event_type, conv::text}};
    };
};

} // namespace payouts
