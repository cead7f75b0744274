/* The product's side in C: activate a license file on this device, open
 * it, and ask what the product needs to know.
 *
 *   quickstart VENDOR_PUBLIC_KEY LICENSE_FILE STATE_DIR
 *
 * Build with pkg-config (`cc quickstart.c $(pkg-config --cflags --libs
 * tessera)`) or CMake (find_package(Tessera), see CMakeLists.txt). */
#include <tessera.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The product's vendor secret: its own, built in, at least 16 bytes. */
#define VENDOR_SECRET "example vendor secret, not a real one"

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) == (size_t)n) {
        buf[n] = 0;
        *len = (size_t)n;
    } else {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

/* Prints the failed call's code and message and returns 1. */
static int fail(const char *what, tessera_result r) {
    char msg[512] = "";
    size_t n = 0;
    tessera_last_error_message(msg, sizeof msg, &n);
    fprintf(stderr, "%s failed: %s: %s\n", what, tessera_result_name(r), msg);
    return 1;
}

int main(int argc, char **argv) {
    tessera_config *config = NULL;
    tessera_handle *handle = NULL;
    tessera_validation *report = NULL;
    tessera_status status;
    tessera_feature_info feature;
    char text[1024];
    size_t len = 0, key_len = 0, file_len = 0;
    char *key, *file;
    tessera_result r;
    int rc = 1;

    if (argc != 4) {
        fprintf(stderr, "usage: %s VENDOR_PUBLIC_KEY LICENSE_FILE STATE_DIR\n", argv[0]);
        return 2;
    }
    key = slurp(argv[1], &key_len);
    file = slurp(argv[2], &file_len);
    if (!key || !file) {
        fprintf(stderr, "cannot read the key or the license file\n");
        free(key);
        free(file);
        return 2;
    }
    printf("tessera %s (C ABI %u)\n", tessera_version(), tessera_abi_version());

    if ((r = tessera_config_new("acme-cad", &config)) != TESSERA_OK) { rc = fail("config", r); goto done; }
    if ((r = tessera_config_add_public_key(config, key)) != TESSERA_OK) { rc = fail("public key", r); goto done; }
    /* Every product builds in a vendor secret of its own, at least 16 bytes. */
    if ((r = tessera_config_set_secret(config, (const uint8_t *)VENDOR_SECRET, strlen(VENDOR_SECRET))) != TESSERA_OK) { rc = fail("secret", r); goto done; }
    if ((r = tessera_config_set_store_dir(config, argv[3])) != TESSERA_OK) { rc = fail("store dir", r); goto done; }
    if ((r = tessera_fingerprint(config, text, sizeof text, &len)) != TESSERA_OK) { rc = fail("fingerprint", r); goto done; }
    printf("this device: %s\n", text);

    if ((r = tessera_activate(config, (const uint8_t *)file, file_len)) != TESSERA_OK) { rc = fail("activate", r); goto done; }
    printf("activated\n");
    if ((r = tessera_handle_open(config, &handle)) != TESSERA_OK) { rc = fail("open", r); goto done; }
    tessera_config_free(&config); /* the handle keeps what it needs */

    if ((r = tessera_handle_check(handle, &status)) != TESSERA_OK) { rc = fail("check", r); goto done; }
    printf("status: %s\n", tessera_status_name(status));
    if ((r = tessera_handle_validate(handle, &report)) != TESSERA_OK) { rc = fail("validate", r); goto done; }
    if ((r = tessera_validation_reasons(report, text, sizeof text, &len)) != TESSERA_OK) { rc = fail("reasons", r); goto done; }
    if (len > 0) printf("why: %s\n", text);
    if ((r = tessera_handle_feature(handle, "pdf-export", &feature)) != TESSERA_OK) { rc = fail("feature", r); goto done; }
    printf("pdf-export: %s\n", feature.state == TESSERA_FEATURE_ENABLED ? "enabled" : "not available");
    rc = (status == TESSERA_STATUS_VALID || status == TESSERA_STATUS_VALID_IN_GRACE) ? 0 : 3;

done:
    tessera_validation_free(&report);
    tessera_handle_free(&handle);
    tessera_config_free(&config);
    free(key);
    free(file);
    return rc;
}
