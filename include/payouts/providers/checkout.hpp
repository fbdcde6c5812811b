// Checkout.com: GET {base}/payments/{id} for payouts (ids "pay_..."), as documented at
// https://api-reference.checkout.com/ (Get payment details) and
// https://www.checkout.com/docs/payouts/bank-payouts.
#pragma once

#include <payouts/provider.hpp>

#include <string>

namespace payouts {

/// \brief Checkout.com. The endpoint serves every payment, so statuses outside the payout
/// table (Authorized, Captured, ...) decode as `unknown`. Amounts are integers in Checkout's own
/// minor units (see `amount_exponent`). Auth: a secret key (SECRET_KEY, sent as a bearer token)
/// or OAuth client credentials (CLIENT_ID + CLIENT_SECRET) at access.checkout.com.
/// `reason` is Checkout's `response_summary`, reported for failed payouts only (it reads
/// "Approved" on others).
struct Checkout {
    static constexpr std::string_view name = "checkout";
    static constexpr base_urls urls{"https://api.sandbox.checkout.com", "https://api.checkout.com"};
    static constexpr std::string_view path = "/payments/{id}";
    using id_type = std::string;
    static constexpr id_rule id{1, 64};

    static constexpr std::array credentials{
        credential_header{"Authorization", "Bearer ", "SECRET_KEY"}};
    static constexpr std::optional<oauth_client_credentials> oauth{oauth_client_credentials{
        .token_urls = {"https://access.sandbox.checkout.com/connect/token",
                       "https://access.checkout.com/connect/token"},
        .body = token_body::form,
        .audience = "",
        .scope = "gateway:payment-details",
    }};
    static constexpr std::array<header_field, 0> extra_headers{};

    static constexpr std::string_view envelope = "";
    static constexpr bool envelope_optional = false;

    static constexpr std::array fields{
        field{"/id", member::id, conv::id},
        field{"/status", member::provider_status, conv::text},
        field{"/amount", member::amount, conv::minor_units},
        field{"/currency", member::amount_currency, conv::currency},
        field{"/reference", member::reference, conv::optional_text},
        field{"/response_summary", member::reason, conv::optional_text},
        field{"/requested_on", member::created_at, conv::timestamp},
    };

    static constexpr std::array statuses{
        status_entry{"Pending", payout_status::processing},
        status_entry{"Paid", payout_status::paid},
        status_entry{"Declined", payout_status::failed},
        status_entry{"Returned", payout_status::returned},
        status_entry{"Canceled", payout_status::cancelled},
        status_entry{"Voided", payout_status::cancelled},
        status_entry{"Expired", payout_status::failed},
    };
    static constexpr status_set reason_statuses{payout_status::failed};

    /// Checkout.com's amount exponents ("Calculating the amount"): 0 for BIF CLF DJF GNF ISK JPY
    /// KMF KRW PYG RWF UGX VND VUV XAF XOF XPF; 3 for BHD IQD JOD KWD LYD OMR TND; 2 for all
    /// others — CLP included, which ISO 4217 gives 0.
    static constexpr int amount_exponent(std::string_view currency) noexcept {
        constexpr std::string_view zero[] = {"BIF", "CLF", "DJF", "GNF", "ISK", "JPY",
                                             "KMF", "KRW", "PYG", "RWF", "UGX", "VND",
                                             "VUV", "XAF", "XOF", "XPF"};
        constexpr std::string_view three[] = {"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"};
        auto const code = detail::alpha3(currency);
        if (code == 0) return 2;
        if (detail::alpha3_in(code, zero)) return 0;
        if (detail::alpha3_in(code, three)) return 3;
        return 2;
    }

    static constexpr error_body errors{{"/error_type"}, {"/error_codes/0"}};
    static constexpr std::array<std::string_view, 0> not_found_codes{};
    static constexpr std::array<std::string_view, 2> request_id_headers{"Cko-Request-Id",
                                                                        "request-id"};
    static constexpr std::string_view rate_limit_remaining_header = "";

    /// \brief Webhooks (workflows and Dashboard): `Cko-Signature` is the hex HMAC-SHA256 of the
    /// raw body under the webhook's signature key
    /// (https://www.checkout.com/docs/developer-resources/webhooks/manage-webhooks/set-up-your-webhook-receiver).
    /// The status is the event `type` (webhooks carry no `data.status`); payment events name
    /// the payout `data.id`, Platforms payout events `data.payout_id` with the amount under
    /// `data.instruction`
    /// (https://www.checkout.com/docs/workflows/webhook-event-types/payout_paid). Checkout's
    /// webhooks do not carry the request time, so `created_at` stays empty; `updated_at` is the
    /// latest of `processed_on` and the event's `created_on` (`timestamp` in some envelopes).
    struct webhook {
        static constexpr webhook_signature signature{"Cko-Signature", signature_encoding::hex};
        static constexpr std::array fields{
            field{"/id", member::event_id, conv::text},
            field{"/type", member::event_type, conv::text},
            field{"/type", member::provider_status, conv::text},
            field{"/data/id", member::id, conv::id},
            field{"/data/payout_id", member::id, conv::id},
            field{"/data/amount", member::amount, conv::minor_units},
            field{"/data/currency", member::amount_currency, conv::currency},
            field{"/data/instruction/destination_amount", member::amount, conv::minor_units},
            field{"/data/instruction/destination_currency", member::amount_currency,
                  conv::currency},
            field{"/data/reference", member::reference, conv::optional_text},
            field{"/data/response_summary", member::reason, conv::optional_text},
            field{"/data/response_code", member::reason, conv::optional_text},
            field{"/data/processed_on", member::updated_at, conv::timestamp},
            field{"/created_on", member::updated_at, conv::timestamp},
            field{"/timestamp", member::updated_at, conv::timestamp},
        };
        // https://www.checkout.com/docs/developer-resources/webhooks/webhook-event-types/payment_paid
        // (and .../payment_declined; https://www.checkout.com/docs/workflows/webhook-event-types/
        // payment_returned, payout_paid, payout_declined). Other types: unknown, type kept.
        static constexpr std::array statuses{
            status_entry{"payment_paid", payout_status::paid},
            status_entry{"payment_declined", payout_status::failed},
            status_entry{"payment_returned", payout_status::returned},
            status_entry{"payout_paid", payout_status::paid},
            status_entry{"payout_declined", payout_status::failed},
        };
        // A returned payment still reads "Approved": the summary is a reason for declines only.
        static constexpr status_set reason_statuses{payout_status::failed};
    };
};

} // namespace payouts
