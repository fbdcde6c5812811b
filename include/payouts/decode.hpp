// decode<P>(body): a provider's Get-Payout response body → payout. Pure: no I/O, no globals.
// detail/decode_decl.hpp declares what this header defines.
#pragma once

#include <payouts/convert.hpp>
#include <payouts/detail/decode_decl.hpp>
#include <payouts/detail/payout_handler.hpp>
#include <payouts/diagnostics.hpp>
#include <payouts/error.hpp>
#include <payouts/payout.hpp>
#include <payouts/provider.hpp>

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/system/result.hpp>

#include <concepts>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

namespace payouts {
namespace detail {

// What P's id rule wants, when `text` breaks it (empty when it does not): an id that could not
// be asked for must not come back decoded. The same rule as for requests: P::id's length limits,
// never "." or "..", and for integer id types a positive value of the type, in canonical
// decimal (what the request path would carry).
template <class P>
std::string id_rule_refusal(std::string_view text) {
    using id_type = typename P::id_type;
    if constexpr (std::integral<id_type>) {
        bool canonical = !text.empty() && text[0] >= '1' && text[0] <= '9';
        for (char ch : text)
            canonical = canonical && ch >= '0' && ch <= '9';
        auto const v = parse_int64(text);
        if (!canonical || !v ||
            std::uint64_t(*v) > std::uint64_t(std::numeric_limits<id_type>::max()))
            return "a positive integer id (decimal digits, no sign or leading zero, at most " +
                   std::to_string(std::numeric_limits<id_type>::max()) + ")";
    }
    if (text.size() < P::id.min_length || text.size() > P::id.max_length)
        return "an id of " + std::to_string(P::id.min_length) + " to " +
               std::to_string(P::id.max_length) + " bytes";
    if (text == "." || text == "..") return "an id other than \".\" and \"..\"";
    return {};
}

inline std::string describe_got(json_kind k, std::string_view text) {
    switch (k) {
    case json_kind::string: {
        std::string s = "the string \"";
        std::string_view const cut = utf8_prefix(text, 40);
        s.append(cut);
        if (cut.size() < text.size()) s += "...";
        return s + "\"";
    }
    case json_kind::number:
        return "the number " + std::string(utf8_prefix(text, 40));
    case json_kind::boolean:
        return std::string(text);
    case json_kind::null:
        return "null";
    case json_kind::object:
        return "an object";
    case json_kind::array:
        return "an array";
    case json_kind::none:
        break;
    }
    return "nothing";
}

inline constexpr std::string_view utf8_bom = "\xEF\xBB\xBF";

inline bool is_json_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

inline std::string json_text(boost::json::value const& v) {
    if (v.is_string()) return std::string(v.get_string());
    if (v.is_null()) return {};
    return boost::json::serialize(v);
}

// Reads a provider's error body (JSON in P's error shape). Anything else yields empty fields:
// error bodies are evidence, never a reason to fail differently.
template <class P>
provider_error read_error_body(std::string_view body) {
    provider_error out;
    if (body.starts_with(utf8_bom)) body.remove_prefix(utf8_bom.size());
    boost::system::error_code ec;
    boost::json::value const jv = boost::json::parse(body, ec);
    if (ec || !jv.is_object()) return out;
    auto first = [&](auto const& pointers) -> std::string {
        for (std::string_view p : pointers) {
            if (p.empty()) continue;
            boost::system::error_code pec;
            if (auto const* v = jv.find_pointer(p, pec)) {
                auto t = json_text(*v);
                if (!t.empty()) return std::string(utf8_prefix(t, 512));
            }
        }
        return {};
    };
    out.code = first(P::errors.code);
    out.message = first(P::errors.message);
    return out;
}

// The texts of a webhook's event members (member::event_id, member::event_type).
struct event_texts {
    std::string id;
    std::string type;
};

// The field paired with amount or currency field `i` (the k-th amount with the k-th currency),
// or fields.size() when there is none.
template <class Fields>
constexpr std::size_t amount_partner(Fields const& fields, std::size_t i) {
    member const mine = fields[i].target;
    member const other = mine == member::amount ? member::amount_currency : member::amount;
    std::size_t k = 0;
    for (std::size_t j = 0; j < i; ++j)
        k += fields[j].target == mine;
    for (std::size_t j = 0; j < fields.size(); ++j)
        if (fields[j].target == other && k-- == 0) return j;
    return fields.size();
}

// Converts the captured texts into the payout (and, when `ev` is given, the event members into
// it); false with `why` set on the first bad field.
template <class P>
bool assemble(payout_handler<P> const& h, payout& out, std::string& why,
              event_texts* ev = nullptr) {
    auto const& fields = P::fields;
    auto fail = [&](std::size_t i, std::string_view expected) {
        auto const& c = h.caps[i];
        why = h.pointer_of(c.node, c.element) + ": expected " + std::string(expected) + ", got " +
              describe_got(c.kind, c.text);
        return false;
    };
    auto present = [&](std::size_t i) {
        return h.caps[i].kind != json_kind::none && h.caps[i].kind != json_kind::null;
    };
    auto is_string = [&](std::size_t i) { return h.caps[i].kind == json_kind::string; };

    // The currencies first: integer amounts need their exponent.
    for (std::size_t i = 0; i < fields.size(); ++i) {
        if (fields[i].target != member::amount_currency || !present(i)) continue;
        if (!is_string(i) || !is_currency_code(h.caps[i].text))
            return fail(i, "an ISO 4217 currency code (three capital letters)");
    }

    std::optional<std::string_view> qualifier;
    for (std::size_t i = 0; i < fields.size(); ++i) {
        if (!present(i)) continue;
        auto const& f = fields[i];
        auto const& c = h.caps[i];
        auto text_member = [&](std::optional<std::string>& m) {
            if (!is_string(i)) return fail(i, "a string");
            if (!m && !(f.how == conv::optional_text && is_absent_text(c.text))) m.emplace(c.text);
            return true;
        };
        auto time_member = [&](std::optional<timestamp>& m) {
            if (!is_string(i)) return fail(i, "an RFC 3339 date-time string");
            auto t = parse_rfc3339(c.text, f.time);
            if (!t) return fail(i, t.error().expected);
            if (!m || *t > *m) m = *t; // with several sources, the latest
            return true;
        };
        bool ok = true;
        switch (f.target) {
        case member::id:
            if (!(is_string(i) && !c.text.empty()) &&
                !(c.kind == json_kind::number && parse_int64(c.text))) {
                ok = fail(i, "a non-empty string or an integer");
            } else if (std::string const rule = id_rule_refusal<P>(c.text); !rule.empty()) {
                ok = fail(i, rule);
            } else if (out.id.empty()) {
                out.id.assign(c.text);
            }
            break;
        case member::provider_status:
            if (!is_string(i) || c.text.empty())
                ok = fail(i, "a non-empty string");
            else if (out.provider_status.empty())
                out.provider_status.assign(c.text);
            break;
        case member::amount: {
            std::size_t const pair = amount_partner(fields, i);
            if (pair == fields.size() || !present(pair)) {
                why = h.pointer_of(c.node, c.element) + ": an amount without a currency";
                return false;
            }
            std::string_view const currency = h.caps[pair].text;
            parsed<decimal> d = conversion_error{};
            if (f.how == conv::minor_units) {
                if (c.kind != json_kind::number && !is_string(i))
                    return fail(i, "an integer or a digit string in minor units");
                auto const u = parse_int64(c.text);
                if (!u) return fail(i, "an integer within 64 bits, in minor units");
                d = decimal{*u, std::int8_t(P::amount_exponent(currency))};
            } else if (f.how == conv::major_number) {
                if (c.kind != json_kind::number) return fail(i, "a JSON number");
                d = parse_decimal(c.text);
            } else {
                if (!is_string(i)) return fail(i, "a decimal string");
                d = parse_decimal(c.text);
            }
            if (d) d = widen(*d, iso4217_exponent(currency));
            if (!d) return fail(i, d.error().expected);
            if (!out.amount) out.amount.emplace(money{d->units, d->scale, std::string(currency)});
            break;
        }
        case member::amount_currency:
            break;
        case member::reference:
            ok = text_member(out.reference);
            break;
        case member::reason:
            ok = text_member(out.reason);
            break;
        case member::created_at:
            ok = time_member(out.created_at);
            break;
        case member::updated_at:
            ok = time_member(out.updated_at);
            break;
        case member::status_qualifier:
            if (!is_string(i)) return fail(i, "a string");
            if (!qualifier) qualifier = c.text;
            break;
        case member::event_id:
        case member::event_type:
            if (!is_string(i) || c.text.empty()) return fail(i, "a non-empty string");
            if (ev) {
                std::string& t = f.target == member::event_id ? ev->id : ev->type;
                if (t.empty()) t.assign(c.text);
            }
            break;
        }
        if (!ok) return false;
    }
    for (std::size_t i = 0; i < fields.size(); ++i) {
        if (fields[i].target != member::amount_currency || !present(i)) continue;
        std::size_t const pair = amount_partner(fields, i);
        if (pair == fields.size() || !present(pair)) {
            why = h.pointer_of(h.caps[i].node, 0) + ": a currency without an amount";
            return false;
        }
    }

    out.status = payout_status::unknown;
    for (auto const& e : P::statuses) {
        if (e.wire != out.provider_status) continue;
        if (!e.qualifier.empty() && (!qualifier || *qualifier != e.qualifier)) continue;
        out.status = e.unified;
        break;
    }
    if (!P::reason_statuses.contains(out.status)) out.reason.reset();
    return true;
}

// With an optional envelope the payout is either the envelope's object or the root object, never
// a mix: a body feeding some fields from inside the envelope and others from outside it is
// ambiguous (each reading misses a field the other has).
template <class P>
bool one_side_of_envelope(payout_handler<P> const& h, std::string& why) {
    constexpr field_trie const& trie = trie_of<P>;
    if constexpr (P::envelope_optional && trie.envelope != 0) {
        auto const inside = [&](int n) {
            for (; n > 0; n = trie.nodes[n].parent)
                if (n == trie.envelope) return true;
            return false;
        };
        capture const* in = nullptr;
        capture const* out = nullptr;
        for (auto const& c : h.caps) {
            if (c.kind == json_kind::none || c.kind == json_kind::null) continue;
            (inside(c.node) ? in : out) = &c;
        }
        if (in && out) {
            why = h.pointer_of(out->node, out->element) + ": outside the envelope " +
                  std::string(P::envelope) + " while " + h.pointer_of(in->node, in->element) +
                  " is inside it (the payout must come from one object)";
            return false;
        }
    }
    return true;
}

// Where a missing field was looked for: in the envelope, unless it is optional and the payout
// came from the root (fields there, or no envelope object at all).
template <class P>
std::string full_pointer(payout_handler<P> const& h, std::string_view field_pointer) {
    constexpr field_trie const& trie = trie_of<P>;
    if constexpr (P::envelope_optional && trie.envelope != 0) {
        bool inside = false, outside = false;
        for (auto const& c : h.caps) {
            if (c.kind == json_kind::none || c.kind == json_kind::null) continue;
            int n = c.node;
            while (n > 0 && n != trie.envelope)
                n = trie.nodes[n].parent;
            (n == trie.envelope ? inside : outside) = true;
        }
        if (outside || (!inside && !h.envelope_object)) return std::string(field_pointer);
    }
    return std::string(P::envelope) + std::string(field_pointer);
}

// Every place a member is looked for, as the body would have it: "/a" or "/a or /b".
template <class P>
std::string pointers_of(payout_handler<P> const& h, member m) {
    std::string out;
    for (std::size_t i = 0; i < P::fields.size(); ++i)
        if (P::fields[i].target == m) {
            if (!out.empty()) out += " or ";
            out += i < root_fields_of<P>() ? std::string(P::fields[i].pointer)
                                           : full_pointer<P>(h, P::fields[i].pointer);
        }
    return out;
}

// decode_impl, and with `ev` the event members too (webhooks): those mapped must be present.
template <class P>
boost::system::result<payout> decode_body(std::string_view body, std::string& why,
                                          std::string* owned, event_texts* ev) {
    static_assert(check_provider<P>());
    auto const invalid = make_error_code(errc::invalid_response);

    std::string_view json = body;
    if (json.starts_with(utf8_bom)) json.remove_prefix(utf8_bom.size());
    std::size_t lead = 0;
    while (lead < json.size() && is_json_space(json[lead]))
        ++lead;
    if (lead == json.size()) {
        why = body.empty() ? "empty body" : "body holds no JSON value";
        return invalid;
    }

    boost::json::parse_options opt;
    opt.max_depth = max_json_depth;
    boost::json::basic_parser<payout_handler<P>> parser(opt, json);
    boost::system::error_code ec;
    std::size_t const used = parser.write_some(false, json.data(), json.size(), ec);
    auto const& h = parser.handler();
    if (ec) {
        if (h.error_node >= 0) {
            std::string const where = !h.error_pointer.empty() ? h.error_pointer
                                      : h.error_node == 0
                                          ? std::string("(root)")
                                          : h.pointer_of(h.error_node, h.error_element);
            if (h.error_duplicate)
                why = where + ": duplicate key (the body must not be ambiguous)";
            else if (h.error_expected == "less nesting")
                why = "nesting deeper than " + std::to_string(max_json_depth) + " levels";
            else
                why = where + ": expected " + std::string(h.error_expected) + ", got " +
                      describe_got(h.error_got, h.error_text);
        } else if (ec == boost::json::error::too_deep) {
            why = "nesting deeper than " + std::to_string(max_json_depth) + " levels";
        } else {
            why = "malformed JSON at byte " + std::to_string(used + (body.size() - json.size())) +
                  ": " + ec.message();
        }
        return invalid;
    }
    for (std::size_t i = used; i < json.size(); ++i)
        if (!is_json_space(json[i])) {
            why = "extra data after the JSON value at byte " +
                  std::to_string(i + (body.size() - json.size()));
            return invalid;
        }

    if (!one_side_of_envelope(h, why)) return invalid;
    payout out;
    out.provider = P::name;
    if (!assemble(h, out, why, ev)) return invalid;
    if (ev) {
        for (auto m : {member::event_id, member::event_type})
            if ((m == member::event_id ? ev->id : ev->type).empty() && maps(P::fields, m)) {
                why = "missing " + pointers_of(h, m) + " (the event " +
                      (m == member::event_id ? "id" : "type") + ")";
                return invalid;
            }
    }
    // Where an event's type is its status (one pointer feeds both), a type the status table does
    // not list is an event about something else: reported as unknown, payout id or not.
    constexpr bool status_is_type = [] {
        for (auto const& f : P::fields)
            for (auto const& g : P::fields)
                if (f.target == member::provider_status && g.target == member::event_type &&
                    f.pointer == g.pointer)
                    return true;
        return false;
    }();
    bool const foreign_event = ev && status_is_type && out.status == payout_status::unknown;
    if ((out.id.empty() && !foreign_event) || out.provider_status.empty()) {
        why = "missing " + pointers_of(h, out.id.empty() ? member::id : member::provider_status) +
              " (the payout " + (out.id.empty() ? "id" : "status") + ")";
        auto const perr = read_error_body<P>(body);
        if (!perr.code.empty() || !perr.message.empty())
            why += "; the body is a provider error, not a payout: code \"" + perr.code +
                   "\", message \"" + perr.message + "\"";
        return invalid;
    }
    if (owned)
        out.raw = std::move(*owned);
    else
        out.raw.assign(body);
    return out;
}

// `owned`, when given, holds the bytes `body` views; a payout that decodes takes them as its raw
// copy instead of copying them (fetch hands over the response body it no longer needs).
template <class P>
boost::system::result<payout> decode_impl(std::string_view body, std::string& why,
                                          std::string* owned) {
    return decode_body<P>(body, why, owned, nullptr);
}

} // namespace detail

/// \brief Decodes provider `P`'s Get-Payout response body into a payout.
///
/// Pure and thread-safe: no I/O, no shared state. `body` is only read during the call; the
/// result owns copies of everything (including `raw`, the body exactly as given).
///
/// Accepts a leading UTF-8 BOM and the provider's envelope (optional where the provider's header
/// says so). Amounts are exact: integer minor units, JSON numbers and decimal strings are read
/// from their text, never through `double`. Statuses the provider's table does not list decode
/// as `payout_status::unknown` with `provider_status` kept.
///
/// \returns the payout, or `errc::invalid_response` for: an empty body, malformed or truncated
/// JSON, extra data after it, nesting deeper than 64, a root that is not an object, a provider
/// error body, a missing id or status, a mapped value of the wrong JSON type or out of range,
/// an id the provider's id rule refuses (one that could not be fetched: an integer id that is
/// not positive or not in canonical decimal, an id too long, "." or ".."), a key repeated in any
/// object of the body (keys compare decoded: "a" and "\u0061" are one), named by its JSON
/// pointer ("/payout/metadata/x: duplicate key"). `request_id` is left empty (fetch sets it).
template <provider P>
boost::system::result<payout> decode(std::string_view body) {
    std::string why;
    return detail::decode_impl<P>(body, why);
}

/// \brief As `decode(body)`, and on failure `diag.message` names the JSON pointer and what was
/// expected there ("/payout/amount: expected an integer or a digit string in minor units, got
/// true"). `diag` is cleared first.
template <provider P>
boost::system::result<payout> decode(std::string_view body, diagnostics& diag) {
    diag.clear();
    return detail::decode_impl<P>(body, diag.message);
}

} // namespace payouts

// A webhook body goes through the same engine, so one include gives a provider of the user's
// own both decoders in separate mode.
#include <payouts/detail/webhook_impl.hpp>
