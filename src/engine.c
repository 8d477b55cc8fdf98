/*
 * engine.c: the list of engines built in, the names of every frame type,
 * the key batch, and the checks on a count the peer announces (engine.h).
 *
 * Adding an engine is one line in `engines` (its id is reserved in
 * engine.h); its frame names come with it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "digest.h"
#include "engine-dh.h"
#include "engine-ot.h"
#include "engine.h"
#include "util.h"

static const struct {
	unsigned		 id;
	const char		*name;
	const struct engine	*engine;	/* NULL: reserved, not built */
} engines[] = {
	{ ENGINE_DH,	"dh",	&engine_dh },
	{ ENGINE_OT,	"ot",	&engine_ot },
};

#define NENGINES	(sizeof(engines) / sizeof(engines[0]))

const struct engine *
engine_by_id(unsigned id)
{
	for (size_t i = 0; i < NENGINES; i++)
		if (engines[i].id == id)
			return engines[i].engine;
	return NULL;
}

const struct engine *
engine_by_name(const char *name)
{
	for (size_t i = 0; i < NENGINES; i++)
		if (strcmp(engines[i].name, name) == 0)
			return engines[i].engine;
	return NULL;
}

const char *
engine_name(unsigned id, char buf[8])
{
	for (size_t i = 0; i < NENGINES; i++)
		if (engines[i].id == id)
			return engines[i].name;
	snprintf(buf, 8, "#%u", id & 0xffff);
	return buf;
}

const char *
engine_names(void)
{
	static char list[64];

	if (list[0] == '\0')
		for (size_t i = 0; i < NENGINES; i++)
			if (engines[i].engine) {
				if (list[0])
					strcat(list, ", ");
				strcat(list, engines[i].name);
			}
	return list;
}

static const char *const channel_frames[FR_RANGE_SIZE] = {
	[FR_HELLO] = "HELLO", [FR_DONE] = "DONE", [FR_ERROR] = "ERROR",
	[FR_KEEPALIVE] = "KEEPALIVE",
};

const char *
frame_name(int type)
{
	int range = type & ~(FR_RANGE_SIZE - 1), i = type & (FR_RANGE_SIZE - 1);

	if (type <= 0 || type > 0xff)
		return NULL;
	if (range == FR_RANGE_CHANNEL)
		return channel_frames[i];
	if (range == FR_RANGE_DIGEST)
		return digest_frames[i];
	for (size_t e = 0; e < NENGINES; e++)
		if (engines[e].engine && engines[e].engine->frame_range ==
		    (unsigned)range)
			return engines[e].engine->frames[i];
	return NULL;
}

/* ---- key batch ----------------------------------------------------------- */

struct key_batch *
kb_new(void)
{
	struct key_batch *b = xcalloc(1, sizeof(*b));

	b->cap = KEY_BATCH_BYTES;
	b->buf = xmalloc(b->cap);
	return b;
}

void
kb_free(struct key_batch *b)
{
	if (b == NULL)
		return;
	free(b->buf);
	free(b);
}

void
kb_clear(struct key_batch *b, uint64_t first)
{
	b->n = 0;
	b->first = first;
	b->off[0] = 0;
}

int
kb_fits(const struct key_batch *b, size_t len)
{
	return b->n < KEY_BATCH && (b->n == 0 ||
	    len <= KEY_BATCH_BYTES - b->off[b->n]);
}

void
kb_add(struct key_batch *b, const uint8_t *key, size_t len)
{
	if (len > b->cap - b->off[b->n]) {	/* one long key on its own */
		b->cap = b->off[b->n] + len;
		b->buf = xreallocarray(b->buf, b->cap, 1);
	}
	memcpy(b->buf + b->off[b->n], key, len);
	b->off[b->n + 1] = b->off[b->n] + len;
	b->n++;
}

/* ---- counts from the peer ------------------------------------------------ */

void
engine_peer_keys(const struct engine_ctx *ctx, uint64_t n, const char *what)
{
	if (n > (uint64_t)1 << 48)
		fatal(EXIT_PROTO, "peer claims %" PRIu64 " keys, more than any "
		    "input can hold", n);
	if (ctx->max_peer_keys && n > ctx->max_peer_keys)
		fatal(EXIT_PROTO, "peer %s %" PRIu64 " keys, more than "
		    "--max-peer-keys %" PRIu64, what, n, ctx->max_peer_keys);
}

uint64_t
engine_recv_count(struct engine_ctx *ctx, int type, const char *what)
{
	uint64_t n;

	if (ch_expect(ctx->ch, type, ctx->frame) != 8)
		fatal(EXIT_PROTO, "malformed %s from peer", frame_name(type));
	n = get_u64(ctx->frame);
	engine_peer_keys(ctx, n, what);
	return n;
}
