/*
 * count.c: --count-only for the DH engine (count.h; DESIGN section 1,
 * step 5).
 *
 * The querier blinds every key with ONE scalar r, so equal keys give equal
 * blinded elements and can be removed by sorting; it sends them sorted (by
 * encoding: a random order to the holder).  The holder answers them all
 * only after QEND, sorted by value, so the order of the answers cannot be
 * linked to the queries.  Both sides then compare
 * SHA-512("psi-stream count" || k*H2G(x)) cut to t bits; the holder sends
 * its digest as usual and the querier counts the matches (the session's
 * merge), then tells the holder the count (COUNT, empty with --reveal
 * querier).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "channel.h"
#include "count.h"
#include "engine-dh.h"
#include "esort.h"
#include "gcs.h"
#include "oprf.h"
#include "params.h"
#include "pool.h"
#include "progress.h"
#include "stats.h"
#include "util.h"

struct mul_batch {
	size_t		 n;		/* elements in `in` */
	const uint8_t	*scalar;	/* r, r^-1 (querier) or k (holder) */
	struct key_batch *kb;		/* own keys */
	const uint8_t	*in;		/* elements to multiply */
	uint8_t		*elem;		/* n * 32 results */
	u128		*val;		/* n count values, or NULL */
};

static u128
count_value(const uint8_t elem[32])
{
	static const uint8_t label[] = "psi-stream count";
	crypto_hash_sha512_state st;
	uint8_t out[64];

	crypto_hash_sha512_init(&st);
	crypto_hash_sha512_update(&st, label, sizeof(label) - 1);
	crypto_hash_sha512_update(&st, elem, 32);
	crypto_hash_sha512_final(&st, out);
	return gcs_truncate(out, 128);
}

/* elem[i] = scalar * H2G(key i), and with val set, its count value. */
static int
job_hash_mul(void *arg, size_t lo, size_t hi)
{
	struct mul_batch *b = arg;
	uint8_t p[32];

	for (size_t i = lo; i < hi; i++) {
		if (oprf_hash_to_group(p, KB_KEY(b->kb, i), KB_LEN(b->kb, i)) < 0 ||
		    crypto_scalarmult_ristretto255(b->elem + 32 * i, b->scalar,
		    p) != 0)
			return -1;
		if (b->val)
			b->val[i] = count_value(b->elem + 32 * i);
	}
	return 0;
}

/* elem[i] = scalar * in[i] (peer data: an encoding that does not decode,
 * or the identity, makes the multiplication fail), and with val set, its
 * count value. */
static int
job_mul(void *arg, size_t lo, size_t hi)
{
	struct mul_batch *b = arg;

	for (size_t i = lo; i < hi; i++) {
		if (crypto_scalarmult_ristretto255(b->elem + 32 * i, b->scalar,
		    b->in + 32 * i) != 0)
			return -1;
		if (b->val)
			b->val[i] = count_value(b->elem + 32 * i);
	}
	return 0;
}

static void
cbatch_init(struct mul_batch *b, const uint8_t *scalar, int values)
{
	memset(b, 0, sizeof(*b));
	b->scalar = scalar;
	b->kb = kb_new();
	b->elem = xmalloc(DH_CHUNK * 32);
	b->val = values ? xreallocarray(NULL, DH_CHUNK, sizeof(u128)) : NULL;
}

static void
cbatch_free(struct mul_batch *b)
{
	kb_free(b->kb);
	free(b->elem);
	free(b->val);
}

/* Hash and multiply the next batch of our keys; 0 at the end. */
static size_t
own_batch(struct engine_ctx *ctx, struct mul_batch *b)
{
	if ((b->n = ctx->next_keys(ctx->sess, b->kb, DH_CHUNK)) == 0)
		return 0;
	if (pool_run(ctx->pool, job_hash_mul, b, b->n) < 0)
		fatal(EXIT_IO, "a key cannot be hashed to the group");
	return b->n;
}

/* Multiply n peer elements at in; exit 5 if one is invalid. */
static void
peer_batch(struct engine_ctx *ctx, struct mul_batch *b, const uint8_t *in,
    size_t n)
{
	b->n = n;
	b->in = in;
	if (pool_run(ctx->pool, job_mul, b, n) < 0)
		fatal(EXIT_PROTO, "peer sent an invalid group element");
}

static void
emit_batch(struct engine_ctx *ctx, const struct mul_batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		ctx->emit(ctx->sess, b->val[i], 0);
}

/* Send the elements of a finished esort as frames of `type`, DH_CHUNK
 * each. */
static uint64_t
send_elements(struct engine_ctx *ctx, struct esort *es, int type)
{
	uint8_t *buf = xmalloc(DH_CHUNK * 32);
	uint64_t total = 0;
	size_t n = 0;

	for (;;) {
		int more = esort_next(es, buf + 32 * n);
		if (more)
			n++;
		if (n == DH_CHUNK || (!more && n > 0)) {
			ch_send(ctx->ch, type, buf, n * 32);
			total += n;
			n = 0;
			ch_keepalive(ctx->ch);
		}
		if (!more)
			break;
	}
	free(buf);
	return total;
}

/* ---- querier ------------------------------------------------------------- */

void
count_querier_start(struct engine_ctx *ctx)
{
	uint8_t *r = xsodium_malloc(32), *rinv = xsodium_malloc(32);
	struct esort *es = esort_new(ctx->tmpdir, ctx->mem);
	struct mul_batch b;
	uint64_t nq, got = 0;
	int type;

	oprf_random_scalar(r);
	if (crypto_core_ristretto255_scalar_invert(rinv, r) != 0)
		bug("blinding scalar not invertible");
	/* 1. blind everything with r, drop duplicates by sorting */
	cbatch_init(&b, r, 0);
	while (own_batch(ctx, &b) > 0)
		for (size_t i = 0; i < b.n; i++)
			esort_add(es, b.elem + 32 * i);
	esort_finish(es, 1);
	nq = ctx->own_keys = send_elements(ctx, es, FR_QUERY);
	esort_free(es);
	put_u64(ctx->frame, nq);
	ch_send(ctx->ch, FR_QEND, ctx->frame, 8);
	sodium_free(r);

	/* 2. the holder's answers, in an order of its own: unblind, hash */
	stats_phase("answers");
	progress_phase("answers", nq);
	b.scalar = rinv;
	b.val = xreallocarray(NULL, DH_CHUNK, sizeof(u128));
	while (got < nq) {
		size_t n = ch_recv(ctx->ch, &type, ctx->frame);
		if (type != FR_EVAL || n == 0 || n % 32 != 0 ||
		    n / 32 > DH_CHUNK || n / 32 > nq - got)
			fatal(EXIT_PROTO, "protocol violation: expected at most "
			    "%" PRIu64 " more evaluated elements, got %s of %zu "
			    "bytes", nq - got, ch_frame_name(type), n);
		peer_batch(ctx, &b, ctx->frame, n / 32);
		emit_batch(ctx, &b);
		got += b.n;
		progress_set(got);
	}
	sodium_free(rinv);
	cbatch_free(&b);
}

void
count_querier_finish(struct engine_ctx *ctx)
{
	ctx->peer_keys = engine_recv_count(ctx, FR_HCOUNT, "announced");
}

void
count_querier_end(struct engine_ctx *ctx)
{
	if (ctx->p->reveal == REVEAL_BOTH) {
		put_u64(ctx->frame, ctx->count);
		ch_send(ctx->ch, FR_COUNT, ctx->frame, 8);
	} else
		ch_send(ctx->ch, FR_COUNT, NULL, 0);
}

/* ---- holder -------------------------------------------------------------- */

void
count_holder_start(struct engine_ctx *ctx)
{
	uint8_t *sk = xsodium_malloc(32);
	struct esort *es = esort_new(ctx->tmpdir, ctx->mem);
	struct mul_batch own, q;
	uint64_t nq = 0;
	int qdone = 0, own_done = 0, type;

	oprf_random_scalar(sk);
	cbatch_init(&own, sk, 1);
	cbatch_init(&q, sk, 0);
	/* 1. take all queries, evaluating our own keys in between */
	while (!qdone) {
		if (own_done || ch_pending(ctx->ch)) {
			size_t n = ch_recv(ctx->ch, &type, ctx->frame);
			if (type == FR_QEND) {
				if (n != 8 || get_u64(ctx->frame) != nq)
					fatal(EXIT_PROTO, "peer's QEND count does "
					    "not match the %" PRIu64 " keys it "
					    "queried", nq);
				qdone = 1;
				continue;
			}
			if (type != FR_QUERY || n == 0 || n % 32 != 0 ||
			    n / 32 > DH_CHUNK)
				fatal(EXIT_PROTO, "protocol violation: expected "
				    "QUERY, got %s of %zu bytes",
				    ch_frame_name(type), n);
			engine_peer_keys(ctx, nq + n / 32, "queried");
			peer_batch(ctx, &q, ctx->frame, n / 32);
			for (size_t i = 0; i < q.n; i++)
				esort_add(es, q.elem + 32 * i);
			nq += q.n;
		} else if (own_batch(ctx, &own) > 0)
			emit_batch(ctx, &own);
		else
			own_done = 1;
	}
	/* 2. the answers, sorted by value: their order says nothing */
	stats_phase("answers");
	esort_finish(es, 0);
	send_elements(ctx, es, FR_EVAL);
	esort_free(es);
	while (!own_done && own_batch(ctx, &own) > 0) {
		emit_batch(ctx, &own);
		ch_keepalive(ctx->ch);
	}
	sodium_free(sk);
	cbatch_free(&own);
	cbatch_free(&q);
	ctx->peer_keys = nq;
}

void
count_holder_end(struct engine_ctx *ctx)
{
	size_t n = ch_expect(ctx->ch, FR_COUNT, ctx->frame);

	if (ctx->p->reveal == REVEAL_BOTH) {
		if (n != 8 || (ctx->count = get_u64(ctx->frame)) >
		    ctx->digest_values || ctx->count > ctx->peer_keys)
			fatal(EXIT_PROTO, "peer sent an impossible count");
	} else if (n != 0)
		fatal(EXIT_PROTO, "peer sent a count with --reveal querier");
}
