/*
 * checkpoint_support.c: the two pieces of checkpointing that want C.
 *
 * zlib's CRC-32, so that a checkpoint's sections are checked with the same
 * polynomial and code as gzip (the package links zlib already, and Swift
 * cannot import zlib.h without a module of its own); and a stop-request flag
 * that SIGINT and SIGTERM set.  A signal handler may only touch a
 * volatile sig_atomic_t, so the handler records which signal came and the
 * training loop polls the flag between mini-batches.  Nothing here prints,
 * allocates or exits.
 */
#include "ckernels.h"

#include <signal.h>
#include <string.h>
#include <zlib.h>

uint32_t ck_crc32(uint32_t crc, const void *data, size_t length) {
    const unsigned char *bytes = (const unsigned char *)data;
    uLong value = crc;
    /* zlib takes a uInt length; feed longer buffers in pieces. */
    while (length > 0) {
        uInt piece = length > (1u << 30) ? (1u << 30) : (uInt)length;
        value = crc32(value, bytes, piece);
        bytes += piece;
        length -= piece;
    }
    return (uint32_t)value;
}

static volatile sig_atomic_t stop_signal_received = 0;

static void note_stop_signal(int signal_number) { stop_signal_received = signal_number; }

int ck_stop_signals_install(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = note_stop_signal;
    sigemptyset(&action.sa_mask);
    /* SA_RESETHAND: a second Ctrl-C gets the default action and ends the
     * process at once; atomic checkpoint writes make that safe.
     * SA_RESTART: a write or read in progress is not cut short. */
    action.sa_flags = SA_RESETHAND | SA_RESTART;
    stop_signal_received = 0;
    if (sigaction(SIGINT, &action, NULL) != 0) return -1;
    if (sigaction(SIGTERM, &action, NULL) != 0) return -1;
    return 0;
}

int ck_stop_signal_received(void) { return stop_signal_received; }

void ck_stop_signals_uninstall(void) {
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    stop_signal_received = 0;
}
