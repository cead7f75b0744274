/* Every export of the C ABI, with valid and with invalid input.
 *
 * Usage: ffi_test FIXTURES_DIR TESSERA_CLI
 * FIXTURES_DIR holds what scripts/c-tests.sh makes with the CLI: vendor.pub,
 * other.pub, and license files (see that script for each one's spec).
 * Every license is issued at 2030-01-01T00:00:00Z; the tests freeze the
 * SDK's clock with tessera_config_set_fixed_time, so nothing depends on the
 * day they run. Each test works in its own state directory under
 * FIXTURES_DIR.
 *
 * Prints one line per failed check and exits non-zero when any failed. */
#include "tessera.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static const char *fixtures;
static const char *cli;

/* 2030-01-01T00:00:00Z and friends. */
#define T2030 1893456000LL
#define DAY 86400LL

static char *read_file(const char *name, size_t *len) {
    char path[1024];
    FILE *f;
    char *buf;
    long n;
    snprintf(path, sizeof path, "%s/%s", fixtures, name);
    f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open fixture %s\n", path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "cannot read fixture %s\n", path);
        exit(2);
    }
    buf[n] = 0;
    fclose(f);
    if (len) *len = (size_t)n;
    return buf;
}

static int contains(const char *haystack, const char *needle) {
    return strstr(haystack, needle) != NULL;
}

/* The last error's message, copied into a static buffer. */
static const char *last_message(void) {
    static char msg[1024];
    size_t n = 0;
    msg[0] = 0;
    tessera_last_error_message(msg, sizeof msg, &n);
    return msg;
}

/* A configuration for `product` with the vendor key, its own state
 * directory `state`, a frozen clock and a fixed custom device id. */
static tessera_config *config_for(const char *product, const char *state,
                                  int64_t now, const char *device) {
    tessera_config *c = NULL;
    char dir[1024];
    char *key = read_file("vendor.pub", NULL);
    snprintf(dir, sizeof dir, "%s/state-%s", fixtures, state);
    OK(tessera_config_new(product, &c));
    OK(tessera_config_add_public_key(c, key));
    OK(tessera_config_set_secret(c, (const uint8_t *)"test-only vendor secret", 23));
    OK(tessera_config_set_store_dir(c, dir));
    OK(tessera_config_set_fixed_time(c, now));
    OK(tessera_config_set_custom_device_id(c, device));
    free(key);
    return c;
}

static void activate_file(tessera_config *c, const char *name) {
    size_t len = 0;
    char *file = read_file(name, &len);
    OK(tessera_activate(c, (const uint8_t *)file, len));
    free(file);
}

static void test_info(void) {
    CHECK(tessera_abi_version() == TESSERA_ABI_VERSION);
    CHECK(tessera_version() != NULL && strlen(tessera_version()) > 0);
    CHECK(strcmp(tessera_result_name(TESSERA_OK), "ok") == 0);
    CHECK(strcmp(tessera_result_name(TESSERA_ERR_BAD_SIGNATURE), "bad_signature") == 0);
    CHECK(strcmp(tessera_result_name(TESSERA_ERR_BUFFER_TOO_SMALL), "buffer_too_small") == 0);
    CHECK(strcmp(tessera_result_name(4242), "other") == 0);
    CHECK(strcmp(tessera_status_name(TESSERA_STATUS_VALID), "valid") == 0);
    CHECK(strcmp(tessera_status_name(TESSERA_STATUS_LEASE_EXPIRED), "lease_expired") == 0);
    CHECK(strcmp(tessera_status_name(4242), "unknown") == 0);
}

static void test_last_error(void) {
    char buf[256];
    size_t n = 99;
    tessera_config *c = NULL;
    /* Nothing failed on this thread yet. */
    CHECK(tessera_last_error_code() == TESSERA_OK);
    OK(tessera_last_error_message(buf, sizeof buf, &n));
    CHECK(n == 0 && buf[0] == 0);

    EXPECT(tessera_config_new(NULL, &c), TESSERA_ERR_NULL_POINTER);
    CHECK(tessera_last_error_code() == TESSERA_ERR_NULL_POINTER);
    /* Size query (a success that keeps the last error), then a buffer one
     * byte too small, then the right size. */
    OK(tessera_last_error_message(NULL, 0, &n));
    CHECK(tessera_last_error_code() == TESSERA_ERR_NULL_POINTER);
    CHECK(n > 0 && n < sizeof buf);
    memset(buf, 'x', sizeof buf);
    EXPECT(tessera_last_error_message(buf, n, &n), TESSERA_ERR_BUFFER_TOO_SMALL);
    CHECK(buf[0] == 'x'); /* nothing copied */
    OK(tessera_last_error_message(buf, n + 1, &n));
    CHECK(strlen(buf) == n && contains(buf, "product"));
    /* The failed queries above did not replace the message. */
    CHECK(tessera_last_error_code() == TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_last_error_message(buf, sizeof buf, NULL), TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_last_error_message(NULL, 8, &n), TESSERA_ERR_NULL_POINTER);
    /* A success leaves the last error as it was. */
    OK(tessera_config_new("p", &c));
    CHECK(tessera_last_error_code() == TESSERA_ERR_NULL_POINTER);
    tessera_config_free(&c);
}

static void test_config(void) {
    tessera_config *c = (tessera_config *)&failures; /* a sentinel */
    tessera_config *sentinel = c;
    char *key = read_file("vendor.pub", NULL);

    EXPECT(tessera_config_new("acme", NULL), TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_config_new(NULL, &c), TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_config_new("", &c), TESSERA_ERR_INVALID_ARGUMENT);
    EXPECT(tessera_config_new("  ", &c), TESSERA_ERR_INVALID_ARGUMENT);
    EXPECT(tessera_config_new("bad\xff", &c), TESSERA_ERR_INVALID_UTF8);
    CHECK(c == sentinel); /* never written on failure */
    OK(tessera_config_new("acme", &c));
    CHECK(c != NULL && c != sentinel);

    EXPECT(tessera_config_add_public_key(NULL, key), TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_config_add_public_key(c, NULL), TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_config_add_public_key(c, ""), TESSERA_ERR_INVALID_KEY);
    EXPECT(tessera_config_add_public_key(c, "not a key"), TESSERA_ERR_INVALID_KEY);
    EXPECT(tessera_config_add_public_key(c, "\xc3\x28"), TESSERA_ERR_INVALID_UTF8);
    OK(tessera_config_add_public_key(c, key));

    EXPECT(tessera_config_set_store_dir(NULL, "/tmp"), TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_config_set_store_dir(c, NULL), TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_config_set_store_dir(c, ""), TESSERA_ERR_INVALID_ARGUMENT);
    OK(tessera_config_set_store_dir(c, fixtures));

    EXPECT(tessera_config_set_secret(NULL, NULL, 0), TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_config_set_secret(c, NULL, 4), TESSERA_ERR_NULL_POINTER);
    OK(tessera_config_set_secret(c, NULL, 0));                   /* (NULL, 0) */
    OK(tessera_config_set_secret(c, (const uint8_t *)"x", 0));   /* (ptr, 0) */
    OK(tessera_config_set_secret(c, (const uint8_t *)"s3cr3t", 6));

    EXPECT(tessera_config_set_custom_device_id(c, NULL), TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_config_set_custom_device_id(c, " "), TESSERA_ERR_INVALID_ARGUMENT);

    EXPECT(tessera_config_set_match_policy(NULL, TESSERA_MATCH_EXACT, 0, 0), TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_config_set_match_policy(c, 7, 0, 0), TESSERA_ERR_INVALID_ARGUMENT);
    EXPECT(tessera_config_set_match_policy(c, TESSERA_MATCH_FUZZY, 9, 0), TESSERA_ERR_INVALID_ARGUMENT);
    OK(tessera_config_set_match_policy(c, TESSERA_MATCH_FUZZY, 1, 2));
    OK(tessera_config_set_match_policy(c, TESSERA_MATCH_EXACT, 0, 0));

    EXPECT(tessera_config_set_clock_tolerance(NULL, 60), TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_config_set_clock_tolerance(c, -1), TESSERA_ERR_INVALID_ARGUMENT);
    EXPECT(tessera_config_set_clock_tolerance(c, 31 * DAY), TESSERA_ERR_INVALID_ARGUMENT);
    OK(tessera_config_set_clock_tolerance(c, 600));

    EXPECT(tessera_config_set_fixed_time(NULL, T2030), TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_config_set_fixed_time(c, -1), TESSERA_ERR_INVALID_ARGUMENT);
    EXPECT(tessera_config_set_fixed_time(c, INT64_MAX), TESSERA_ERR_INVALID_ARGUMENT);
    OK(tessera_config_set_fixed_time(c, T2030));

    EXPECT(tessera_config_set_system_root(NULL, "/"), TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_config_set_system_root(c, NULL), TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_config_set_system_root(c, ""), TESSERA_ERR_INVALID_ARGUMENT);
    OK(tessera_config_set_system_root(c, "/"));

    EXPECT(tessera_config_set_pkcs11_token(NULL, "m", "t", "k", "1"), TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_config_set_pkcs11_token(c, "m", NULL, "k", "1"), TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_config_set_pkcs11_token(c, "", "t", "k", "1"), TESSERA_ERR_INVALID_ARGUMENT);
    /* The test command builds the library without the pkcs11 feature. */
    EXPECT(tessera_config_set_pkcs11_token(c, "/usr/lib/softhsm/libsofthsm2.so", "t", "k", "1"),
           TESSERA_ERR_UNSUPPORTED);

    /* Free sets the variable to NULL; a second free is a no-op. */
    tessera_config_free(&c);
    CHECK(c == NULL);
    tessera_config_free(&c);
    tessera_config_free(NULL);
    free(key);
}

static void test_fingerprint(void) {
    tessera_config *c = config_for("acme", "fingerprint", T2030, "device-A");
    tessera_config *host = NULL;
    char small[32];
    char buf[4096];
    size_t n = 0;

    EXPECT(tessera_fingerprint(NULL, buf, sizeof buf, &n), TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_fingerprint(c, buf, sizeof buf, NULL), TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_fingerprint(c, NULL, 10, &n), TESSERA_ERR_NULL_POINTER);
    /* The id is 32 hex digits: a 32-byte buffer is one byte too small. */
    OK(tessera_fingerprint(c, NULL, 0, &n));
    CHECK(n == 32 && n == TESSERA_FINGERPRINT_ID_LEN);
    /* The size query kept the failure before it as the last error. */
    CHECK(tessera_last_error_code() == TESSERA_ERR_NULL_POINTER);
    memset(small, 'x', sizeof small);
    EXPECT(tessera_fingerprint(c, small, sizeof small, &n), TESSERA_ERR_BUFFER_TOO_SMALL);
    CHECK(small[0] == 'x' && small[31] == 'x');
    OK(tessera_fingerprint(c, buf, 33, &n));
    CHECK(n == 32 && strlen(buf) == 32);

    OK(tessera_fingerprint_diagnose(c, buf, sizeof buf, &n));
    CHECK(strlen(buf) == n && contains(buf, "\"components\"") && contains(buf, "\"evidence\""));

    /* This machine, read through the real system facts. */
    OK(tessera_config_new("acme", &host));
    OK(tessera_fingerprint(host, buf, sizeof buf, &n));
    CHECK(n == 32);
    OK(tessera_fingerprint_diagnose(host, buf, sizeof buf, &n));
    CHECK(contains(buf, "\"virtual_machine\""));

    /* A system root with no device facts at all. */
    OK(tessera_config_set_system_root(host, fixtures));
    EXPECT(tessera_fingerprint(host, buf, sizeof buf, &n), TESSERA_ERR_FINGERPRINT_UNAVAILABLE);
    CHECK(contains(last_message(), "custom device id"));

    tessera_config_free(&host);
    tessera_config_free(&c);
}

static void test_activation_errors(void) {
    tessera_config *c = config_for("acme", "activation-errors", T2030 + 30 * DAY, "device-A");
    tessera_handle *h = NULL;
    size_t len = 0;
    char *file = read_file("license.lic", &len);
    char *tampered = read_file("license.lic", NULL);
    char *foreign = read_file("foreign.lic", NULL);
    char *expired = read_file("expired.lic", NULL);
    char *other_product = read_file("other-product.lic", NULL);
    bool was = true;

    /* Out of order: open before anything was activated. */
    EXPECT(tessera_handle_open(c, &h), TESSERA_ERR_NOT_ACTIVATED);
    CHECK(h == NULL);
    EXPECT(tessera_handle_open(NULL, &h), TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_handle_open(c, NULL), TESSERA_ERR_NULL_POINTER);

    EXPECT(tessera_activate(NULL, (const uint8_t *)file, len), TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_activate(c, NULL, len), TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_activate(c, NULL, 0), TESSERA_ERR_EMPTY);
    EXPECT(tessera_activate(c, (const uint8_t *)file, 0), TESSERA_ERR_EMPTY);
    EXPECT(tessera_activate(c, (const uint8_t *)"garbage", 7), TESSERA_ERR_MALFORMED);
    EXPECT(tessera_activate(c, (const uint8_t *)file, len / 2), TESSERA_ERR_MALFORMED);
    EXPECT(tessera_activate(c, (const uint8_t *)"\xff\xfe\x00", 3), TESSERA_ERR_MALFORMED);
    /* One character of the signed body changed (line 5 is base64). */
    {
        char *body = strstr(tampered, "\n\n");
        CHECK(body != NULL);
        if (body) body[10] = body[10] == 'A' ? 'B' : 'A';
        EXPECT(tessera_activate(c, (const uint8_t *)tampered, len), TESSERA_ERR_BAD_SIGNATURE);
    }
    EXPECT(tessera_activate(c, (const uint8_t *)foreign, strlen(foreign)), TESSERA_ERR_UNKNOWN_KEY_ID);
    EXPECT(tessera_activate(c, (const uint8_t *)expired, strlen(expired)), TESSERA_ERR_UNUSABLE);
    CHECK(contains(last_message(), "expired"));
    EXPECT(tessera_activate(c, (const uint8_t *)other_product, strlen(other_product)), TESSERA_ERR_UNUSABLE);
    /* None of these activated anything. */
    EXPECT(tessera_handle_open(c, &h), TESSERA_ERR_NOT_ACTIVATED);

    EXPECT(tessera_deactivate(NULL, "x", &was), TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_deactivate(c, NULL, &was), TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_deactivate(c, "x", NULL), TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_deactivate(c, "\xff", &was), TESSERA_ERR_INVALID_UTF8);
    CHECK(was == true); /* untouched by the failures */
    OK(tessera_deactivate(c, "never-activated", &was));
    CHECK(was == false);

    free(file);
    free(tampered);
    free(foreign);
    free(expired);
    free(other_product);
    tessera_config_free(&c);
}

static void test_handle(void) {
    const int64_t now = T2030 + 30 * DAY;
    tessera_config *c = config_for("acme", "handle", now, "device-A");
    tessera_handle *h = NULL;
    tessera_validation *v = NULL;
    tessera_status status = 99;
    tessera_dates dates;
    tessera_feature_info feature;
    tessera_lease_info lease;
    bool held = true, due = true;
    int64_t at = -5;
    char buf[8192];
    size_t n = 0;

    activate_file(c, "license.lic");
    OK(tessera_handle_open(c, &h));
    CHECK(h != NULL);

    EXPECT(tessera_handle_check(NULL, &status), TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_handle_check(h, NULL), TESSERA_ERR_NULL_POINTER);
    CHECK(status == 99);
    OK(tessera_handle_check(h, &status));
    CHECK(status == TESSERA_STATUS_VALID);

    EXPECT(tessera_handle_validate(NULL, &v), TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_handle_validate(h, NULL), TESSERA_ERR_NULL_POINTER);
    OK(tessera_handle_validate(h, &v));
    status = 99;
    EXPECT(tessera_validation_status(NULL, &status), TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_validation_status(v, NULL), TESSERA_ERR_NULL_POINTER);
    OK(tessera_validation_status(v, &status));
    CHECK(status == TESSERA_STATUS_VALID);
    EXPECT(tessera_validation_reasons(NULL, buf, sizeof buf, &n), TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_validation_reasons(v, buf, sizeof buf, NULL), TESSERA_ERR_NULL_POINTER);
    OK(tessera_validation_reasons(v, buf, sizeof buf, &n));
    CHECK(strlen(buf) == n);
    EXPECT(tessera_validation_dates(NULL, &dates), TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_validation_dates(v, NULL), TESSERA_ERR_NULL_POINTER);
    OK(tessera_validation_dates(v, &dates));
    CHECK(dates.checked_at == now);
    CHECK(dates.has_valid_until && dates.valid_until == T2030 + 365 * DAY);
    CHECK(!dates.has_grace_until);
    tessera_validation_free(&v);
    CHECK(v == NULL);
    tessera_validation_free(&v);
    tessera_validation_free(NULL);

    /* Features: enabled, expired on day 10, missing. */
    EXPECT(tessera_handle_feature(NULL, "pdf-export", &feature), TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_handle_feature(h, NULL, &feature), TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_handle_feature(h, "pdf-export", NULL), TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_handle_feature(h, "\xff", &feature), TESSERA_ERR_INVALID_UTF8);
    OK(tessera_handle_feature(h, "pdf-export", &feature));
    CHECK(feature.state == TESSERA_FEATURE_ENABLED && !feature.has_time);
    CHECK(feature.license_status == TESSERA_STATUS_VALID);
    OK(tessera_handle_feature(h, "beta-tools", &feature));
    CHECK(feature.state == TESSERA_FEATURE_EXPIRED && feature.has_time && feature.time == T2030 + 10 * DAY);
    OK(tessera_handle_feature(h, "no-such-feature", &feature));
    CHECK(feature.state == TESSERA_FEATURE_MISSING);

    /* The license's texts and feature codes, without parsing JSON. */
    {
        char text[64];
        size_t count = 0;
        EXPECT(tessera_handle_license_text(NULL, TESSERA_TEXT_LICENSE_ID, text, sizeof text, &n), TESSERA_ERR_NULL_POINTER);
        EXPECT(tessera_handle_license_text(h, TESSERA_TEXT_LICENSE_ID, text, sizeof text, NULL), TESSERA_ERR_NULL_POINTER);
        EXPECT(tessera_handle_license_text(h, 99, text, sizeof text, &n), TESSERA_ERR_INVALID_ARGUMENT);
        OK(tessera_handle_license_text(h, TESSERA_TEXT_LICENSE_ID, NULL, 0, &n));
        CHECK(n == strlen("C-ABI-0001"));
        {
            /* A field the customer lacks (the last name) is empty, not an error. */
            static const struct {
                uint32_t which;
                const char *expected;
            } texts[] = {
                {TESSERA_TEXT_LICENSE_ID, "C-ABI-0001"},
                {TESSERA_TEXT_LICENSE_TYPE, "time-limited"},
                {TESSERA_TEXT_PRODUCT, "acme"},
                {TESSERA_TEXT_CUSTOMER_EMAIL, "ops@example.com"},
                {TESSERA_TEXT_CUSTOMER_COMPANY, "Example GmbH"},
                {TESSERA_TEXT_CUSTOMER_FIRST_NAME, "Ada"},
                {TESSERA_TEXT_CUSTOMER_LAST_NAME, ""},
            };
            size_t i;
            for (i = 0; i < sizeof texts / sizeof texts[0]; ++i) {
                OK(tessera_handle_license_text(h, texts[i].which, text, sizeof text, &n));
                CHECK(strcmp(text, texts[i].expected) == 0 && n == strlen(texts[i].expected));
            }
        }
        EXPECT(tessera_handle_feature_count(NULL, &count), TESSERA_ERR_NULL_POINTER);
        EXPECT(tessera_handle_feature_count(h, NULL), TESSERA_ERR_NULL_POINTER);
        OK(tessera_handle_feature_count(h, &count));
        CHECK(count == 2);
        OK(tessera_handle_feature_code(h, 0, text, sizeof text, &n));
        CHECK(strcmp(text, "pdf-export") == 0);
        OK(tessera_handle_feature_code(h, 1, text, sizeof text, &n));
        CHECK(strcmp(text, "beta-tools") == 0);
        EXPECT(tessera_handle_feature_code(h, count, text, sizeof text, &n), TESSERA_ERR_INVALID_ARGUMENT);
        EXPECT(tessera_handle_feature_code(h, SIZE_MAX, text, sizeof text, &n), TESSERA_ERR_INVALID_ARGUMENT);
    }

    /* The license document as JSON, with a size query first. */
    EXPECT(tessera_handle_license_json(NULL, buf, sizeof buf, &n), TESSERA_ERR_NULL_POINTER);
    OK(tessera_handle_license_json(h, NULL, 0, &n));
    CHECK(n > 0 && n < sizeof buf);
    {
        size_t need = n;
        char *json = malloc(need + 1);
        EXPECT(tessera_handle_license_json(h, json, need, &n), TESSERA_ERR_BUFFER_TOO_SMALL);
        OK(tessera_handle_license_json(h, json, need + 1, &n));
        CHECK(n == need && strlen(json) == need);
        CHECK(contains(json, "\"id\":\"C-ABI-0001\"") && contains(json, "pdf-export"));
        /* The license key is a secret the user typed: never handed out. */
        CHECK(!contains(json, "license_key") && !contains(json, "TEST-ONLY-C-ABI"));
        free(json);
    }

    /* Not a consumption license, and no lease. */
    {
        tessera_usage usage;
        EXPECT(tessera_handle_consume(h, NULL, 1, &usage), TESSERA_ERR_NOT_CONSUMABLE);
        EXPECT(tessera_handle_consume(h, "pdf-export", 1, &usage), TESSERA_ERR_NOT_CONSUMABLE);
    }
    EXPECT(tessera_handle_lease(NULL, &held, &lease), TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_handle_lease(h, NULL, &lease), TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_handle_lease(h, &held, NULL), TESSERA_ERR_NULL_POINTER);
    OK(tessera_handle_lease(h, &held, &lease));
    CHECK(held == false);
    EXPECT(tessera_handle_install_lease(NULL, (const uint8_t *)"x", 1, &lease), TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_handle_install_lease(h, NULL, 5, &lease), TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_handle_install_lease(h, (const uint8_t *)"x", 1, NULL), TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_handle_install_lease(h, NULL, 0, &lease), TESSERA_ERR_EMPTY);
    EXPECT(tessera_handle_install_lease(h, (const uint8_t *)"junk", 4, &lease), TESSERA_ERR_MALFORMED);
    {
        /* A license file is not a lease: another kind of signed document. */
        size_t len = 0;
        char *file = read_file("license.lic", &len);
        EXPECT(tessera_handle_install_lease(h, (const uint8_t *)file, len, &lease), TESSERA_ERR_MALFORMED);
        free(file);
    }
    EXPECT(tessera_handle_return_borrow(NULL), TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_handle_return_borrow(h), TESSERA_ERR_INVALID_ARGUMENT);

    EXPECT(tessera_handle_next_check_in(NULL, &due, &at), TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_handle_next_check_in(h, NULL, &at), TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_handle_next_check_in(h, &due, NULL), TESSERA_ERR_NULL_POINTER);
    OK(tessera_handle_next_check_in(h, &due, &at));
    CHECK(due == true && at == T2030 + 90 * DAY);

    EXPECT(tessera_handle_save_clock(NULL), TESSERA_ERR_NULL_POINTER);
    OK(tessera_handle_save_clock(h));
    tessera_handle_free(&h);
    CHECK(h == NULL);
    tessera_handle_free(&h);
    tessera_handle_free(NULL);

    /* Another device (a different id) cannot open this device's state. */
    {
        tessera_config *other = config_for("acme", "handle", now, "device-B");
        EXPECT(tessera_handle_open(other, &h), TESSERA_ERR_STORE_FROM_OTHER_DEVICE);
        CHECK(h == NULL);
        tessera_config_free(&other);
    }
    /* The clock turned back two days before the signed issue time: tampering.
     * (A fixed test time never raises the mark kept in the state, so the mark
     * here is the license's signed issue time.) */
    {
        tessera_config *back = config_for("acme", "handle", T2030 - 2 * DAY, "device-A");
        EXPECT(tessera_handle_open(back, &h), TESSERA_ERR_CLOCK_TAMPERED);
        tessera_config_free(&back);
    }
    /* Sixty days on, past the check-in date plus its grace. */
    {
        tessera_config *later = config_for("acme", "handle", T2030 + 100 * DAY, "device-A");
        OK(tessera_handle_open(later, &h));
        OK(tessera_handle_check(h, &status));
        CHECK(status == TESSERA_STATUS_CHECK_IN_REQUIRED);
        OK(tessera_handle_feature(h, "pdf-export", &feature));
        CHECK(feature.state == TESSERA_FEATURE_LICENSE_UNUSABLE);
        CHECK(feature.license_status == TESSERA_STATUS_CHECK_IN_REQUIRED);
        OK(tessera_handle_validate(h, &v));
        OK(tessera_validation_reasons(v, buf, sizeof buf, &n));
        CHECK(n > 0 && contains(buf, "check"));
        tessera_validation_free(&v);
        tessera_handle_free(&h);
        tessera_config_free(&later);
    }
    {
        bool was = false;
        OK(tessera_deactivate(c, "C-ABI-0001", &was));
        CHECK(was == true);
        OK(tessera_deactivate(c, "C-ABI-0001", &was));
        CHECK(was == false);
        EXPECT(tessera_handle_open(c, &h), TESSERA_ERR_NOT_ACTIVATED);
    }
    tessera_config_free(&c);
}

static void test_consumption(void) {
    tessera_config *c = config_for("acme", "consumption", T2030 + DAY, "device-A");
    tessera_handle *h = NULL;
    tessera_usage usage, before;

    activate_file(c, "consumption.lic");
    OK(tessera_handle_open(c, &h));
    EXPECT(tessera_handle_consume(NULL, NULL, 1, &usage), TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_handle_consume(h, NULL, 1, NULL), TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_handle_consume(h, NULL, 0, &usage), TESSERA_ERR_INVALID_ARGUMENT);
    EXPECT(tessera_handle_consume(h, "", 1, &usage), TESSERA_ERR_INVALID_ARGUMENT);
    EXPECT(tessera_handle_consume(h, "\xff", 1, &usage), TESSERA_ERR_INVALID_UTF8);

    OK(tessera_handle_consume(h, NULL, 2, &usage));
    CHECK(usage.used == 2 && !usage.unlimited && usage.limit == 5 && usage.remaining == 3);
    CHECK(usage.resets && usage.resets_at == T2030 + 31 * DAY); /* 1 February */
    /* Past the limit: refused, nothing changes. */
    EXPECT(tessera_handle_consume(h, NULL, 4, &usage), TESSERA_ERR_CONSUMPTION_LIMIT);
    CHECK(contains(last_message(), "license"));
    OK(tessera_handle_usage(h, NULL, &before));
    CHECK(before.used == 2);
    OK(tessera_handle_consume(h, NULL, 3, &usage));
    CHECK(usage.used == 5 && usage.remaining == 0);

    /* A consumption feature, unlimited. */
    OK(tessera_handle_consume(h, "ocr", 7, &usage));
    CHECK(usage.used == 7 && usage.unlimited && usage.limit == 0 && !usage.resets);
    EXPECT(tessera_handle_consume(h, "no-such-feature", 1, &usage), TESSERA_ERR_FEATURE_UNAVAILABLE);
    EXPECT(tessera_handle_usage(NULL, "ocr", &usage), TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_handle_usage(h, "ocr", NULL), TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_handle_usage(h, "", &usage), TESSERA_ERR_INVALID_ARGUMENT);
    tessera_handle_free(&h);

    /* The counters are on disk: a new handle sees them. */
    OK(tessera_handle_open(c, &h));
    OK(tessera_handle_usage(h, NULL, &usage));
    CHECK(usage.used == 5);
    OK(tessera_handle_usage(h, "ocr", &usage));
    CHECK(usage.used == 7);
    tessera_handle_free(&h);
    tessera_config_free(&c);
}

/* Several threads share one handle: checks, consumption and last errors. */
#define THREADS 8
#define PER_THREAD 25

struct worker {
    const tessera_handle *h;
    int failures;
};

static void *work(void *arg) {
    struct worker *w = arg;
    tessera_status status;
    tessera_usage usage;
    tessera_result r;
    int i;
    /* Each thread's last error is its own. */
    if (tessera_last_error_code() != TESSERA_OK) w->failures++;
    if (tessera_handle_check(w->h, NULL) != TESSERA_ERR_NULL_POINTER) w->failures++;
    for (i = 0; i < PER_THREAD; i++) {
        if (tessera_handle_check(w->h, &status) != TESSERA_OK || status != TESSERA_STATUS_VALID)
            w->failures++;
        r = tessera_handle_consume(w->h, "ocr", 1, &usage);
        if (r != TESSERA_OK) w->failures++;
    }
    if (tessera_last_error_code() != TESSERA_ERR_NULL_POINTER) w->failures++;
    return NULL;
}

static void test_threads(void) {
    tessera_config *c = config_for("acme", "threads", T2030 + DAY, "device-A");
    tessera_handle *h = NULL;
    pthread_t threads[THREADS];
    struct worker workers[THREADS];
    tessera_usage usage;
    int i;

    activate_file(c, "consumption.lic");
    OK(tessera_handle_open(c, &h));
    EXPECT(tessera_config_new(NULL, NULL), TESSERA_ERR_NULL_POINTER); /* main's last error */
    for (i = 0; i < THREADS; i++) {
        workers[i].h = h;
        workers[i].failures = 0;
        CHECK(pthread_create(&threads[i], NULL, work, &workers[i]) == 0);
    }
    for (i = 0; i < THREADS; i++) {
        CHECK(pthread_join(threads[i], NULL) == 0);
        CHECK(workers[i].failures == 0);
    }
    OK(tessera_handle_usage(h, "ocr", &usage));
    CHECK(usage.used == THREADS * PER_THREAD);
    CHECK(tessera_last_error_code() == TESSERA_ERR_NULL_POINTER);
    tessera_handle_free(&h);
    tessera_config_free(&c);
}

/* Writes `len` bytes to FIXTURES_DIR/name. */
static void write_file(const char *name, const char *data, size_t len) {
    char path[1024];
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", fixtures, name);
    f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(2);
    }
    fclose(f);
}

/* Runs the vendor CLI with `args` (paths relative to FIXTURES_DIR);
 * returns its exit status. */
static int vendor(const char *args) {
    char command[4096];
#ifdef _WIN32
    /* cmd.exe: double quotes, and /d to change drive too. */
    snprintf(command, sizeof command, "cd /d \"%s\" && \"%s\" %s >cli.out 2>&1", fixtures, cli, args);
#else
    snprintf(command, sizeof command, "cd '%s' && '%s' %s >cli.out 2>&1", fixtures, cli, args);
#endif
    return system(command);
}

/* Reads a string output into a malloc'd buffer with a size query first. */
static char *read_out(tessera_result (*fn)(const tessera_config *, char *, size_t, size_t *),
                      const tessera_config *c) {
    size_t n = 0;
    char *buf;
    OK(fn(c, NULL, 0, &n));
    buf = malloc(n + 1);
    OK(fn(c, buf, n + 1, &n));
    return buf;
}

static void test_offline(void) {
    tessera_config *c = config_for("acme", "offline", T2030 + DAY, "device-A");
    tessera_handle *h = NULL;
    tessera_status status = 99;
    char buf[64];
    size_t n = 0, len = 0;
    char *request, *response, *deactivation;

    EXPECT(tessera_offline_pending_request(c, buf, sizeof buf, &n), TESSERA_ERR_OFFLINE_NO_REQUEST);
    EXPECT(tessera_offline_request_activation(NULL, TESSERA_CREDENTIAL_LICENSE_KEY, "k"), TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_offline_request_activation(c, TESSERA_CREDENTIAL_LICENSE_KEY, NULL), TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_offline_request_activation(c, 7, "k"), TESSERA_ERR_INVALID_ARGUMENT);
    EXPECT(tessera_offline_request_activation(c, TESSERA_CREDENTIAL_LICENSE_KEY, ""), TESSERA_ERR_INVALID_ARGUMENT);
    EXPECT(tessera_offline_request_activation(c, TESSERA_CREDENTIAL_USER, "\xff"), TESSERA_ERR_INVALID_UTF8);
    EXPECT(tessera_offline_pending_request(c, buf, sizeof buf, &n), TESSERA_ERR_OFFLINE_NO_REQUEST);

    OK(tessera_offline_request_activation(c, TESSERA_CREDENTIAL_LICENSE_KEY, "TEST-ONLY-C-ABI"));
    request = read_out(tessera_offline_pending_request, c);
    CHECK(contains(request, "-----BEGIN TESSERA OFFLINE REQUEST-----"));
    write_file("offline.req", request, strlen(request));
    CHECK(vendor("offline respond --key vendor.key --spec offline-spec.json --request offline.req "
                 "--out offline.res --at 2030-01-01T12:00:00Z") == 0);
    response = read_file("offline.res", &len);

    EXPECT(tessera_offline_import_response(NULL, (const uint8_t *)response, len), TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_offline_import_response(c, NULL, len), TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_offline_import_response(c, NULL, 0), TESSERA_ERR_EMPTY);
    EXPECT(tessera_offline_import_response(c, (const uint8_t *)request, strlen(request)), TESSERA_ERR_MALFORMED);
    /* Another device cannot use this device's response. */
    {
        tessera_config *other = config_for("acme", "offline-other", T2030 + DAY, "device-B");
        OK(tessera_offline_request_activation(other, TESSERA_CREDENTIAL_LICENSE_KEY, "TEST-ONLY-C-ABI"));
        EXPECT(tessera_offline_import_response(other, (const uint8_t *)response, len), TESSERA_ERR_OFFLINE_REPLAY);
        tessera_config_free(&other);
    }
    OK(tessera_offline_import_response(c, (const uint8_t *)response, len));
    EXPECT(tessera_offline_import_response(c, (const uint8_t *)response, len), TESSERA_ERR_OFFLINE_NO_REQUEST);
    OK(tessera_handle_open(c, &h));
    OK(tessera_handle_check(h, &status));
    CHECK(status == TESSERA_STATUS_VALID);
    tessera_handle_free(&h);

    EXPECT(tessera_offline_request_deactivation(c, NULL), TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_offline_request_deactivation(c, "not-here"), TESSERA_ERR_NOT_ACTIVATED);
    EXPECT(tessera_offline_deactivation_request(c, buf, sizeof buf, &n), TESSERA_ERR_OFFLINE_NO_REQUEST);
    OK(tessera_offline_request_deactivation(c, "C-ABI-OFFLINE"));
    EXPECT(tessera_handle_open(c, &h), TESSERA_ERR_NOT_ACTIVATED);
    deactivation = read_out(tessera_offline_deactivation_request, c);
    write_file("offline-deactivate.req", deactivation, strlen(deactivation));
    CHECK(vendor("offline read offline-deactivate.req") == 0);
    /* An edited request is refused by the vendor. */
    deactivation[strstr(deactivation, "\n\n") - deactivation + 12] ^= 1;
    write_file("offline-edited.req", deactivation, strlen(deactivation));
    CHECK(vendor("offline read offline-edited.req") != 0);

    free(request);
    free(response);
    free(deactivation);
    tessera_config_free(&c);
}

static void test_airgap(void) {
    tessera_config *c = config_for("acme", "airgap", T2030 + DAY, "device-A");
    tessera_handle *h = NULL;
    char code[TESSERA_AIRGAP_INIT_CODE_LEN + 1];
    char args[512];
    size_t n = 0, len = 0;
    char *secret = read_file("vendor.secret", &n);
    char *license = read_file("airgap.lic", &len);
    char *confirmation;

    /* No vendor secret (a short one is none). */
    OK(tessera_config_set_secret(c, NULL, 0));
    EXPECT(tessera_airgap_initialization_code(c, code, sizeof code, &n), TESSERA_ERR_INVALID_ARGUMENT);
    {
        /* One byte short of TESSERA_MIN_SECRET_LEN is no secret either. */
        uint8_t short_secret[TESSERA_MIN_SECRET_LEN];
        memset(short_secret, 'k', sizeof short_secret);
        OK(tessera_config_set_secret(c, short_secret, TESSERA_MIN_SECRET_LEN - 1));
        EXPECT(tessera_airgap_initialization_code(c, code, sizeof code, &n), TESSERA_ERR_INVALID_ARGUMENT);
    }
    OK(tessera_config_set_secret(c, (const uint8_t *)secret, strlen(secret)));
    EXPECT(tessera_airgap_initialization_code(NULL, code, sizeof code, &n), TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_airgap_initialization_code(c, code, sizeof code, NULL), TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_airgap_initialization_code(c, code, TESSERA_AIRGAP_INIT_CODE_LEN, &n), TESSERA_ERR_BUFFER_TOO_SMALL);
    CHECK(n == TESSERA_AIRGAP_INIT_CODE_LEN);
    OK(tessera_airgap_initialization_code(c, code, sizeof code, &n));
    CHECK(n == TESSERA_AIRGAP_INIT_CODE_LEN && strlen(code) == n && code[4] == '-');
    /* Misuse after the code went to the vendor: a NULL output, a NULL
     * buffer with a size, a size query. Each fails or answers the size
     * without making a new code, so the confirmation below still matches. */
    EXPECT(tessera_airgap_initialization_code(c, code, sizeof code, NULL), TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_airgap_initialization_code(c, NULL, sizeof code, &n), TESSERA_ERR_NULL_POINTER);
    OK(tessera_airgap_initialization_code(c, NULL, 0, &n));
    CHECK(n == TESSERA_AIRGAP_INIT_CODE_LEN);

    /* Plain activation of an air-gapped license is refused. */
    EXPECT(tessera_activate(c, (const uint8_t *)license, len), TESSERA_ERR_AIR_GAPPED);

    snprintf(args, sizeof args, "airgap confirm --init %s --license airgap.lic --secret-file vendor.secret", code);
    CHECK(vendor(args) == 0);
    confirmation = read_file("cli.out", NULL);
    confirmation[strcspn(confirmation, "\n")] = 0;
    CHECK(strlen(confirmation) == 20);

    EXPECT(tessera_airgap_activate(NULL, (const uint8_t *)license, len, confirmation), TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_airgap_activate(c, NULL, len, confirmation), TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_airgap_activate(c, (const uint8_t *)license, len, NULL), TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_airgap_activate(c, (const uint8_t *)license, len, "\xff"), TESSERA_ERR_INVALID_UTF8);
    {
        /* One character mistyped, then two neighbours swapped. */
        char typo[32];
        strcpy(typo, confirmation);
        typo[0] = typo[0] == '7' ? '8' : '7';
        EXPECT(tessera_airgap_activate(c, (const uint8_t *)license, len, typo), TESSERA_ERR_CODE_MISTYPED);
        strcpy(typo, confirmation);
        if (typo[1] != typo[2]) {
            char t = typo[1];
            typo[1] = typo[2];
            typo[2] = t;
            EXPECT(tessera_airgap_activate(c, (const uint8_t *)license, len, typo), TESSERA_ERR_CODE_MISTYPED);
        }
    }
    /* A code for this license but another device's initialization code. */
    {
        tessera_config *other = config_for("acme", "airgap-other", T2030 + DAY, "device-B");
        char other_code[TESSERA_AIRGAP_INIT_CODE_LEN + 1];
        OK(tessera_config_set_secret(other, (const uint8_t *)secret, strlen(secret)));
        OK(tessera_airgap_initialization_code(other, other_code, sizeof other_code, &n));
        EXPECT(tessera_airgap_activate(other, (const uint8_t *)license, len, confirmation), TESSERA_ERR_CODE_REJECTED);
        tessera_config_free(&other);
    }
    OK(tessera_airgap_activate(c, (const uint8_t *)license, len, confirmation));
    OK(tessera_handle_open(c, &h));
    tessera_handle_free(&h);

    free(secret);
    free(license);
    free(confirmation);
    tessera_config_free(&c);
}

/* Keygen files (the public samples of tests/vectors/keygen, copied by
 * fixtures.sh): verified with the Keygen demo account's key, imported,
 * opened like any activation. */
static void test_keygen(void) {
    const char *account = "e8601e48b69383ba520245fd07971e983d06d22c4257cfd82304601479cee788";
    const char *js_product = "3b682cb9-590b-4906-b688-ffef60eae8e0";
    const char *js_key = "8750AB-30B7BD-023BA9-31B601-4550A2-V3";
    size_t len = 0;
    char *file = read_file("keygen.lic", &len);
    tessera_config *c = config_for("acme", "keygen", 1893456000 /* 2030-01-01 */, "kg-device");

    /* No Keygen key trusted yet: unknown key, nothing activated. */
    CHECK(tessera_keygen_import(c, (const uint8_t *)file, len, js_key, NULL) ==
          TESSERA_ERR_UNKNOWN_KEY_ID);
    /* Argument checks before anything changes. */
    CHECK(tessera_config_add_keygen_key(c, account, "") == TESSERA_ERR_INVALID_ARGUMENT);
    CHECK(tessera_config_add_keygen_key(c, "not a key", js_product) == TESSERA_ERR_INVALID_KEY);
    CHECK(tessera_config_add_keygen_key(c, NULL, js_product) == TESSERA_ERR_NULL_POINTER);
    CHECK(tessera_keygen_import(NULL, (const uint8_t *)file, len, js_key, NULL) ==
          TESSERA_ERR_NULL_POINTER);
    CHECK(tessera_keygen_import(c, NULL, len, js_key, NULL) == TESSERA_ERR_NULL_POINTER);
    OK(tessera_config_add_keygen_key(c, account, js_product));

    /* The wrong license key does not decrypt; the Tessera key is not a Keygen key. */
    CHECK(tessera_keygen_import(c, (const uint8_t *)file, len, "WRONG", NULL) ==
          TESSERA_ERR_DECRYPTION_FAILED);
    CHECK(!contains(last_message(), js_key));
    CHECK(tessera_activate(c, (const uint8_t *)file, len) == TESSERA_ERR_MALFORMED);
    tessera_handle *h = NULL;
    CHECK(tessera_handle_open(c, &h) == TESSERA_ERR_NOT_ACTIVATED);

    OK(tessera_keygen_import(c, (const uint8_t *)file, len, js_key, NULL));
    OK(tessera_handle_open(c, &h));
    tessera_status status = TESSERA_STATUS_EXPIRED;
    OK(tessera_handle_check(h, &status));
    CHECK(status == TESSERA_STATUS_VALID);
    tessera_handle_free(&h);
    free(file);
    tessera_config_free(&c);

    /* Every decryptable public vector, at a second after its issue time. */
    {
        char *list = read_file("keygen-vectors.txt", NULL);
        char *line = strtok(list, "\n");
        int imported = 0;
        while (line) {
            char name[64], key[64], product[64], fp[80], state[80];
            long long at = 0;
            if (sscanf(line, "%63s %63s %63s %79s %lld", name, key, product, fp, &at) == 5) {
                size_t n = 0;
                char *text = read_file(name, &n);
                tessera_handle *vh = NULL;
                tessera_status vs = TESSERA_STATUS_EXPIRED;
                snprintf(state, sizeof state, "keygen-vector-%d", imported);
                tessera_config *vc = config_for("acme", state, (int64_t)at, "kg-vector");
                OK(tessera_config_add_keygen_key(vc, account, product));
                OK(tessera_keygen_import(vc, (const uint8_t *)text, n, key,
                                         strcmp(fp, "-") == 0 ? NULL : fp));
                OK(tessera_handle_open(vc, &vh));
                OK(tessera_handle_check(vh, &vs));
                CHECK(vs == TESSERA_STATUS_VALID);
                tessera_handle_free(&vh);
                tessera_config_free(&vc);
                free(text);
                imported++;
            }
            line = strtok(NULL, "\n");
        }
        CHECK(imported == 10);
        free(list);
    }

    /* A machine file: only with its machine's fingerprint. */
    file = read_file("keygen-machine.lic", &len);
    c = config_for("acme", "keygen-machine", 1704067200 /* 2024-01-01 */, "kg-machine");
    OK(tessera_config_add_keygen_key(c, account, "174c3c8f-6d7f-4161-aa8e-54231ab0b911"));
    const char *rust_key = "988214-879010-F1185E-B37E91-E53AF5-V3";
    CHECK(tessera_keygen_import(c, (const uint8_t *)file, len, rust_key, NULL) ==
          TESSERA_ERR_INVALID_ARGUMENT);
    CHECK(tessera_keygen_import(c, (const uint8_t *)file, len, rust_key, "another-machine") ==
          TESSERA_ERR_DECRYPTION_FAILED);
    OK(tessera_keygen_import(c, (const uint8_t *)file, len, rust_key,
                             "af249c134edd21c508e2114f0dd52628caf36e002edd9cada71eedb2d52f6841"));
    OK(tessera_handle_open(c, &h));
    OK(tessera_handle_check(h, &status));
    CHECK(status == TESSERA_STATUS_VALID);
    tessera_handle_free(&h);
    free(file);
    tessera_config_free(&c);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s FIXTURES_DIR TESSERA_CLI\n", argv[0]);
        return 2;
    }
    fixtures = argv[1];
    cli = argv[2];
#if defined(__SANITIZE_ADDRESS__)
    printf("built with AddressSanitizer\n");
#endif
    test_last_error(); /* first: nothing failed on this thread yet */
    test_info();
    test_config();
    test_fingerprint();
    test_activation_errors();
    test_handle();
    test_consumption();
    test_threads();
    test_offline();
    test_airgap();
    test_keygen();
    printf("%d checks, %d failed\n", checks, failures);
    return failures == 0 ? 0 : 1;
}
