// The boost::json::basic_parser handler behind decode<P>: it walks the body once, follows the
// provider's field trie, and captures the exact text of each mapped value. Conversion happens
// afterwards (decode.hpp), so the hot loop does no allocation and no number conversion of ours.
#pragma once

#include <payouts/detail/field_trie.hpp>

#include <boost/config.hpp>
#include <boost/json/basic_parser.hpp>
#include <boost/json/error.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

namespace payouts::detail {

inline constexpr std::size_t max_json_depth = 64;

enum class json_kind : std::uint8_t { none, string, number, boolean, null, object, array };

// The longest prefix of `text` of at most `max` bytes that does not end inside a UTF-8
// multi-byte sequence (diagnostics cut long texts; a torn character would make them invalid UTF-8).
constexpr std::string_view utf8_prefix(std::string_view text, std::size_t max) noexcept {
    if (text.size() <= max) return text;
    std::size_t n = max;
    while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80)
        --n;
    return text.substr(0, n);
}

// A hash of every byte of a key, for the tables of wide objects (a digest would put keys that
// differ only inside, "key001" ... "key200", in few slots). Up to 16 bytes take two loads.
BOOST_NOINLINE inline std::uint32_t key_hash(std::string_view k) noexcept {
    constexpr std::uint64_t mul = 0x9E3779B97F4A7C15ull;
    char const* const p = k.data();
    std::size_t const n = k.size();
    std::uint64_t h;
    if (n >= 8) {
        h = load64(p);
        for (std::size_t i = 8; i + 8 < n; i += 8)
            h = (h ^ load64(p + i)) * mul;
        h = (h * mul) ^ load64(p + n - 8);
    } else if (n >= 4) {
        h = load32(p) | load32(p + n - 4) << 32;
    } else if (n > 0) {
        h = std::uint64_t(static_cast<unsigned char>(p[0])) |
            std::uint64_t(static_cast<unsigned char>(p[n / 2])) << 8 |
            std::uint64_t(static_cast<unsigned char>(p[n - 1])) << 16;
    } else {
        h = 0;
    }
    h = (h ^ (h >> 31) ^ n) * mul;
    return std::uint32_t(h >> 32);
}

// The text of one mapped value: a view into the body, or into the handler's arena when the
// parser had to unescape or join it.
struct capture {
    json_kind kind = json_kind::none;
    std::string_view text;
    std::int16_t node = -1;    // where it was found, for error messages
    std::uint32_t element = 0; // index in the "*" array above it, if any
};

template <class P>
class payout_handler {
    static constexpr field_trie const& trie = trie_of<P>;
    using sv = boost::json::string_view;
    using ec_t = boost::system::error_code;

    struct frame {
        std::uint64_t filter[2]; // one bit per key so far, by digest (all set: wide)
        std::int16_t node;       // trie node, -1: not tracked
        bool array;
        union {
            std::uint32_t count; // arrays: elements seen so far
            std::uint32_t table; // objects: its key table in tables_ (tables_size_ at its start)
        };
        std::uint32_t key_begin; // its first key in keys_ (keys_size_ at its start)
        std::uint32_t mask;      // its key table's size - 1; 0 while keys are scanned
    };
    static_assert(sizeof(frame) == 32); // on_key finds the innermost one with a shift

    // A key seen in an open object: a view into the body or the arena, valid to the end.
    struct key_entry {
        char const* data;
        std::uint32_t size;
        std::uint32_t digest;
    };

    // Up to this many keys an object is checked by a scan of its keys; a wider one gets an
    // open-addressing table (indexes into keys_) at its first filter hit, so a 200-key object
    // stays linear.
    static constexpr std::uint32_t scan_keys = 32;
    static constexpr std::uint32_t first_slots = 128; // a power of two, > 2 * scan_keys
    static constexpr std::uint32_t inline_keys = 64;
    static constexpr std::uint32_t inline_slots = 256;

public:
    static constexpr std::size_t max_object_size = std::size_t(-1);
    static constexpr std::size_t max_array_size = std::size_t(-1);
    static constexpr std::size_t max_key_size = std::size_t(-1);
    static constexpr std::size_t max_string_size = std::size_t(-1);

    std::array<capture, P::fields.size()> caps{};
    // Set when the handler itself refuses the body.
    int error_node = -1;
    std::uint32_t error_element = 0;
    std::string_view error_expected;
    json_kind error_got = json_kind::none;
    std::string error_text; // the refused scalar's text (a copy: the parser's buffers go away)
    bool error_duplicate = false;
    std::string error_pointer;    // where a repeated key is, when an object repeats one
    bool envelope_object = false; // the body has an object at the provider's envelope

    payout_handler(payout_handler const&) = delete;
    payout_handler& operator=(payout_handler const&) = delete;

    explicit payout_handler(std::string_view body)
        : body_(body) {}

    bool on_document_begin(ec_t&) { return true; }
    bool on_document_end(ec_t&) { return true; }

    bool on_object_begin(ec_t& ec) {
        int n = begin_value();
        if (n >= 0) {
            auto const& nd = trie.nodes[n];
            if (nd.leaf_fields) {
                if (!capture_all(n, json_kind::object, "object"))
                    return refuse(ec, n, "the field once", json_kind::none);
                n = -1;
            } else if (nd.first_child < 0) {
                return refuse(ec, n, "an array", json_kind::object);
            }
        }
        if (trie.envelope != 0 && n == trie.envelope) envelope_object = true;
        return push(ec, frame{{0, 0}, std::int16_t(n), false, {tables_size_}, keys_size_, 0});
    }
    bool on_object_end(std::size_t, ec_t&) {
        frame const& f = frames_[--depth_];
        keys_size_ = f.key_begin;
        tables_size_ = f.table;
        return true;
    }
    bool on_array_begin(ec_t& ec) {
        int n = begin_value();
        if (n >= 0) {
            auto const& nd = trie.nodes[n];
            if (nd.leaf_fields) {
                if (!capture_all(n, json_kind::array, "array"))
                    return refuse(ec, n, "the field once", json_kind::none);
                n = -1;
            } else if (nd.element < 0) {
                return refuse(ec, n, n == 0 ? "a JSON object at the root" : "an object",
                              json_kind::array);
            }
        }
        return push(ec, frame{{0, 0}, std::int16_t(n), true, {0}, keys_size_, 0});
    }
    bool on_array_end(std::size_t, ec_t&) {
        --depth_;
        return true;
    }

    // Every key is kept (decoded: "a" and "\u0061" are one key) until its object ends, to
    // refuse a repeated one; a key the parser hands over in parts or unescaped is copied to the
    // arena first, since its buffer does not outlive the call.
    bool on_key_part(sv s, std::size_t total, ec_t& ec) {
        if (total == s.size()) key_start_ = arena_.size();
        return append(ec, s);
    }
    // The common case inline and without calls: a key in the body, new to its object by the
    // object's filter (one bit per key, picked by the digest). Anything else: on_key_slow.
    bool on_key(sv s, std::size_t total, ec_t& ec) {
        std::string_view const key(s.data(), s.size());
        if (in_body(key) && total == key.size()) [[likely]] {
            frame& f = frames_[depth_ - 1];
            std::uint32_t const digest = key_digest(key);
            std::uint64_t& word = f.filter[digest >> 31];
            std::uint64_t const bit = std::uint64_t(1) << ((digest >> 25) & 63);
            if (!(word & bit) && keys_size_ != keys_capacity_) [[likely]] {
                word |= bit;
                keys_[keys_size_++] = key_entry{key.data(), std::uint32_t(key.size()), digest};
                pending_ = f.node < 0 ? -1 : trie.find(f.node, key, digest);
                return true;
            }
        }
        return on_key_slow(s, total, ec);
    }

    bool on_string_part(sv s, std::size_t, ec_t& ec) {
        if (!in_part_) {
            in_part_ = true;
            part_node_ = begin_value();
            part_start_ = arena_.size();
        }
        return part_node_ < 0 || append(ec, s);
    }
    bool on_string(sv s, std::size_t, ec_t& ec) { return scalar(ec, json_kind::string, s); }
    bool on_number_part(sv s, ec_t& ec) { return on_string_part(s, 0, ec); }
    bool on_int64(std::int64_t, sv s, ec_t& ec) { return scalar(ec, json_kind::number, s); }
    bool on_uint64(std::uint64_t, sv s, ec_t& ec) { return scalar(ec, json_kind::number, s); }
    bool on_double(double, sv s, ec_t& ec) { return scalar(ec, json_kind::number, s); }
    bool on_bool(bool b, ec_t& ec) {
        return scalar(ec, json_kind::boolean, b ? sv("true") : sv("false"));
    }
    bool on_null(ec_t& ec) { return scalar(ec, json_kind::null, sv("null")); }
    bool on_comment_part(sv, ec_t&) { return true; }
    bool on_comment(sv, ec_t&) { return true; }

    // JSON pointer of `node` as found in the body, with `element` for its "*" segment.
    std::string pointer_of(int node, std::uint32_t element) const {
        std::string out;
        for (int n = node; n > 0; n = trie.nodes[n].parent) {
            std::string seg =
                trie.nodes[n].is_element ? std::to_string(element) : std::string(trie.nodes[n].key);
            out.insert(0, "/" + seg);
        }
        return out;
    }

private:
    bool refuse(ec_t& ec, int node, std::string_view expected, json_kind got,
                std::string_view got_text = {}) {
        error_node = node;
        error_element = element_;
        error_expected = expected;
        error_got = got;
        error_text.assign(utf8_prefix(got_text, 64));
        ec = boost::json::error::syntax; // replaced by the caller, which reads the fields above
        return false;
    }

    bool in_body(std::string_view t) const noexcept {
        auto const at = reinterpret_cast<std::uintptr_t>(t.data()) -
                        reinterpret_cast<std::uintptr_t>(body_.data());
        return t.size() <= body_.size() && at <= body_.size() - t.size();
    }

    static bool same_key(key_entry const& e, std::string_view key, std::uint32_t digest) {
        return e.digest == digest && e.size == key.size() &&
               same_bytes(e.data, key.data(), key.size());
    }

    BOOST_NOINLINE bool on_key_slow(sv s, std::size_t total, ec_t& ec) {
        std::string_view key(s.data(), s.size());
        if (!in_body(key) || total != s.size()) {
            auto const start = total != s.size() ? key_start_ : arena_.size();
            if (!append(ec, s)) return false;
            key = std::string_view(arena_).substr(start);
        }
        frame& f = frames_[depth_ - 1];
        std::uint32_t const digest = key_digest(key);
        if (!remember_key(f, key, digest)) return refuse_duplicate(ec, key);
        pending_ = f.node < 0 ? -1 : trie.find(f.node, key, digest);
        return true;
    }

    // Adds `key` to the innermost object's keys; false if the object already has it. A filter
    // hit scans the object's keys; an object of more than scan_keys keys gets a table instead
    // (and a full filter, so all its keys come here).
    bool remember_key(frame& f, std::string_view key, std::uint32_t digest) {
        std::uint64_t& word = f.filter[digest >> 31];
        std::uint64_t const bit = std::uint64_t(1) << ((digest >> 25) & 63);
        std::uint32_t const n = keys_size_ - f.key_begin;
        if (f.mask == 0 && n >= scan_keys) {
            std::uint32_t size = first_slots;
            while (size < 2 * (n + 1))
                size *= 2;
            rehash(f, size);
        }
        std::uint32_t slot = 0;
        if (f.mask == 0) {
            if (word & bit)
                for (key_entry const *e = keys_ + f.key_begin, *end = keys_ + keys_size_; e != end;
                     ++e)
                    if (same_key(*e, key, digest)) return false;
            word |= bit;
        } else {
            for (slot = key_hash(key) & f.mask; std::uint32_t k = tables_[f.table + slot];
                 slot = (slot + 1) & f.mask)
                if (same_key(keys_[k - 1], key, digest)) return false;
        }
        if (keys_size_ == keys_capacity_) grow_keys();
        keys_[keys_size_++] = key_entry{key.data(), std::uint32_t(key.size()), digest};
        if (f.mask != 0) {
            tables_[f.table + slot] = keys_size_;
            if (2 * (n + 1) > f.mask + 1) rehash(f, 2 * (f.mask + 1));
        }
        return true;
    }

    BOOST_NOINLINE void grow_keys() {
        auto bigger = std::make_unique_for_overwrite<key_entry[]>(2 * std::size_t(keys_capacity_));
        std::memcpy(bigger.get(), keys_, keys_size_ * sizeof(key_entry));
        heap_keys_ = std::move(bigger);
        keys_ = heap_keys_.get();
        keys_capacity_ *= 2;
    }

    // (Re)builds the table of `f`, the innermost object, with `size` slots (a power of two, at
    // least twice its keys: probes stay short). Its table is the last one in tables_: any deeper
    // object has ended.
    BOOST_NOINLINE void rehash(frame& f, std::uint32_t size) {
        std::size_t const need = std::size_t(f.table) + size;
        if (need > tables_capacity_) {
            std::size_t cap = tables_capacity_;
            while (cap < need)
                cap *= 2;
            auto bigger = std::make_unique_for_overwrite<std::uint32_t[]>(cap);
            std::memcpy(bigger.get(), tables_, f.table * sizeof(std::uint32_t));
            heap_tables_ = std::move(bigger);
            tables_ = heap_tables_.get();
            tables_capacity_ = cap;
        }
        std::uint32_t* const t = tables_ + f.table;
        std::memset(t, 0, size * sizeof(std::uint32_t));
        f.mask = size - 1;
        for (std::uint32_t k = f.key_begin; k < keys_size_; ++k) {
            std::uint32_t slot = key_hash(std::string_view(keys_[k].data, keys_[k].size)) & f.mask;
            while (t[slot] != 0)
                slot = (slot + 1) & f.mask;
            t[slot] = k + 1;
        }
        tables_size_ = f.table + size;
        f.filter[0] = f.filter[1] = ~std::uint64_t(0);
    }

    // The JSON pointer of the repeated `key` in the innermost object: each open object's last
    // key and each open array's last index lead to it.
    BOOST_NOINLINE bool refuse_duplicate(ec_t& ec, std::string_view key) {
        auto segment = [&](std::string_view k) {
            error_pointer += '/';
            std::string_view const cut = utf8_prefix(k, 64);
            for (char c : cut) {
                if (c == '~')
                    error_pointer += "~0";
                else if (c == '/')
                    error_pointer += "~1";
                else
                    error_pointer += c;
            }
            if (cut.size() < k.size()) error_pointer += "...";
        };
        for (std::size_t d = 1; d < depth_; ++d) {
            frame const& parent = frames_[d - 1];
            if (parent.array) {
                error_pointer += '/';
                error_pointer += std::to_string(parent.count - 1);
            } else {
                key_entry const& k = keys_[frames_[d].key_begin - 1];
                segment(std::string_view(k.data, k.size));
            }
        }
        segment(key);
        error_duplicate = true;
        return refuse(ec, 0, "each key once", json_kind::none);
    }

    bool push(ec_t& ec, frame f) {
        if (depth_ == frames_.size()) return refuse(ec, 0, "less nesting", json_kind::none);
        frames_[depth_++] = f;
        return true;
    }

    // Which trie node the value starting now belongs to (-1: not tracked).
    int begin_value() {
        if (depth_ == 0) return 0;
        frame& f = frames_[depth_ - 1];
        if (!f.array) return pending_;
        std::uint32_t const index = f.count++;
        if (f.node < 0) return -1;
        int const e = trie.nodes[f.node].element;
        if (e < 0) return -1;
        // A new element: what the previous one fed no longer counts (the last element wins).
        element_ = index;
        for (std::uint32_t m = trie.nodes[e].fields_below; m; m &= m - 1)
            caps[unsigned(__builtin_ctz(m))] = capture{};
        return e;
    }

    bool append(ec_t& ec, sv s) {
        // Captured texts are disjoint parts of the body and never longer unescaped, so one
        // reservation of the body's size keeps every earlier view valid.
        if (arena_.capacity() < body_.size()) arena_.reserve(body_.size());
        if (arena_.size() + s.size() > arena_.capacity())
            return refuse(ec, 0, "a smaller body", json_kind::none);
        arena_.append(s.data(), s.size());
        return true;
    }

    bool scalar(ec_t& ec, json_kind kind, sv s) {
        int n;
        std::string_view text(s.data(), s.size());
        if (in_part_) {
            in_part_ = false;
            n = part_node_;
            if (n < 0) return true;
            if (!append(ec, s)) return false;
            text = std::string_view(arena_).substr(part_start_);
        } else {
            n = begin_value();
            if (n < 0) return true;
            bool const in_body = text.data() >= body_.data() &&
                                 text.data() + text.size() <= body_.data() + body_.size();
            if (!in_body && kind != json_kind::boolean && kind != json_kind::null) {
                auto const start = arena_.size();
                if (!append(ec, s)) return false;
                text = std::string_view(arena_).substr(start);
            }
        }
        auto const& nd = trie.nodes[n];
        if (nd.leaf_fields == 0) {
            if (kind == json_kind::null) return true; // an absent object or array
            return refuse(ec, n, nd.element >= 0 ? "an array" : "an object", kind, text);
        }
        return capture_all(n, kind, text) || refuse(ec, n, "the field once", json_kind::none);
    }

    // False when a field already holds a value from elsewhere (optional envelope given twice).
    bool capture_all(int n, json_kind kind, std::string_view text) {
        bool ok = true;
        for (std::uint32_t m = trie.nodes[n].leaf_fields; m; m &= m - 1) {
            auto& c = caps[unsigned(__builtin_ctz(m))];
            if (c.kind != json_kind::none) {
                ok = false;
                error_duplicate = true;
            }
            c = capture{kind, text, std::int16_t(n), element_};
        }
        return ok;
    }

    std::string_view body_;
    std::array<frame, max_json_depth + 1> frames_; // only [0, depth_) is ever read
    std::size_t depth_ = 0;
    // Keys of the open objects, innermost last; the inline buffers serve most bodies, the heap
    // ones (kept for the rest of the body) the others.
    key_entry inline_keys_[inline_keys];
    key_entry* keys_ = inline_keys_;
    std::uint32_t keys_size_ = 0;
    std::uint32_t keys_capacity_ = inline_keys;
    std::unique_ptr<key_entry[]> heap_keys_;
    std::uint32_t inline_tables_[inline_slots];
    std::uint32_t* tables_ = inline_tables_;
    std::uint32_t tables_size_ = 0;
    std::size_t tables_capacity_ = inline_slots;
    std::unique_ptr<std::uint32_t[]> heap_tables_;
    std::size_t key_start_ = 0;
    int pending_ = -1;
    std::uint32_t element_ = 0;
    bool in_part_ = false;
    int part_node_ = -1;
    std::size_t part_start_ = 0;
    std::string arena_;
};

} // namespace payouts::detail
