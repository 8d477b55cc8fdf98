/*
 * digest.c: GCS chunk streams over the channel (digest.h).
 *
 * The writer chooses the Rice parameter per chunk from the mean gap of
 * the values pending, so heavy duplication or a sparse set never makes a
 * unary run longer than a frame; a chunk goes out whenever DIGEST_PENDING
 * values wait, and the rest at the end.  The reader checks a chunk's
 * count against what the peer may still send, then decodes it
 * DECODE_SLICE values at a time into one fixed buffer (gcs_read()): a
 * chunk announcing a million values costs no more memory than any other.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "digest.h"
#include "gcs.h"
#include "progress.h"
#include "stats.h"
#include "util.h"

#define DECODE_SLICE	4096	/* values decoded at a time: 64 KiB */

const char *const digest_frames[FR_RANGE_SIZE] = {
	"DIGEST", "DEND", "REVEAL", "REND"
};

struct digest_writer {
	struct channel	*ch;
	uint8_t		*frame;
	unsigned	 t;
	int		 type;
	u128		*vals;		/* DIGEST_PENDING */
	size_t		 n;
	u128		 base, last;
	int		 have;
	uint64_t	 total;
	uint64_t	 bytes;
};

struct digest_writer *
digest_writer_new(struct channel *ch, uint8_t *frame, unsigned t, int type)
{
	struct digest_writer *w = xcalloc(1, sizeof(*w));

	w->ch = ch;
	w->frame = frame;
	w->t = t;
	w->type = type;
	w->vals = xreallocarray(NULL, DIGEST_PENDING, sizeof(u128));
	return w;
}

static void
flush(struct digest_writer *w, int all)
{
	size_t used, len;

	while (w->n > 0 && (all || w->n == DIGEST_PENDING)) {
		u128 span = w->vals[w->n - 1] - w->base;
		unsigned k = gcs_rice_for_gap(span / w->n, w->t);
		len = gcs_encode(w->frame, CH_MAX_PAYLOAD, w->vals, w->n, w->t,
		    k, w->base, &used);
		if (len == 0 || used == 0)
			bug("a value does not fit a "
			    "GCS chunk");
		ch_send(w->ch, w->type, w->frame, len);
		w->bytes += len;
		w->base = w->vals[used - 1];
		w->total += used;
		memmove(w->vals, w->vals + used, (w->n - used) * sizeof(u128));
		w->n -= used;
	}
}

void
digest_push(struct digest_writer *w, u128 v)
{
	if (w->have && v == w->last)
		return;
	w->have = 1;
	w->last = v;
	w->vals[w->n++] = v;
	if (w->n == DIGEST_PENDING)
		flush(w, 0);
}

uint64_t
digest_writer_end(struct digest_writer *w, int end_type, uint64_t *bytes)
{
	uint64_t total;

	flush(w, 1);
	put_u64(w->frame, w->total);
	ch_send(w->ch, end_type, w->frame, 8);
	total = w->total;
	if (bytes)
		*bytes = w->bytes;
	free(w->vals);
	free(w);
	return total;
}

uint64_t
digest_read(struct channel *ch, uint8_t *frame, unsigned t, int type,
    int end_type, uint64_t limit, digest_fn fn, void *arg)
{
	u128 base = 0, *vals, prev = 0;
	struct gcs_reader dec;
	uint64_t total = 0;
	long cnt, m;
	int got;

	/* A bounded buffer: a chunk may announce up to GCS_MAX_COUNT values
	 * (16 MiB of them at once); they are decoded DECODE_SLICE at a time. */
	vals = xreallocarray(NULL, DECODE_SLICE, sizeof(u128));
	for (;;) {
		size_t n = ch_recv(ch, &got, frame);
		if (got == end_type) {
			if (n != 8 || get_u64(frame) != total)
				fatal(EXIT_PROTO, "peer's %s count does not match "
				    "the %" PRIu64 " values it sent",
				    ch_frame_name(end_type), total);
			break;
		}
		if (got != type)
			fatal(EXIT_PROTO, "protocol violation: expected %s, got %s",
			    ch_frame_name(type), ch_frame_name(got));
		cnt = gcs_read_start(&dec, frame, n, t, base);
		if (cnt < 0)
			fatal(EXIT_PROTO, "peer sent a malformed %s chunk",
			    ch_frame_name(type));
		if ((uint64_t)cnt > limit - total)
			fatal(EXIT_PROTO, "peer sent a %s chunk of %ld values, more "
			    "than it announced", ch_frame_name(type), cnt);
		while ((m = gcs_read(&dec, vals, DECODE_SLICE)) > 0) {
			for (long q = 0; q < m; q++) {
				if (total > 0 && vals[q] <= prev)
					fatal(EXIT_PROTO, "peer's %s values are "
					    "not in increasing order",
					    ch_frame_name(type));
				prev = vals[q];
				total++;
			}
			fn(arg, vals, (size_t)m);
		}
		if (m < 0)
			fatal(EXIT_PROTO, "peer sent a malformed %s chunk",
			    ch_frame_name(type));
		base = dec.prev;
		if (type == FR_DIGEST)
			run_stats.digest_bytes += n;
		progress_set(total);
		ch_keepalive(ch);
	}
	free(vals);
	return total;
}
