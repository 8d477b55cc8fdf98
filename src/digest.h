/*
 * digest.h: sorted sets of t-bit values as streams of GCS chunks (gcs.h)
 * over the channel: the holder's digest (DIGEST ... DEND) and the
 * querier's reveal (REVEAL ... REND), PROTOCOL.md sections 6 and 9.
 *
 * Writer: digest_writer_new(), then digest_push() every value in
 * non-decreasing order (equal neighbours are sent once), then
 * digest_writer_end(), which sends the rest and the end frame with the
 * number of values sent, and frees the writer.  It holds DIGEST_PENDING
 * values (256 KiB) and one frame.
 *
 * Reader: digest_read() takes chunks until the end frame, checks each (the
 * chunk format, the session's t, at most `limit` values in all, strictly
 * increasing across chunks, the end count) and hands every decoded chunk
 * to a callback in order.  Anything wrong from the peer: exit 5.
 */
#ifndef PSI_DIGEST_H
#define PSI_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"

/* The digest's frame types (range FR_RANGE_DIGEST). */
enum {
	FR_DIGEST = FR_RANGE_DIGEST,	/* holder: one GCS chunk */
	FR_DEND,			/* holder: u64 number of digest values */
	FR_REVEAL,			/* querier: one GCS chunk of matches */
	FR_REND				/* querier: u64 number of revealed values */
};
extern const char *const digest_frames[FR_RANGE_SIZE];

#define DIGEST_PENDING	16384	/* values waiting for a chunk */

struct channel;
struct digest_writer;

/* Chunks go out in frames of `type`; frame: CH_MAX_PAYLOAD bytes of
 * scratch, shared with the caller between calls. */
struct digest_writer *digest_writer_new(struct channel *, uint8_t *frame,
	    unsigned t, int type);
void	digest_push(struct digest_writer *, u128 value);
/* Flush, send the end frame of `end_type`, free.  Returns the number of
 * values sent; *bytes (if not NULL) gets the chunk bytes. */
uint64_t digest_writer_end(struct digest_writer *, int end_type,
	    uint64_t *bytes);

typedef void (*digest_fn)(void *arg, const u128 *vals, size_t n);

/* Returns the number of values received. */
uint64_t digest_read(struct channel *, uint8_t *frame, unsigned t, int type,
	    int end_type, uint64_t limit, digest_fn, void *arg);

#endif
