// DRUO: GET {base}/payouts/{transaction_uuid}, as documented at https://developer.druo.com
// (Get Payout).
#pragma once

#include <payouts/provider.hpp>

#include <string>

namespace payouts {

/// \brief DRUO (druo.com). Amounts are integers in the currency's smallest unit (ISO 4217),
/// sometimes sent as digit strings; `"null"` strings mean absent; `*_gmt` times carry no zone
/// and are UTC. Auth is a bearer token: a ready one (ACCESS_TOKEN) or the OAuth client-credentials
/// flow (CLIENT_ID + CLIENT_SECRET) at auth.druo.com.
///
/// DRUO publishes no sandbox host; the sandbox default is the one third-party clients use.
struct Druo {
    static constexpr std::string_view name = "druo";
    static constexpr base_urls urls{"https://api-staging.druo.com", "https://api.druo.com"};
    static constexpr std::string_view path = "/payouts/{id}";
    using id_type = std::string;
    static constexpr id_rule id{1, 128};

    static constexpr std::array credentials{
        credential_header{"Authorization", "Bearer ", "ACCESS_TOKEN"}};
    static constexpr std::optional<oauth_client_credentials> oauth{oauth_client_credentials{
        .token_urls = {"https://auth.druo.com/oauth/token", "https://auth.druo.com/oauth/token"},
        .body = token_body::json,
        .audience = "https://druo-merchant-api.com",
        .scope = "",
    }};
    static constexpr std::array extra_headers{header_field{"DRUO-Version", "2021-11-22"}};

    static constexpr std::string_view envelope = "/payout";
    static constexpr bool envelope_optional = false;

    static constexpr std::array fields{
        field{"/uuid", member::id, conv::id},
        field{"/status", member::provider_status, conv::text},
        field{"/amount", member::amount, conv::minor_units},
        field{"/currency/code", member::amount_currency, conv::currency},
        field{"/primary_reference", member::reference, conv::optional_text},
        field{"/decline_reason", member::reason, conv::optional_text},
        field{"/remarks", member::reason, conv::optional_text},
        field{"/date_created_gmt", member::created_at, conv::timestamp,
              time_format::zoneless_is_utc},
        field{"/date_updated_gmt", member::updated_at, conv::timestamp,
              time_format::zoneless_is_utc},
    };

    static constexpr std::array statuses{
        status_entry{"CREATED", payout_status::pending},
        status_entry{"PENDING", payout_status::pending},
        status_entry{"PROCESSING", payout_status::processing},
        status_entry{"SUCCESSFUL", payout_status::paid},
        status_entry{"FAILED", payout_status::failed},
        status_entry{"CANCELED", payout_status::cancelled},
        status_entry{"REVERSED", payout_status::returned},
        status_entry{"REFUNDED", payout_status::returned},
        status_entry{"DISPUTED", payout_status::on_hold},
    };
    static constexpr status_set reason_statuses = status_set::all();
    static constexpr int amount_exponent(std::string_view c) noexcept {
        return iso4217_exponent(c);
    }

    static constexpr error_body errors{{"/errors/0/code"}, {"/errors/0/detail"}};
    static constexpr std::array<std::string_view, 0> not_found_codes{};
    static constexpr std::array<std::string_view, 0> request_id_headers{};
    static constexpr std::string_view rate_limit_remaining_header = "";

    /// No webhook decoding: DRUO signs webhooks in `X-DRUO-Webhook-Event-Signature` but
    /// documents neither the algorithm nor the signed bytes nor the event body
    /// (https://developer.druo.com/webhooks). Fetch the payout on a notification instead.
    struct webhook : no_webhook {
        static constexpr std::string_view why =
            "DRUO documents no signature algorithm and no payout event body";
    };
};

} // namespace payouts
