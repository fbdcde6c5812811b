// The ledger `payouts reconcile` reads: a CSV file with a header row naming the columns
// provider, id, amount, currency, status (in any order; the last three may be left out), one
// expected payout per row. Pure functions: no I/O, no fetching.
#pragma once

#include <payouts/convert.hpp>
#include <payouts/payout.hpp>
#include <payouts/payouts.hpp>

#include <boost/describe/enum_from_string.hpp>
#include <boost/describe/enumerators.hpp>
#include <boost/mp11/algorithm.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace payouts_cli {

/// One CSV record: the fields of one line, or why that line cannot be read.
struct csv_record {
    std::size_t line = 0; ///< 1-based, counting every line of the file
    std::vector<std::string> fields;
    std::string error; ///< non-empty: the line is malformed and `fields` is meaningless
};

namespace detail {

inline std::string_view trim(std::string_view s) {
    auto const b = s.find_first_not_of(" \t");
    if (b == std::string_view::npos) return {};
    return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

inline std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out)
        c = char(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

// One line's fields as RFC 4180 quotes them ("a ""b""" is `a "b"`), or an error.
inline csv_record split_line(std::size_t number, std::string_view line) {
    csv_record r{number, {}, {}};
    std::size_t i = 0;
    for (;;) {
        while (i < line.size() && (line[i] == ' ' || line[i] == '\t'))
            ++i;
        std::string field;
        if (i < line.size() && line[i] == '"') {
            bool closed = false;
            for (++i; i < line.size(); ++i) {
                if (line[i] != '"') {
                    field += line[i];
                } else if (i + 1 < line.size() && line[i + 1] == '"') {
                    field += '"';
                    ++i;
                } else {
                    closed = true;
                    ++i;
                    break;
                }
            }
            if (!closed) {
                r.error = "field " + std::to_string(r.fields.size() + 1) +
                          ": a quoted field is not closed on its line";
                return r;
            }
            while (i < line.size() && (line[i] == ' ' || line[i] == '\t'))
                ++i;
            if (i < line.size() && line[i] != ',') {
                r.error = "field " + std::to_string(r.fields.size() + 1) +
                          ": text after the closing quote";
                return r;
            }
        } else {
            auto const end = std::min(line.find(',', i), line.size());
            auto const text = trim(line.substr(i, end - i));
            if (text.find('"') != std::string_view::npos) {
                r.error = "field " + std::to_string(r.fields.size() + 1) +
                          ": a quote inside an unquoted field";
                return r;
            }
            field = text;
            i = end;
        }
        r.fields.push_back(std::move(field));
        if (i >= line.size()) return r;
        ++i; // the comma
    }
}

} // namespace detail

/// \brief Splits a ledger into records, one per non-blank line, in file order. A UTF-8 byte
/// order mark and CR before LF are dropped; spaces around unquoted fields are trimmed.
///
/// Unlike RFC 4180, a quoted field must close on its own line: no ledger column holds a line
/// break, and a stray quote then spoils one row rather than the rest of the file.
inline std::vector<csv_record> read_csv(std::string_view text) {
    if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
    std::vector<csv_record> records;
    std::size_t number = 0;
    while (!text.empty()) {
        auto const nl = text.find('\n');
        auto line = text.substr(0, nl);
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        ++number;
        if (line.ends_with('\r')) line.remove_suffix(1);
        if (detail::trim(line).empty()) continue;
        records.push_back(detail::split_line(number, line));
    }
    return records;
}

/// A unified status by its name, as payouts::to_string writes it ("on_hold").
inline std::optional<payouts::payout_status> parse_status(std::string const& name) {
    payouts::payout_status s{};
    if (!boost::describe::enum_from_string(name.c_str(), s)) return std::nullopt;
    return s;
}

/// "pending, processing, ..., unknown": every status name, for messages.
inline std::string status_names() {
    std::string out;
    boost::mp11::mp_for_each<boost::describe::describe_enumerators<payouts::payout_status>>(
        [&](auto d) { out += (out.empty() ? "" : ", ") + std::string(d.name); });
    return out;
}

/// Where each column is (an index into a record's fields), from the header row.
struct ledger_columns {
    static constexpr std::array<std::string_view, 5> names{"provider", "id", "amount", "currency",
                                                           "status"};
    std::array<std::optional<std::size_t>, 5> at; ///< by `names`
    std::size_t count = 0;                        ///< fields in the header
};

/// \brief Reads the header row: column names case-blind, each at most once, `provider` and `id`
/// required. An unknown column is an error (a misspelt "ammount" would otherwise go unchecked).
/// \returns the columns, or an error message (empty on success, in `error`).
inline ledger_columns read_header(csv_record const& header, std::string& error) {
    ledger_columns c;
    c.count = header.fields.size();
    if (!header.error.empty()) {
        error = "the header row: " + header.error;
        return c;
    }
    for (std::size_t i = 0; i < header.fields.size(); ++i) {
        auto const name = detail::lower(header.fields[i]);
        std::size_t k = 0;
        while (k < c.names.size() && c.names[k] != name)
            ++k;
        if (k == c.names.size()) {
            error = "the header row: unknown column '" + header.fields[i] +
                    "'; the columns are provider, id, amount, currency, status";
            return c;
        }
        if (c.at[k]) {
            error = "the header row: column '" + name + "' appears twice";
            return c;
        }
        c.at[k] = i;
    }
    if (!c.at[0] || !c.at[1]) error = "the header row must name the columns provider and id";
    return c;
}

/// One row of the ledger: the payout it expects. Empty optionals are not checked.
struct expectation {
    std::string provider; ///< a provider's `name`, lower case
    std::string id;       ///< as written
    std::optional<payouts::decimal> amount;
    std::string amount_text; ///< as written, for reports
    std::optional<std::string> currency;
    std::optional<payouts::payout_status> status;
};

/// \brief Reads one row against the header's columns.
/// \returns the expectation, or sets `error` naming the column and what is wrong with it.
inline expectation read_row(csv_record const& row, ledger_columns const& cols, std::string& error) {
    expectation e;
    if (!row.error.empty()) {
        error = row.error;
        return e;
    }
    if (row.fields.size() != cols.count) {
        error = std::to_string(row.fields.size()) + " fields where the header has " +
                std::to_string(cols.count);
        return e;
    }
    auto field = [&](std::size_t k) -> std::string const* {
        return cols.at[k] ? &row.fields[*cols.at[k]] : nullptr;
    };

    e.provider = detail::lower(*field(0));
    bool known = false;
    std::string names;
    boost::mp11::mp_for_each<payouts::all_providers>([&]<class P>(P) {
        known = known || P::name == e.provider;
        names += (names.empty() ? "" : ", ") + std::string(P::name);
    });
    if (!known) {
        error = "provider: unknown provider '" + *field(0) + "'; the providers are " + names;
        return e;
    }
    e.id = *field(1);
    if (e.id.empty()) {
        error = "id: empty";
        return e;
    }
    if (auto const* a = field(2); a && !a->empty()) {
        // Plain decimal notation only: digits, at most one point with digits on both sides.
        std::string_view t = *a;
        auto const digits = t.starts_with('-') ? t.substr(1) : t;
        auto const point = digits.find('.');
        bool ok = !digits.empty() && digits.find_first_not_of("0123456789.") == std::string::npos &&
                  point != 0 && point + 1 != digits.size() &&
                  (point == std::string_view::npos ||
                   digits.find('.', point + 1) == std::string_view::npos);
        auto const d = ok ? payouts::parse_decimal(t)
                          : payouts::parsed<payouts::decimal>{payouts::conversion_error{}};
        if (!d) {
            error = "amount: '" + *a + "' is not " +
                    (ok ? std::string("a decimal number within 64 bits and 18 fraction digits")
                        : std::string("a decimal number in major units, such as 10.50"));
            return e;
        }
        e.amount = *d;
        e.amount_text = *a;
    }
    if (auto const* c = field(3); c && !c->empty()) {
        if (c->size() != 3 ||
            !std::all_of(c->begin(), c->end(), [](char ch) { return ch >= 'A' && ch <= 'Z'; })) {
            error = "currency: '" + *c + "' is not an ISO 4217 code such as USD";
            return e;
        }
        e.currency = *c;
    }
    if (auto const* s = field(4); s && !s->empty()) {
        e.status = parse_status(*s);
        if (!e.status) {
            error = "status: unknown status '" + *s + "'; the statuses are " + status_names();
            return e;
        }
    }
    return e;
}

/// A field where the provider's payout differs from the ledger.
struct difference {
    std::string field;            ///< "amount", "currency" or "status"
    std::string expected, actual; ///< actual "" when the provider gave none
    friend bool operator==(difference const&, difference const&) = default;
};

/// \brief Compares exactly: amounts by value (10.5 equals 10.50; never floating point),
/// currency codes and unified status names as text. Only what the row gives is compared.
inline std::vector<difference> compare(expectation const& e, payouts::payout const& p) {
    std::vector<difference> out;
    if (e.amount) {
        if (!p.amount) {
            out.push_back({"amount", e.amount_text, ""});
        } else {
            payouts::money const want{e.amount->units, e.amount->scale, p.amount->currency};
            if (!(want == *p.amount))
                out.push_back({"amount", e.amount_text, p.amount->to_decimal_string()});
        }
    }
    if (e.currency && (!p.amount || p.amount->currency != *e.currency))
        out.push_back({"currency", *e.currency, p.amount ? p.amount->currency : ""});
    if (e.status && *e.status != p.status)
        out.push_back({"status", std::string(payouts::to_string(*e.status)),
                       std::string(payouts::to_string(p.status))});
    return out;
}

} // namespace payouts_cli
