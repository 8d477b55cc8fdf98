/*
 * recspill.c: the record spill (recspill.h for the call order and what
 * fails).
 *
 * Records are a byte stream of (varint length, bytes), cut into blocks of
 * RS_BLOCK raw bytes (spillfile.h's block format).  A record that fits in
 * a block never straddles two, so recspill_next can return a pointer into
 * the decoded block.  A longer record starts a fresh block and runs over
 * as many as it needs; reading it back costs one transient buffer of its
 * own size, freed at the next call.
 *
 * Memory: one raw block, one compressed block and a zstd context
 * (recspill_memory()), plus, transiently, the largest record over a
 * block.  The compression context lives while adding, the decompression
 * context while reading, never both.
 */
#define ZSTD_STATIC_LINKING_ONLY	/* ZSTD_estimateDCtxSize */

#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "recspill.h"
#include "spillfile.h"
#include "util.h"
#include "varint.h"

#define RS_BLOCK	(128 * 1024)	/* raw bytes per record spill block */
#define RS_ZLEVEL	1

struct recspill {
	struct spillfile f;
	uint64_t	 count;		/* records added */
	uint64_t	 nread;		/* records returned since rewind */
	size_t		 maxlen;	/* longest record added */
	uint8_t		*raw;		/* RS_BLOCK bytes: block being built/read */
	uint8_t		*zbuf;		/* sf_zbuf_size(RS_BLOCK), after raw */
	size_t		 used;		/* bytes in raw, while adding */
	ZSTD_CCtx	*cctx;		/* while adding */
	ZSTD_DCtx	*dctx;		/* while reading */
	int		 reading;
	uint64_t	 off;		/* next block to read */
	const uint8_t	*p, *pe;	/* unread part of raw */
	uint8_t		*big;		/* last record longer than a block */
	char		 dir[];		/* for messages */
};

size_t
recspill_memory(void)
{
	size_t c = sf_cctx_size(RS_ZLEVEL, RS_BLOCK);
	size_t d = ZSTD_estimateDCtxSize();

	return sizeof(struct recspill) + RS_BLOCK + sf_zbuf_size(RS_BLOCK) +
	    (c > d ? c : d);
}

struct recspill *
recspill_new(const char *tmpdir)
{
	struct recspill *rs;

	rs = xcalloc(1, sizeof(*rs) + strlen(tmpdir) + 1);
	memcpy(rs->dir, tmpdir, strlen(tmpdir) + 1);
	sf_open(&rs->f, rs->dir);
	rs->raw = xmalloc(RS_BLOCK + sf_zbuf_size(RS_BLOCK));
	rs->zbuf = rs->raw + RS_BLOCK;
	return rs;
}

static void
rs_flush(struct recspill *rs)
{
	if (rs->used == 0)
		return;
	if (rs->cctx == NULL)
		rs->cctx = sf_cctx_new(RS_ZLEVEL, RS_BLOCK);
	sf_block_put(&rs->f, rs->cctx, rs->raw, rs->used, rs->zbuf,
	    sf_zbuf_size(RS_BLOCK));
	rs->used = 0;
}

void
recspill_add(struct recspill *rs, const uint8_t *data, size_t len)
{
	uint8_t hdr[VARINT64_MAX];
	size_t hlen, n;

	if (rs->reading)
		bug("recspill_add after rewind");
	rs->count++;
	if (len > rs->maxlen)
		rs->maxlen = len;
	hlen = (size_t)(put_varint(hdr, len) - hdr);
	/* A record that fits in a block must not straddle two. */
	if (rs->used + hlen + len > RS_BLOCK)
		rs_flush(rs);
	memcpy(rs->raw + rs->used, hdr, hlen);
	rs->used += hlen;
	while (len > 0) {
		if (rs->used == RS_BLOCK)
			rs_flush(rs);
		n = RS_BLOCK - rs->used < len ? RS_BLOCK - rs->used : len;
		memcpy(rs->raw + rs->used, data, n);
		rs->used += n;
		data += n;
		len -= n;
	}
}

uint64_t
recspill_count(const struct recspill *rs)
{
	return rs->count;
}

void
recspill_rewind(struct recspill *rs)
{
	if (!rs->reading) {
		rs_flush(rs);
		ZSTD_freeCCtx(rs->cctx);
		rs->cctx = NULL;
		rs->dctx = sf_dctx_new();
		rs->reading = 1;
	}
	free(rs->big);
	rs->big = NULL;
	rs->off = 0;
	rs->nread = 0;
	rs->p = rs->pe = NULL;
}

/* Decode the next block into raw; 0 at the end of the file. */
static int
rs_load(struct recspill *rs)
{
	size_t len;

	if (rs->off == rs->f.end)
		return 0;
	rs->off = sf_block_get(&rs->f, rs->dctx, rs->off, rs->f.end, rs->raw,
	    RS_BLOCK, rs->zbuf, sf_zbuf_size(RS_BLOCK), &len);
	rs->p = rs->raw;
	rs->pe = rs->raw + len;
	return 1;
}

/* A record longer than what is left of the block: gather it. */
static const uint8_t *
rs_gather(struct recspill *rs, size_t len)
{
	size_t have = 0, n;

	rs->big = xmalloc(len);
	while (have < len) {
		if (rs->p == rs->pe && !rs_load(rs))
			sf_corrupt(rs->dir);
		n = (size_t)(rs->pe - rs->p);
		if (n > len - have)
			n = len - have;
		memcpy(rs->big + have, rs->p, n);
		rs->p += n;
		have += n;
	}
	return rs->big;
}

int
recspill_next(struct recspill *rs, const uint8_t **data, size_t *len)
{
	uint64_t n;

	free(rs->big);
	rs->big = NULL;
	if (!rs->reading)
		bug("recspill_next before rewind");
	if (rs->p == rs->pe && !rs_load(rs)) {
		if (rs->nread != rs->count)
			sf_corrupt(rs->dir);
		return 0;
	}
	if ((rs->p = get_varint(rs->p, rs->pe, &n)) == NULL ||
	    n > rs->maxlen || ++rs->nread > rs->count)
		sf_corrupt(rs->dir);
	*len = (size_t)n;
	if (n <= (uint64_t)(rs->pe - rs->p)) {
		*data = rs->p;
		rs->p += n;
	} else
		*data = rs_gather(rs, (size_t)n);
	return 1;
}

void
recspill_free(struct recspill *rs)
{
	if (rs == NULL)
		return;
	sf_close(&rs->f);
	ZSTD_freeCCtx(rs->cctx);
	ZSTD_freeDCtx(rs->dctx);
	free(rs->big);
	free(rs->raw);		/* zbuf too */
	free(rs);
}

/* ---- typed records: u128 value [, u64 index], little-endian ------------ */

#define VALUE_LEN	16
#define PAIR_LEN	24

static void
put_value(uint8_t *p, u128 v)
{
	store_le64(p, (uint64_t)v);
	store_le64(p + 8, (uint64_t)(v >> 64));
}

static u128
get_value(const uint8_t *p)
{
	return (u128)load_le64(p + 8) << 64 | load_le64(p);
}

/* The next record, which must be want bytes long. */
static const uint8_t *
next_typed(struct recspill *rs, size_t want)
{
	const uint8_t *p;
	size_t len;

	if (!recspill_next(rs, &p, &len))
		return NULL;
	if (len != want)
		sf_corrupt(rs->dir);
	return p;
}

void
recspill_add_pair(struct recspill *rs, u128 value, uint64_t index)
{
	uint8_t b[PAIR_LEN];

	put_value(b, value);
	store_le64(b + VALUE_LEN, index);
	recspill_add(rs, b, sizeof(b));
}

int
recspill_next_pair(struct recspill *rs, u128 *value, uint64_t *index)
{
	const uint8_t *p = next_typed(rs, PAIR_LEN);

	if (p == NULL)
		return 0;
	*value = get_value(p);
	*index = load_le64(p + VALUE_LEN);
	return 1;
}

void
recspill_add_value(struct recspill *rs, u128 value)
{
	uint8_t b[VALUE_LEN];

	put_value(b, value);
	recspill_add(rs, b, sizeof(b));
}

int
recspill_next_value(struct recspill *rs, u128 *value)
{
	const uint8_t *p = next_typed(rs, VALUE_LEN);

	if (p == NULL)
		return 0;
	*value = get_value(p);
	return 1;
}
