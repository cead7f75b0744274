/* What the online tests (C and C++) need besides the SDK: the harness's
 * TESSERA_TEST_* variables, and a minimal HTTP/1.1 client for loopback to
 * reach the admin API and the fault proxy's controls
 * (tests/online/harness.py starts both). Header-only, C and C++. */
#ifndef TESSERA_ONLINE_HTTP_H
#define TESSERA_ONLINE_HTTP_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static inline const char *env(const char *name) {
    const char *v = getenv(name);
    if (!v || !*v) {
        fprintf(stderr, "%s is not set (run through tests/online/harness.py)\n", name);
        exit(2);
    }
    return v;
}

/* A TCP connection to 127.0.0.1:`port`, or -1. */
static inline int loopback_connect(int port) {
    struct sockaddr_in addr;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* One HTTP/1.1 exchange with a loopback server ("http://127.0.0.1:PORT"):
 * the answer's body, NUL-terminated, into `out`. Returns the status. */
static inline int http(const char *base, const char *method, const char *path, const char *body,
                char *out, size_t cap) {
    const char *host = strstr(base, "://");
    const char *colon;
    int port, fd, status = 0;
    char request[4096], answer[65536];
    size_t got = 0;
    ssize_t n;
    char *start;
    host = host ? host + 3 : base;
    colon = strrchr(host, ':');
    port = colon ? atoi(colon + 1) : 80;
    fd = loopback_connect(port);
    if (fd < 0) return 0;
    snprintf(request, sizeof request,
             "%s %s HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer %s\r\n"
             "content-type: application/json\r\ncontent-length: %zu\r\nconnection: close\r\n\r\n%s",
             method, path, env("TESSERA_TEST_ADMIN_TOKEN"), body ? strlen(body) : 0,
             body ? body : "");
    if (write(fd, request, strlen(request)) < 0) {
        close(fd);
        return 0;
    }
    while (got < sizeof answer - 1 && (n = read(fd, answer + got, sizeof answer - 1 - got)) > 0)
        got += (size_t)n;
    answer[got] = 0;
    close(fd);
    sscanf(answer, "HTTP/1.1 %d", &status);
    start = strstr(answer, "\r\n\r\n");
    if (out && cap) snprintf(out, cap, "%s", start ? start + 4 : "");
    return status;
}

/* GET `url` (http://127.0.0.1:PORT/...): 1 when it answered; its
   `location` header, if any, into `location` (when not NULL). A
   browser's first step in the sign-in tests. */
static inline int http_location(const char *url, char *location, size_t cap) {
    char path[2048], answer[8192];
    const char *p = strstr(url, "://");
    const char *slash;
    char base[256];
    int n;
    p = p ? p + 3 : url;
    slash = strchr(p, '/');
    if (!slash) return 0;
    snprintf(base, sizeof base, "http://%.*s", (int)(slash - p), p);
    snprintf(path, sizeof path, "%s", slash);
    {
        const char *host = base + 7;
        const char *colon = strrchr(host, ':');
        int port = colon ? atoi(colon + 1) : 80, fd;
        char request[4096];
        size_t got = 0;
        ssize_t r;
        const char *loc;
        fd = loopback_connect(port);
        if (fd < 0) return 0;
        n = snprintf(request, sizeof request, "GET %s HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n", path);
        if (write(fd, request, (size_t)n) < 0) {
            close(fd);
            return 0;
        }
        while (got < sizeof answer - 1 && (r = read(fd, answer + got, sizeof answer - 1 - got)) > 0)
            got += (size_t)r;
        answer[got] = 0;
        close(fd);
        loc = strstr(answer, "location: ");
        if (!loc || !location) return loc != NULL;
        loc += strlen("location: ");
        snprintf(location, cap, "%.*s", (int)strcspn(loc, "\r\n"), loc);
        return 1;
    }
}

static inline void fault(const char *mode) {
    char path[128];
    snprintf(path, sizeof path, "/__fault/%s", mode);
    if (http(env("TESSERA_TEST_PROXY"), "GET", path, NULL, NULL, 0) != 200) {
        fprintf(stderr, "the fault proxy did not take %s\n", mode);
        exit(2);
    }
}

#endif
