/*
 * png_support.c: zlib's deflate and inflate for the PNG reader and writer.
 *
 * A PNG's pixels are one zlib stream split across IDAT chunks.  Swift cannot
 * import zlib.h without a module of its own, so these wrappers give it two
 * status-returning calls.  Inflation writes into a buffer of exactly the size
 * the header promises (the caller has already checked that size is sane), so
 * a hostile stream can never make us allocate more, and too much or too
 * little data is reported rather than silently accepted.  Nothing here
 * prints, allocates on the caller's behalf or exits.
 */
#include "ckernels.h"

#include <string.h>
#include <zlib.h>

size_t ck_zlib_compress_bound(size_t length) {
    return (size_t)compressBound((uLong)length);
}

int ck_zlib_compress(uint8_t *out, size_t *out_length, const uint8_t *in, size_t in_length, int level) {
    uLongf produced = (uLongf)*out_length;
    int status = compress2(out, &produced, in, (uLong)in_length, level);
    if (status != Z_OK) return CK_ZLIB_DAMAGED;
    *out_length = (size_t)produced;
    return CK_ZLIB_OK;
}

int ck_zlib_uncompress(uint8_t *out, size_t out_length, size_t *produced,
                       const uint8_t *in, size_t in_length) {
    z_stream stream;
    memset(&stream, 0, sizeof stream);
    if (inflateInit(&stream) != Z_OK) return CK_ZLIB_DAMAGED;
    stream.next_out = out;
    stream.next_in = (Bytef *)in;
    int status = Z_OK;
    size_t in_left = in_length, out_left = out_length;
    /* zlib counts in uInt; feed both buffers in pieces of at most 1 GiB. */
    while (status == Z_OK) {
        uInt in_piece = in_left > (1u << 30) ? (1u << 30) : (uInt)in_left;
        uInt out_piece = out_left > (1u << 30) ? (1u << 30) : (uInt)out_left;
        stream.avail_in = in_piece;
        stream.avail_out = out_piece;
        status = inflate(&stream, Z_NO_FLUSH);
        in_left -= in_piece - stream.avail_in;
        out_left -= out_piece - stream.avail_out;
        if (status == Z_BUF_ERROR) {
            /* No progress possible: out of input (truncated) or out of room (too much data). */
            break;
        }
    }
    *produced = out_length - out_left;
    inflateEnd(&stream);
    if (status == Z_STREAM_END) return CK_ZLIB_OK;
    if (status == Z_BUF_ERROR) return out_left == 0 ? CK_ZLIB_TOO_LONG : CK_ZLIB_TRUNCATED;
    return CK_ZLIB_DAMAGED;
}
