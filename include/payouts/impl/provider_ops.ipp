// Definitions for detail/provider_ops.hpp: inline when header-only, else compiled in src.hpp.
#pragma once

#include <payouts/detail/provider_ops.hpp>
#include <payouts/detail/url.hpp>

namespace payouts::detail {

PAYOUTS_DECL error_code append_id_text(std::string& out, std::string_view text, id_rule const& rule,
                                       std::string& why) {
    if (text.size() < rule.min_length || text.size() > rule.max_length) {
        why = "payout id must be " + std::to_string(rule.min_length) + " to " +
              std::to_string(rule.max_length) + " bytes long, got " + std::to_string(text.size());
        return errc::invalid_id;
    }
    // "." and ".." are made of unreserved characters, yet as a segment they are dot segments
    // that servers normalise away, moving the target.
    if (text == "." || text == "..") {
        why = "payout id must not be \".\" or \"..\"";
        return errc::invalid_id;
    }
    out.reserve(out.size() + text.size());
    append_percent_encoded(out, text);
    return {};
}

} // namespace payouts::detail
