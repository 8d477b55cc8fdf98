/*
 * engine-dh.c: the DH-OPRF engine's PSI mode (PROTOCOL.md 6.1, 6.2).
 *
 *   querier                                holder
 *   QUERY(blinded x_1..x_n)      ------>       (n <= DH_CHUNK per frame)
 *                                <------   EVAL(k*B_1..k*B_n)
 *   ... at most WINDOW queries outstanding, so neither side can block
 *   ... the other by filling the socket buffers
 *   QEND(nQ)                     ------>
 *                                          (evaluates F_k(y) for its own
 *                                           keys meanwhile, and after)
 *                                <------   HCOUNT(nH)
 *
 * start() is everything up to QEND, finish() is QEND and HCOUNT (engine.h
 * call order: the session sorts in between).
 *
 * Querier: a QUERY is cut by element count only, DH_CHUNK keys (the last
 * one fewer), whatever the keys' lengths, so frame sizes say nothing about
 * key contents.  Keys come in key batches (which are cut by bytes too) and
 * are not kept: each is absorbed into the SHA-512 state of its Finalize
 * hash when it is blinded, and the hash is finished when the EVAL comes
 * back.  A chunk in flight so costs a fixed ~320 bytes per element.
 *
 * Holder: answers queries as they arrive and evaluates its own keys in
 * between, so neither party idles while the other computes; the running
 * number of queried keys is checked against --max-peer-keys before each
 * answer.  Curve work runs on the pool in slices of each batch; the
 * network stays on the main thread.  The OPRF key is drawn afresh in
 * sodium_malloc memory and freed when the last key is evaluated.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "channel.h"
#include "count.h"
#include "engine-dh.h"
#include "gcs.h"
#include "oprf.h"
#include "pool.h"
#include "util.h"

#define WINDOW		4		/* QUERY frames in flight */

/* ---- querier ------------------------------------------------------------- */

struct query {			/* one QUERY in flight */
	size_t		 n;
	uint64_t	 first;		/* record index of its first key */
	uint8_t		*blinds;	/* n * 32, secret until used */
	uint8_t		*blinded;	/* n * 32, sent */
	crypto_hash_sha512_state *fin;	/* n: Finalize, the key absorbed */
	uint8_t		*tmp;		/* n * 32 scratch */
	uint8_t		*evaluated;	/* n * 32 from the peer */
	u128		*val;		/* n PRF values */
	const struct key_batch *kb;	/* while blinding: keys for n.. */
};

static void
query_init(struct query *c)
{
	memset(c, 0, sizeof(*c));
	c->blinds = xsodium_malloc(DH_CHUNK * OPRF_SCALAR);
	c->blinded = xmalloc(DH_CHUNK * OPRF_ELEM);
	c->fin = xreallocarray(NULL, DH_CHUNK, sizeof(*c->fin));
	c->tmp = xmalloc(DH_CHUNK * 32);
	c->evaluated = xmalloc(DH_CHUNK * OPRF_ELEM);
	c->val = xreallocarray(NULL, DH_CHUNK, sizeof(u128));
}

static void
query_free(struct query *c)
{
	sodium_free(c->blinds);
	free(c->blinded);
	sodium_memzero(c->fin, DH_CHUNK * sizeof(*c->fin));
	free(c->fin);
	free(c->tmp);
	free(c->evaluated);
	free(c->val);
}

/* Blind key i of c->kb into slot c->n + i. */
static int
job_blind(void *arg, size_t lo, size_t hi)
{
	struct query *c = arg;

	for (size_t i = lo; i < hi; i++) {
		size_t s = c->n + i;
		if (oprf_blind(c->blinds + 32 * s, c->blinded + 32 * s,
		    KB_KEY(c->kb, i), KB_LEN(c->kb, i), NULL) < 0)
			return -1;
		oprf_finalize_begin(&c->fin[s], KB_KEY(c->kb, i),
		    KB_LEN(c->kb, i));
	}
	return 0;
}

/* Unblind a slice with one inversion, then finish each Finalize hash. */
static int
job_unblind(void *arg, size_t lo, size_t hi)
{
	struct query *c = arg;
	uint8_t *unbl = c->tmp + 32 * lo;	/* reused after the batch */
	uint8_t scratch[32 * 64], out[OPRF_OUT];
	size_t step;

	for (size_t i = lo; i < hi; i += step) {
		step = hi - i < 64 ? hi - i : 64;
		if (oprf_unblind_batch(unbl, c->blinds + 32 * i,
		    c->evaluated + 32 * i, step, scratch) < 0)
			return -1;
		for (size_t j = 0; j < step; j++) {
			oprf_finalize_end(out, &c->fin[i + j], unbl + 32 * j);
			c->val[i + j] = gcs_truncate(out, 128);
		}
	}
	sodium_memzero(c->blinds + 32 * lo, 32 * (hi - lo));
	return 0;
}

/* Fill chunk c with up to DH_CHUNK keys and send it; 0 if there were none
 * left.  *more is cleared once the input is done. */
static size_t
query_send(struct engine_ctx *ctx, struct query *c, struct key_batch *kb,
    int *more)
{
	c->n = 0;
	c->first = ctx->nkeys;
	while (c->n < DH_CHUNK &&
	    (*more = ctx->next_keys(ctx->sess, kb, DH_CHUNK - c->n) > 0)) {
		c->kb = kb;
		if (pool_run(ctx->pool, job_blind, c, kb->n) < 0)
			fatal(EXIT_IO, "a key cannot be hashed to the group");
		c->n += kb->n;
	}
	if (c->n > 0)
		ch_send(ctx->ch, FR_QUERY, c->blinded, c->n * OPRF_ELEM);
	return c->n;
}

/* Receive the EVAL answering chunk c and emit its values. */
static void
query_finish(struct engine_ctx *ctx, struct query *c)
{
	size_t n = ch_expect(ctx->ch, FR_EVAL, ctx->frame);

	if (n != c->n * OPRF_ELEM)
		fatal(EXIT_PROTO, "peer answered %zu elements with %zu bytes",
		    c->n, n);
	memcpy(c->evaluated, ctx->frame, n);
	if (pool_run(ctx->pool, job_unblind, c, c->n) < 0)
		fatal(EXIT_PROTO, "peer sent an invalid group element");
	for (size_t i = 0; i < c->n; i++)
		ctx->emit(ctx->sess, c->val[i], c->first + i);
}

static void
querier_start(struct engine_ctx *ctx)
{
	struct query q[WINDOW];
	struct key_batch *kb = kb_new();
	size_t head = 0, inflight = 0;
	int more = 1;

	for (int i = 0; i < WINDOW; i++)
		query_init(&q[i]);
	while (more || inflight > 0) {
		if (inflight == WINDOW || (!more && inflight > 0)) {
			query_finish(ctx, &q[head]);
			head = (head + 1) % WINDOW;
			inflight--;
		} else if (query_send(ctx, &q[(head + inflight) % WINDOW], kb,
		    &more) > 0)
			inflight++;
	}
	for (int i = 0; i < WINDOW; i++)
		query_free(&q[i]);
	kb_free(kb);
}

static void
querier_finish(struct engine_ctx *ctx)
{
	ctx->own_keys = ctx->nkeys;
	put_u64(ctx->frame, ctx->own_keys);
	ch_send(ctx->ch, FR_QEND, ctx->frame, 8);
	ctx->peer_keys = engine_recv_count(ctx, FR_HCOUNT, "announced");
}

/* ---- holder -------------------------------------------------------------- */

struct holder {
	uint8_t		*sk;		/* OPRF key, sodium_malloc */
	struct key_batch *kb;		/* own keys */
	u128		 val[KEY_BATCH];	/* their values */
	const uint8_t	*in;		/* query: n * 32 blinded */
	uint8_t		*ev;		/* query: n * 32 evaluated */
};

static int
job_evaluate(void *arg, size_t lo, size_t hi)
{
	struct holder *h = arg;
	uint8_t out[OPRF_OUT];

	for (size_t i = lo; i < hi; i++) {
		if (oprf_evaluate(out, h->sk, KB_KEY(h->kb, i),
		    KB_LEN(h->kb, i)) < 0)
			return -1;
		h->val[i] = gcs_truncate(out, 128);
	}
	return 0;
}

static int
job_answer(void *arg, size_t lo, size_t hi)
{
	struct holder *h = arg;

	for (size_t i = lo; i < hi; i++)
		if (oprf_blind_evaluate(h->ev + 32 * i, h->sk, h->in + 32 * i) < 0)
			return -1;
	return 0;
}

/* Answer one QUERY frame of n bytes in ctx->frame; returns its elements. */
static size_t
answer_query(struct engine_ctx *ctx, struct holder *h, uint64_t nq, size_t n)
{
	if (n == 0 || n % OPRF_ELEM != 0 || n / OPRF_ELEM > DH_CHUNK)
		fatal(EXIT_PROTO, "peer sent a QUERY of %zu bytes", n);
	vlog(3, "QUERY of %zu elements", n / OPRF_ELEM);
	engine_peer_keys(ctx, nq + n / OPRF_ELEM, "queried");
	h->in = ctx->frame;
	if (pool_run(ctx->pool, job_answer, h, n / OPRF_ELEM) < 0)
		fatal(EXIT_PROTO, "peer sent an invalid group element");
	ch_send(ctx->ch, FR_EVAL, h->ev, n);
	return n / OPRF_ELEM;
}

/* Read and evaluate up to one batch of our own keys; 0 at the end. */
static int
evaluate_batch(struct engine_ctx *ctx, struct holder *h)
{
	if (ctx->next_keys(ctx->sess, h->kb, KEY_BATCH) == 0)
		return 0;
	if (pool_run(ctx->pool, job_evaluate, h, h->kb->n) < 0)
		fatal(EXIT_IO, "a key cannot be hashed to the group");
	for (size_t i = 0; i < h->kb->n; i++)
		ctx->emit(ctx->sess, h->val[i], h->kb->first + i);
	return 1;
}

static void
holder_start(struct engine_ctx *ctx)
{
	struct holder *h = xcalloc(1, sizeof(*h));
	uint64_t nq = 0;
	int qdone = 0, own_done = 0, type;

	h->sk = xsodium_malloc(OPRF_SCALAR);
	oprf_random_scalar(h->sk);
	h->kb = kb_new();
	h->ev = xmalloc(DH_CHUNK * OPRF_ELEM);
	while (!qdone) {
		if (own_done || ch_pending(ctx->ch)) {
			size_t n = ch_recv(ctx->ch, &type, ctx->frame);
			if (type == FR_QUERY) {
				nq += answer_query(ctx, h, nq, n);
				continue;
			}
			if (type != FR_QEND)
				fatal(EXIT_PROTO, "protocol violation: expected "
				    "QUERY, got %s", ch_frame_name(type));
			if (n != 8 || get_u64(ctx->frame) != nq)
				fatal(EXIT_PROTO, "peer's QEND count does not match "
				    "the %" PRIu64 " keys it queried", nq);
			qdone = 1;
		} else if (!evaluate_batch(ctx, h))
			own_done = 1;
	}
	while (!own_done) {
		own_done = !evaluate_batch(ctx, h);
		ch_keepalive(ctx->ch);
	}
	sodium_free(h->sk);
	kb_free(h->kb);
	free(h->ev);
	free(h);
	ctx->peer_keys = nq;
}

void
dh_send_hcount(struct engine_ctx *ctx)
{
	ctx->own_keys = ctx->nkeys;
	put_u64(ctx->frame, ctx->own_keys);
	ch_send(ctx->ch, FR_HCOUNT, ctx->frame, 8);
}

const struct engine engine_dh = {
	.name = "dh",
	.id = ENGINE_DH,
	.values_per_key = 1,
	.reserve = DH_RESERVE,
	.share = 0,
	.frame_range = FR_RANGE_DH,
	.frames = { "QUERY", "EVAL", "QEND", "HCOUNT", "COUNT" },
	.querier = { querier_start, querier_finish, NULL },
	.holder = { holder_start, dh_send_hcount, NULL },
	.count_querier = { count_querier_start, count_querier_finish,
	    count_querier_end },
	.count_holder = { count_holder_start, dh_send_hcount, count_holder_end },
};
