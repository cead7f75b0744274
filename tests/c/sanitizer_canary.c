/* Proves the sanitizers are linked: built with the same flags as the C
 * tests, each mode makes the fault its sanitizer must catch.
 *   sanitizer_canary asan    reads a heap block after freeing it
 *   sanitizer_canary ubsan   overflows a signed int
 * scripts/c-tests.sh expects both to fail with the sanitizer's report. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    volatile int big = INT_MAX;
    char *block;
    int r;
    if (argc != 2) return 2;
    if (strcmp(argv[1], "asan") == 0) {
        block = malloc(8);
        if (!block) return 2;
        memset(block, 1, 8);
        free(block);
        r = block[argc - 2]; /* use after free */
        return r;
    }
    if (strcmp(argv[1], "ubsan") == 0) {
        r = big + argc; /* signed overflow */
        printf("%d\n", r);
        return 0;
    }
    return 2;
}
