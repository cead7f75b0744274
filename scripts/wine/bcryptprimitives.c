/* Wine 8.0 (Debian 12) has no bcryptprimitives.dll, and Rust's standard
 * library imports ProcessPrng from it (Windows 10 and later have it). This
 * stand-in, built with MinGW into the test prefix only, draws the same
 * system random bytes through bcrypt.dll, which wine has. It never ships:
 * real Windows has its own. */
#include <windows.h>
#include <bcrypt.h>

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    while (len > 0) {
        ULONG chunk = len > 0x7fffffff ? 0x7fffffff : (ULONG)len;
        if (BCryptGenRandom(NULL, data, chunk, BCRYPT_USE_SYSTEM_PREFERRED_RNG) != 0) {
            return FALSE;
        }
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
