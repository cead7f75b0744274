/* The online half of the C ABI against the real license server on
 * loopback, through the real fault proxy (tests/online/harness.py starts
 * both and sets TESSERA_TEST_*): argument checks before any side effect,
 * activation by user and by key, a user's licenses, a trial key, a
 * floating session, consumption uploaded exactly once through dropped,
 * duplicated, refused, altered and replayed answers, a sync that switches
 * the open handle, an auto-sync whose callback hears the vendor's change,
 * borrowing, and deactivation.
 *
 * Usage (from scripts/c-tests.sh): harness.py BIN WORK run online_test
 * Prints one line per failed check and exits non-zero when any failed. */
#include "tessera.h"
#include "online_http.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

/* The server's consumption total for the license, as JSON text. */
static void totals(char *out, size_t cap) {
    char body[16384], path[256];
    const char *c;
    snprintf(path, sizeof path, "/admin/v1/licenses/%s", env("TESSERA_TEST_LICENSE_ID"));
    http(env("TESSERA_TEST_URL"), "GET", path, NULL, body, sizeof body);
    c = strstr(body, "\"consumption\":");
    snprintf(out, cap, "%.40s", c ? c : "(none)");
}

static void patch_license(const char *spec) {
    char path[256], body[1024];
    snprintf(path, sizeof path, "/admin/v1/licenses/%s", env("TESSERA_TEST_LICENSE_ID"));
    snprintf(body, sizeof body, "{\"spec\":%s}", spec);
    CHECK(http(env("TESSERA_TEST_URL"), "PATCH", path, body, NULL, 0) == 200);
}

static size_t hex_key(unsigned char *out, size_t cap) {
    const char *hex = env("TESSERA_TEST_PRODUCT_KEY_HEX");
    size_t n = 0;
    unsigned int byte;
    while (n < cap && sscanf(hex + 2 * n, "%2x", &byte) == 1) out[n++] = (unsigned char)byte;
    return n;
}

static char *read_all(const char *path) {
    FILE *f = fopen(path, "rb");
    long n;
    char *buf;
    if (!f) exit(2);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = calloc((size_t)n + 1, 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) exit(2);
    fclose(f);
    return buf;
}

/* What the auto-sync's callback heard, behind a lock. */
struct heard {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    int count;
    tessera_status old_status, new_status;
    char reason[256];
};

static void on_change(void *user_data, tessera_status old_status, tessera_status new_status,
                      const char *reason) {
    struct heard *h = user_data;
    pthread_mutex_lock(&h->lock);
    h->count++;
    h->old_status = old_status;
    h->new_status = new_status;
    snprintf(h->reason, sizeof h->reason, "%s", reason);
    pthread_cond_broadcast(&h->changed);
    pthread_mutex_unlock(&h->lock);
}

/* Waits (at most 20 s, for another thread) until the callback was called
 * `count` times. */
static int wait_heard(struct heard *h, int count) {
    struct timespec until;
    int ok;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 20;
    pthread_mutex_lock(&h->lock);
    while (h->count < count)
        if (pthread_cond_timedwait(&h->changed, &h->lock, &until) != 0) break;
    ok = h->count >= count;
    pthread_mutex_unlock(&h->lock);
    return ok;
}

/* Every line the SDK logs during the test, to search for secrets. */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char *logged = NULL;
static size_t logged_len = 0;
static int logged_lines = 0;

static void on_log(void *user_data, uint32_t level, const char *target, const char *message) {
    size_t n = strlen(target) + strlen(message) + 16;
    char *grown;
    (void)user_data;
    pthread_mutex_lock(&log_lock);
    grown = realloc(logged, logged_len + n + 1);
    if (grown) {
        logged = grown;
        logged_len += (size_t)snprintf(logged + logged_len, n + 1, "%u %s: %s\n", level, target, message);
        logged_lines++;
    }
    pthread_mutex_unlock(&log_lock);
}

/* A callback that tries to replace itself (issue 34, finding 13: that
   deadlocked; it is refused now). */
static int reentered = 0;
static tessera_result reentry = TESSERA_OK;

static void replaces_itself(void *user_data, uint32_t level, const char *target,
                            const char *message) {
    (void)user_data;
    (void)level;
    (void)target;
    (void)message;
    if (!reentered) {
        reentered = 1;
        reentry = tessera_set_log_callback(TESSERA_LOG_OFF, NULL, NULL);
    }
}

static void no_secret_logged(const char *what, const char *secret) {
    checks++;
    if (logged && strstr(logged, secret)) {
        failures++;
        fprintf(stderr, "the log holds the %s\n", what);
    }
}

static tessera_config *new_config(void) {
    tessera_config *config = NULL;
    char *pub = read_all(env("TESSERA_TEST_VENDOR_PUB"));
    const char secret[] = "test-only vendor secret, not a real one";
    OK(tessera_config_new(env("TESSERA_TEST_PRODUCT"), &config));
    OK(tessera_config_add_public_key(config, pub));
    OK(tessera_config_set_store_dir(config, env("TESSERA_TEST_STATE")));
    OK(tessera_config_set_secret(config, (const uint8_t *)secret, sizeof secret - 1));
    free(pub);
    return config;
}

static tessera_connection *connect_to(const tessera_config *config, const char *url,
                                      uint32_t attempts) {
    unsigned char key[64];
    size_t key_len = hex_key(key, sizeof key);
    tessera_server *server = NULL;
    tessera_connection *conn = NULL;
    OK(tessera_server_new(url, key, key_len, &server));
    OK(tessera_server_set_limits(server, 2000, 6000, attempts, 10));
    OK(tessera_connection_new(config, server, &conn));
    tessera_server_free(&server);
    return conn;
}

static void argument_checks(const tessera_config *config) {
    unsigned char key[64];
    size_t key_len = hex_key(key, sizeof key);
    tessera_server *server = NULL;
    tessera_connection *conn = NULL;
    tessera_lease_info lease;
    char buf[64];
    size_t len = 0;

    EXPECT(tessera_server_new(NULL, key, key_len, &server), TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_server_new(env("TESSERA_TEST_URL"), key, 0, &server),
           TESSERA_ERR_INVALID_ARGUMENT);
    EXPECT(tessera_server_new(env("TESSERA_TEST_URL"), key, key_len, NULL),
           TESSERA_ERR_NULL_POINTER);
    CHECK(server == NULL);
    /* Plain HTTP is for loopback only, and a URL must parse: both refused
       when the server is described (issue 34, finding 14). */
    EXPECT(tessera_server_new("http://licenses.example.com", key, key_len, &server),
           TESSERA_ERR_INVALID_ARGUMENT);
    EXPECT(tessera_server_new("http://127.0.0.1:99999", key, key_len, &server),
           TESSERA_ERR_INVALID_ARGUMENT);
    EXPECT(tessera_server_new("https://[::1", key, key_len, &server),
           TESSERA_ERR_INVALID_ARGUMENT);
    CHECK(server == NULL);
    OK(tessera_server_new(env("TESSERA_TEST_URL"), key, key_len, &server));
    EXPECT(tessera_server_set_proxy(server, 7, NULL), TESSERA_ERR_INVALID_ARGUMENT);
    EXPECT(tessera_server_set_proxy(server, TESSERA_PROXY_URL, NULL), TESSERA_ERR_NULL_POINTER);
    OK(tessera_server_set_proxy(server, TESSERA_PROXY_URL, "not a url"));
    EXPECT(tessera_connection_new(config, server, &conn), TESSERA_ERR_INVALID_ARGUMENT);
    OK(tessera_server_set_proxy(server, TESSERA_PROXY_DIRECT, NULL));
    OK(tessera_server_set_pinned_ca(server, "not a certificate"));
    EXPECT(tessera_connection_new(config, server, &conn), TESSERA_ERR_INVALID_ARGUMENT);
    OK(tessera_server_set_pinned_ca(server, NULL));
    EXPECT(tessera_connection_new(NULL, server, &conn), TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_connection_new(config, server, NULL), TESSERA_ERR_NULL_POINTER);
    OK(tessera_connection_new(config, server, &conn));
    tessera_server_free(&server);
    tessera_server_free(&server);
    CHECK(server == NULL);

    /* NULL everywhere it can be: refused before anything is sent. */
    fault("none");
    EXPECT(tessera_online_activate_key(NULL, "x"), TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_online_activate_key(conn, NULL), TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_online_activate_user(conn, "u", NULL, "id"), TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_online_user_licenses(conn, "u", "p", buf, sizeof buf, NULL),
           TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_online_trial_key(conn, NULL, buf, sizeof buf, NULL), TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_online_register(conn, NULL, &lease), TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_online_borrow(conn, NULL, 0, &lease), TESSERA_ERR_INVALID_ARGUMENT);
    EXPECT(tessera_online_sync(conn, NULL), TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_online_upload_consumption(conn, NULL, NULL), TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_session_open(conn, NULL, 0, NULL), TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_session_close(NULL), TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_auto_sync_start(conn, NULL, NULL, NULL), TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_auto_sync_now(NULL), TESSERA_ERR_NULL_POINTER);
    tessera_session_free(NULL);
    tessera_auto_sync_stop(NULL);
    /* Not activated yet: the calls that need an activation say so. */
    EXPECT(tessera_online_check_in(conn), TESSERA_ERR_NOT_ACTIVATED);
    EXPECT(tessera_online_deactivate(conn), TESSERA_ERR_NOT_ACTIVATED);
    /* A wrong key and a wrong password are the server's signed refusals. */
    EXPECT(tessera_online_activate_key(conn, "NOT-A-KEY"), TESSERA_ERR_SERVER_REFUSED);
    CHECK(tessera_last_error_code() == TESSERA_ERR_SERVER_REFUSED);
    EXPECT(tessera_online_user_licenses(conn, env("TESSERA_TEST_USERNAME"), "wrong-password",
                                        buf, sizeof buf, &len),
           TESSERA_ERR_SERVER_REFUSED);
    tessera_connection_free(&conn);
    tessera_connection_free(&conn);
    CHECK(conn == NULL);
}

/* The size of the file at `path`, or -1. */
static long long file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* The download helper (issue 38) against the releases the harness
   published, a channel each: the good file kept, a truncated and a
   swapped one refused and deleted, a release signed by a key the product
   does not trust refused before anything is fetched, and a server that
   stalls mid-file (the fault proxy) resumed at the next call. */
static void downloads(const tessera_config *config, const tessera_connection *conn) {
    char release[8192], path[1024], part[1024], expected[1024];
    char dir[] = "/tmp/tessera-download-XXXXXX";
    size_t len = 0, need = 0;
    tessera_connection *slow = NULL;
    unsigned char key[64];
    size_t key_len = hex_key(key, sizeof key);
    tessera_server *server = NULL;
    CHECK(mkdtemp(dir) != NULL);

    OK(tessera_online_latest_release(conn, NULL, "dl-good", release, sizeof release, &len));
    CHECK(strstr(release, "-----BEGIN TESSERA RELEASE-----") != NULL);
    /* A size query downloads, and the second call finds the file there. */
    OK(tessera_online_download_release(conn, release, dir, NULL, 0, &need));
    OK(tessera_online_download_release(conn, release, dir, path, sizeof path, &len));
    snprintf(expected, sizeof expected, "%s/acme-online-dl-good.bin", dir);
    CHECK(len == need && strcmp(path, expected) == 0);
    CHECK(file_size(path) == atoll(env("TESSERA_TEST_DOWNLOAD_SIZE")));

    OK(tessera_online_latest_release(conn, NULL, "dl-truncated", release, sizeof release, &len));
    EXPECT(tessera_online_download_release(conn, release, dir, path, sizeof path, &len),
           TESSERA_ERR_DOWNLOAD_REJECTED);
    OK(tessera_online_latest_release(conn, NULL, "dl-swapped", release, sizeof release, &len));
    EXPECT(tessera_online_download_release(conn, release, dir, path, sizeof path, &len),
           TESSERA_ERR_DOWNLOAD_REJECTED);
    snprintf(part, sizeof part, "%s/.acme-online-dl-swapped.bin.part", dir);
    CHECK(file_size(part) == -1);
    OK(tessera_online_latest_release(conn, NULL, "dl-stranger", release, sizeof release, &len));
    EXPECT(tessera_online_download_release(conn, release, dir, path, sizeof path, &len),
           TESSERA_ERR_UNKNOWN_KEY_ID);
    snprintf(expected, sizeof expected, "%s/acme-online-dl-stranger.bin", dir);
    CHECK(file_size(expected) == -1);
    EXPECT(tessera_online_download_release(conn, "{\"version\": 1}", dir, path, sizeof path, &len),
           TESSERA_ERR_INVALID_ARGUMENT);
    EXPECT(tessera_online_download_release(conn, NULL, dir, path, sizeof path, &len),
           TESSERA_ERR_NULL_POINTER);

    /* Through the fault proxy, with a one-second timeout: it stalls after
       512 KiB, the part stays, and the next call resumes it. */
    OK(tessera_server_new(env("TESSERA_TEST_PROXY"), key, key_len, &server));
    OK(tessera_server_set_limits(server, 1000, 3000, 1, 10));
    OK(tessera_connection_new(config, server, &slow));
    tessera_server_free(&server);
    OK(tessera_online_latest_release(conn, NULL, "dl-stall", release, sizeof release, &len));
    fault("stall/524288");
    EXPECT(tessera_online_download_release(slow, release, dir, path, sizeof path, &len),
           TESSERA_ERR_NETWORK);
    fault("none");
    snprintf(part, sizeof part, "%s/.acme-online-dl-stall.bin.part", dir);
    CHECK(file_size(part) == 524288);
    OK(tessera_online_download_release(slow, release, dir, path, sizeof path, &len));
    CHECK(file_size(path) == 2 * 1024 * 1024 && file_size(part) == -1);
    tessera_connection_free(&slow);

    CHECK(unlink(path) == 0);
    snprintf(expected, sizeof expected, "%s/acme-online-dl-good.bin", dir);
    CHECK(unlink(expected) == 0);
    CHECK(rmdir(dir) == 0); /* nothing else was left behind */
}

/* A browser, for the desktop sign-in: GET the provider's page, take its
   redirect (with `&state=` changed to `&state=forged` when asked), and GET
   that from the SDK's listener. Runs in its own thread, as the SDK waits. */
struct browser_trip {
    char url[2048];
    int forge_state;
};

static void *browse(void *arg) {
    struct browser_trip *trip = arg;
    char location[2048], altered[2100];
    if (http_location(trip->url, location, sizeof location)) {
        char *state = strstr(location, "&state=");
        if (trip->forge_state && state) {
            snprintf(altered, sizeof altered, "%.*s&state=forged%s", (int)(state - location), location,
                     state + strlen("&state="));
        } else {
            snprintf(altered, sizeof altered, "%s", location);
        }
        http_location(altered, NULL, 0);
    }
    free(trip);
    return NULL;
}

static int last_message_has(const char *words) {
    char message[1024];
    size_t n = 0;
    return tessera_last_error_message(message, sizeof message, &n) == TESSERA_OK &&
           strstr(message, words) != NULL;
}

struct sign_in_user {
    int forge_state;
    int cancel;
    const char *device_order; /* "approve" or "expire" */
    int shown;
    pthread_t browser;
    int browsing;
};

/* Waits for the browser thread, if one ran. */
static void browsed(struct sign_in_user *u) {
    if (u->browsing) CHECK(pthread_join(u->browser, NULL) == 0);
    u->browsing = 0;
}

static int32_t on_show(void *user_data, const char *url, const char *user_code) {
    struct sign_in_user *u = user_data;
    u->shown++;
    if (user_code) {
        char path[256];
        if (strcmp(u->device_order, "approve") == 0)
            snprintf(path, sizeof path, "/__control/approve/%s/%s", user_code, env("TESSERA_TEST_SSO_USER"));
        else
            snprintf(path, sizeof path, "/__control/%s/%s", u->device_order, user_code);
        CHECK(strstr(url, user_code) != NULL);
        CHECK(http(env("TESSERA_TEST_IDP"), "GET", path, NULL, NULL, 0) == 200);
        return 1;
    }
    if (!u->cancel) {
        struct browser_trip *trip = calloc(1, sizeof *trip);
        snprintf(trip->url, sizeof trip->url, "%s", url);
        trip->forge_state = u->forge_state;
        CHECK(pthread_create(&u->browser, NULL, browse, trip) == 0);
        u->browsing = 1;
    }
    return 1; /* opened: the SDK opens no browser of its own */
}

static int32_t on_cancel(void *user_data) {
    return ((struct sign_in_user *)user_data)->cancel;
}

/* The desktop sign-in (issue 39) from C against the loopback identity
   provider the harness started: each failure its own code and no
   activation, then both grants activate L-SSO. */
static void sign_in(const tessera_config *config, const tessera_connection *conn) {
    const char *user = env("TESSERA_TEST_SSO_USER");
    struct sign_in_user u;
    tessera_handle *h = NULL;
    char id[64];
    size_t len = 0;

    memset(&u, 0, sizeof u);
    u.forge_state = 1;
    EXPECT(tessera_online_sign_in(conn, user, TESSERA_GRANT_BROWSER, NULL, on_show, on_cancel, &u),
           TESSERA_ERR_SIGN_IN_FAILED);
    browsed(&u);
    CHECK(last_message_has("state"));
    memset(&u, 0, sizeof u);
    u.cancel = 1;
    EXPECT(tessera_online_sign_in(conn, user, TESSERA_GRANT_BROWSER, NULL, on_show, on_cancel, &u),
           TESSERA_ERR_CANCELLED);
    memset(&u, 0, sizeof u);
    u.device_order = "expire";
    EXPECT(tessera_online_sign_in(conn, user, TESSERA_GRANT_DEVICE, NULL, on_show, on_cancel, &u),
           TESSERA_ERR_SIGN_IN_FAILED);
    CHECK(last_message_has("expired"));
    EXPECT(tessera_online_sign_in(conn, user, TESSERA_GRANT_DEVICE, NULL, NULL, NULL, NULL),
           TESSERA_ERR_INVALID_ARGUMENT);
    EXPECT(tessera_online_sign_in(conn, user, 7, NULL, on_show, NULL, &u), TESSERA_ERR_INVALID_ARGUMENT);
    EXPECT(tessera_online_sign_in(conn, NULL, TESSERA_GRANT_BROWSER, NULL, on_show, NULL, &u),
           TESSERA_ERR_NULL_POINTER);
    EXPECT(tessera_online_sign_in(conn, "nobody@elsewhere.org", TESSERA_GRANT_BROWSER, NULL, on_show, NULL, &u),
           TESSERA_ERR_SERVER_REFUSED);
    EXPECT(tessera_handle_open(config, &h), TESSERA_ERR_NOT_ACTIVATED);

    memset(&u, 0, sizeof u);
    OK(tessera_online_sign_in(conn, user, TESSERA_GRANT_BROWSER, NULL, on_show, on_cancel, &u));
    browsed(&u);
    CHECK(u.shown == 1);
    OK(tessera_handle_open(config, &h));
    OK(tessera_handle_license_text(h, TESSERA_TEXT_LICENSE_ID, id, sizeof id, &len));
    CHECK(strcmp(id, "L-DESKTOP") == 0);
    tessera_handle_free(&h);
    OK(tessera_online_deactivate(conn));
    memset(&u, 0, sizeof u);
    u.device_order = "approve";
    OK(tessera_online_sign_in(conn, user, TESSERA_GRANT_DEVICE, "L-DESKTOP", on_show, NULL, &u));
    OK(tessera_handle_open(config, &h));
    tessera_handle_free(&h);
    OK(tessera_online_deactivate(conn));
}

int main(void) {
    tessera_config *config = new_config();
    tessera_connection *conn, *flaky;
    tessera_handle *handle = NULL;
    tessera_session *session = NULL;
    tessera_auto_sync *auto_sync = NULL;
    tessera_auto_sync_options options;
    tessera_lease_info lease;
    tessera_upload up;
    tessera_usage usage;
    tessera_status status;
    tessera_result last;
    struct heard heard;
    char buf[8192], total[64], trial[128];
    size_t len = 0, need = 0;
    uint64_t syncs = 0, failed = 0;
    bool held = false;

    EXPECT(tessera_set_log_callback(9, on_log, NULL), TESSERA_ERR_INVALID_ARGUMENT);
    argument_checks(config);
    conn = connect_to(config, env("TESSERA_TEST_URL"), 3);
    flaky = connect_to(config, env("TESSERA_TEST_PROXY"), 3);
    /* The log callback cannot replace itself from inside: refused, and the
       call that logged goes on. */
    OK(tessera_set_log_callback(TESSERA_LOG_TRACE, replaces_itself, NULL));
    OK(tessera_online_user_licenses(conn, env("TESSERA_TEST_USERNAME"),
                                    env("TESSERA_TEST_PASSWORD"), NULL, 0, &need));
    CHECK(reentered == 1 && reentry == TESSERA_ERR_INVALID_ARGUMENT);
    OK(tessera_set_log_callback(TESSERA_LOG_TRACE, on_log, NULL));

    /* A user's licenses: a size query, then the list. */
    OK(tessera_online_user_licenses(conn, env("TESSERA_TEST_USERNAME"),
                                    env("TESSERA_TEST_PASSWORD"), NULL, 0, &need));
    CHECK(need > 0);
    OK(tessera_online_user_licenses(conn, env("TESSERA_TEST_USERNAME"),
                                    env("TESSERA_TEST_PASSWORD"), buf, sizeof buf, &len));
    CHECK(len == strlen(buf) && strstr(buf, env("TESSERA_TEST_LICENSE_ID")) != NULL);
    /* A trial key: the same one when asked again. */
    OK(tessera_online_trial_key(conn, "eve@example.com", buf, sizeof buf, &len));
    snprintf(trial, sizeof trial, "%.100s", buf);
    {
        char again[256];
        size_t n = 0;
        OK(tessera_online_trial_key(conn, NULL, again, sizeof again, &n));
        CHECK(n == len && strcmp(again, buf) == 0);
        EXPECT(tessera_online_trial_key(conn, NULL, again, 4, &n), TESSERA_ERR_BUFFER_TOO_SMALL);
    }

    /* Activation by user (the password goes once), then the handle. */
    OK(tessera_online_activate_user(conn, env("TESSERA_TEST_USERNAME"), env("TESSERA_TEST_PASSWORD"),
                                    env("TESSERA_TEST_LICENSE_ID")));
    OK(tessera_handle_open(config, &handle));
    OK(tessera_handle_check(handle, &status));
    CHECK(status == TESSERA_STATUS_LEASE_REQUIRED);

    /* A floating session: the seat is held, renewed now on demand. */
    OK(tessera_session_open(conn, handle, 0, &session));
    OK(tessera_handle_check(handle, &status));
    CHECK(status == TESSERA_STATUS_VALID);
    OK(tessera_session_beat(session, &lease));
    CHECK(lease.kind == TESSERA_LEASE_FLOATING && lease.seconds_left > 25 * 60);

    /* Consumption goes up once, however often it is uploaded. */
    OK(tessera_handle_consume(handle, "render", 3, &usage));
    OK(tessera_online_upload_consumption(conn, handle, &up));
    CHECK(up.sent == 1 && up.accepted == 1 && up.acknowledged > 0);
    OK(tessera_online_upload_consumption(conn, handle, &up));
    CHECK(up.sent == 0);
    totals(total, sizeof total);
    CHECK(strstr(total, "\"feature:render\":3") != NULL);

    /* The answer lost after the server kept the record: the retry is
     * recognised, the total is right. */
    OK(tessera_handle_consume(handle, "render", 2, &usage));
    fault("drop-answer/1");
    OK(tessera_online_upload_consumption(flaky, handle, &up));
    CHECK(up.accepted == 0);
    totals(total, sizeof total);
    CHECK(strstr(total, "\"feature:render\":5") != NULL);
    /* Sent twice over the wire: counted once. */
    OK(tessera_handle_consume(handle, "render", 1, &usage));
    fault("duplicate");
    OK(tessera_online_upload_consumption(flaky, handle, &up));
    totals(total, sizeof total);
    CHECK(strstr(total, "\"feature:render\":6") != NULL);
    /* Refused twice, then through. */
    OK(tessera_handle_consume(handle, "render", 1, &usage));
    fault("refuse/2");
    OK(tessera_online_upload_consumption(flaky, handle, &up));
    totals(total, sizeof total);
    CHECK(strstr(total, "\"feature:render\":7") != NULL);
    /* Altered and replayed answers are refused; nothing is acknowledged. */
    OK(tessera_handle_consume(handle, "render", 1, &usage));
    fault("alter");
    EXPECT(tessera_online_check_in(flaky), TESSERA_ERR_BAD_RESPONSE);
    fault("replay");
    EXPECT(tessera_online_upload_consumption(flaky, handle, &up), TESSERA_ERR_BAD_RESPONSE);
    /* The server gone: a network error, and the license works on. */
    fault("refuse/1000");
    EXPECT(tessera_online_upload_consumption(flaky, handle, &up), TESSERA_ERR_NETWORK);
    OK(tessera_handle_check(handle, &status));
    CHECK(status == TESSERA_STATUS_VALID);
    /* Back: the record held back goes up once. */
    fault("none");
    OK(tessera_online_upload_consumption(flaky, handle, &up));
    CHECK(up.sent == 1);
    totals(total, sizeof total);
    CHECK(strstr(total, "\"feature:render\":8") != NULL);

    /* The vendor changes the license; a sync switches the open handle. */
    patch_license("{\"floating_users\":7}");
    OK(tessera_online_sync(conn, handle));
    OK(tessera_handle_license_json(handle, buf, sizeof buf, &len));
    CHECK(strstr(buf, "\"floating_users\":7") != NULL);

    /* An auto-sync hears the vendor end the license, and its return. */
    memset(&heard, 0, sizeof heard);
    pthread_mutex_init(&heard.lock, NULL);
    pthread_cond_init(&heard.changed, NULL);
    memset(&options, 0, sizeof options);
    options.no_seat = true; /* the session keeps the seat */
    options.on_change = on_change;
    options.user_data = &heard;
    patch_license("{\"license_type\":\"time-limited\",\"start_date\":\"2020-01-01T00:00:00Z\","
                  "\"validity_period\":\"2021-01-01T00:00:00Z\"}");
    OK(tessera_auto_sync_start(conn, handle, &options, &auto_sync));
    CHECK(wait_heard(&heard, 1));
    CHECK(heard.old_status == TESSERA_STATUS_VALID && heard.new_status == TESSERA_STATUS_EXPIRED);
    CHECK(strstr(heard.reason, "sync") != NULL);
    OK(tessera_handle_check(handle, &status));
    CHECK(status == TESSERA_STATUS_EXPIRED);
    patch_license("{\"license_type\":\"perpetual\",\"start_date\":null,\"validity_period\":null}");
    OK(tessera_auto_sync_now(auto_sync));
    CHECK(wait_heard(&heard, 2));
    CHECK(heard.old_status == TESSERA_STATUS_EXPIRED && heard.new_status == TESSERA_STATUS_VALID);
    OK(tessera_auto_sync_record(auto_sync, &syncs, &failed, &last));
    CHECK(syncs >= 2 && failed == 0 && last == TESSERA_OK);
    tessera_auto_sync_stop(&auto_sync);
    CHECK(auto_sync == NULL);
    pthread_mutex_destroy(&heard.lock);
    pthread_cond_destroy(&heard.changed);

    /* The seat back, then borrowed for a working day offline. */
    OK(tessera_session_close(&session));
    CHECK(session == NULL);
    OK(tessera_handle_check(handle, &status));
    CHECK(status == TESSERA_STATUS_LEASE_REQUIRED);
    OK(tessera_online_borrow(conn, handle, 8, &lease));
    CHECK(lease.kind == TESSERA_LEASE_BORROW && lease.seconds_left > 7 * 3600);
    OK(tessera_handle_lease(handle, &held, &lease));
    CHECK(held && lease.kind == TESSERA_LEASE_BORROW);
    OK(tessera_online_return_borrow(conn, handle));
    EXPECT(tessera_online_return_borrow(conn, handle), TESSERA_ERR_INVALID_ARGUMENT);

    /* Deactivated: the slot is free and nothing is left here. */
    OK(tessera_online_deactivate(conn));
    tessera_handle_free(&handle);
    EXPECT(tessera_handle_open(config, &handle), TESSERA_ERR_NOT_ACTIVATED);
    /* Activated again by key, for good measure; the update check (a size
       query, then the release; from 1.0 the way is 1.5; nothing newer than
       2.0; a version that is not one is refused), and deactivated. */
    OK(tessera_online_activate_key(conn, env("TESSERA_TEST_LICENSE_KEY")));
    OK(tessera_online_latest_release(conn, NULL, NULL, NULL, 0, &need));
    OK(tessera_online_latest_release(conn, NULL, NULL, buf, sizeof buf, &len));
    CHECK(len == need && strstr(buf, "\"version\":\"2.0\"") != NULL);
    OK(tessera_online_latest_release(conn, "1.0", NULL, buf, sizeof buf, &len));
    CHECK(strstr(buf, "\"version\":\"1.5\"") != NULL && strstr(buf, "acme-online-1.5.msi") != NULL);
    OK(tessera_online_latest_release(conn, "2.0", "stable", buf, sizeof buf, &len));
    CHECK(strcmp(buf, "null") == 0 && len == 4);
    EXPECT(tessera_online_latest_release(conn, "two", NULL, buf, sizeof buf, &len),
           TESSERA_ERR_SERVER_REFUSED);
    EXPECT(tessera_online_latest_release(conn, NULL, NULL, buf, sizeof buf, NULL),
           TESSERA_ERR_NULL_POINTER);
    downloads(config, conn);
    OK(tessera_online_deactivate(conn));
    sign_in(config, conn);
    OK(tessera_online_activate_key(conn, env("TESSERA_TEST_LICENSE_KEY")));
    OK(tessera_online_deactivate(conn));
    EXPECT(tessera_online_latest_release(conn, NULL, NULL, buf, sizeof buf, &len),
           TESSERA_ERR_NOT_ACTIVATED);

    tessera_connection_free(&flaky);
    tessera_connection_free(&conn);
    tessera_config_free(&config);

    /* The log: something was said, and never a secret. */
    OK(tessera_set_log_callback(TESSERA_LOG_OFF, NULL, NULL));
    pthread_mutex_lock(&log_lock);
    CHECK(logged_lines > 20 && strstr(logged, "activated license") != NULL);
    CHECK(strstr(logged, "cannot be reached") != NULL);
    no_secret_logged("license key", env("TESSERA_TEST_LICENSE_KEY"));
    no_secret_logged("password", env("TESSERA_TEST_PASSWORD"));
    no_secret_logged("product key", env("TESSERA_TEST_PRODUCT_KEY_HEX"));
    no_secret_logged("admin token", env("TESSERA_TEST_ADMIN_TOKEN"));
    no_secret_logged("vendor secret", "test-only vendor secret");
    no_secret_logged("trial key", trial);
    pthread_mutex_unlock(&log_lock);
    free(logged);
    printf("online: %d checks, %d failed (%d lines logged)\n", checks, failures, logged_lines);
    return failures == 0 ? 0 : 1;
}
