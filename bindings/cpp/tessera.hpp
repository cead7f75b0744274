// Tessera: header-only C++17 wrapper over the C API (include/tessera.h).
//
// Move-only RAII objects own the C handles; every failure throws
// tessera::error, which carries the C result code and the SDK's message.
// Strings are std::string, times tessera::time_point (whole seconds on the
// system clock: std::chrono::time_point<system_clock, seconds>), durations
// std::chrono::seconds.
//
//   tessera::config cfg{"acme-cad"};
//   cfg.add_public_key(vendor_pem);
//   tessera::activate(cfg, license_text);       // once, on this device
//   tessera::handle license{cfg};
//   if (!tessera::usable(license.check())) { ... license.validate().reasons ... }
//
// Thread safety is the C API's: a handle may be used from several threads
// at once; a config only while no setter runs.
//
// SPDX-License-Identifier: Apache-2.0 OR MIT
#ifndef TESSERA_HPP
#define TESSERA_HPP

#include "tessera.h"

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

namespace tessera {

/// A time as the C API gives it: whole seconds on the system clock. Seconds,
/// not the clock's own ticks: libstdc++ counts nanoseconds, which overflow
/// after the year 2262, and a license may run longer than that.
/// Assigning one to a `std::chrono::system_clock::time_point` converts it
/// implicitly and, where the clock counts nanoseconds, overflows past 2262
/// (a perpetual license's 9999-12-31): use `to_system_clock`.
using time_point = std::chrono::time_point<std::chrono::system_clock, std::chrono::seconds>;

/// `t` on the system clock's own ticks, or nothing when that clock cannot
/// hold it (past 2262 where it counts nanoseconds).
inline std::optional<std::chrono::system_clock::time_point> to_system_clock(time_point t) {
    using ticks = std::chrono::system_clock::duration;
    const auto limit =
        std::chrono::duration_cast<std::chrono::seconds>(ticks::max()).count();
    const auto s = t.time_since_epoch().count();
    if (s > limit || s < -limit) return std::nullopt;
    return std::chrono::system_clock::time_point(
        std::chrono::duration_cast<ticks>(t.time_since_epoch()));
}

/// A failed call: the C result code, its stable name and the SDK's message.
class error : public std::runtime_error {
public:
    error(tessera_result code, const std::string &message)
        : std::runtime_error(message), code_(code) {}
    /// The C result code (TESSERA_ERR_...).
    tessera_result code() const noexcept { return code_; }
    /// Its stable short name ("bad_signature", ...).
    const char *name() const noexcept { return tessera_result_name(code_); }

private:
    tessera_result code_;
};

namespace detail {

inline std::string last_message() {
    size_t len = 0;
    if (tessera_last_error_message(nullptr, 0, &len) != TESSERA_OK || len == 0) {
        return std::string();
    }
    std::string s(len + 1, '\0');
    if (tessera_last_error_message(s.data(), s.size(), &len) != TESSERA_OK) {
        return std::string();
    }
    s.resize(len);
    return s;
}

inline void check(tessera_result r) {
    if (r != TESSERA_OK) {
        throw error(r, last_message());
    }
}

/// The string for the C API. A string with a NUL byte inside would be cut
/// short there without a word, so it is refused instead.
inline const char *c_str(const std::string &s, const char *what) {
    if (s.find('\0') != std::string::npos) {
        throw error(TESSERA_ERR_INVALID_ARGUMENT, std::string(what) + " contains a NUL byte");
    }
    return s.c_str();
}

/// A C string argument that may not be NULL.
inline const char *not_null(const char *s, const char *what) {
    if (s == nullptr) {
        throw error(TESSERA_ERR_NULL_POINTER, std::string("`") + what + "` is NULL");
    }
    return s;
}

/// Calls `f(buf, cap, &len)` twice: a size query, then the copy.
template <typename F> std::string read_string(F f) {
    size_t len = 0;
    check(f(nullptr, 0, &len));
    if (len == 0) {
        return std::string();
    }
    std::string s(len + 1, '\0');
    check(f(s.data(), s.size(), &len));
    s.resize(len);
    return s;
}

inline time_point from_unix(int64_t seconds) {
    return time_point(std::chrono::seconds(seconds));
}

inline std::optional<time_point> from_unix(bool has, int64_t seconds) {
    if (!has) return std::nullopt;
    return from_unix(seconds);
}

inline int64_t to_unix(time_point t) { return t.time_since_epoch().count(); }

struct config_free {
    void operator()(tessera_config *p) const noexcept { tessera_config_free(&p); }
};
struct handle_free {
    void operator()(tessera_handle *p) const noexcept { tessera_handle_free(&p); }
};
struct validation_free {
    void operator()(tessera_validation *p) const noexcept { tessera_validation_free(&p); }
};

} // namespace detail

/// Whether a status lets the product run.
inline bool usable(tessera_status s) noexcept {
    return s == TESSERA_STATUS_VALID || s == TESSERA_STATUS_VALID_IN_GRACE;
}

/// The status's stable short name ("valid", "expired", ...).
inline std::string status_name(tessera_status s) { return tessera_status_name(s); }

/// The SDK's version.
inline std::string version() { return tessera_version(); }

/// A product's configuration (tessera_config). Move-only.
class config {
public:
    /// A configuration for product `product` with the defaults.
    explicit config(const std::string &product) {
        tessera_config *raw = nullptr;
        detail::check(tessera_config_new(detail::c_str(product, "product"), &raw));
        ptr_.reset(raw);
    }

    /// Adds a trusted vendor public key (PEM or base64).
    config &add_public_key(const std::string &key) {
        detail::check(tessera_config_add_public_key(ptr_.get(), detail::c_str(key, "key")));
        return *this;
    }
    /// Trusts a Keygen account's verify key (64 hex digits) for the files of
    /// the Keygen product `keygen_product`, read as this product's licenses
    /// (docs/MIGRATING.md).
    config &add_keygen_key(const std::string &key, const std::string &keygen_product) {
        detail::check(tessera_config_add_keygen_key(ptr_.get(), detail::c_str(key, "key"),
                                                    detail::c_str(keygen_product, "keygen_product")));
        return *this;
    }
    /// Sets the state directory.
    config &store_dir(const std::string &dir) {
        detail::check(tessera_config_set_store_dir(ptr_.get(), detail::c_str(dir, "dir")));
        return *this;
    }
    /// Sets the vendor secret mixed into fingerprints and the state key.
    config &secret(std::string_view secret) {
        detail::check(tessera_config_set_secret(
            ptr_.get(), reinterpret_cast<const uint8_t *>(secret.data()), secret.size()));
        return *this;
    }
    /// Uses a vendor-supplied device id instead of device facts.
    config &custom_device_id(const std::string &id) {
        detail::check(tessera_config_set_custom_device_id(ptr_.get(), detail::c_str(id, "id")));
        return *this;
    }
    /// Requires every fingerprint component to match.
    config &match_exact() {
        detail::check(tessera_config_set_match_policy(ptr_.get(), TESSERA_MATCH_EXACT, 0, 0));
        return *this;
    }
    /// Tolerates `max_changed` changed components, needs `min_matching`.
    config &match_fuzzy(uint32_t max_changed, uint32_t min_matching) {
        detail::check(tessera_config_set_match_policy(ptr_.get(), TESSERA_MATCH_FUZZY,
                                                      max_changed, min_matching));
        return *this;
    }
    /// How far the clock may go back before it is tampering.
    config &clock_tolerance(std::chrono::seconds tolerance) {
        detail::check(tessera_config_set_clock_tolerance(ptr_.get(), tolerance.count()));
        return *this;
    }
    /// Freezes the SDK's clock (tests and support tools).
    config &fixed_time(time_point at) {
        detail::check(tessera_config_set_fixed_time(ptr_.get(), detail::to_unix(at)));
        return *this;
    }
    /// Reads device facts under `root` instead of `/`.
    config &system_root(const std::string &root) {
        detail::check(tessera_config_set_system_root(ptr_.get(), detail::c_str(root, "root")));
        return *this;
    }
    /// The PKCS#11 token that answers hardware-key licenses' challenges
    /// (a library built without the `pkcs11` feature throws `unsupported`).
    config &pkcs11_token(const std::string &module, const std::string &token_label,
                         const std::string &key_label, const std::string &pin) {
        detail::check(tessera_config_set_pkcs11_token(
            ptr_.get(), detail::c_str(module, "module"), detail::c_str(token_label, "token_label"),
            detail::c_str(key_label, "key_label"), detail::c_str(pin, "pin")));
        return *this;
    }

    /// This device's fingerprint id for the product.
    std::string fingerprint() const {
        return detail::read_string([this](char *b, size_t n, size_t *len) {
            return tessera_fingerprint(ptr_.get(), b, n, len);
        });
    }
    /// The fingerprint diagnosis as JSON (components, VM evidence).
    std::string diagnose() const {
        return detail::read_string([this](char *b, size_t n, size_t *len) {
            return tessera_fingerprint_diagnose(ptr_.get(), b, n, len);
        });
    }

    /// The C object, still owned by this config.
    const tessera_config *get() const noexcept { return ptr_.get(); }

private:
    std::unique_ptr<tessera_config, detail::config_free> ptr_;
};

/// Verifies `license_file` and activates it on this device.
inline void activate(const config &cfg, std::string_view license_file) {
    detail::check(tessera_activate(cfg.get(), reinterpret_cast<const uint8_t *>(license_file.data()),
                                   license_file.size()));
}

/// Verifies a Keygen license or machine file with the configuration's Keygen
/// keys and activates it on this device: `license_key` decrypts it, and a
/// machine file needs its machine's Keygen `fingerprint` (empty for a
/// license file). Only a key derived from the license key is kept.
inline void keygen_import(const config &cfg, std::string_view keygen_file,
                          const std::string &license_key, const std::string &fingerprint = {}) {
    detail::check(tessera_keygen_import(cfg.get(), reinterpret_cast<const uint8_t *>(keygen_file.data()),
                                        keygen_file.size(), detail::c_str(license_key, "license_key"),
                                        fingerprint.empty() ? nullptr : detail::c_str(fingerprint, "fingerprint")));
}

/// Removes license `license_id` from this device; returns whether it was there.
inline bool deactivate(const config &cfg, const std::string &license_id) {
    bool was = false;
    detail::check(tessera_deactivate(cfg.get(), detail::c_str(license_id, "license_id"), &was));
    return was;
}

/// Offline activation, step 1: makes this device's request file for a
/// license key (`TESSERA_CREDENTIAL_LICENSE_KEY`) or a user name
/// (`TESSERA_CREDENTIAL_USER`) and keeps it pending.
inline void offline_request_activation(const config &cfg, tessera_credential kind,
                                       const std::string &credential) {
    detail::check(tessera_offline_request_activation(cfg.get(), kind,
                                                     detail::c_str(credential, "credential")));
}
/// The pending offline request file, to carry to the vendor.
inline std::string offline_pending_request(const config &cfg) {
    return detail::read_string([&cfg](char *b, size_t n, size_t *len) {
        return tessera_offline_pending_request(cfg.get(), b, n, len);
    });
}
/// Offline activation, step 2: imports the vendor's response file.
inline void offline_import_response(const config &cfg, std::string_view response) {
    detail::check(tessera_offline_import_response(
        cfg.get(), reinterpret_cast<const uint8_t *>(response.data()), response.size()));
}
/// Deactivates `license_id` offline and keeps the request that proves it pending.
inline void offline_request_deactivation(const config &cfg, const std::string &license_id) {
    detail::check(tessera_offline_request_deactivation(cfg.get(),
                                                       detail::c_str(license_id, "license_id")));
}
/// The pending offline deactivation request, to carry to the vendor.
inline std::string offline_deactivation_request(const config &cfg) {
    return detail::read_string([&cfg](char *b, size_t n, size_t *len) {
        return tessera_offline_deactivation_request(cfg.get(), b, n, len);
    });
}
/// Makes a fresh air-gapped initialization code (TESSERA_AIRGAP_INIT_CODE_LEN
/// characters) for the user to read to the vendor; only one is made.
inline std::string airgap_initialization_code(const config &cfg) {
    char code[TESSERA_AIRGAP_INIT_CODE_LEN + 1] = {0};
    size_t len = 0;
    detail::check(tessera_airgap_initialization_code(cfg.get(), code, sizeof code, &len));
    return std::string(code, len);
}
/// Activates an air-gapped license with the confirmation code the vendor read back.
inline void airgap_activate(const config &cfg, std::string_view license_file,
                            const std::string &confirmation) {
    detail::check(tessera_airgap_activate(
        cfg.get(), reinterpret_cast<const uint8_t *>(license_file.data()), license_file.size(),
        detail::c_str(confirmation, "confirmation")));
}
/// The code of this thread's last failure (TESSERA_OK when none yet).
inline tessera_result last_error_code() { return tessera_last_error_code(); }

/// A validation report, copied out of the C object.
struct validation {
    tessera_status status = TESSERA_STATUS_VALID;
    std::vector<std::string> reasons;
    time_point checked_at;
    std::optional<time_point> valid_until;
    std::optional<time_point> grace_until;
    std::optional<time_point> check_in_due;
    std::optional<time_point> maintenance_until;

    bool usable() const noexcept { return tessera::usable(status); }
};

/// One feature's state.
struct feature {
    tessera_feature_state state = TESSERA_FEATURE_MISSING;
    /// When an enabled feature stops, or when an expired one expired.
    std::optional<time_point> time;
    tessera_status license_status = TESSERA_STATUS_VALID;

    bool enabled() const noexcept { return state == TESSERA_FEATURE_ENABLED; }
};

/// A counter's usage.
struct usage {
    uint64_t used = 0;
    /// Empty when unlimited.
    std::optional<uint64_t> limit;
    std::optional<uint64_t> remaining;
    uint64_t overage_used = 0;
    uint64_t overage_allowed = 0;
    std::optional<time_point> resets_at;

    static usage of(const tessera_usage &u) {
        usage out;
        out.used = u.used;
        if (!u.unlimited) {
            out.limit = u.limit;
            out.remaining = u.remaining;
        }
        out.overage_used = u.overage_used;
        out.overage_allowed = u.overage_allowed;
        out.resets_at = detail::from_unix(u.resets, u.resets_at);
        return out;
    }
};

/// The lease held on this device.
struct lease {
    tessera_lease_kind kind = TESSERA_LEASE_FLOATING;
    time_point expires_at;
    std::chrono::seconds time_left{0};

    static lease of(const tessera_lease_info &l) {
        return lease{l.kind, detail::from_unix(l.expires_at), std::chrono::seconds(l.seconds_left)};
    }
};

/// The license activated on this device, open for checks (tessera_handle).
/// Move-only; a moved-from handle throws `error` with
/// TESSERA_ERR_NULL_POINTER on use.
class handle {
public:
    /// Opens the license activated on this device for `cfg`'s product.
    explicit handle(const config &cfg) {
        tessera_handle *raw = nullptr;
        detail::check(tessera_handle_open(cfg.get(), &raw));
        ptr_.reset(raw);
    }

    /// Whether the license may be used now (about 0.1 µs). A floating
    /// license is TESSERA_STATUS_LEASE_REQUIRED until this device holds a
    /// seat (connection::register_seat, a session, an auto_sync, a borrow).
    tessera_status check() const {
        tessera_status s = TESSERA_STATUS_VALID;
        detail::check(tessera_handle_check(ptr_.get(), &s));
        return s;
    }

    /// The full report: status, reasons, dates.
    validation validate() const {
        tessera_validation *raw = nullptr;
        detail::check(tessera_handle_validate(ptr_.get(), &raw));
        std::unique_ptr<tessera_validation, detail::validation_free> v(raw);
        validation out;
        detail::check(tessera_validation_status(v.get(), &out.status));
        std::string reasons = detail::read_string([&v](char *b, size_t n, size_t *len) {
            return tessera_validation_reasons(v.get(), b, n, len);
        });
        for (size_t start = 0; start < reasons.size();) {
            size_t end = reasons.find('\n', start);
            if (end == std::string::npos) end = reasons.size();
            out.reasons.push_back(reasons.substr(start, end - start));
            start = end + 1;
        }
        tessera_dates d{};
        detail::check(tessera_validation_dates(v.get(), &d));
        out.checked_at = detail::from_unix(d.checked_at);
        out.valid_until = detail::from_unix(d.has_valid_until, d.valid_until);
        out.grace_until = detail::from_unix(d.has_grace_until, d.grace_until);
        out.check_in_due = detail::from_unix(d.has_check_in_due, d.check_in_due);
        out.maintenance_until = detail::from_unix(d.has_maintenance_until, d.maintenance_until);
        return out;
    }

    /// The state of feature `code`.
    tessera::feature feature(const char *code) const {
        return feature(std::string(detail::not_null(code, "code")));
    }
    /// The state of feature `code`.
    tessera::feature feature(const std::string &code) const {
        tessera_feature_info info{};
        detail::check(tessera_handle_feature(ptr_.get(), detail::c_str(code, "code"), &info));
        return tessera::feature{info.state, detail::from_unix(info.has_time, info.time),
                                info.license_status};
    }

    /// Consumes `amount` units of the license's own counter.
    tessera::usage consume(uint64_t amount) const { return consume_raw(nullptr, amount); }
    /// Consumes `amount` units of feature `code`.
    tessera::usage consume(const std::string &code, uint64_t amount) const {
        return consume_raw(detail::c_str(code, "code"), amount);
    }
    /// Consumes `amount` units of feature `code`; a NULL `code` is an error
    /// (`consume(amount)` is the license's own counter).
    tessera::usage consume(const char *code, uint64_t amount) const {
        return consume(std::string(detail::not_null(code, "code")), amount);
    }
    /// The license's own counter.
    tessera::usage usage() const { return usage_raw(nullptr); }
    /// Feature `code`'s counter.
    tessera::usage usage(const std::string &code) const {
        return usage_raw(detail::c_str(code, "code"));
    }
    /// Feature `code`'s counter; a NULL `code` is an error, not the license's.
    tessera::usage usage(const char *code) const {
        return usage(std::string(detail::not_null(code, "code")));
    }

    /// The lease held, if any.
    std::optional<tessera::lease> lease() const {
        bool held = false;
        tessera_lease_info info{};
        detail::check(tessera_handle_lease(ptr_.get(), &held, &info));
        if (!held) return std::nullopt;
        return tessera::lease::of(info);
    }
    /// Installs a lease the server granted.
    tessera::lease install_lease(std::string_view text) const {
        tessera_lease_info info{};
        detail::check(tessera_handle_install_lease(
            ptr_.get(), reinterpret_cast<const uint8_t *>(text.data()), text.size(), &info));
        return tessera::lease::of(info);
    }
    /// Ends a borrow early.
    void return_borrow() const { detail::check(tessera_handle_return_borrow(ptr_.get())); }

    /// When the next check-in is due, if ever.
    std::optional<time_point> next_check_in() const {
        bool due = false;
        int64_t at = 0;
        detail::check(tessera_handle_next_check_in(ptr_.get(), &due, &at));
        return detail::from_unix(due, at);
    }

    /// One text of the license: its id, type, product or a customer field
    /// (TESSERA_TEXT_...); empty when the license does not have it.
    std::string license_text(tessera_license_text which) const {
        return detail::read_string([this, which](char *b, size_t n, size_t *len) {
            return tessera_handle_license_text(ptr_.get(), which, b, n, len);
        });
    }
    /// The license's id.
    std::string license_id() const { return license_text(TESSERA_TEXT_LICENSE_ID); }
    /// The codes of the features the license lists, in its order.
    std::vector<std::string> feature_codes() const {
        size_t count = 0;
        detail::check(tessera_handle_feature_count(ptr_.get(), &count));
        std::vector<std::string> codes;
        codes.reserve(count);
        for (size_t i = 0; i < count; ++i) {
            codes.push_back(detail::read_string([this, i](char *b, size_t n, size_t *len) {
                return tessera_handle_feature_code(ptr_.get(), i, b, n, len);
            }));
        }
        return codes;
    }

    /// The license document as JSON.
    std::string license_json() const {
        return detail::read_string([this](char *b, size_t n, size_t *len) {
            return tessera_handle_license_json(ptr_.get(), b, n, len);
        });
    }

    /// Writes the clock's high-water mark.
    void save_clock() const { detail::check(tessera_handle_save_clock(ptr_.get())); }

    /// The C object, still owned by this handle.
    const tessera_handle *get() const noexcept { return ptr_.get(); }

private:
    tessera::usage consume_raw(const char *code, uint64_t amount) const {
        tessera_usage u{};
        detail::check(tessera_handle_consume(ptr_.get(), code, amount, &u));
        return tessera::usage::of(u);
    }
    tessera::usage usage_raw(const char *code) const {
        tessera_usage u{};
        detail::check(tessera_handle_usage(ptr_.get(), code, &u));
        return tessera::usage::of(u);
    }

    std::unique_ptr<tessera_handle, detail::handle_free> ptr_;
};

// ---------------------------------------------------------------------------
// The online half (C ABI 3). Every call that talks to the server blocks
// until it answers or the call's deadline passes; make them off the UI
// thread. Failures throw `error` (TESSERA_ERR_NETWORK, _SERVER_REFUSED,
// _BAD_RESPONSE, ...).

namespace detail {
struct server_free {
    void operator()(tessera_server *p) const noexcept { tessera_server_free(&p); }
};
struct connection_free {
    void operator()(tessera_connection *p) const noexcept { tessera_connection_free(&p); }
};
struct session_free {
    void operator()(tessera_session *p) const noexcept { tessera_session_free(&p); }
};
struct auto_sync_free {
    void operator()(tessera_auto_sync *p) const noexcept { tessera_auto_sync_stop(&p); }
};

/// Calls `f(buf, cap, &len)` with a large buffer first, and again only if
/// it was too small: for calls that ask the server each time.
template <typename F> std::string read_string_once(F f) {
    std::string s(65536, '\0');
    size_t len = 0;
    tessera_result r = f(s.data(), s.size(), &len);
    if (r == TESSERA_ERR_BUFFER_TOO_SMALL) {
        s.assign(len + 1, '\0');
        r = f(s.data(), s.size(), &len);
    }
    check(r);
    s.resize(len);
    return s;
}

inline uint32_t millis(std::chrono::milliseconds t, const char *what) {
    if (t.count() <= 0 || t.count() > 0xFFFFFFFFLL) {
        throw error(TESSERA_ERR_INVALID_ARGUMENT, std::string(what) + " is out of range");
    }
    return static_cast<uint32_t>(t.count());
}
} // namespace detail

/// Where the license server is and how to reach it (tessera_server).
class server {
public:
    /// `url` (https://; http:// only for loopback) and the product's key.
    server(const std::string &url, std::string_view product_key) {
        tessera_server *raw = nullptr;
        detail::check(tessera_server_new(detail::c_str(url, "url"),
                                         reinterpret_cast<const uint8_t *>(product_key.data()),
                                         product_key.size(), &raw));
        ptr_.reset(raw);
    }
    /// Trusts only this CA (PEM) instead of the platform's verifier.
    server &pinned_ca(const std::string &pem) {
        detail::check(tessera_server_set_pinned_ca(ptr_.get(), detail::c_str(pem, "pem")));
        return *this;
    }
    /// An explicit proxy (`http://user:password@host:port`).
    server &proxy(const std::string &url) {
        detail::check(
            tessera_server_set_proxy(ptr_.get(), TESSERA_PROXY_URL, detail::c_str(url, "url")));
        return *this;
    }
    /// No proxy, whatever the system says.
    server &no_proxy() {
        detail::check(tessera_server_set_proxy(ptr_.get(), TESSERA_PROXY_DIRECT, nullptr));
        return *this;
    }
    /// Per attempt, per call (retries included), attempts, first backoff.
    server &limits(std::chrono::milliseconds attempt, std::chrono::milliseconds deadline,
                   uint32_t attempts, std::chrono::milliseconds backoff) {
        if (attempts == 0) {
            throw error(TESSERA_ERR_INVALID_ARGUMENT, "attempts must be at least 1");
        }
        detail::check(tessera_server_set_limits(
            ptr_.get(), detail::millis(attempt, "attempt"), detail::millis(deadline, "deadline"),
            attempts, detail::millis(backoff, "backoff")));
        return *this;
    }
    const tessera_server *get() const noexcept { return ptr_.get(); }

private:
    std::unique_ptr<tessera_server, detail::server_free> ptr_;
};

/// What an upload of consumption did.
struct upload {
    uint64_t sent;
    uint64_t accepted;
    uint64_t acknowledged;
};

/// One change of the license's status, heard by an auto_sync.
struct status_change {
    tessera_status old_status;
    tessera_status new_status;
    std::string reason;
};

class session;
class auto_sync;

/// A connection to the license server (tessera_connection). Move-only;
/// may be used from several threads at once.
class connection {
public:
    connection(const config &cfg, const server &srv) {
        tessera_connection *raw = nullptr;
        detail::check(tessera_connection_new(cfg.get(), srv.get(), &raw));
        ptr_.reset(raw);
    }
    /// Activates by license key. Blocks.
    void activate(const std::string &license_key) const {
        detail::check(
            tessera_online_activate_key(ptr_.get(), detail::c_str(license_key, "license_key")));
    }
    /// Activates a user's license (the password is sent once). Blocks.
    void activate_user(const std::string &username, const std::string &password,
                       const std::string &license_id) const {
        detail::check(tessera_online_activate_user(
            ptr_.get(), detail::c_str(username, "username"), detail::c_str(password, "password"),
            detail::c_str(license_id, "license_id")));
    }
    /// A user's licenses as JSON (an array of objects). Blocks.
    std::string user_licenses(const std::string &username, const std::string &password) const {
        return detail::read_string_once([&](char *b, size_t n, size_t *len) {
            return tessera_online_user_licenses(ptr_.get(), detail::c_str(username, "username"),
                                                detail::c_str(password, "password"), b, n, len);
        });
    }
    /// The update check: the newest release this device's license may
    /// install, as JSON (an object, or `null` when there is none). Blocks.
    std::string latest_release(const std::optional<std::string> &current_version = std::nullopt,
                               const std::optional<std::string> &channel = std::nullopt) const {
        return detail::read_string_once([&](char *b, size_t n, size_t *len) {
            return tessera_online_latest_release(
                ptr_.get(),
                current_version ? detail::c_str(*current_version, "current_version") : nullptr,
                channel ? detail::c_str(*channel, "channel") : nullptr, b, n, len);
        });
    }
    /// Downloads the file of `release_json` (what `latest_release` answered)
    /// into the folder `dir` and answers its path, kept only when it is the
    /// file the vendor signed; a broken transfer resumes at the next call.
    /// Never runs it. Blocks; throws `tessera::error` (code
    /// `TESSERA_ERR_DOWNLOAD_REJECTED` for a file that is not the signed one).
    std::string download_release(const std::string &release_json, const std::string &dir) const {
        return detail::read_string_once([&](char *b, size_t n, size_t *len) {
            return tessera_online_download_release(ptr_.get(),
                                                   detail::c_str(release_json, "release_json"),
                                                   detail::c_str(dir, "dir"), b, n, len);
        });
    }
    /// Signs the user in through the customer account's identity provider
    /// and activates the user's license here (docs/SIGN-IN.md). `who`: the
    /// user's e-mail address or the account's code. `show(url, user_code)`:
    /// for `TESSERA_GRANT_BROWSER` (`user_code` empty) return true when the
    /// product opened the page itself, false to let the SDK open the system
    /// browser; for `TESSERA_GRANT_DEVICE` show both. `cancelled()` is asked
    /// about twenty times a second; true stops the sign-in. An exception
    /// from either cancels the sign-in and is thrown again here. Blocks;
    /// throws `tessera::error` (`TESSERA_ERR_SIGN_IN_FAILED`,
    /// `TESSERA_ERR_CANCELLED`, ...); nothing is activated on failure.
    void sign_in(const std::string &who, tessera_grant grant,
                 std::function<bool(const std::string &, const std::optional<std::string> &)> show,
                 std::function<bool()> cancelled = {},
                 const std::optional<std::string> &license_id = std::nullopt) const {
        struct calls {
            std::function<bool(const std::string &, const std::optional<std::string> &)> show;
            std::function<bool()> cancelled;
            std::exception_ptr thrown;
        } c{std::move(show), std::move(cancelled), nullptr};
        auto on_show = [](void *u, const char *url, const char *code) -> int {
            auto *self = static_cast<calls *>(u);
            try {
                std::optional<std::string> user_code;
                if (code) user_code = code;
                return self->show && self->show(url, user_code) ? 1 : 0;
            } catch (...) {
                self->thrown = std::current_exception();
                return 1;
            }
        };
        auto on_cancel = [](void *u) -> int {
            auto *self = static_cast<calls *>(u);
            if (self->thrown) return 1;
            try {
                return self->cancelled && self->cancelled() ? 1 : 0;
            } catch (...) {
                self->thrown = std::current_exception();
                return 1;
            }
        };
        tessera_result r = tessera_online_sign_in(
            ptr_.get(), detail::c_str(who, "who"), static_cast<uint32_t>(grant),
            license_id ? detail::c_str(*license_id, "license_id") : nullptr, on_show, on_cancel, &c);
        if (c.thrown) std::rethrow_exception(c.thrown);
        detail::check(r);
    }
    /// A trial key for this device (the same one when asked again). Blocks.
    std::string trial_key(const std::optional<std::string> &email = std::nullopt) const {
        return detail::read_string_once([&](char *b, size_t n, size_t *len) {
            return tessera_online_trial_key(
                ptr_.get(), email ? detail::c_str(*email, "email") : nullptr, b, n, len);
        });
    }
    /// Stores the server's fresh license file. Blocks.
    void check_in() const { detail::check(tessera_online_check_in(ptr_.get())); }
    /// Uploads, checks in and switches `h` in place to the fresh file. Blocks.
    void sync(const handle &h) const { detail::check(tessera_online_sync(ptr_.get(), h.get())); }
    /// Frees this device's slot on the server, then here. Blocks.
    void deactivate() const { detail::check(tessera_online_deactivate(ptr_.get())); }
    /// Takes a floating seat. Blocks.
    tessera::lease register_seat(const handle &h) const {
        tessera_lease_info l{};
        detail::check(tessera_online_register(ptr_.get(), h.get(), &l));
        return tessera::lease::of(l);
    }
    /// Renews the floating seat. Blocks.
    tessera::lease heartbeat(const handle &h) const {
        tessera_lease_info l{};
        detail::check(tessera_online_heartbeat(ptr_.get(), h.get(), &l));
        return tessera::lease::of(l);
    }
    /// Gives the floating seat back on the server. Blocks.
    void release() const { detail::check(tessera_online_release(ptr_.get())); }
    /// Borrows a seat for `hours`, for use offline. Blocks.
    tessera::lease borrow(const handle &h, uint32_t hours) const {
        tessera_lease_info l{};
        detail::check(tessera_online_borrow(ptr_.get(), h.get(), hours, &l));
        return tessera::lease::of(l);
    }
    /// Returns a borrowed seat early. Blocks. The server keeps the seat
    /// counted until the borrow would have ended (a returned borrow could be
    /// restored from a copy of the device's state); support's device removal
    /// frees it at once.
    void return_borrow(const handle &h) const {
        detail::check(tessera_online_return_borrow(ptr_.get(), h.get()));
    }
    /// Uploads pending consumption, exactly once. Blocks.
    tessera::upload upload_consumption(const handle &h) const {
        tessera_upload u{};
        detail::check(tessera_online_upload_consumption(ptr_.get(), h.get(), &u));
        return tessera::upload{u.sent, u.accepted, u.acknowledged};
    }
    const tessera_connection *get() const noexcept { return ptr_.get(); }

private:
    std::unique_ptr<tessera_connection, detail::connection_free> ptr_;
};

/// A floating seat kept by a heartbeat thread (tessera_session): taken on
/// construction, given back by close() or, without waiting long, by the
/// destructor. Move-only.
class session {
public:
    session(const connection &c, const handle &h,
            std::chrono::seconds interval = std::chrono::seconds(0)) {
        if (interval.count() < 0 || interval.count() > 0xFFFFFFFFLL) {
            throw error(TESSERA_ERR_INVALID_ARGUMENT, "interval is out of range");
        }
        tessera_session *raw = nullptr;
        detail::check(tessera_session_open(c.get(), h.get(),
                                           static_cast<uint32_t>(interval.count()), &raw));
        ptr_.reset(raw);
    }
    /// Heart-beats now. Blocks.
    tessera::lease beat() const {
        tessera_lease_info l{};
        detail::check(tessera_session_beat(ptr_.get(), &l));
        return tessera::lease::of(l);
    }
    /// Stops the heartbeat and gives the seat back. Blocks.
    void close() {
        tessera_session *raw = ptr_.release();
        detail::check(tessera_session_close(&raw));
    }

private:
    std::unique_ptr<tessera_session, detail::session_free> ptr_;
};

/// A license that looks after itself (tessera_auto_sync): syncs at once
/// and on the check-in timer, keeps a floating seat (unless `keep_seat`
/// is false), backs off offline, and calls `on_change` on its own thread
/// for every status change; `on_change` must not destroy this object.
/// The destructor stops it within its stop timeout (2 s). Move-only.
class auto_sync {
public:
    using callback = std::function<void(const status_change &)>;

    auto_sync(const connection &c, const handle &h, callback on_change = nullptr,
              bool keep_seat = true, std::chrono::seconds retry = std::chrono::seconds(0))
        : on_change_(std::make_unique<callback>(std::move(on_change))) {
        if (retry.count() < 0 || retry.count() > 0xFFFFFFFFLL) {
            throw error(TESSERA_ERR_INVALID_ARGUMENT, "retry is out of range");
        }
        tessera_auto_sync_options o{};
        o.no_seat = !keep_seat;
        o.retry_secs = static_cast<uint32_t>(retry.count());
        o.on_change = &auto_sync::trampoline;
        o.user_data = on_change_.get();
        tessera_auto_sync *raw = nullptr;
        detail::check(tessera_auto_sync_start(c.get(), h.get(), &o, &raw));
        ptr_.reset(raw);
    }
    /// Syncs now, without waiting for it.
    void sync_now() const { detail::check(tessera_auto_sync_now(ptr_.get())); }
    /// Syncs that succeeded and failed so far, and the last failure's code
    /// not yet reported (TESSERA_OK when none).
    std::tuple<uint64_t, uint64_t, tessera_result> record() const {
        uint64_t syncs = 0, failures = 0;
        tessera_result last = TESSERA_OK;
        detail::check(tessera_auto_sync_record(ptr_.get(), &syncs, &failures, &last));
        return {syncs, failures, last};
    }

private:
    static void trampoline(void *user_data, tessera_status old_status, tessera_status new_status,
                           const char *reason) noexcept {
        auto *f = static_cast<callback *>(user_data);
        if (f == nullptr || !*f) return;
        try {
            (*f)(status_change{old_status, new_status, reason ? reason : ""});
        } catch (...) {
            // An exception cannot cross into C; the callback's own problem.
        }
    }

    // Declared first, destroyed last: the thread stops before the callback goes.
    std::unique_ptr<callback> on_change_;
    std::unique_ptr<tessera_auto_sync, detail::auto_sync_free> ptr_;
};

} // namespace tessera

namespace tessera {

/// Receives the SDK's log records: level (TESSERA_LOG_*), the module they
/// come from, and the message. Called from any thread; must be
/// thread-safe. Never given a key, a password or a token.
using log_handler = std::function<void(tessera_log_level, const char *, const char *)>;

/// Sends the SDK's records at `level` or more severe to `handler` (an
/// empty handler, or TESSERA_LOG_OFF, stops logging). Call it from one
/// thread at a time; once it returns, the previous handler is not called
/// again and is destroyed. Called from inside a handler it throws
/// `tessera::error` (`TESSERA_ERR_INVALID_ARGUMENT`) and changes nothing:
/// a handler cannot replace or stop itself (the running one would be
/// destroyed under it).
inline void set_log_handler(tessera_log_level level, log_handler handler) {
    static std::unique_ptr<log_handler> current;
    struct call {
        static void trampoline(void *user_data, uint32_t lvl, const char *target,
                               const char *message) noexcept {
            try {
                (*static_cast<log_handler *>(user_data))(static_cast<tessera_log_level>(lvl),
                                                         target, message);
            } catch (...) {
                // An exception cannot cross into C.
            }
        }
    };
    std::unique_ptr<log_handler> next;
    if (handler) next = std::make_unique<log_handler>(std::move(handler));
    detail::check(tessera_set_log_callback(level, next ? &call::trampoline : nullptr, next.get()));
    current = std::move(next);
}

} // namespace tessera

#endif // TESSERA_HPP
