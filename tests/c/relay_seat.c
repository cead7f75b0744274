/* One product on a relay's network (docs/RELAY.md): it activates with the
 * pool's key at the relay, takes a floating seat and says so ("seat", or
 * "refused <code>"), waits for a line on standard input, gives the seat
 * back and exits. bindings/python/tests/test_relay.py runs twenty of these
 * beside twenty Rust and twenty Python clients; scripts/c-tests.sh runs
 * one under valgrind.
 *
 *     relay_seat RELAY_URL STATE_DIR DEVICE_ID
 *
 * The product, its API key (hex), the vendor's public key and the pool's
 * key come from tests/online/harness.py's TESSERA_TEST_* variables. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tessera.h"

static const char *env(const char *name) {
    const char *v = getenv(name);
    if (!v) {
        fprintf(stderr, "relay_seat: %s is not set (run under tests/online/harness.py)\n", name);
        exit(2);
    }
    return v;
}

static char *read_all(const char *path) {
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;
    if (!f) exit(2);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = calloc((size_t)n + 1, 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) exit(2);
    fclose(f);
    return buf;
}

static int fail(const char *what, tessera_result r) {
    char message[512];
    size_t len = 0;
    message[0] = '\0';
    tessera_last_error_message(message, sizeof message, &len);
    fprintf(stderr, "relay_seat: %s: %s: %s\n", what, tessera_result_name(r), message);
    return 1;
}

int main(int argc, char **argv) {
    const char secret[] = "test-only vendor secret, not a real one";
    const char *hex = env("TESSERA_TEST_PRODUCT_KEY_HEX");
    unsigned char key[64];
    size_t key_len = 0, i;
    tessera_config *config = NULL;
    tessera_server *server = NULL;
    tessera_connection *conn = NULL;
    tessera_handle *handle = NULL;
    tessera_lease_info lease;
    tessera_status status;
    tessera_result r;
    char line[64];
    char *pub;
    int code = 0;

    if (argc != 4) {
        fprintf(stderr, "usage: relay_seat RELAY_URL STATE_DIR DEVICE_ID\n");
        return 2;
    }
    for (i = 0; hex[2 * i] && hex[2 * i + 1] && i < sizeof key; i++) {
        unsigned int b;
        if (sscanf(hex + 2 * i, "%2x", &b) != 1) return 2;
        key[i] = (unsigned char)b;
    }
    key_len = i;
    pub = read_all(env("TESSERA_TEST_VENDOR_PUB"));
    if ((r = tessera_config_new(env("TESSERA_TEST_PRODUCT"), &config)) != TESSERA_OK ||
        (r = tessera_config_add_public_key(config, pub)) != TESSERA_OK ||
        (r = tessera_config_set_store_dir(config, argv[2])) != TESSERA_OK ||
        (r = tessera_config_set_secret(config, (const uint8_t *)secret, sizeof secret - 1)) != TESSERA_OK ||
        (r = tessera_config_set_custom_device_id(config, argv[3])) != TESSERA_OK)
        return fail("config", r);
    free(pub);
    /* Only the server address changes: the relay's. */
    if ((r = tessera_server_new(argv[1], key, key_len, &server)) != TESSERA_OK ||
        (r = tessera_connection_new(config, server, &conn)) != TESSERA_OK)
        return fail("connection", r);
    tessera_server_free(&server);
    if ((r = tessera_online_activate_key(conn, env("TESSERA_TEST_POOL_KEY"))) != TESSERA_OK)
        return fail("activate", r);
    if ((r = tessera_handle_open(config, &handle)) != TESSERA_OK) return fail("open", r);
    r = tessera_online_register(conn, handle, &lease);
    if (r == TESSERA_OK) {
        if (tessera_handle_check(handle, &status) != TESSERA_OK || status != TESSERA_STATUS_VALID)
            return fail("check", r);
        printf("seat\n");
    } else if (r == TESSERA_ERR_SERVER_REFUSED) {
        char message[512];
        size_t len = 0;
        tessera_last_error_message(message, sizeof message, &len);
        printf("refused %s\n", strstr(message, "no_seat_available") ? "no_seat_available" : message);
    } else {
        return fail("register", r);
    }
    fflush(stdout);
    if (!fgets(line, sizeof line, stdin)) line[0] = '\0';
    if (r == TESSERA_OK) {
        if ((r = tessera_online_release(conn)) != TESSERA_OK) code = fail("release", r);
        else printf("released\n");
    }
    tessera_handle_free(&handle);
    tessera_connection_free(&conn);
    tessera_config_free(&config);
    return code;
}
