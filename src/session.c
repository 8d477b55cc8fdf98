/*
 * session.c: the PSI protocol state machine for both roles.
 *
 * Message order (all frames inside the Noise channel, see channel.h):
 *
 *   querier                                holder
 *   QUERY(blinded x_1..x_n)      ------>       (n <= 1024 per frame)
 *                                <------   EVAL(k*B_1..k*B_n)
 *   ... at most WINDOW queries outstanding, so neither side can block
 *   ... the other by filling the socket buffers
 *   QEND(nQ)                     ------>
 *                                          (evaluates F_k(y) for its own
 *                                           keys meanwhile, and after)
 *                                <------   HCOUNT(nH)
 *            both compute t = min(128, ceil(log2 nQ*nH) + 40)
 *                                <------   DIGEST(GCS chunk)...  DEND(m)
 *   merges its sorted values with the digest: its matches
 *   REVEAL(GCS chunk of matched values)... REND(r)   (--reveal both)
 *   REND(0)                                          (--reveal querier)
 *                                          writes its matches
 *                                <------   DONE
 *   writes its matches
 *
 * Bounded memory (DESIGN section 2).  Records go to a record spill in
 * input order; each key's PRF value, kept as its first 128 bits, goes with
 * the record's index into a sorter (sorted runs on disk, k-way merged).
 * Once both counts are known the sorted stream is truncated to t bits on
 * the fly (truncation keeps the order).  The holder turns it into the
 * digest; the querier merges it with the incoming digest, and matched
 * indices go into a second sorter.  Finally the record spill is streamed
 * once and the records whose index comes out of the index sorter are
 * written: the output is in input order whatever the input size.  Frames
 * that must wait (the querier's reveal, the holder's sorted pairs for
 * the reveal merge) wait in spills too, never in memory.
 *
 * Budget: a fixed reserve for I/O buffers, the spills and frames, and the
 * rest split between the value sorter (2/3) and the index sorter (1/3).
 *
 * Threads: curve work runs on a pool (pool.c) in slices of each batch;
 * the network, the spills and the sorters stay on the main thread.  The
 * holder alternates between answering queries as they arrive and
 * evaluating its own keys in between, so neither party idles while the
 * other computes.
 *
 * Every count from the peer is checked against what it may be before
 * anything is allocated for it.
 */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "channel.h"
#include "gcs.h"
#include "oprf.h"
#include "output.h"
#include "pool.h"
#include "progress.h"
#include "records.h"
#include "session.h"
#include "spill.h"
#include "stats.h"
#include "util.h"

#define CHUNK		1024		/* elements per QUERY/EVAL frame */
#define CHUNK_KEYS	(256u << 10)	/* key bytes per query chunk */
#define WINDOW		4		/* QUERY frames in flight */
#define PENDING		16384		/* values waiting for a GCS chunk */
#define RESERVE		(6u << 20)	/* budget for everything but sorters */

/* ---- session parameters ------------------------------------------------ */

size_t
params_encode(const struct params *p, uint8_t *out)
{
	size_t clen = strlen(p->context);

	out[0] = p->version;
	out[1] = p->role;
	out[2] = p->reveal;
	out[3] = p->count_only;
	out[4] = (uint8_t)(p->trim | p->ignore_case << 1);
	put_u32(out + 5, p->shard_i);
	put_u32(out + 9, p->shard_n);
	out[13] = (uint8_t)clen;
	memcpy(out + 14, p->context, clen);
	return 14 + clen;
}

static const char *
role_name(int r)
{
	return r == ROLE_HOLDER ? "holder" : "querier";
}

static const char *
reveal_name(int r)
{
	return r == REVEAL_BOTH ? "both" : "querier";
}

void
params_check(const struct params *us, const uint8_t *b, size_t len,
    const char *peer)
{
	struct params them;

	if (len < 1)
		fatal(EXIT_PROTO, "peer %s sent no session parameters", peer);
	if (b[0] != PROTOCOL_VERSION)
		fatal(EXIT_PROTO, "peer %s speaks protocol version %u, we speak "
		    "version %u", peer, b[0], PROTOCOL_VERSION);
	if (len < 14 || len != 14u + b[13])
		fatal(EXIT_PROTO, "peer %s sent malformed session parameters",
		    peer);
	memset(&them, 0, sizeof(them));
	them.role = b[1];
	them.reveal = b[2];
	them.count_only = b[3];
	them.trim = b[4] & 1;
	them.ignore_case = b[4] >> 1 & 1;
	them.shard_i = get_u32(b + 5);
	them.shard_n = get_u32(b + 9);
	memcpy(them.context, b + 14, b[13]);
	them.context[b[13]] = '\0';
	if ((them.role != ROLE_HOLDER && them.role != ROLE_QUERIER) ||
	    them.reveal > REVEAL_QUERIER || them.count_only > 1 || b[4] > 3)
		fatal(EXIT_PROTO, "peer %s sent invalid session parameters", peer);
	if (them.role == us->role)
		fatal(EXIT_PROTO, "both sides are %ss: use --role holder on one "
		    "side and --role querier on the other", role_name(us->role));
	if (them.reveal != us->reveal)
		fatal(EXIT_PROTO, "peer uses --reveal %s, we use --reveal %s",
		    reveal_name(them.reveal), reveal_name(us->reveal));
	if (them.count_only != us->count_only)
		fatal(EXIT_PROTO, "peer %s --count-only, we %s",
		    them.count_only ? "uses" : "does not use",
		    us->count_only ? "do" : "do not");
	if (them.trim != us->trim)
		fatal(EXIT_PROTO, "peer %s --trim, we %s",
		    them.trim ? "uses" : "does not use", us->trim ? "do" : "do not");
	if (them.ignore_case != us->ignore_case)
		fatal(EXIT_PROTO, "peer %s --ignore-case, we %s",
		    them.ignore_case ? "uses" : "does not use",
		    us->ignore_case ? "do" : "do not");
	if (them.shard_i != us->shard_i || them.shard_n != us->shard_n) {
		char a[32] = "none", c[32] = "none";
		if (them.shard_n)
			snprintf(a, sizeof(a), "%u/%u", them.shard_i, them.shard_n);
		if (us->shard_n)
			snprintf(c, sizeof(c), "%u/%u", us->shard_i, us->shard_n);
		fatal(EXIT_PROTO, "peer uses --shard %s, we use --shard %s", a, c);
	}
	if (b[13] != strlen(us->context) ||
	    memcmp(them.context, us->context, b[13]) != 0) {
		/* shown with control characters masked: no terminal escapes */
		for (size_t i = 0; i < b[13]; i++)
			if ((unsigned char)them.context[i] < 0x20 ||
			    them.context[i] == 0x7f)
				them.context[i] = '?';
		fatal(EXIT_PROTO, "peer uses --context '%s', we use '%s'",
		    them.context, us->context);
	}
}

uint32_t
shard_of(const uint8_t *key, size_t len, uint32_t n)
{
	static const uint8_t label[] = "psi-stream shard";
	crypto_generichash_state st;
	uint8_t h[8];
	uint64_t v;

	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	crypto_generichash_update(&st, label, sizeof(label) - 1);
	crypto_generichash_update(&st, key, len);
	crypto_generichash_final(&st, h, sizeof(h));
	v = get_u64(h);
	return (uint32_t)(v % n) + 1;
}

/* ---- local state --------------------------------------------------------- */

struct state {
	const struct session_opts *o;
	struct channel	*ch;
	struct pool	*pool;
	struct rec_reader *rr;
	const char	*tmpdir;
	struct recspill	*recs;		/* our keyed records, input order */
	struct sorter	*vals;		/* (PRF value, record index) */
	struct sorter	*hits;		/* matched record indices */
	size_t		 mem_vals, mem_hits;
	uint64_t	 nkeys;		/* keys read = records spilled */
	uint64_t	 matched;
	unsigned	 t;
	uint8_t		*frame;		/* CH_MAX_PAYLOAD */
};

static void
tick(void *arg)
{
	ch_keepalive(arg);
}

/* Next record with a key in our shard; its data goes to the record spill. */
static int
next_key(struct state *S, struct record *r)
{
	const struct params *p = &S->o->p;

	while (rec_next(S->rr, r)) {
		if (p->shard_n && shard_of(r->key, r->keylen, p->shard_n) !=
		    p->shard_i)
			continue;
		if (r->len > S->o->memory / 4)
			fatal(EXIT_USAGE, "%s: record %" PRIu64 " is %zu bytes, "
			    "more than a quarter of --memory", r->file, r->recno,
			    r->len);
		if (S->recs)		/* count-only writes no records */
			recspill_add(S->recs, r->data, r->len);
		S->nkeys++;
		run_stats.keys = S->nkeys;
		if ((S->nkeys & 1023) == 0)
			progress_set(S->nkeys);
		return 1;
	}
	return 0;
}

/* Input is exhausted: record what the reader counted. */
static void
input_done(struct state *S)
{
	struct rec_stats rs;

	rec_get_stats(S->rr, &rs);
	run_stats.records = rs.records;
	run_stats.empty_skipped = rs.empty;
	run_stats.invalid_skipped = rs.invalid;
	run_stats.shard_skipped = rs.keys - S->nkeys;
	if (rs.empty)
		warnx_("skipped %" PRIu64 " record%s with an empty key",
		    rs.empty, rs.empty == 1 ? "" : "s");
	progress_set(S->nkeys);
}

static u128
value_of(const uint8_t out[OPRF_OUT])
{
	return gcs_truncate(out, 128);
}

/* The holder's key count: 8 bytes, and no more than any input could hold
 * (2^48 keys: far beyond 10^10, far below what would overflow counts). */
static uint64_t
recv_hcount(struct state *S)
{
	uint64_t nh;

	if (ch_expect(S->ch, FR_HCOUNT, S->frame) != 8)
		fatal(EXIT_PROTO, "malformed HCOUNT from peer");
	nh = get_u64(S->frame);
	if (nh > (uint64_t)1 << 48)
		fatal(EXIT_PROTO, "peer claims %" PRIu64 " keys, more than any "
		    "input can hold", nh);
	return nh;
}

static void
set_t(struct state *S, uint64_t nq, uint64_t nh)
{
	S->t = gcs_trunc_bits(nq, nh);
	run_stats.truncation_bits = S->t;
	vlog(2, "%" PRIu64 " querier keys, %" PRIu64 " holder keys: values "
	    "truncated to %u bits", nq, nh, S->t);
}

/*
 * Streams a sorted set as GCS chunks.  Values are pushed in order (equal
 * neighbours dropped); whenever enough are pending for a full frame a
 * chunk goes out.  The Rice parameter is chosen per chunk from the mean
 * gap of what is pending, so heavy duplication or a sparse set never
 * makes a unary run longer than a frame.
 */
struct setsend {
	struct state	*S;
	int		 type;
	u128		*vals;
	size_t		 n;
	u128		 base, last;
	int		 have;
	uint64_t	 total;
	uint64_t	 bytes;
};

static void
setsend_flush(struct setsend *ss, int all)
{
	struct state *S = ss->S;
	size_t used, len;

	while (ss->n > 0 && (all || ss->n == PENDING)) {
		u128 span = ss->vals[ss->n - 1] - ss->base;
		unsigned k = gcs_rice_for_gap(span / ss->n, S->t);
		len = gcs_encode(S->frame, CH_MAX_PAYLOAD, ss->vals, ss->n, S->t,
		    k, ss->base, &used);
		if (len == 0 || used == 0)
			fatal(EXIT_PROTO, "internal: a value does not fit a "
			    "GCS chunk");
		ch_send(S->ch, ss->type, S->frame, len);
		ss->bytes += len;
		ss->base = ss->vals[used - 1];
		ss->total += used;
		memmove(ss->vals, ss->vals + used, (ss->n - used) * sizeof(u128));
		ss->n -= used;
	}
}

static void
setsend_push(struct setsend *ss, u128 v)
{
	if (ss->have && v == ss->last)
		return;
	ss->have = 1;
	ss->last = v;
	ss->vals[ss->n++] = v;
	if (ss->n == PENDING)
		setsend_flush(ss, 0);
}

static void
setsend_init(struct setsend *ss, struct state *S, int type)
{
	memset(ss, 0, sizeof(*ss));
	ss->S = S;
	ss->type = type;
	ss->vals = xreallocarray(NULL, PENDING, sizeof(u128));
}

/* Flush, send the end frame with the count, free. */
static uint64_t
setsend_end(struct setsend *ss, int end_type)
{
	setsend_flush(ss, 1);
	put_u64(ss->S->frame, ss->total);
	ch_send(ss->S->ch, end_type, ss->S->frame, 8);
	free(ss->vals);
	return ss->total;
}

/*
 * Receives a sorted set as GCS chunks of `type` until `end_type`, at most
 * `limit` values, strictly increasing across chunks.  Each decoded chunk
 * is handed to `fn` in order.
 */
typedef void (*chunk_fn)(struct state *, const u128 *vals, size_t n, void *);

static uint64_t
recv_set(struct state *S, int type, int end_type, uint64_t limit,
    chunk_fn fn, void *arg)
{
	u128 base = 0, *vals = NULL, prev = 0;
	size_t vcap = 0;
	uint64_t total = 0;
	int got;

	for (;;) {
		size_t n = ch_recv(S->ch, &got, S->frame);
		if (got == end_type) {
			if (n != 8 || get_u64(S->frame) != total)
				fatal(EXIT_PROTO, "peer's %s count does not match "
				    "the %" PRIu64 " values it sent",
				    ch_frame_name(end_type), total);
			break;
		}
		if (got != type)
			fatal(EXIT_PROTO, "protocol violation: expected %s, got %s",
			    ch_frame_name(type), ch_frame_name(got));
		long cnt = gcs_chunk_count(S->frame, n);
		if (cnt < 0)
			fatal(EXIT_PROTO, "peer sent a malformed %s chunk",
			    ch_frame_name(type));
		if ((uint64_t)cnt > limit - total)
			fatal(EXIT_PROTO, "peer sent a %s chunk of %ld values, more "
			    "than it announced", ch_frame_name(type), cnt);
		if ((size_t)cnt > vcap) {
			vcap = (size_t)cnt;
			vals = xreallocarray(vals, vcap, sizeof(u128));
		}
		long m = gcs_decode(S->frame, n, S->t, &base, vals, vcap);
		if (m != cnt)
			fatal(EXIT_PROTO, "peer sent a malformed %s chunk",
			    ch_frame_name(type));
		for (long q = 0; q < m; q++) {
			if ((total > 0 || q > 0) && vals[q] <= prev)
				fatal(EXIT_PROTO, "peer's %s values are not in "
				    "increasing order", ch_frame_name(type));
			prev = vals[q];
		}
		total += (uint64_t)m;
		if (type == FR_DIGEST)
			run_stats.digest_bytes += n;
		fn(S, vals, (size_t)m, arg);
		progress_set(total);
		ch_keepalive(S->ch);
	}
	free(vals);
	return total;
}

/* Merge state: our sorted (value, index) stream against the peer's set. */
struct merge {
	int		 have;		/* cur/idx hold an unconsumed pair */
	u128		 cur;
	uint64_t	 idx;
	int		 (*next)(void *, u128 *, uint64_t *);
	void		*src;
	struct recspill	*reveal;	/* querier: distinct matched values */
	int		 rhave;
	u128		 rlast;
};

static int
merge_advance(struct merge *m)
{
	if (!m->have && m->next(m->src, &m->cur, &m->idx))
		m->have = 1;
	return m->have;
}

/* Mark every pair of ours whose value is in vals[0..n-1]. */
static void
merge_chunk(struct state *S, const u128 *vals, size_t n, void *arg)
{
	struct merge *m = arg;

	for (size_t q = 0; q < n; q++) {
		while (merge_advance(m) && m->cur < vals[q])
			m->have = 0;
		while (merge_advance(m) && m->cur == vals[q]) {
			if (S->hits)
				sorter_add(S->hits, m->idx, 0);
			S->matched++;
			if (m->reveal && !(m->rhave && m->rlast == m->cur)) {
				recspill_add(m->reveal, (const uint8_t *)&m->cur,
				    sizeof(m->cur));
				m->rhave = 1;
				m->rlast = m->cur;
			}
			m->have = 0;
		}
	}
}

/* The value sorter's stream, truncated to t bits. */
static int
next_sorted(void *arg, u128 *v, uint64_t *idx)
{
	struct state *S = arg;

	if (!sorter_next(S->vals, v, idx))
		return 0;
	*v >>= 128 - S->t;
	return 1;
}

/* A spill of sorted 24-byte (value, index) records, read back. */
static int
next_kept(void *arg, u128 *v, uint64_t *idx)
{
	const uint8_t *p;
	size_t len;

	if (!recspill_next(arg, &p, &len))
		return 0;
	if (len != 24)
		fatal(EXIT_IO, "internal: bad pair in temporary file");
	memcpy(v, p, 16);
	memcpy(idx, p + 16, 8);
	return 1;
}

/* Stream the record spill once, writing records whose index is a hit. */
static uint64_t
write_matches(struct state *S, struct output *out)
{
	uint64_t written = 0;

	const uint8_t *data;
	size_t len;
	uint64_t i = 0, unused;
	u128 want;
	int have;

	stats_phase("output");
	progress_phase("output", S->nkeys);
	sorter_finish(S->hits);
	recspill_rewind(S->recs);
	have = sorter_next(S->hits, &want, &unused);
	while (have && recspill_next(S->recs, &data, &len)) {
		if (want == i) {
			output_record(out, data, len);
			written++;
			have = sorter_next(S->hits, &want, &unused);
		}
		if ((++i & 4095) == 0) {
			ch_keepalive(S->ch);
			progress_set(i);
		}
	}
	run_stats.matched_records = written;
	return written;
}

/* A batch of our keys, copied out of the reader: at most CHUNK keys or
 * CHUNK_KEYS bytes (one longer key on its own). */
struct keys {
	size_t		 n;
	uint8_t		*buf;
	size_t		*off;		/* n + 1 offsets into buf */
	size_t		 cap;
};

static void
keys_init(struct keys *k)
{
	k->n = 0;
	k->cap = CHUNK_KEYS;
	k->buf = xmalloc(k->cap);
	k->off = xreallocarray(NULL, CHUNK + 1, sizeof(size_t));
	k->off[0] = 0;
}

static void
keys_free(struct keys *k)
{
	free(k->buf);
	free(k->off);
}

/* Key i of the batch. */
#define KEY(k, i)	((k)->buf + (k)->off[i])
#define KEYLEN(k, i)	((k)->off[(i) + 1] - (k)->off[i])

/* Refill the batch from the input; returns how many keys it holds. */
static size_t
keys_read(struct state *S, struct keys *k)
{
	struct record r;

	k->n = 0;
	while (k->n < CHUNK && k->off[k->n] < CHUNK_KEYS && next_key(S, &r)) {
		if (r.keylen > k->cap - k->off[k->n]) {
			k->cap = k->off[k->n] + r.keylen;
			k->buf = xreallocarray(k->buf, k->cap, 1);
		}
		memcpy(k->buf + k->off[k->n], r.key, r.keylen);
		k->off[k->n + 1] = k->off[k->n] + r.keylen;
		k->n++;
	}
	return k->n;
}

/* ---- querier ------------------------------------------------------------- */

struct qchunk {			/* one QUERY in flight */
	size_t		 n;
	uint64_t	 first;		/* index of its first key */
	uint8_t		*blinds;	/* n * 32, secret until used */
	uint8_t		*blinded;	/* n * 32, sent */
	uint8_t		*keys;		/* the keys, for Finalize */
	size_t		*koff;		/* n + 1 offsets into keys */
	size_t		 kcap;
	uint8_t		*out;		/* n * 64 PRF outputs */
	uint8_t		*tmp;		/* n * 32 scratch */
	uint8_t		*evaluated;	/* n * 32 from the peer */
	atomic_int	 bad;		/* a worker saw an invalid element */
};

static void
qchunk_init(struct qchunk *c)
{
	memset(c, 0, sizeof(*c));
	c->blinds = sodium_malloc(CHUNK * OPRF_SCALAR);
	if (c->blinds == NULL)
		fatal(EXIT_IO, "cannot allocate secure memory");
	c->blinded = xmalloc(CHUNK * OPRF_ELEM);
	c->koff = xreallocarray(NULL, CHUNK + 1, sizeof(size_t));
	c->kcap = CHUNK_KEYS;
	c->keys = xmalloc(c->kcap);
	c->out = xmalloc(CHUNK * OPRF_OUT);
	c->tmp = xmalloc(CHUNK * 32);
	c->evaluated = xmalloc(CHUNK * OPRF_ELEM);
}

static void
qchunk_free(struct qchunk *c)
{
	sodium_free(c->blinds);
	free(c->blinded);
	free(c->koff);
	free(c->keys);
	free(c->out);
	free(c->tmp);
	free(c->evaluated);
}

static int
qchunk_fits(const struct qchunk *c, size_t keylen)
{
	return c->n < CHUNK && (c->n == 0 ||
	    keylen <= c->kcap - c->koff[c->n]);
}

static void
qchunk_add(struct qchunk *c, const struct record *r)
{
	if (c->n == 0)
		c->koff[0] = 0;
	if (r->keylen > c->kcap - c->koff[c->n]) {	/* one huge key */
		c->kcap = c->koff[c->n] + r->keylen;
		c->keys = xreallocarray(c->keys, c->kcap, 1);
	}
	memcpy(c->keys + c->koff[c->n], r->key, r->keylen);
	c->koff[c->n + 1] = c->koff[c->n] + r->keylen;
	c->n++;
}

static void
job_blind(void *arg, size_t lo, size_t hi)
{
	struct qchunk *c = arg;

	for (size_t i = lo; i < hi; i++)
		if (oprf_blind(c->blinds + 32 * i, c->blinded + 32 * i,
		    c->keys + c->koff[i], c->koff[i + 1] - c->koff[i], NULL) < 0)
			atomic_store(&c->bad, 1);
}

/* Unblind a slice with one inversion, then the final hash of each. */
static void
job_unblind(void *arg, size_t lo, size_t hi)
{
	struct qchunk *c = arg;
	uint8_t *unbl = c->tmp + 32 * lo;	/* reused after the batch */
	uint8_t scratch[32 * 64];
	size_t step;

	for (size_t i = lo; i < hi; i += step) {
		step = hi - i < 64 ? hi - i : 64;
		if (oprf_unblind_batch(unbl, c->blinds + 32 * i,
		    c->evaluated + 32 * i, step, scratch) < 0) {
			atomic_store(&c->bad, 1);
			return;
		}
		for (size_t j = 0; j < step; j++)
			oprf_finalize_hash(c->out + 64 * (i + j),
			    c->keys + c->koff[i + j],
			    c->koff[i + j + 1] - c->koff[i + j], unbl + 32 * j);
	}
	sodium_memzero(c->blinds + 32 * lo, 32 * (hi - lo));
}

/* Receive the EVAL answering chunk c and turn it into sorted pairs. */
static void
qchunk_finish(struct state *S, struct qchunk *c)
{
	size_t n = ch_expect(S->ch, FR_EVAL, S->frame);

	if (n != c->n * OPRF_ELEM)
		fatal(EXIT_PROTO, "peer answered %zu elements with %zu bytes",
		    c->n, n);
	memcpy(c->evaluated, S->frame, n);
	pool_run(S->pool, job_unblind, c, c->n);
	if (atomic_load(&c->bad))
		fatal(EXIT_PROTO, "peer sent an invalid group element");
	for (size_t i = 0; i < c->n; i++)
		sorter_add(S->vals, value_of(c->out + 64 * i), c->first + i);
}

static void
query_all(struct state *S)
{
	struct qchunk q[WINDOW];
	struct record r;
	size_t head = 0, inflight = 0;
	int more = 1, held = 0;

	for (int i = 0; i < WINDOW; i++)
		qchunk_init(&q[i]);
	while (more || inflight > 0) {
		if (inflight == WINDOW || (!more && inflight > 0)) {
			qchunk_finish(S, &q[head]);
			head = (head + 1) % WINDOW;
			inflight--;
			continue;
		}
		struct qchunk *c = &q[(head + inflight) % WINDOW];
		c->n = 0;
		c->first = S->nkeys - (uint64_t)held;
		atomic_store(&c->bad, 0);
		if (held) {		/* the key that did not fit last time */
			qchunk_add(c, &r);
			held = 0;
		}
		while ((more = next_key(S, &r))) {
			if (!qchunk_fits(c, r.keylen)) {
				held = 1;
				break;
			}
			qchunk_add(c, &r);
		}
		if (c->n == 0)
			continue;
		pool_run(S->pool, job_blind, c, c->n);
		if (atomic_load(&c->bad))
			fatal(EXIT_IO, "a key cannot be hashed to the group");
		ch_send(S->ch, FR_QUERY, c->blinded, c->n * OPRF_ELEM);
		inflight++;
		more = more || held;
	}
	for (int i = 0; i < WINDOW; i++)
		qchunk_free(&q[i]);
}

static int
run_querier(struct state *S)
{
	struct setsend reveal;
	struct merge m;
	struct output *out;
	uint64_t nh;

	stats_phase("query");
	progress_phase("query", 0);
	query_all(S);
	input_done(S);
	stats_phase("sort");
	progress_phase("sort", 0);
	/* Sort before QEND: once the holder starts sending the digest we
	 * must be reading, or its writes would stall past its timeout. */
	sorter_finish(S->vals);
	vlog(2, "%" PRIu64 " values sorted in %u runs", S->nkeys,
	    sorter_runs(S->vals));
	put_u64(S->frame, S->nkeys);
	ch_send(S->ch, FR_QEND, S->frame, 8);
	nh = run_stats.peer_records = recv_hcount(S);
	set_t(S, S->nkeys, nh);
	stats_phase("match");
	progress_phase("match", nh);

	/* Matched values wait in a spill: the holder is not reading while
	 * it sends the digest, so the reveal cannot go out yet. */
	memset(&m, 0, sizeof(m));
	m.next = next_sorted;
	m.src = S;
	if (S->o->p.reveal == REVEAL_BOTH)
		m.reveal = recspill_new(S->tmpdir);
	recv_set(S, FR_DIGEST, FR_DEND, nh, merge_chunk, &m);
	sorter_free(S->vals);
	S->vals = NULL;

	/* Our output exists before the holder can have its result: a bad
	 * -o fails here, and the holder hears of it instead of finishing. */
	out = output_open(S->o->output, S->o->rec.zero_term ? '\0' : '\n');
	stats_phase("reveal");
	progress_phase("reveal", 0);
	setsend_init(&reveal, S, FR_REVEAL);
	if (m.reveal) {
		const uint8_t *p;
		size_t len;
		u128 v;
		recspill_rewind(m.reveal);
		while (recspill_next(m.reveal, &p, &len)) {
			memcpy(&v, p, 16);
			setsend_push(&reveal, v);
		}
		recspill_free(m.reveal);
	}
	setsend_end(&reveal, FR_REND);

	write_matches(S, out);
	ch_expect(S->ch, FR_DONE, S->frame);
	output_commit(out);
	return EXIT_OK;
}

/* ---- holder -------------------------------------------------------------- */

struct hbatch {			/* keys being evaluated, or a query */
	size_t		 n;		/* query elements */
	const uint8_t	*sk;
	struct keys	 k;		/* own keys */
	uint8_t		*out;		/* k.n * 64 */
	const uint8_t	*in;		/* query: n * 32 blinded */
	uint8_t		*ev;		/* query: n * 32 evaluated */
	atomic_int	 bad;
};

static void
job_evaluate(void *arg, size_t lo, size_t hi)
{
	struct hbatch *b = arg;

	for (size_t i = lo; i < hi; i++)
		if (oprf_evaluate(b->out + 64 * i, b->sk, KEY(&b->k, i),
		    KEYLEN(&b->k, i)) < 0)
			atomic_store(&b->bad, 1);
}

static void
job_answer(void *arg, size_t lo, size_t hi)
{
	struct hbatch *b = arg;

	for (size_t i = lo; i < hi; i++)
		if (oprf_blind_evaluate(b->ev + 32 * i, b->sk, b->in + 32 * i) < 0)
			atomic_store(&b->bad, 1);
}

/* Answer one QUERY frame of n bytes in S->frame. */
static void
answer_query(struct state *S, struct hbatch *q, size_t n)
{
	if (n == 0 || n % OPRF_ELEM != 0 || n / OPRF_ELEM > CHUNK)
		fatal(EXIT_PROTO, "peer sent a QUERY of %zu bytes", n);
	q->n = n / OPRF_ELEM;
	q->in = S->frame;
	atomic_store(&q->bad, 0);
	pool_run(S->pool, job_answer, q, q->n);
	if (atomic_load(&q->bad))
		fatal(EXIT_PROTO, "peer sent an invalid group element");
	ch_send(S->ch, FR_EVAL, q->ev, n);
}

/* Read and evaluate up to one batch of our own keys; 0 at the end. */
static int
evaluate_batch(struct state *S, struct hbatch *b)
{
	uint64_t first = S->nkeys;

	if (keys_read(S, &b->k) == 0)
		return 0;
	atomic_store(&b->bad, 0);
	pool_run(S->pool, job_evaluate, b, b->k.n);
	if (atomic_load(&b->bad))
		fatal(EXIT_IO, "a key cannot be hashed to the group");
	for (size_t i = 0; i < b->k.n; i++)
		sorter_add(S->vals, value_of(b->out + 64 * i), first + i);
	return 1;
}

static int
run_holder(struct state *S)
{
	uint8_t *sk = sodium_malloc(OPRF_SCALAR);
	struct hbatch own, q;
	struct setsend dig;
	struct recspill *keep = NULL;
	uint64_t nq = 0, sent;
	int qdone = 0, own_done = 0, type;
	u128 v;
	uint64_t idx;

	if (sk == NULL)
		fatal(EXIT_IO, "cannot allocate secure memory");
	oprf_random_scalar(sk);
	memset(&own, 0, sizeof(own));
	memset(&q, 0, sizeof(q));
	own.sk = q.sk = sk;
	keys_init(&own.k);
	own.out = xmalloc(CHUNK * OPRF_OUT);
	q.ev = xmalloc(CHUNK * OPRF_ELEM);

	/* 1. answer queries as they come, evaluate our keys in between */
	stats_phase("evaluate");
	progress_phase("evaluate", 0);
	while (!qdone) {
		if (own_done || ch_pending(S->ch)) {
			size_t n = ch_recv(S->ch, &type, S->frame);
			if (type == FR_QUERY) {
				answer_query(S, &q, n);
				nq += q.n;
				continue;
			}
			if (type != FR_QEND)
				fatal(EXIT_PROTO, "protocol violation: expected "
				    "QUERY, got %s", ch_frame_name(type));
			if (n != 8 || get_u64(S->frame) != nq)
				fatal(EXIT_PROTO, "peer's QEND count does not match "
				    "the %" PRIu64 " keys it queried", nq);
			qdone = 1;
		} else if (!evaluate_batch(S, &own))
			own_done = 1;
	}
	while (!own_done) {
		own_done = !evaluate_batch(S, &own);
		ch_keepalive(S->ch);
	}
	input_done(S);
	sodium_free(sk);
	keys_free(&own.k);
	free(own.out);
	free(q.ev);
	run_stats.peer_records = nq;
	stats_phase("sort");
	progress_phase("sort", 0);
	sorter_finish(S->vals);
	vlog(2, "%" PRIu64 " values sorted in %u runs", S->nkeys,
	    sorter_runs(S->vals));
	put_u64(S->frame, S->nkeys);
	ch_send(S->ch, FR_HCOUNT, S->frame, 8);
	set_t(S, nq, S->nkeys);

	/* 2. the digest; keep the sorted pairs for the reveal merge */
	stats_phase("digest");
	progress_phase("digest", S->nkeys);
	if (S->o->p.reveal == REVEAL_BOTH)
		keep = recspill_new(S->tmpdir);
	setsend_init(&dig, S, FR_DIGEST);
	for (uint64_t done = 1; next_sorted(S, &v, &idx); done++) {
		setsend_push(&dig, v);
		if ((done & 4095) == 0)
			progress_set(done);
		if (keep) {
			uint8_t pair[24];
			memcpy(pair, &v, 16);
			memcpy(pair + 16, &idx, 8);
			recspill_add(keep, pair, sizeof(pair));
		}
	}
	sent = setsend_end(&dig, FR_DEND);
	run_stats.digest_bytes = dig.bytes;
	vlog(2, "digest: %" PRIu64 " values in %" PRIu64 " bytes, %.2f bits "
	    "per key (t = %u)", sent, dig.bytes, S->nkeys ?
	    8.0 * (double)dig.bytes / (double)S->nkeys : 0.0, S->t);
	sorter_free(S->vals);
	S->vals = NULL;

	/* 3. what the querier reveals */
	stats_phase("reveal");
	progress_phase("reveal", sent);
	struct merge m;
	memset(&m, 0, sizeof(m));
	m.next = next_kept;
	m.src = keep;
	if (keep)
		recspill_rewind(keep);
	recv_set(S, FR_REVEAL, FR_REND, keep ? sent : 0, merge_chunk, &m);
	if (keep) {
		recspill_free(keep);
		struct output *o = output_open(S->o->output,
		    S->o->rec.zero_term ? '\0' : '\n');
		write_matches(S, o);
		output_commit(o);
	}
	ch_send(S->ch, FR_DONE, NULL, 0);
	return EXIT_OK;
}

/* ---- count only --------------------------------------------------------- */
/*
 * --count-only (DESIGN section 1, step 5): the querier learns |X n Y| and
 * nothing about which keys matched.  It blinds every key with ONE scalar
 * r, so equal keys give equal blinded elements and can be removed by
 * sorting; it sends them sorted (by encoding: a random order to the
 * holder).  The holder answers them all only after QEND, sorted by value,
 * so the order of the answers cannot be linked to the queries.  Both sides
 * then compare SHA-512("psi-stream count" || k*H2G(x)) cut to t bits; the
 * holder sends its digest as usual and the querier counts the matches,
 * then tells the holder the count (COUNT frame, empty with --reveal
 * querier).
 */

struct cbatch {
	size_t		 n;		/* elements in `in` */
	const uint8_t	*scalar;	/* r (querier) or k (holder) */
	struct keys	 k;		/* own keys */
	const uint8_t	*in;		/* elements to multiply */
	uint8_t		*elem;		/* n * 32 results */
	uint8_t		*out;		/* n * 64 count hashes */
	atomic_int	 bad;
};

static void
count_hash(uint8_t out[64], const uint8_t elem[32])
{
	static const uint8_t label[] = "psi-stream count";
	crypto_hash_sha512_state st;

	crypto_hash_sha512_init(&st);
	crypto_hash_sha512_update(&st, label, sizeof(label) - 1);
	crypto_hash_sha512_update(&st, elem, 32);
	crypto_hash_sha512_final(&st, out);
}

/* elem[i] = scalar * H2G(key i), and with out set, its count hash. */
static void
job_hash_mul(void *arg, size_t lo, size_t hi)
{
	struct cbatch *b = arg;
	uint8_t p[32];

	for (size_t i = lo; i < hi; i++) {
		if (oprf_hash_to_group(p, KEY(&b->k, i), KEYLEN(&b->k, i)) < 0 ||
		    crypto_scalarmult_ristretto255(b->elem + 32 * i, b->scalar,
		    p) != 0) {
			atomic_store(&b->bad, 1);
			continue;
		}
		if (b->out)
			count_hash(b->out + 64 * i, b->elem + 32 * i);
	}
}

/* elem[i] = scalar * in[i] (peer data: an encoding that does not decode,
 * or the identity, makes the multiplication fail and is flagged), and with
 * out set, its count hash. */
static void
job_mul(void *arg, size_t lo, size_t hi)
{
	struct cbatch *b = arg;

	for (size_t i = lo; i < hi; i++) {
		if (crypto_scalarmult_ristretto255(b->elem + 32 * i, b->scalar,
		    b->in + 32 * i) != 0) {
			atomic_store(&b->bad, 1);
			continue;
		}
		if (b->out)
			count_hash(b->out + 64 * i, b->elem + 32 * i);
	}
}

static void
cbatch_init(struct cbatch *b, const uint8_t *scalar, int hashes)
{
	memset(b, 0, sizeof(*b));
	b->scalar = scalar;
	keys_init(&b->k);
	b->elem = xmalloc(CHUNK * 32);
	b->out = hashes ? xmalloc(CHUNK * 64) : NULL;
}

static void
cbatch_free(struct cbatch *b)
{
	keys_free(&b->k);
	free(b->elem);
	free(b->out);
}

/* Read up to a batch of our keys into b; returns how many. */
static size_t
cbatch_read(struct state *S, struct cbatch *b)
{
	return b->n = keys_read(S, &b->k);
}

static void
run_pool(struct state *S, pool_fn fn, struct cbatch *b, int exit_status,
    const char *what)
{
	atomic_store(&b->bad, 0);
	pool_run(S->pool, fn, b, b->n);
	if (atomic_load(&b->bad))
		fatal(exit_status, "%s", what);
}

/* Send the elements of a finished esort as frames of `type`, CHUNK each. */
static uint64_t
send_elements(struct state *S, struct esort *es, int type)
{
	uint8_t *buf = xmalloc(CHUNK * 32);
	uint64_t total = 0;
	size_t n = 0;

	for (;;) {
		int more = esort_next(es, buf + 32 * n);
		if (more)
			n++;
		if (n == CHUNK || (!more && n > 0)) {
			ch_send(S->ch, type, buf, n * 32);
			total += n;
			n = 0;
			ch_keepalive(S->ch);
		}
		if (!more)
			break;
	}
	free(buf);
	return total;
}

/* Write the count to out (opened by the caller) and commit it. */
static void
print_count(struct output *out, uint64_t c)
{
	char line[32];

	snprintf(line, sizeof(line), "%" PRIu64 "\n", c);
	output_text(out, line);
	output_commit(out);
	run_stats.matched_records = c;
}

static int
run_count_querier(struct state *S)
{
	uint8_t *r = sodium_malloc(32), *rinv = sodium_malloc(32);
	struct esort *es = esort_new(S->tmpdir, S->mem_hits);
	struct cbatch b;
	struct merge m;
	struct output *out;
	uint64_t nq, got = 0, nh;
	int type;

	if (r == NULL || rinv == NULL)
		fatal(EXIT_IO, "cannot allocate secure memory");
	oprf_random_scalar(r);
	if (crypto_core_ristretto255_scalar_invert(rinv, r) != 0)
		fatal(EXIT_IO, "internal: blinding scalar not invertible");
	/* 1. blind everything with r, drop duplicates by sorting */
	stats_phase("query");
	progress_phase("query", 0);
	cbatch_init(&b, r, 0);
	while (cbatch_read(S, &b) > 0) {
		run_pool(S, job_hash_mul, &b, EXIT_IO,
		    "a key cannot be hashed to the group");
		for (size_t i = 0; i < b.n; i++)
			esort_add(es, b.elem + 32 * i);
	}
	input_done(S);
	esort_finish(es, 1);
	nq = send_elements(S, es, FR_QUERY);
	esort_free(es);
	put_u64(S->frame, nq);
	ch_send(S->ch, FR_QEND, S->frame, 8);
	sodium_free(r);

	/* 2. the holder's answers, in an order of its own: unblind, hash */
	stats_phase("answers");
	progress_phase("answers", nq);
	b.scalar = rinv;
	b.out = xmalloc(CHUNK * 64);
	while (got < nq) {
		size_t n = ch_recv(S->ch, &type, S->frame);
		if (type != FR_EVAL || n == 0 || n % 32 != 0 || n / 32 > CHUNK ||
		    n / 32 > nq - got)
			fatal(EXIT_PROTO, "protocol violation: expected at most "
			    "%" PRIu64 " more evaluated elements, got %s of %zu "
			    "bytes", nq - got, ch_frame_name(type), n);
		b.n = n / 32;
		b.in = S->frame;
		run_pool(S, job_mul, &b, EXIT_PROTO,
		    "peer sent an invalid group element");
		for (size_t i = 0; i < b.n; i++)
			sorter_add(S->vals, value_of(b.out + 64 * i), 0);
		got += b.n;
		progress_set(got);
	}
	sodium_free(rinv);
	cbatch_free(&b);
	sorter_finish(S->vals);

	/* 3. count our values that are in the holder's digest */
	nh = run_stats.peer_records = recv_hcount(S);
	set_t(S, nq, nh);
	stats_phase("match");
	progress_phase("match", nh);
	memset(&m, 0, sizeof(m));
	m.next = next_sorted;
	m.src = S;
	recv_set(S, FR_DIGEST, FR_DEND, nh, merge_chunk, &m);
	out = output_open(S->o->output, '\n');	/* before the holder's count */
	if (S->o->p.reveal == REVEAL_BOTH) {
		put_u64(S->frame, S->matched);
		ch_send(S->ch, FR_COUNT, S->frame, 8);
	} else
		ch_send(S->ch, FR_COUNT, NULL, 0);
	ch_expect(S->ch, FR_DONE, S->frame);
	print_count(out, S->matched);
	return EXIT_OK;
}

static int
run_count_holder(struct state *S)
{
	uint8_t *sk = sodium_malloc(32);
	struct esort *es = esort_new(S->tmpdir, S->mem_hits);
	struct cbatch own, q;
	struct setsend dig;
	struct output *out;
	uint64_t nq = 0, sent, c;
	int qdone = 0, own_done = 0, type;
	u128 v;
	uint64_t idx;

	if (sk == NULL)
		fatal(EXIT_IO, "cannot allocate secure memory");
	oprf_random_scalar(sk);
	cbatch_init(&own, sk, 1);
	cbatch_init(&q, sk, 0);
	/* 1. take all queries, evaluating our own keys in between */
	stats_phase("evaluate");
	progress_phase("evaluate", 0);
	while (!qdone) {
		if (own_done || ch_pending(S->ch)) {
			size_t n = ch_recv(S->ch, &type, S->frame);
			if (type == FR_QEND) {
				if (n != 8 || get_u64(S->frame) != nq)
					fatal(EXIT_PROTO, "peer's QEND count does "
					    "not match the %" PRIu64 " keys it "
					    "queried", nq);
				qdone = 1;
				continue;
			}
			if (type != FR_QUERY || n == 0 || n % 32 != 0 ||
			    n / 32 > CHUNK)
				fatal(EXIT_PROTO, "protocol violation: expected "
				    "QUERY, got %s of %zu bytes",
				    ch_frame_name(type), n);
			q.n = n / 32;
			q.in = S->frame;
			run_pool(S, job_mul, &q, EXIT_PROTO,
			    "peer sent an invalid group element");
			for (size_t i = 0; i < q.n; i++)
				esort_add(es, q.elem + 32 * i);
			nq += q.n;
		} else if (cbatch_read(S, &own) > 0) {
			run_pool(S, job_hash_mul, &own, EXIT_IO,
			    "a key cannot be hashed to the group");
			for (size_t i = 0; i < own.n; i++)
				sorter_add(S->vals, value_of(own.out + 64 * i), 0);
		} else
			own_done = 1;
	}
	/* 2. the answers, sorted by value: their order says nothing */
	stats_phase("answers");
	esort_finish(es, 0);
	send_elements(S, es, FR_EVAL);
	esort_free(es);
	while (!own_done) {
		if (cbatch_read(S, &own) == 0)
			break;
		run_pool(S, job_hash_mul, &own, EXIT_IO,
		    "a key cannot be hashed to the group");
		for (size_t i = 0; i < own.n; i++)
			sorter_add(S->vals, value_of(own.out + 64 * i), 0);
		ch_keepalive(S->ch);
	}
	input_done(S);
	sodium_free(sk);
	cbatch_free(&own);
	cbatch_free(&q);
	run_stats.peer_records = nq;
	stats_phase("sort");
	sorter_finish(S->vals);
	put_u64(S->frame, S->nkeys);
	ch_send(S->ch, FR_HCOUNT, S->frame, 8);
	set_t(S, nq, S->nkeys);

	/* 3. the digest, then the count if we may learn it */
	stats_phase("digest");
	progress_phase("digest", S->nkeys);
	setsend_init(&dig, S, FR_DIGEST);
	while (next_sorted(S, &v, &idx))
		setsend_push(&dig, v);
	sent = setsend_end(&dig, FR_DEND);
	run_stats.digest_bytes = dig.bytes;
	size_t n = ch_expect(S->ch, FR_COUNT, S->frame);
	if (S->o->p.reveal == REVEAL_BOTH) {
		if (n != 8 || (c = get_u64(S->frame)) > sent || c > nq)
			fatal(EXIT_PROTO, "peer sent an impossible count");
		out = output_open(S->o->output, '\n');	/* before DONE */
		ch_send(S->ch, FR_DONE, NULL, 0);
		print_count(out, c);
	} else {
		if (n != 0)
			fatal(EXIT_PROTO, "peer sent a count with --reveal querier");
		ch_send(S->ch, FR_DONE, NULL, 0);
	}
	return EXIT_OK;
}

int
session_run(struct channel *ch, const struct session_opts *o)
{
	struct state S;
	size_t avail;
	int rc;

	memset(&S, 0, sizeof(S));
	S.o = o;
	S.ch = ch;
	S.frame = xmalloc(CH_MAX_PAYLOAD);
	S.tmpdir = o->tmpdir;
	avail = o->memory - RESERVE;
	S.mem_vals = avail / 3 * 2;
	S.mem_hits = avail / 3;
	spill_set_tick(tick, ch);
	S.pool = pool_new(o->threads);
	if (!o->p.count_only) {
		S.recs = recspill_new(S.tmpdir);
		S.hits = sorter_new(S.tmpdir, S.mem_hits);
	}
	S.vals = sorter_new(S.tmpdir, S.mem_vals);
	S.rr = rec_open(&o->rec, o->files, o->nfiles);
	if (o->p.count_only)
		rc = o->p.role == ROLE_HOLDER ? run_count_holder(&S) :
		    run_count_querier(&S);
	else
		rc = o->p.role == ROLE_HOLDER ? run_holder(&S) :
		    run_querier(&S);
	stats_phase(NULL);
	progress_end();
	rec_close(S.rr);
	if (S.recs)
		recspill_free(S.recs);
	if (S.vals)
		sorter_free(S.vals);
	if (S.hits)
		sorter_free(S.hits);
	pool_free(S.pool);
	free(S.frame);
	return rc;
}
