// Tessera: header-only C++17 wrapper over the C API (include/tessera.h).
//
// Move-only RAII objects own the C handles; every failure throws
// tessera::error, which carries the C result code and the SDK's message.
// Strings are std::string, times std::chrono::system_clock::time_point,
// durations std::chrono::seconds.
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
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tessera {

/// A time as the C API gives it: whole seconds on the system clock. Seconds,
/// not the clock's own ticks: libstdc++ counts nanoseconds, which overflow
/// after the year 2262, and a license may run longer than that.
using time_point = std::chrono::time_point<std::chrono::system_clock, std::chrono::seconds>;

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

    /// Whether the license may be used now (about 0.1 µs).
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

} // namespace tessera

#endif // TESSERA_HPP
