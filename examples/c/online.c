/* The whole online loop in C, as examples/online.rs does it in Rust:
 * activate, take a floating seat, consume and upload exactly once, borrow,
 * keep working while the server is away, sync when it is back, deactivate.
 *
 *   online URL PRODUCT PRODUCT_KEY_HEX LICENSE_KEY VENDOR_PUBLIC_KEY STATE_DIR
 *
 * URL is the license server (tessera-server); PRODUCT_KEY_HEX the
 * product's shared key from its admin API, in hex. At step 6 it asks you
 * to stop the server and at step 7 to start it again
 * (tests/online/harness.py answers both in the test command). Every
 * tessera_online_* call blocks until the server answers or the deadline
 * passes; a real product makes them off its UI thread. */
#include <tessera.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The product's vendor secret: its own, built in, at least 16 bytes. */
#define VENDOR_SECRET "example vendor secret, not a real one"

static char *slurp(const char *path) {
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
    } else {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

static void step(const char *text) {
    printf("\n== %s\n", text);
    fflush(stdout);
}

static void wait_for_enter(void) {
    int c;
    while ((c = getchar()) != EOF && c != '\n') {
    }
}

/* Prints the failed call's code and message; returns the result. */
static tessera_result report(const char *what, tessera_result r) {
    char msg[512] = "";
    size_t n = 0;
    if (r != TESSERA_OK) {
        tessera_last_error_message(msg, sizeof msg, &n);
        fprintf(stderr, "%s failed: %s: %s\n", what, tessera_result_name(r), msg);
    }
    return r;
}

#define TRY(call)                                                              \
    do {                                                                       \
        if (report(#call, (call)) != TESSERA_OK) goto done;                    \
    } while (0)

static void on_change(void *user_data, tessera_status old_status, tessera_status new_status,
                      const char *reason) {
    (void)user_data;
    printf("   status %s -> %s: %s\n", tessera_status_name(old_status),
           tessera_status_name(new_status), reason);
    fflush(stdout);
}

int main(int argc, char **argv) {
    tessera_config *config = NULL;
    tessera_server *server = NULL;
    tessera_connection *conn = NULL;
    tessera_handle *handle = NULL;
    tessera_session *seat = NULL;
    tessera_auto_sync *auto_sync = NULL;
    tessera_auto_sync_options options;
    tessera_lease_info lease;
    tessera_usage usage;
    tessera_upload first, again;
    tessera_status status;
    tessera_result r, last;
    unsigned char key[64];
    size_t key_len = 0;
    unsigned int byte;
    uint64_t syncs = 0, failures = 0;
    char id[128];
    size_t id_len = 0;
    char *pub;
    int rc = 1;

    if (argc != 7) {
        fprintf(stderr,
                "usage: %s URL PRODUCT PRODUCT_KEY_HEX LICENSE_KEY VENDOR_PUBLIC_KEY STATE_DIR\n",
                argv[0]);
        return 2;
    }
    while (key_len < sizeof key && sscanf(argv[3] + 2 * key_len, "%2x", &byte) == 1)
        key[key_len++] = (unsigned char)byte;
    pub = slurp(argv[5]);
    if (!pub) {
        fprintf(stderr, "cannot read %s\n", argv[5]);
        return 2;
    }

    TRY(tessera_config_new(argv[2], &config));
    TRY(tessera_config_add_public_key(config, pub));
    TRY(tessera_config_set_store_dir(config, argv[6]));
    TRY(tessera_config_set_secret(config, (const uint8_t *)VENDOR_SECRET,
                                  sizeof VENDOR_SECRET - 1));
    TRY(tessera_server_new(argv[1], key, key_len, &server));
    /* 2 attempts, 50 ms backoff; defaults for the rest (10 s, 30 s). */
    TRY(tessera_server_set_limits(server, 0, 0, 2, 50));
    TRY(tessera_connection_new(config, server, &conn));

    step("1. Activate online by license key");
    TRY(tessera_online_activate_key(conn, argv[4]));
    TRY(tessera_handle_open(config, &handle));
    TRY(tessera_handle_license_text(handle, TESSERA_TEXT_LICENSE_ID, id, sizeof id, &id_len));
    TRY(tessera_handle_check(handle, &status));
    printf("activated %s; before a seat: %s\n", id, tessera_status_name(status));

    step("2. Take a floating seat (a heartbeat thread keeps it)");
    TRY(tessera_session_open(conn, handle, 0, &seat));
    TRY(tessera_session_beat(seat, &lease));
    TRY(tessera_handle_check(handle, &status));
    printf("seat held for %lld minutes: %s\n", (long long)((lease.seconds_left + 30) / 60),
           tessera_status_name(status));

    step("3. Consume 3 renders and upload them (exactly once)");
    TRY(tessera_handle_consume(handle, "render", 3, &usage));
    TRY(tessera_online_upload_consumption(conn, handle, &first));
    TRY(tessera_online_upload_consumption(conn, handle, &again));
    printf("used %llu of %llu; uploaded %llu record(s), then %llu\n",
           (unsigned long long)usage.used, (unsigned long long)usage.limit,
           (unsigned long long)first.sent, (unsigned long long)again.sent);

    step("4. The seat is back; borrow one for 8 hours, to work offline");
    TRY(tessera_session_close(&seat));
    TRY(tessera_online_borrow(conn, handle, 8, &lease));
    TRY(tessera_handle_check(handle, &status));
    printf("borrowed for %lld hours: %s\n", (long long)((lease.seconds_left + 1800) / 3600),
           tessera_status_name(status));

    step("5. Keep the license in sync from a background thread (status changes print here)");
    memset(&options, 0, sizeof options);
    options.no_seat = true; /* the borrowed seat serves */
    options.retry_secs = 1;
    options.on_change = on_change;
    TRY(tessera_auto_sync_start(conn, handle, &options, &auto_sync));

    step("6. Offline: stop the server, then press Enter");
    wait_for_enter();
    TRY(tessera_handle_check(handle, &status));
    printf("check: %s\n", tessera_status_name(status));
    TRY(tessera_handle_consume(handle, "render", 2, &usage));
    r = tessera_online_check_in(conn);
    if (r != TESSERA_ERR_NETWORK) {
        fprintf(stderr, "a check-in with the server down gave %s\n", tessera_result_name(r));
        goto done;
    }
    printf("check-in: %s (the license keeps working offline)\n", tessera_result_name(r));

    step("7. Back online: start the server, then press Enter");
    wait_for_enter();
    TRY(tessera_online_sync(conn, handle));
    TRY(tessera_handle_check(handle, &status));
    printf("synced (the 2 renders went up): %s\n", tessera_status_name(status));

    step("8. Stop the auto-sync, return the borrowed seat and deactivate");
    TRY(tessera_auto_sync_record(auto_sync, &syncs, &failures, &last));
    tessera_auto_sync_stop(&auto_sync);
    printf("the auto-sync made %llu sync(s) and saw %llu failure(s)\n",
           (unsigned long long)syncs, (unsigned long long)failures);
    TRY(tessera_online_return_borrow(conn, handle));
    TRY(tessera_online_deactivate(conn));
    printf("deactivated\n");
    rc = 0;

done:
    tessera_auto_sync_stop(&auto_sync);
    tessera_session_free(&seat);
    tessera_handle_free(&handle);
    tessera_connection_free(&conn);
    tessera_server_free(&server);
    tessera_config_free(&config);
    free(pub);
    return rc;
}
