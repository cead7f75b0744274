// The C++ wrapper (bindings/cpp/tessera.hpp) over the real library, with
// the fixtures of tests/c/fixtures.sh. Usage: wrapper_test FIXTURES_DIR
#include "tessera.hpp"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>
#include <type_traits>

static int failures = 0;
static int checks = 0;

#define CHECK(cond)                                                                      \
    do {                                                                                 \
        ++checks;                                                                        \
        if (!(cond)) {                                                                   \
            ++failures;                                                                  \
            std::cerr << __FILE__ << ":" << __LINE__ << ": check failed: " #cond "\n";   \
        }                                                                                \
    } while (0)

// Runs `body`, which must throw tessera::error with `code`.
template <typename F> static void expect_error(int line, tessera_result code, F body) {
    ++checks;
    try {
        body();
        ++failures;
        std::cerr << __FILE__ << ":" << line << ": no exception, expected "
                  << tessera_result_name(code) << "\n";
    } catch (const tessera::error &e) {
        if (e.code() != code) {
            ++failures;
            std::cerr << __FILE__ << ":" << line << ": " << e.name() << " (" << e.what()
                      << "), expected " << tessera_result_name(code) << "\n";
        }
    }
}
#define EXPECT_ERROR(code, ...) expect_error(__LINE__, code, [&] { __VA_ARGS__; })

static std::string dir;

static std::string read(const std::string &name) {
    std::ifstream f(dir + "/" + name, std::ios::binary);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

using namespace std::chrono;
static const tessera::time_point t2030 = tessera::time_point(seconds(1893456000));

static tessera::config config_for(const std::string &state, tessera::time_point now) {
    tessera::config cfg("acme");
    cfg.add_public_key(read("vendor.pub"))
        .secret("test-only vendor secret")
        .store_dir(dir + "/cpp-" + state)
        .fixed_time(now)
        .custom_device_id("device-A");
    return cfg;
}

static void test_errors() {
    static_assert(!std::is_copy_constructible_v<tessera::config>, "config is move-only");
    static_assert(!std::is_copy_constructible_v<tessera::handle>, "handle is move-only");
    static_assert(std::is_nothrow_move_constructible_v<tessera::handle>, "handle moves");
    EXPECT_ERROR(TESSERA_ERR_INVALID_ARGUMENT, tessera::config(""));
    tessera::config cfg("acme");
    EXPECT_ERROR(TESSERA_ERR_INVALID_KEY, cfg.add_public_key("not a key"));
    try {
        cfg.add_public_key("not a key");
    } catch (const tessera::error &e) {
        CHECK(std::string(e.name()) == "invalid_key");
        CHECK(std::string(e.what()).find("key") != std::string::npos);
    }
    EXPECT_ERROR(TESSERA_ERR_INVALID_ARGUMENT, cfg.clock_tolerance(seconds(-1)));
    EXPECT_ERROR(TESSERA_ERR_INVALID_ARGUMENT, cfg.match_fuzzy(1, 0));
    CHECK(!tessera::version().empty());
}

static void test_license() {
    auto cfg = config_for("license", t2030 + hours(24 * 30));
    EXPECT_ERROR(TESSERA_ERR_NOT_ACTIVATED, tessera::handle h(cfg));
    std::string file = read("license.lic");
    std::string tampered = file;
    tampered[tampered.find("\n\n") + 10] ^= 1;
    EXPECT_ERROR(TESSERA_ERR_BAD_SIGNATURE, tessera::activate(cfg, tampered));
    EXPECT_ERROR(TESSERA_ERR_EMPTY, tessera::activate(cfg, ""));
    tessera::activate(cfg, file);

    tessera::handle h(cfg);
    CHECK(h.check() == TESSERA_STATUS_VALID);
    CHECK(tessera::usable(h.check()));
    CHECK(tessera::status_name(h.check()) == "valid");
    auto v = h.validate();
    CHECK(v.usable());
    CHECK(v.checked_at == t2030 + hours(24 * 30));
    CHECK(v.valid_until == t2030 + hours(24 * 365));
    CHECK(v.check_in_due == t2030 + hours(24 * 90));
    CHECK(!v.grace_until);
    CHECK(h.next_check_in() == t2030 + hours(24 * 90));
    CHECK(h.feature("pdf-export").enabled());
    auto beta = h.feature("beta-tools");
    CHECK(beta.state == TESSERA_FEATURE_EXPIRED && beta.time == t2030 + hours(24 * 10));
    CHECK(h.feature("nope").state == TESSERA_FEATURE_MISSING);
    CHECK(h.license_json().find("\"id\":\"C-ABI-0001\"") != std::string::npos);
    CHECK(h.license_id() == "C-ABI-0001");
    CHECK(h.license_text(TESSERA_TEXT_CUSTOMER_COMPANY) == "Example GmbH");
    CHECK(h.license_text(TESSERA_TEXT_CUSTOMER_LAST_NAME).empty());
    CHECK((h.feature_codes() == std::vector<std::string>{"pdf-export", "beta-tools"}));
    EXPECT_ERROR(TESSERA_ERR_INVALID_ARGUMENT, h.license_text(static_cast<tessera_license_text>(99)));
    CHECK(!h.lease());
    EXPECT_ERROR(TESSERA_ERR_INVALID_ARGUMENT, h.return_borrow());
    EXPECT_ERROR(TESSERA_ERR_MALFORMED, h.install_lease("junk"));
    EXPECT_ERROR(TESSERA_ERR_NOT_CONSUMABLE, h.consume(1));

    // Moving hands the C handle over; the moved-from object refuses use.
    tessera::handle moved = std::move(h);
    CHECK(moved.check() == TESSERA_STATUS_VALID);
    EXPECT_ERROR(TESSERA_ERR_NULL_POINTER, h.check()); // NOLINT(bugprone-use-after-move)

    CHECK(cfg.fingerprint().size() == 32);
    CHECK(cfg.diagnose().find("\"components\"") != std::string::npos);
    CHECK(tessera::deactivate(cfg, "C-ABI-0001"));
    CHECK(!tessera::deactivate(cfg, "C-ABI-0001"));

    // Past the check-in date and its 48 hours of grace.
    auto later = config_for("license", t2030 + hours(24 * 100));
    tessera::activate(config_for("license", t2030 + hours(24 * 30)), file);
    tessera::handle old(later);
    auto report = old.validate();
    CHECK(report.status == TESSERA_STATUS_CHECK_IN_REQUIRED);
    CHECK(!report.reasons.empty());
}

static void test_consumption_and_threads() {
    auto cfg = config_for("consumption", t2030 + hours(24));
    tessera::activate(cfg, read("consumption.lic"));
    tessera::handle h(cfg);
    auto u = h.consume(2);
    CHECK(u.used == 2 && u.limit == 5u && u.remaining == 3u);
    CHECK(u.resets_at == t2030 + hours(24 * 31));
    EXPECT_ERROR(TESSERA_ERR_CONSUMPTION_LIMIT, h.consume(4));
    CHECK(h.usage().used == 2);

    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&h] {
            for (int i = 0; i < 25; ++i) h.consume("ocr", 1);
        });
    }
    for (auto &t : threads) t.join();
    auto ocr = h.usage("ocr");
    CHECK(ocr.used == 100 && !ocr.limit && !ocr.resets_at);

    // A careless caller: NULL for a feature code is tessera::error, not
    // std::logic_error from std::string; a code with a NUL inside is
    // refused, not cut to "ocr" (which would count against "ocr").
    EXPECT_ERROR(TESSERA_ERR_NULL_POINTER, h.consume(nullptr, 1));
    EXPECT_ERROR(TESSERA_ERR_NULL_POINTER, h.usage(static_cast<const char *>(nullptr)));
    EXPECT_ERROR(TESSERA_ERR_NULL_POINTER, h.feature(static_cast<const char *>(nullptr)));
    EXPECT_ERROR(TESSERA_ERR_INVALID_ARGUMENT, h.consume(std::string("ocr\0pdf", 7), 1));
    EXPECT_ERROR(TESSERA_ERR_INVALID_ARGUMENT, tessera::config(std::string("acme\0x", 6)));
    CHECK(h.usage("ocr").used == 100);
}

static void test_offline_airgap_and_tokens() {
    auto cfg = config_for("offline", t2030 + hours(24));
    EXPECT_ERROR(TESSERA_ERR_OFFLINE_NO_REQUEST, tessera::offline_pending_request(cfg));
    EXPECT_ERROR(TESSERA_ERR_INVALID_ARGUMENT,
                 tessera::offline_request_activation(cfg, TESSERA_CREDENTIAL_LICENSE_KEY, ""));
    tessera::offline_request_activation(cfg, TESSERA_CREDENTIAL_LICENSE_KEY, "TEST-ONLY-C-ABI");
    std::string request = tessera::offline_pending_request(cfg);
    CHECK(request.find("-----BEGIN TESSERA OFFLINE REQUEST-----") == 0);
    // The request is not a response; nothing is imported.
    EXPECT_ERROR(TESSERA_ERR_MALFORMED, tessera::offline_import_response(cfg, request));
    CHECK(tessera::offline_pending_request(cfg) == request);
    EXPECT_ERROR(TESSERA_ERR_NOT_ACTIVATED, tessera::offline_request_deactivation(cfg, "not-here"));
    EXPECT_ERROR(TESSERA_ERR_OFFLINE_NO_REQUEST, tessera::offline_deactivation_request(cfg));
    CHECK(tessera::last_error_code() == TESSERA_ERR_OFFLINE_NO_REQUEST);

    // One initialization code per call, in the documented shape; a
    // confirmation that is no code of this device is refused.
    auto airgap = config_for("airgap", t2030 + hours(24));
    std::string code = tessera::airgap_initialization_code(airgap);
    CHECK(code.size() == TESSERA_AIRGAP_INIT_CODE_LEN && code[4] == '-');
    CHECK(tessera::airgap_initialization_code(airgap) != code);
    bool refused = false;
    try {
        tessera::airgap_activate(airgap, read("airgap.lic"), "0000-0000-0000-0000-00");
    } catch (const tessera::error &e) {
        refused = e.code() == TESSERA_ERR_CODE_MISTYPED || e.code() == TESSERA_ERR_CODE_REJECTED;
    }
    CHECK(refused);

    // The default build has no PKCS#11 support: said as unsupported.
    EXPECT_ERROR(TESSERA_ERR_UNSUPPORTED,
                 cfg.pkcs11_token("/usr/lib/softhsm/libsofthsm2.so", "t", "k", "1"));
    EXPECT_ERROR(TESSERA_ERR_INVALID_ARGUMENT, cfg.pkcs11_token(std::string("m\0x", 3), "t", "k", "1"));
}

static void test_times() {
    // Dates past 2262 (where nanosecond ticks overflow) come through whole.
    const int64_t year_3000 = 32503680000;
    CHECK(tessera::detail::to_unix(tessera::detail::from_unix(year_3000)) == year_3000);
    CHECK(tessera::detail::to_unix(tessera::detail::from_unix(INT64_MAX)) == INT64_MAX);
    CHECK(tessera::detail::to_unix(tessera::detail::from_unix(INT64_MIN)) == INT64_MIN);
    CHECK(tessera::detail::from_unix(year_3000) > tessera::detail::from_unix(1893456000));
    // 9999-12-31, a perpetual license's end: the checked conversion to the
    // system clock's ticks says it does not fit instead of overflowing
    // (issue 34, finding 16: UBSan caught the implicit one); 2030 fits.
    const int64_t year_9999 = 253402214400;
    CHECK(!tessera::to_system_clock(tessera::detail::from_unix(year_9999)).has_value());
    const auto in_2030 = tessera::to_system_clock(tessera::detail::from_unix(1893456000));
    CHECK(in_2030.has_value() &&
          std::chrono::system_clock::to_time_t(*in_2030) == static_cast<time_t>(1893456000));
}

static void test_keygen() {
    // The JS example's Keygen license file (tests/vectors/keygen), which
    // never expires.
    auto cfg = config_for("keygen", t2030);
    std::string file = read("keygen.lic");
    const std::string key = "8750AB-30B7BD-023BA9-31B601-4550A2-V3";
    EXPECT_ERROR(TESSERA_ERR_UNKNOWN_KEY_ID, tessera::keygen_import(cfg, file, key));
    EXPECT_ERROR(TESSERA_ERR_INVALID_KEY, cfg.add_keygen_key("not a key", "p"));
    cfg.add_keygen_key("e8601e48b69383ba520245fd07971e983d06d22c4257cfd82304601479cee788",
                       "3b682cb9-590b-4906-b688-ffef60eae8e0");
    EXPECT_ERROR(TESSERA_ERR_DECRYPTION_FAILED, tessera::keygen_import(cfg, file, "WRONG"));
    tessera::keygen_import(cfg, file, key);
    tessera::handle h(cfg);
    CHECK(h.check() == TESSERA_STATUS_VALID);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        std::cerr << "usage: " << argv[0] << " FIXTURES_DIR\n";
        return 2;
    }
    dir = argv[1];
    try {
        test_errors();
        test_license();
        test_consumption_and_threads();
        test_keygen();
        test_times();
        test_offline_airgap_and_tokens();
    } catch (const tessera::error &e) {
        std::cerr << "unexpected tessera::error " << e.name() << ": " << e.what() << "\n";
        return 1;
    }
    std::cout << checks << " checks, " << failures << " failed\n";
    return failures == 0 ? 0 : 1;
}
