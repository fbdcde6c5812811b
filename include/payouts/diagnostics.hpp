// What went wrong, for humans. Filled by decode and fetch next to the error_code.
#pragma once

#include <chrono>
#include <string>

namespace payouts {

/// \brief Details of a failed (or retried) fetch or decode, beyond the `error_code`.
///
/// Never contains a credential, token or authorization header: every string here is either
/// produced by this library or copied from the provider's response (status line, error body,
/// request-id header). Providers' error texts are cut to 512 bytes.
///
/// \par Thread safety
/// A plain value; distinct objects may be used from distinct threads.
struct diagnostics {
    /// What this library found wrong, naming the place: for decode errors the JSON pointer and
    /// what was expected ("/payout/amount: expected an integer or a digit string, got true").
    std::string message;
    int http_status = 0;          ///< status of the last response, 0 if none was received
    std::string provider_code;    ///< the provider's error code from its error body, if any
    std::string provider_message; ///< the provider's error message from its error body, if any
    std::string request_id;       ///< the provider's request-id header of the last response
    std::string host;             ///< the host the last attempt went to
    unsigned attempts = 0;        ///< HTTP attempts made (1 when no retry happened)
    std::chrono::milliseconds elapsed{0}; ///< from the start of the fetch to its completion
    /// Requests left in the provider's rate-limit window, from its header on the last response
    /// (Introw's x-ratelimit-remaining-minute); -1 when the provider did not say.
    long long rate_limit_remaining = -1;
    /// The wait the last response's Retry-After asked for (seconds or an HTTP-date, as
    /// received, before the retry policy's clamp); -1 ms when it sent none or was not a 429/5xx.
    std::chrono::milliseconds retry_after{-1};

    /// Resets every field to its initial value.
    void clear() { *this = diagnostics{}; }
};

} // namespace payouts
