/* The checks of the C test programs: CHECK(cond) and EXPECT(call, want)
 * count, and print one line per failure with the last error's message;
 * OK(call) expects TESSERA_OK. Each program prints the totals. */
#ifndef TESSERA_TEST_CHECK_H
#define TESSERA_TEST_CHECK_H

#include "tessera.h"

#include <stdio.h>

static int failures = 0;
static int checks = 0;

#define CHECK(cond)                                                            \
    do {                                                                       \
        checks++;                                                              \
        if (!(cond)) {                                                         \
            failures++;                                                        \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__,   \
                    #cond);                                                    \
        }                                                                      \
    } while (0)

/* Checks a call's result; on a mismatch prints both names and the message. */
#define EXPECT(call, want)                                                     \
    do {                                                                       \
        tessera_result got_ = (call);                                          \
        checks++;                                                              \
        if (got_ != (want)) {                                                  \
            char msg_[512] = "";                                               \
            size_t n_ = 0;                                                     \
            tessera_last_error_message(msg_, sizeof msg_, &n_);                \
            failures++;                                                        \
            fprintf(stderr, "%s:%d: %s gave %s, expected %s (%s)\n", __FILE__, \
                    __LINE__, #call, tessera_result_name(got_),                \
                    tessera_result_name(want), msg_);                          \
        }                                                                      \
    } while (0)

#define OK(call) EXPECT(call, TESSERA_OK)

#endif
