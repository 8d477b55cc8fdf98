/*
 * mkseeds.c: writes the hand-made seeds of the script-driven fuzz targets
 * (frames, session, handshake): valid runs, so the fuzzer starts deep in
 * the protocol, and one example of each hostile case tests/hostile.sh
 * plays for real.  Not part of the build or the tests:
 *
 *   make fuzz/mkseeds && fuzz/mkseeds fuzz/corpus
 *
 * The encodings follow the targets' headers: fuzz_frames.c and
 * fuzz_session.c take items (u8 kind, u16 len, bytes), fuzz_handshake.c a
 * mode byte and a message made with its fixed keys.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "channel.h"
#include "digest.h"
#include "engine-dh.h"
#include "gcs.h"
#include "noise.h"
#include "oprf.h"
#include "session.h"

static const char *outdir;

struct buf {
	uint8_t	p[1 << 18];
	size_t	len;
};

static void
put(struct buf *b, const void *d, size_t n)
{
	if (n > sizeof(b->p) - b->len)
		abort();
	memcpy(b->p + b->len, d, n);
	b->len += n;
}

static void
put8(struct buf *b, uint8_t v)
{
	put(b, &v, 1);
}

/* An item of kind k: u8 kind, u16 len, then type byte and payload. */
static void
item(struct buf *b, int kind, int type, const void *pl, size_t n)
{
	put8(b, (uint8_t)kind);
	put8(b, (uint8_t)((n + 1) >> 8));
	put8(b, (uint8_t)(n + 1));
	put8(b, (uint8_t)type);
	put(b, pl, n);
}

static void
frame(struct buf *b, int type, const void *pl, size_t n)
{
	item(b, 0, type, pl, n);
}

static void
frame_u64(struct buf *b, int type, uint64_t v)
{
	uint8_t x[8];

	put_u64(x, v);
	frame(b, type, x, 8);
}

static void
save(const char *sub, const char *name, const struct buf *b)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s/seed-%s", outdir, sub, name);
	if ((f = fopen(path, "wb")) == NULL ||
	    fwrite(b->p, 1, b->len, f) != b->len || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

static void
start(struct buf *b, int flags, int nkeys)
{
	b->len = 0;
	put8(b, (uint8_t)flags);
	put8(b, (uint8_t)nkeys);
}

/* n valid group elements */
static void
elements(uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t x = (uint8_t)i;
		if (oprf_hash_to_group(out + 32 * i, &x, 1) < 0)
			abort();
	}
}

/* One GCS chunk of the values 1..n (t bits). */
static size_t
chunk(uint8_t *out, size_t cap, unsigned t, size_t n)
{
	u128 v[64];
	size_t used;

	for (size_t i = 0; i < n; i++)
		v[i] = (u128)(i + 1) << (t > 8 ? t - 8 : 0);
	return gcs_encode(out, cap, v, n, t, gcs_rice_param(t, n), 0, &used);
}

static void
session_seeds(void)
{
	struct buf *b = malloc(sizeof(*b));
	uint8_t el[32 * 8], c[4096];
	size_t cl;

	/* querier with 2 keys: a valid run */
	elements(el, 2);
	start(b, 1, 2);
	frame(b, FR_EVAL, el, 64);
	frame_u64(b, FR_HCOUNT, 3);
	cl = chunk(c, sizeof(c), gcs_trunc_bits(2, 3), 3);
	frame(b, FR_DIGEST, c, cl);
	frame_u64(b, FR_DEND, 3);
	frame(b, FR_DONE, NULL, 0);
	save("session", "querier-run", b);

	/* the same with --reveal querier and keepalives */
	start(b, 3, 2);
	frame(b, FR_KEEPALIVE, NULL, 0);
	frame(b, FR_EVAL, el, 64);
	frame(b, FR_KEEPALIVE, NULL, 0);
	frame_u64(b, FR_HCOUNT, 3);
	frame(b, FR_DIGEST, c, cl);
	frame_u64(b, FR_DEND, 3);
	frame(b, FR_DONE, NULL, 0);
	save("session", "querier-reveal-querier", b);

	/* querier: hostile variants */
	start(b, 1, 2);
	frame(b, FR_EVAL, el, 32);
	save("session", "querier-eval-count", b);
	start(b, 1, 2);
	memset(c, 0xff, 64);
	frame(b, FR_EVAL, c, 64);
	save("session", "querier-eval-invalid", b);
	start(b, 1, 2);
	frame(b, FR_EVAL, el, 64);
	frame_u64(b, FR_HCOUNT, (uint64_t)1 << 63);
	save("session", "querier-hcount-huge", b);
	start(b, 1, 2);
	frame(b, FR_EVAL, el, 64);
	frame_u64(b, FR_HCOUNT, 2);
	cl = chunk(c, sizeof(c), gcs_trunc_bits(2, 2), 3);
	frame(b, FR_DIGEST, c, cl);
	save("session", "querier-digest-too-many", b);
	start(b, 1, 2);
	frame(b, FR_EVAL, el, 64);
	frame_u64(b, FR_HCOUNT, 3);
	cl = chunk(c, sizeof(c), gcs_trunc_bits(2, 3), 3);
	frame(b, FR_DIGEST, c, cl - 1);
	save("session", "querier-digest-truncated", b);
	start(b, 1, 2);
	frame(b, FR_EVAL, el, 64);
	frame_u64(b, FR_HCOUNT, 3);
	cl = chunk(c, sizeof(c), gcs_trunc_bits(2, 3), 3);
	frame(b, FR_DIGEST, c, cl);
	frame_u64(b, FR_DEND, 4);
	save("session", "querier-dend-mismatch", b);

	/* holder with 3 keys: a valid run, the querier reveals nothing */
	start(b, 0, 3);
	frame(b, FR_QUERY, el, 64);
	frame_u64(b, FR_QEND, 2);
	frame_u64(b, FR_REND, 0);
	save("session", "holder-run", b);

	/* ... and one that reveals a value */
	start(b, 0, 3);
	frame(b, FR_QUERY, el, 64);
	frame_u64(b, FR_QEND, 2);
	cl = chunk(c, sizeof(c), gcs_trunc_bits(2, 3), 1);
	frame(b, FR_REVEAL, c, cl);
	frame_u64(b, FR_REND, 1);
	save("session", "holder-reveal", b);

	/* --reveal querier */
	start(b, 2, 3);
	frame(b, FR_QUERY, el, 64);
	frame_u64(b, FR_QEND, 2);
	frame_u64(b, FR_REND, 0);
	save("session", "holder-reveal-querier", b);

	/* --count-only (flags bit 2): valid runs, then a hostile one each */
	start(b, 5, 2);
	frame(b, FR_EVAL, el, 64);
	frame_u64(b, FR_HCOUNT, 3);
	cl = chunk(c, sizeof(c), gcs_trunc_bits(2, 3), 3);
	frame(b, FR_DIGEST, c, cl);
	frame_u64(b, FR_DEND, 3);
	frame(b, FR_DONE, NULL, 0);
	save("session", "count-querier-run", b);
	start(b, 5, 2);
	frame(b, FR_EVAL, el, 96);
	save("session", "count-querier-eval-too-many", b);
	start(b, 4, 3);
	frame(b, FR_QUERY, el, 64);
	frame_u64(b, FR_QEND, 2);
	frame_u64(b, FR_COUNT, 1);
	save("session", "count-holder-run", b);
	start(b, 4, 3);
	frame(b, FR_QUERY, el, 64);
	frame_u64(b, FR_QEND, 2);
	frame_u64(b, FR_COUNT, 7);
	save("session", "count-holder-impossible", b);
	start(b, 6, 3);
	frame(b, FR_QUERY, el, 64);
	frame_u64(b, FR_QEND, 2);
	frame(b, FR_COUNT, NULL, 0);
	save("session", "count-holder-reveal-querier", b);

	/* holder: hostile variants */
	start(b, 0, 3);
	frame(b, FR_QUERY, el, 33);
	save("session", "holder-query-odd", b);
	start(b, 0, 3);
	memset(c, 0xff, 32);
	frame(b, FR_QUERY, c, 32);
	save("session", "holder-query-invalid", b);
	start(b, 0, 3);
	frame(b, FR_QUERY, el, 64);
	frame_u64(b, FR_QEND, 5);
	save("session", "holder-qend-mismatch", b);
	start(b, 0, 3);
	frame(b, FR_DIGEST, el, 64);
	save("session", "holder-wrong-type", b);
	start(b, 0, 3);
	item(b, 1, 0xff, el, 40);
	save("session", "holder-garbage", b);
	free(b);
}

static void
frames_seeds(void)
{
	struct buf *b = malloc(sizeof(*b));
	uint8_t err[] = { 5, 'b', 'o', 'o', 'm', 0x1b, '[', '2', 'J' };

	b->len = 0;
	put8(b, 0);
	frame(b, FR_KEEPALIVE, NULL, 0);
	frame(b, FR_QUERY, "0123456789abcdef0123456789abcdef", 32);
	frame(b, FR_ERROR, err, sizeof(err));
	save("frames", "error", b);

	b->len = 0;
	put8(b, FR_EVAL);
	frame(b, FR_QUERY, "x", 1);
	save("frames", "expect-wrong", b);

	b->len = 0;
	put8(b, 0);
	frame(b, 200, "x", 1);
	save("frames", "unknown-type", b);

	b->len = 0;
	put8(b, 0);
	frame(b, FR_DONE, NULL, 0);
	item(b, 2, FR_DONE, NULL, 0);
	save("frames", "skipped-nonce", b);

	b->len = 0;
	put8(b, 0);
	item(b, 3, FR_DONE, NULL, 0);
	save("frames", "false-length", b);

	b->len = 0;
	put8(b, 0);
	put8(b, 1);
	put8(b, 0);
	put8(b, 4);
	put(b, "\xff\xff\x00\x00", 4);
	save("frames", "raw-huge-length", b);
	free(b);
}

/* The fixed keys of fuzz_handshake.c */
static uint8_t s_init[32], s_resp[32], e_init[32], e_resp[32], psk[32];

static struct noise_hs *
hs(int initiator, int with_psk)
{
	static const uint8_t prologue[] = "psi-stream/1";
	struct noise_hs *h = noise_hs_new(initiator, initiator ? s_init : s_resp,
	    with_psk ? psk : NULL, prologue, sizeof(prologue) - 1);

	noise_hs_set_ephemeral(h, initiator ? e_init : e_resp);
	return h;
}

static void
handshake_seeds(void)
{
	struct buf *b = malloc(sizeof(*b));
	static uint8_t m1[NOISE_MAX_MSG], m2[NOISE_MAX_MSG], m3[NOISE_MAX_MSG],
	    pl[NOISE_MAX_MSG];
	struct params p;
	uint8_t par[PARAMS_MAX];
	size_t n1, n2, n3, pn, plen;
	char name[64];

	memset(s_init, 0x01, 32);
	memset(s_resp, 0x02, 32);
	memset(e_init, 0x03, 32);
	memset(e_resp, 0x04, 32);
	memset(psk, 0x05, 32);
	memset(&p, 0, sizeof(p));
	p.version = PROTOCOL_VERSION;
	p.role = ROLE_QUERIER;
	p.engine = ENGINE_DH;
	p.key_fields = 1;
	plen = params_encode(&p, par);
	for (int with_psk = 0; with_psk < 2; with_psk++) {
		struct noise_hs *i = hs(1, with_psk), *r = hs(0, with_psk);
		if (noise_write_message(i, NULL, 0, m1, sizeof(m1), &n1) < 0 ||
		    noise_read_message(r, m1, n1, pl, sizeof(pl), &pn) < 0 ||
		    noise_write_message(r, NULL, 0, m2, sizeof(m2), &n2) < 0 ||
		    noise_read_message(i, m2, n2, pl, sizeof(pl), &pn) < 0 ||
		    noise_write_message(i, par, plen, m3, sizeof(m3), &n3) < 0)
			abort();
		noise_hs_free(i);
		noise_hs_free(r);
		for (int mode = 0; mode < 3; mode++) {
			const uint8_t *m = mode == 0 ? m1 : mode == 1 ? m2 : m3;
			size_t n = mode == 0 ? n1 : mode == 1 ? n2 : n3;
			b->len = 0;
			put8(b, (uint8_t)(mode | (with_psk ? 8 : 0)));
			put(b, m, n);
			snprintf(name, sizeof(name), "msg%d%s", mode + 1,
			    with_psk ? "-psk" : "");
			save("handshake", name, b);
		}
		/* the channel as listener: message 1, then message 3 */
		b->len = 0;
		put8(b, (uint8_t)(4 | (with_psk ? 8 : 0)));
		put8(b, (uint8_t)(n1 >> 8));
		put8(b, (uint8_t)n1);
		put(b, m1, n1);
		put8(b, (uint8_t)(n3 >> 8));
		put8(b, (uint8_t)n3);
		put(b, m3, n3);
		snprintf(name, sizeof(name), "listener%s", with_psk ? "-psk" : "");
		save("handshake", name, b);
		/* the channel as connector: message 2 */
		b->len = 0;
		put8(b, (uint8_t)(5 | (with_psk ? 8 : 0)));
		put8(b, (uint8_t)(n2 >> 8));
		put8(b, (uint8_t)n2);
		put(b, m2, n2);
		snprintf(name, sizeof(name), "connector%s", with_psk ? "-psk" : "");
		save("handshake", name, b);
	}
	/* params_check: a match, then one bad field at a time */
	static const struct { const char *name; int off; uint8_t v; } bad[] = {
		{ "params-ok", -1, 0 },
		{ "params-version", 0, PROTOCOL_VERSION + 1 },
		{ "params-role", 1, 1 }, { "params-role-9", 1, 9 },
		{ "params-reveal", 2, 1 }, { "params-count-only", 3, 1 },
		{ "params-norm", 4, 7 }, { "params-engine", 5, 7 },
		{ "params-engine-0", 5, 0 }, { "params-shard", 13, 3 },
		{ "params-ctxlen", 14, 40 },
	};
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		uint8_t q[PARAMS_MAX];
		memcpy(q, par, plen);
		if (bad[k].off >= 0)
			q[bad[k].off] = bad[k].v;
		b->len = 0;
		put8(b, 3);
		put8(b, 0);	/* we are a holder, defaults */
		put(b, q, plen);
		save("handshake", bad[k].name, b);
	}
	free(b);
}

int
main(int argc, char **argv)
{
	if (argc != 2 || sodium_init() < 0) {
		fprintf(stderr, "usage: mkseeds CORPUS_DIR\n");
		return 1;
	}
	outdir = argv[1];
	session_seeds();
	frames_seeds();
	handshake_seeds();
	return 0;
}
