/*
 * session.c: the PSI protocol state machine for both roles.
 *
 * Message order (all frames inside the Noise channel, see channel.h):
 *
 *   querier                                holder
 *   QUERY(blinded x_1..x_1024)   ------>
 *                                <------   EVAL(k*B_1..k*B_1024)
 *   ... at most WINDOW queries outstanding, so neither side can block
 *   ... the other by filling the socket buffers
 *   QEND(nQ)                     ------>
 *                                          evaluates F_k(y) for its own keys
 *                                <------   HCOUNT(nH)
 *            both compute t = min(128, ceil(log2 nQ*nH) + 40)
 *                                <------   DIGEST(GCS chunk) ...  DEND(m)
 *   merges its sorted values with the digest: its matches
 *   REVEAL(GCS chunk of matched values)... REND(r)   (--reveal both)
 *   REND(0)                                          (--reveal querier)
 *                                          writes its matches
 *                                <------   DONE
 *   writes its matches
 *
 * PRF values are kept as their first 128 bits and truncated to t bits once
 * both counts are known.  This version keeps records and values in memory;
 * every count from the peer is still checked against what it may be before
 * anything is allocated for it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "channel.h"
#include "gcs.h"
#include "oprf.h"
#include "output.h"
#include "records.h"
#include "session.h"
#include "util.h"

#define CHUNK	1024		/* elements per QUERY/EVAL frame */
#define WINDOW	4		/* QUERY frames in flight */

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
	for (size_t i = 0; i < b[13]; i++)
		if ((unsigned char)them.context[i] < 0x20)
			them.context[i] = '?';
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
	if (strcmp(them.context, us->context) != 0)
		fatal(EXIT_PROTO, "peer uses --context '%s', we use '%s'",
		    them.context, us->context);
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

struct entry {			/* one key's PRF value and its record */
	u128		v;
	uint64_t	idx;
};

struct store {			/* records kept in input order */
	uint8_t		*data;
	size_t		 used, cap;
	uint64_t	*off;		/* n + 1 offsets */
	size_t		 n, ncap;
};

struct state {
	const struct session_opts *o;
	struct channel	*ch;
	struct rec_reader *rr;
	struct store	 st;
	struct entry	*ent;		/* one per key, idx = record index */
	size_t		 nent, entcap;
	uint64_t	 peer_n;
	unsigned	 t;
	uint8_t		*match;		/* bitmap over records */
	uint8_t		*frame;		/* CH_MAX_PAYLOAD */
};

static void
store_add(struct store *s, const uint8_t *p, size_t len)
{
	if (s->n + 2 > s->ncap) {
		s->ncap = s->ncap ? 2 * s->ncap : 1024;
		s->off = xreallocarray(s->off, s->ncap, sizeof(*s->off));
	}
	if (len > s->cap - s->used) {
		while (len > s->cap - s->used)
			s->cap = s->cap ? 2 * s->cap : 65536;
		s->data = xreallocarray(s->data, s->cap, 1);
	}
	if (s->n == 0)
		s->off[0] = 0;
	memcpy(s->data + s->used, p, len);
	s->used += len;
	s->off[++s->n] = s->used;
}

static int
next_key(struct state *S, struct record *r)
{
	const struct params *p = &S->o->p;

	while (rec_next(S->rr, r)) {
		if (p->shard_n && shard_of(r->key, r->keylen, p->shard_n) !=
		    p->shard_i)
			continue;
		store_add(&S->st, r->data, r->len);
		return 1;
	}
	return 0;
}

static void
add_entry(struct state *S, const uint8_t out[OPRF_OUT], uint64_t idx)
{
	if (S->nent == S->entcap) {
		S->entcap = S->entcap ? 2 * S->entcap : 4096;
		S->ent = xreallocarray(S->ent, S->entcap, sizeof(*S->ent));
	}
	S->ent[S->nent].v = gcs_truncate(out, 128);
	S->ent[S->nent].idx = idx;
	S->nent++;
}

static int
cmp_entry(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	if (x->v != y->v)
		return x->v < y->v ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Truncate every value to t bits and sort by value. */
static void
sort_entries(struct state *S)
{
	for (size_t i = 0; i < S->nent; i++)
		S->ent[i].v >>= 128 - S->t;
	qsort(S->ent, S->nent, sizeof(*S->ent), cmp_entry);
}

static int
is_matched(const struct state *S, uint64_t idx)
{
	return S->match[idx >> 3] >> (idx & 7) & 1;
}

/* Walk our sorted entries yielding each distinct value once (only those
 * with a set match bit when only_matched).  pos, have and last carry the
 * walk between calls; returns 0 at the end. */
static int
next_distinct(const struct state *S, int only_matched, size_t *pos,
    int *have, u128 *last, u128 *v)
{
	while (*pos < S->nent) {
		const struct entry *e = &S->ent[(*pos)++];
		if (only_matched && !is_matched(S, e->idx))
			continue;
		if (*have && e->v == *last)
			continue;
		*have = 1;
		*last = *v = e->v;
		return 1;
	}
	return 0;
}

/* Send our distinct sorted values as GCS chunks of frame type `type`. */
static uint64_t
send_set(struct state *S, int type, int only_matched)
{
	enum { PENDING = 65536 };
	u128 *vals = xreallocarray(NULL, PENDING, sizeof(u128)), last = 0, v;
	u128 base = 0;
	size_t nv = 0, pos = 0, used, len;
	uint64_t total = 0, distinct = 0;
	int have = 0;
	unsigned k;

	while (next_distinct(S, only_matched, &pos, &have, &last, &v))
		distinct++;
	k = gcs_rice_param(S->t, distinct);
	pos = 0;
	have = 0;
	for (;;) {
		while (nv < PENDING &&
		    next_distinct(S, only_matched, &pos, &have, &last, &v))
			vals[nv++] = v;
		if (nv == 0)
			break;
		len = gcs_encode(S->frame, CH_MAX_PAYLOAD, vals, nv, S->t, k,
		    base, &used);
		if (len == 0 || used == 0)
			fatal(EXIT_PROTO, "internal: digest value does not fit a chunk");
		ch_send(S->ch, type, S->frame, len);
		base = vals[used - 1];
		total += used;
		memmove(vals, vals + used, (nv - used) * sizeof(u128));
		nv -= used;
		ch_keepalive(S->ch);
	}
	free(vals);
	return total;
}

/* Receive GCS chunks of `type` until `end_type`; mark our entries whose
 * value is in the received set.  At most `limit` values are accepted. */
static uint64_t
recv_set(struct state *S, int type, int end_type, uint64_t limit)
{
	u128 base = 0, *vals = NULL;
	size_t j = 0, vcap = 0;
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
		if (cnt <= 0 || (uint64_t)cnt > limit - total)
			fatal(EXIT_PROTO, "peer sent a %s chunk of %ld values, more "
			    "than it announced", ch_frame_name(type), cnt);
		if ((size_t)cnt > vcap) {
			vcap = (size_t)cnt;
			vals = xreallocarray(vals, vcap, sizeof(u128));
		}
		u128 prev = base;
		long m = gcs_decode(S->frame, n, S->t, &base, vals, vcap);
		if (m != cnt)
			fatal(EXIT_PROTO, "peer sent a malformed %s chunk",
			    ch_frame_name(type));
		for (long q = 0; q < m; q++) {	/* strictly increasing */
			if ((total > 0 || q > 0) && vals[q] <= prev)
				fatal(EXIT_PROTO, "peer's %s values are not in "
				    "increasing order", ch_frame_name(type));
			prev = vals[q];
		}
		total += (uint64_t)m;
		/* merge with our sorted entries */
		for (long q = 0; q < m; q++) {
			while (j < S->nent && S->ent[j].v < vals[q])
				j++;
			for (size_t x = j; x < S->nent && S->ent[x].v == vals[q]; x++)
				S->match[S->ent[x].idx >> 3] |=
				    (uint8_t)(1 << (S->ent[x].idx & 7));
		}
	}
	free(vals);
	return total;
}

static void
write_matches(struct state *S, struct output *out)
{
	for (size_t i = 0; i < S->st.n; i++)
		if (is_matched(S, i))
			output_record(out, S->st.data + S->st.off[i],
			    S->st.off[i + 1] - S->st.off[i]);
}

static void
set_t(struct state *S, uint64_t nq, uint64_t nh)
{
	S->t = gcs_trunc_bits(nq, nh);
	S->match = xcalloc(S->st.n / 8 + 1, 1);
	vlog(2, "%" PRIu64 " querier keys, %" PRIu64 " holder keys: values "
	    "truncated to %u bits", nq, nh, S->t);
}

/* ---- querier ------------------------------------------------------------- */

struct qchunk {			/* one QUERY in flight */
	size_t		 n;
	uint64_t	 first;		/* index of its first key */
	uint8_t		*blinds;	/* n * 32, secret */
	uint8_t		*keys;		/* the keys, for Finalize */
	size_t		*klen;
	size_t		 kused, kcap;
};

static void
qchunk_reset(struct qchunk *c, uint64_t first)
{
	c->n = 0;
	c->first = first;
	c->kused = 0;
}

static void
qchunk_add(struct qchunk *c, const struct record *r, uint8_t *blinded)
{
	if (r->keylen > c->kcap - c->kused) {
		while (r->keylen > c->kcap - c->kused)
			c->kcap = c->kcap ? 2 * c->kcap : 65536;
		c->keys = xreallocarray(c->keys, c->kcap, 1);
	}
	memcpy(c->keys + c->kused, r->key, r->keylen);
	c->kused += r->keylen;
	c->klen[c->n] = r->keylen;
	if (oprf_blind(c->blinds + 32 * c->n, blinded + 32 * c->n, r->key,
	    r->keylen, NULL) < 0)
		fatal(EXIT_IO, "%s: record %" PRIu64 ": key cannot be hashed",
		    r->file, r->recno);
	c->n++;
}

/* Receive the EVAL answering chunk c, unblind, finalize, keep the values. */
static void
qchunk_finish(struct state *S, struct qchunk *c, uint8_t *tmp, uint8_t *unbl)
{
	size_t n = ch_expect(S->ch, FR_EVAL, S->frame), off = 0;
	uint8_t out[OPRF_OUT];

	if (n != c->n * OPRF_ELEM)
		fatal(EXIT_PROTO, "peer answered %zu elements with %zu bytes",
		    c->n, n);
	if (oprf_unblind_batch(unbl, c->blinds, S->frame, c->n, tmp) < 0)
		fatal(EXIT_PROTO, "peer sent an invalid group element");
	sodium_memzero(c->blinds, c->n * OPRF_SCALAR);
	for (size_t i = 0; i < c->n; i++) {
		oprf_finalize_hash(out, c->keys + off, c->klen[i], unbl + 32 * i);
		off += c->klen[i];
		add_entry(S, out, c->first + i);
	}
}

static int
run_querier(struct state *S)
{
	struct qchunk q[WINDOW];
	uint8_t *blinded = xmalloc(CHUNK * OPRF_ELEM);
	uint8_t *tmp = xmalloc(CHUNK * 32), *unbl = xmalloc(CHUNK * 32);
	struct record r;
	size_t head = 0, inflight = 0;
	uint64_t nq = 0, nh, m;
	int more = 1;
	struct output *out;

	for (int i = 0; i < WINDOW; i++) {
		memset(&q[i], 0, sizeof(q[i]));
		q[i].blinds = xmalloc(CHUNK * OPRF_SCALAR);
		q[i].klen = xreallocarray(NULL, CHUNK, sizeof(size_t));
	}
	while (more) {
		struct qchunk *c = &q[(head + inflight) % WINDOW];
		if (inflight == WINDOW) {
			qchunk_finish(S, &q[head], tmp, unbl);
			head = (head + 1) % WINDOW;
			inflight--;
			continue;
		}
		qchunk_reset(c, nq);
		while (c->n < CHUNK && (more = next_key(S, &r)))
			qchunk_add(c, &r, blinded);
		if (c->n == 0)
			break;
		ch_send(S->ch, FR_QUERY, blinded, c->n * OPRF_ELEM);
		nq += c->n;
		inflight++;
	}
	while (inflight > 0) {
		qchunk_finish(S, &q[head], tmp, unbl);
		head = (head + 1) % WINDOW;
		inflight--;
	}
	put_u64(S->frame, nq);
	ch_send(S->ch, FR_QEND, S->frame, 8);
	if (ch_expect(S->ch, FR_HCOUNT, S->frame) != 8)
		fatal(EXIT_PROTO, "malformed HCOUNT from peer");
	nh = get_u64(S->frame);
	S->peer_n = nh;
	set_t(S, nq, nh);
	sort_entries(S);
	recv_set(S, FR_DIGEST, FR_DEND, nh);
	m = 0;
	if (S->o->p.reveal == REVEAL_BOTH)
		m = send_set(S, FR_REVEAL, 1);
	put_u64(S->frame, m);
	ch_send(S->ch, FR_REND, S->frame, 8);
	out = output_open(S->o->output, S->o->rec.zero_term ? '\0' : '\n');
	write_matches(S, out);
	ch_expect(S->ch, FR_DONE, S->frame);
	output_commit(out);
	for (int i = 0; i < WINDOW; i++) {
		free(q[i].blinds);
		free(q[i].klen);
		free(q[i].keys);
	}
	free(blinded);
	free(tmp);
	free(unbl);
	return EXIT_OK;
}

/* ---- holder -------------------------------------------------------------- */

static int
run_holder(struct state *S)
{
	uint8_t *sk = sodium_malloc(OPRF_SCALAR), *ev = xmalloc(CH_MAX_PAYLOAD);
	uint8_t out[OPRF_OUT];
	struct record r;
	uint64_t nq = 0, sent;
	int type;
	struct output *o;

	if (sk == NULL)
		fatal(EXIT_IO, "cannot allocate secure memory");
	oprf_random_scalar(sk);
	/* 1. answer queries */
	for (;;) {
		size_t n = ch_recv(S->ch, &type, S->frame);
		if (type == FR_QEND) {
			if (n != 8 || get_u64(S->frame) != nq)
				fatal(EXIT_PROTO, "peer's QEND count does not match "
				    "the %" PRIu64 " keys it queried", nq);
			break;
		}
		if (type != FR_QUERY)
			fatal(EXIT_PROTO, "protocol violation: expected QUERY, "
			    "got %s", ch_frame_name(type));
		if (n == 0 || n % OPRF_ELEM != 0 || n / OPRF_ELEM > CHUNK)
			fatal(EXIT_PROTO, "peer sent a QUERY of %zu bytes", n);
		for (size_t i = 0; i < n / OPRF_ELEM; i++)
			if (oprf_blind_evaluate(ev + 32 * i, sk, S->frame + 32 * i) < 0)
				fatal(EXIT_PROTO, "peer sent an invalid group element");
		ch_send(S->ch, FR_EVAL, ev, n);
		nq += n / OPRF_ELEM;
	}
	/* 2. evaluate our own keys */
	while (next_key(S, &r)) {
		if (oprf_evaluate(out, sk, r.key, r.keylen) < 0)
			fatal(EXIT_IO, "%s: record %" PRIu64 ": key cannot be hashed",
			    r.file, r.recno);
		add_entry(S, out, S->st.n - 1);
		if ((S->nent & 1023) == 0)
			ch_keepalive(S->ch);
	}
	sodium_free(sk);
	S->peer_n = nq;
	put_u64(S->frame, S->nent);
	ch_send(S->ch, FR_HCOUNT, S->frame, 8);
	set_t(S, nq, S->nent);
	sort_entries(S);
	/* 3. the digest */
	sent = send_set(S, FR_DIGEST, 0);
	put_u64(S->frame, sent);
	ch_send(S->ch, FR_DEND, S->frame, 8);
	/* 4. what the querier reveals */
	recv_set(S, FR_REVEAL, FR_REND,
	    S->o->p.reveal == REVEAL_BOTH ? sent : 0);
	if (S->o->p.reveal == REVEAL_BOTH) {
		o = output_open(S->o->output, S->o->rec.zero_term ? '\0' : '\n');
		write_matches(S, o);
		output_commit(o);
	}
	ch_send(S->ch, FR_DONE, NULL, 0);
	free(ev);
	return EXIT_OK;
}

int
session_run(struct channel *ch, const struct session_opts *o)
{
	struct state S;
	int rc;

	memset(&S, 0, sizeof(S));
	S.o = o;
	S.ch = ch;
	S.frame = xmalloc(CH_MAX_PAYLOAD);
	S.rr = rec_open(&o->rec, o->files, o->nfiles);
	rc = o->p.role == ROLE_HOLDER ? run_holder(&S) : run_querier(&S);
	rec_close(S.rr);
	free(S.frame);
	free(S.ent);
	free(S.match);
	free(S.st.data);
	free(S.st.off);
	return rc;
}
