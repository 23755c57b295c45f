/*
 * gzip_output.c: one buffer deflated into one gzip member, for IDX export.
 *
 * MNIST-style datasets are distributed as gzipped IDX files, so `cnn
 * export-idx --gzip` writes them that way, and the IDX reader's tests make
 * real gzip files with it (zlib's own deflate, not a hand-made stored
 * stream).  The caller owns both buffers; nothing here allocates beyond
 * zlib's own state, prints or exits.
 */
#include "ckernels.h"

#include <string.h>
#include <zlib.h>

/* A gzip header and trailer are 18 bytes; a zlib wrapper's 6 are in compressBound. */
size_t ck_gzip_compress_bound(size_t length) {
    return (size_t)compressBound((uLong)length) + 18;
}

int ck_gzip_compress(uint8_t *out, size_t *out_length, const uint8_t *in, size_t in_length, int level) {
    z_stream stream;
    memset(&stream, 0, sizeof stream);
    /* windowBits 15 + 16 asks deflate for a gzip wrapper instead of zlib's. */
    if (deflateInit2(&stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return CK_ZLIB_DAMAGED;
    stream.next_in = (Bytef *)in;
    stream.next_out = out;
    size_t in_left = in_length, out_left = *out_length;
    int status = Z_OK;
    /* zlib counts in uInt; feed both buffers in pieces of at most 1 GiB. */
    while (status == Z_OK) {
        uInt in_piece = in_left > (1u << 30) ? (1u << 30) : (uInt)in_left;
        uInt out_piece = out_left > (1u << 30) ? (1u << 30) : (uInt)out_left;
        stream.avail_in = in_piece;
        stream.avail_out = out_piece;
        status = deflate(&stream, in_piece == in_left ? Z_FINISH : Z_NO_FLUSH);
        in_left -= in_piece - stream.avail_in;
        out_left -= out_piece - stream.avail_out;
        if (status == Z_BUF_ERROR || (status == Z_OK && out_left == 0)) break; /* out of room */
    }
    deflateEnd(&stream);
    if (status != Z_STREAM_END) return CK_ZLIB_TOO_LONG;
    *out_length -= out_left;
    return CK_ZLIB_OK;
}
