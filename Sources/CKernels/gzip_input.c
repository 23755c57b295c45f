/*
 * gzip_input.c: status-returning wrappers over zlib's gz* reader.
 *
 * Swift reads the MNIST pickle through these so that the package needs no
 * separate zlib module.  Nothing here prints or exits; damage is reported by
 * a -1 return and a message from ck_gz_error().  A ck_gzfile is zlib's own
 * gzFile under another name.
 */
#include "ckernels.h"

#include <zlib.h>

static gzFile as_gz(ck_gzfile *file) { return (gzFile)(void *)file; }

ck_gzfile *ck_gz_open(const char *path) {
    gzFile handle = gzopen(path, "rb");
    if (handle == NULL) return NULL;
    gzbuffer(handle, 1 << 18);
    return (ck_gzfile *)(void *)handle;
}

long ck_gz_read(ck_gzfile *file, void *buffer, unsigned length) {
    int got = gzread(as_gz(file), buffer, length);
    if (got < 0) return -1;
    /* A short read at the end may still hide an error (truncated stream). */
    if ((unsigned)got < length) {
        int code = Z_OK;
        gzerror(as_gz(file), &code);
        if (code != Z_OK && code != Z_STREAM_END) return -1;
    }
    return got;
}

const char *ck_gz_error(ck_gzfile *file) {
    int code = Z_OK;
    const char *message = gzerror(as_gz(file), &code);
    if (code == Z_ERRNO) return "read error from the operating system";
    return (message != NULL && message[0] != '\0') ? message : "unknown zlib error";
}

long long ck_gz_offset(ck_gzfile *file) { return (long long)gztell(as_gz(file)); }

/* gzoffset is the file position less what inflate has not yet consumed, so
 * after a data error it is within a byte or so of where inflate gave up. */
long long ck_gz_compressed_offset(ck_gzfile *file) { return (long long)gzoffset(as_gz(file)); }

void ck_gz_close(ck_gzfile *file) {
    if (file != NULL) gzclose_r(as_gz(file));
}
