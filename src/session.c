/*
 * session.c: one PSI run for either role, around an engine (engine.h).
 *
 * Data flow: input (records.c) -> each record in our shard goes to the
 * record spill in input order and its key to the engine (next_keys) ->
 * the engine emits (PRF value, record index) pairs into the value sorter
 * -> once both counts are known, the sorted stream is truncated to t bits
 * on the fly (truncation keeps the order) -> the holder streams it as the
 * digest (digest.c); the querier merges it with the incoming digest and
 * puts matched indices into a second sorter -> the reveal (querier to
 * holder, --reveal both) is merged the same way on the holder, which
 * reads its value sorter a second time for it (sorter_rewind: no copy)
 * -> the record spill is streamed once and the records whose index comes
 * out of the index sorter are written: the output is in input order
 * whatever the input size.  The querier's reveal, which must wait until
 * the holder has sent its digest, waits in a spill, never in memory.
 *
 *   querier                                holder
 *   engine start, finish (e.g. QUERY/EVAL, QEND, HCOUNT)
 *            both compute t = gcs_trunc_bits(nQ, D * nH)
 *                                <------   DIGEST(GCS chunk)...  DEND(m)
 *   merges its sorted values with the digest: its matches
 *   REVEAL(GCS chunk of matched values)... REND(r)   (--reveal both)
 *   REND(0)                                          (--reveal querier)
 *                                          writes its matches
 *                                <------   DONE
 *   writes its matches
 *
 * With --count-only the engine's count roles run instead, the querier only
 * counts its matches, and the engine's end() carries the count in place
 * of the reveal; there is no record spill and no index sorter.
 *
 * Budget: the engine's reserve for I/O buffers, the spills and frames;
 * the rest, less the engine's share and the reader's part (rec_memory():
 * the zstd window, long records), split between the value sorter (2/3)
 * and the index sorter (1/3).  Every count from the peer is checked
 * against what it may be before anything is allocated for it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "digest.h"
#include "engine.h"
#include "gcs.h"
#include "output.h"
#include "pool.h"
#include "progress.h"
#include "records.h"
#include "recspill.h"
#include "session.h"
#include "sorter.h"
#include "source.h"
#include "stats.h"
#include "util.h"

struct session {
	const struct session_opts *o;
	const struct engine *eng;
	const struct engine_role *role;
	struct engine_ctx ctx;		/* what the engine is lent */
	struct channel	*ch;
	struct rec_reader *rr;
	struct record	 held;		/* read, but did not fit a batch */
	int		 have_held;
	struct recspill	*recs;		/* our keyed records, input order */
	struct sorter	*vals;		/* (PRF value, record index) */
	struct sorter	*hits;		/* matched record indices */
	uint64_t	 nkeys;		/* keys read = records spilled */
	uint64_t	 matched;
	unsigned	 t;
	uint8_t		*frame;		/* CH_MAX_PAYLOAD */
};

/* Long local work in the spills, or an input pipe that pauses: keep the
 * peer from timing out. */
static void
keepalive_beat(void *ch)
{
	ch_keepalive(ch);
}

/* A new phase, for --stats and --progress alike. */
static void
phase(const char *name, uint64_t total)
{
	stats_phase(name);
	progress_phase(name, total);
}

/* ---- input --------------------------------------------------------------- */

/* Next record with a key in our shard; its data goes to the record spill. */
static int
next_key(struct session *sess, struct record *r)
{
	const struct params *p = &sess->o->p;

	while (rec_next(sess->rr, r)) {
		if (p->shard_n && shard_of(r->key, r->keylen, p->shard_n) !=
		    p->shard_i)
			continue;
		if (r->len > sess->o->memory / 4)
			fatal(EXIT_USAGE, "%s: record %" PRIu64 " is %zu bytes, "
			    "more than a quarter of --memory", r->file, r->recno,
			    r->len);
		if (sess->recs)		/* count-only writes no records */
			recspill_add(sess->recs, r->data, r->len);
		sess->ctx.nkeys = ++sess->nkeys;
		run_stats.keys = sess->nkeys;
		if ((sess->nkeys & 1023) == 0)
			progress_set(sess->nkeys);
		return 1;
	}
	return 0;
}

/* The engine's key stream (engine.h): up to max keys, in input order. */
static size_t
next_keys(void *arg, struct key_batch *kb, size_t max)
{
	struct session *sess = arg;

	kb_clear(kb, sess->nkeys - (uint64_t)sess->have_held);
	if (max > KEY_BATCH)
		max = KEY_BATCH;
	if (sess->have_held && max > 0) {
		kb_add(kb, sess->held.key, sess->held.keylen);
		sess->have_held = 0;
	}
	while (kb->n < max && next_key(sess, &sess->held)) {
		if (!kb_fits(kb, sess->held.keylen)) {
			sess->have_held = 1;
			break;
		}
		kb_add(kb, sess->held.key, sess->held.keylen);
	}
	return kb->n;
}

static void
emit(void *arg, u128 value, uint64_t index)
{
	struct session *sess = arg;

	sorter_add(sess->vals, value, index);
}

/* Input is exhausted: record what the reader counted. */
static void
input_done(struct session *sess)
{
	struct rec_stats rs;

	rec_get_stats(sess->rr, &rs);
	run_stats.records = rs.records;
	run_stats.empty_skipped = rs.empty;
	run_stats.invalid_skipped = rs.invalid;
	run_stats.shard_skipped = rs.keys - sess->nkeys;
	if (rs.empty)
		warnx_("skipped %" PRIu64 " record%s with an empty key",
		    rs.empty, rs.empty == 1 ? "" : "s");
	progress_set(sess->nkeys);
}

/* ---- the engine's part: values, sorted, and both counts ------------------ */

/* Run the engine's start and finish around our sort; returns the peer's
 * count, checked, with t set. */
static uint64_t
make_values(struct session *sess, const char *name)
{
	struct engine_ctx *ctx = &sess->ctx;
	uint64_t nq, nh;

	phase(name, 0);
	sess->role->start(ctx);
	input_done(sess);
	phase("sort", 0);
	/* Sort before finish(): once the holder starts sending the digest
	 * the querier must be reading, or its writes would stall past its
	 * timeout. */
	sorter_finish(sess->vals);
	vlog(2, "%" PRIu64 " values sorted in %u runs", sess->nkeys,
	    sorter_runs(sess->vals));
	sess->role->finish(ctx);
	engine_peer_keys(ctx, ctx->peer_keys, "announced");
	run_stats.peer_records = ctx->peer_keys;
	nq = sess->o->p.role == ROLE_QUERIER ? ctx->own_keys : ctx->peer_keys;
	nh = sess->o->p.role == ROLE_QUERIER ? ctx->peer_keys : ctx->own_keys;
	sess->t = gcs_trunc_bits(nq, sess->eng->values_per_key * nh);
	run_stats.truncation_bits = sess->t;
	vlog(2, "%" PRIu64 " querier keys, %" PRIu64 " holder keys: values "
	    "truncated to %u bits", nq, nh, sess->t);
	return ctx->peer_keys;
}

/* The value sorter's stream, truncated to t bits. */
static int
next_sorted(void *arg, u128 *v, uint64_t *idx)
{
	struct session *sess = arg;

	if (!sorter_next(sess->vals, v, idx))
		return 0;
	*v >>= 128 - sess->t;
	return 1;
}

/* ---- match --------------------------------------------------------------- */

/* Our sorted (value, index) stream against the peer's set. */
struct merge {
	struct session	*sess;
	int		 have;		/* cur/idx hold an unconsumed pair */
	u128		 cur;
	uint64_t	 idx;
	int		 (*next)(void *, u128 *, uint64_t *);
	void		*src;
	struct recspill	*reveal;	/* querier: distinct matched values */
	int		 rhave;
	u128		 rlast;
};

static void
merge_init(struct merge *m, struct session *sess,
    int (*next)(void *, u128 *, uint64_t *), void *src)
{
	memset(m, 0, sizeof(*m));
	m->sess = sess;
	m->next = next;
	m->src = src;
}

static int
merge_advance(struct merge *m)
{
	if (!m->have && m->next(m->src, &m->cur, &m->idx))
		m->have = 1;
	return m->have;
}

/* Mark every pair of ours whose value is in vals[0..n-1]. */
static void
merge_chunk(void *arg, const u128 *vals, size_t n)
{
	struct merge *m = arg;
	struct session *sess = m->sess;

	for (size_t q = 0; q < n; q++) {
		while (merge_advance(m) && m->cur < vals[q])
			m->have = 0;
		while (merge_advance(m) && m->cur == vals[q]) {
			if (sess->hits)
				sorter_add(sess->hits, m->idx, 0);
			sess->matched++;
			if (m->reveal && !(m->rhave && m->rlast == m->cur)) {
				recspill_add_value(m->reveal, m->cur);
				m->rhave = 1;
				m->rlast = m->cur;
			}
			m->have = 0;
		}
	}
}

/* ---- output -------------------------------------------------------------- */

static struct output *
open_output(struct session *sess)
{
	return output_open(sess->o->output, sess->o->p.count_only ? '\n' :
	    sess->o->rec.zero_term ? '\0' : '\n');
}

static void warn_no_match(const struct session *, uint64_t matched);

/* Stream the record spill once, writing into out (opened by the caller)
 * the header line (--header) and then the records whose index is a hit,
 * or with --unmatched those whose index is not, and commit it. */
static void
write_matches(struct session *sess, struct output *out)
{
	const uint8_t *data, *hdr;
	size_t len, hlen;
	uint64_t i = 0, matched = 0, unused;
	int unmatched = sess->o->unmatched, have, hit;
	u128 want;

	phase("output", sess->nkeys);
	sorter_finish(sess->hits);
	recspill_rewind(sess->recs);
	if (sess->o->rec.header && (hdr = rec_header(sess->rr, &hlen)) != NULL)
		output_record(out, hdr, hlen);
	have = sorter_next(sess->hits, &want, &unused);
	while ((have || unmatched) && recspill_next(sess->recs, &data, &len)) {
		hit = have && want == i;
		if (hit) {
			matched++;
			have = sorter_next(sess->hits, &want, &unused);
		}
		if (hit != unmatched)
			output_record(out, data, len);
		if ((++i & 4095) == 0) {
			ch_keepalive(sess->ch);
			progress_set(i);
		}
	}
	run_stats.matched_records = matched;
	run_stats.unmatched_records = sess->nkeys - matched;
	warn_no_match(sess, matched);
	if (sess->o->p.role == ROLE_QUERIER)	/* final only after DONE */
		ch_expect(sess->ch, FR_DONE, sess->frame);
	output_commit(out);
}

/*
 * No match although both sides have many keys: most likely the two sides
 * extract keys differently (another --key-field, --csv on one side only),
 * which the parameters cannot catch since fields and formats stay local.
 * Say so, naming our settings (also in --stats as key_settings).
 */
#define MANY_KEYS	100

static void
warn_no_match(const struct session *sess, uint64_t matched)
{
	static char set[320];
	const struct rec_opts *r = &sess->o->rec;
	size_t n = 0;
	unsigned i;

	if (matched > 0 || sess->nkeys < MANY_KEYS ||
	    run_stats.peer_records < MANY_KEYS)
		return;
	if (r->nkey_fields == 0 && r->key_field == 0)
		n += (size_t)snprintf(set, sizeof(set), "whole records");
	else if (r->nkey_fields == 0)
		n += (size_t)snprintf(set, sizeof(set), "--key-field %u",
		    r->key_field);
	else
		for (i = 0; i < r->nkey_fields && n < sizeof(set) - 64; i++) {
			const char *sep = i ? "," : "--key-field ";
			int nl = r->key_namelen[i] > 40 ? 40 :
			    (int)r->key_namelen[i];

			if (r->key_names[i] != NULL)
				n += (size_t)snprintf(set + n, sizeof(set) - n,
				    "%s%.*s", sep, nl, r->key_names[i]);
			else
				n += (size_t)snprintf(set + n, sizeof(set) - n,
				    "%s%u", sep, r->key_fields[i]);
		}
	snprintf(set + n, sizeof(set) - n, ", %s--csv, %s--trim, "
	    "%s--ignore-case", r->csv ? "" : "no ", r->trim ? "" : "no ",
	    r->ignore_case ? "" : "no ");
	run_stats.key_settings = set;
	warnx_("no record matched although both sides have many keys "
	    "(%" PRIu64 " here, %" PRIu64 " on the peer): check that both "
	    "extract keys alike; ours: %s", sess->nkeys,
	    run_stats.peer_records, set);
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

/* ---- the two roles ------------------------------------------------------- */

static int
run_querier(struct session *sess)
{
	struct digest_writer *reveal;
	struct output *out;
	struct merge m;
	uint64_t nh = make_values(sess, "query");

	phase("match", sess->eng->values_per_key * nh);
	/* Matched values wait in a spill: the holder is not reading while
	 * it sends the digest, so the reveal cannot go out yet. */
	merge_init(&m, sess, next_sorted, sess);
	if (sess->o->p.reveal == REVEAL_BOTH && !sess->o->p.count_only)
		m.reveal = recspill_new(sess->o->tmpdir);
	digest_read(sess->ch, sess->frame, sess->t, FR_DIGEST, FR_DEND,
	    sess->eng->values_per_key * nh, merge_chunk, &m);
	sorter_free(sess->vals);
	sess->vals = NULL;
	/* Our output exists before the holder can have its result: a bad
	 * -o fails here, and the holder hears of it instead of finishing. */
	out = open_output(sess);
	if (sess->role->end) {
		sess->ctx.count = sess->matched;
		sess->role->end(&sess->ctx);
		ch_expect(sess->ch, FR_DONE, sess->frame);
		warn_no_match(sess, sess->matched);
		print_count(out, sess->matched);
		return EXIT_OK;
	}

	phase("reveal", 0);
	reveal = digest_writer_new(sess->ch, sess->frame, sess->t, FR_REVEAL);
	if (m.reveal) {
		u128 v;
		recspill_rewind(m.reveal);
		while (recspill_next_value(m.reveal, &v))
			digest_push(reveal, v);
		recspill_free(m.reveal);
	}
	digest_writer_end(reveal, FR_REND, NULL);
	write_matches(sess, out);
	return EXIT_OK;
}

static int
run_holder(struct session *sess)
{
	struct digest_writer *dig;
	struct output *out;
	struct merge m;
	uint64_t sent, bytes, idx;
	u128 v;
	int reveal = sess->o->p.reveal == REVEAL_BOTH &&
	    !sess->o->p.count_only;

	make_values(sess, "evaluate");
	/* the digest; the sorted pairs are read again for the reveal merge */
	phase("digest", sess->nkeys * sess->eng->values_per_key);
	dig = digest_writer_new(sess->ch, sess->frame, sess->t, FR_DIGEST);
	for (uint64_t done = 1; next_sorted(sess, &v, &idx); done++) {
		digest_push(dig, v);
		if ((done & 4095) == 0)
			progress_set(done);
	}
	sent = digest_writer_end(dig, FR_DEND, &bytes);
	run_stats.digest_bytes = bytes;
	vlog(2, "digest: %" PRIu64 " values in %" PRIu64 " bytes, %.2f bits "
	    "per key (t = %u)", sent, bytes, sess->nkeys ?
	    8.0 * (double)bytes / (double)sess->nkeys : 0.0, sess->t);
	if (!reveal) {
		sorter_free(sess->vals);
		sess->vals = NULL;
	}
	if (sess->role->end) {
		sess->ctx.digest_values = sent;
		sess->role->end(&sess->ctx);
		out = sess->o->p.reveal == REVEAL_BOTH ? open_output(sess) :
		    NULL;	/* before DONE */
		ch_send(sess->ch, FR_DONE, NULL, 0);
		if (out) {
			warn_no_match(sess, sess->ctx.count);
			print_count(out, sess->ctx.count);
		}
		return EXIT_OK;
	}

	/* what the querier reveals */
	phase("reveal", sent);
	merge_init(&m, sess, next_sorted, sess);	/* called only if reveal */
	if (reveal)
		sorter_rewind(sess->vals);
	digest_read(sess->ch, sess->frame, sess->t, FR_REVEAL, FR_REND,
	    reveal ? sent : 0, merge_chunk, &m);
	if (reveal) {
		sorter_free(sess->vals);
		sess->vals = NULL;
		write_matches(sess, open_output(sess));
	}
	ch_send(sess->ch, FR_DONE, NULL, 0);
	return EXIT_OK;
}

int
session_run(struct channel *ch, const struct session_opts *o)
{
	struct session sess;
	struct engine_ctx *ctx = &sess.ctx;
	size_t avail;
	int rc, holder = o->p.role == ROLE_HOLDER;

	memset(&sess, 0, sizeof(sess));
	sess.o = o;
	sess.ch = ch;
	if ((sess.eng = engine_by_id(o->p.engine)) == NULL)
		bug("engine %u is not built in", o->p.engine);
	if (o->p.count_only)
		sess.role = holder ? &sess.eng->count_holder :
		    &sess.eng->count_querier;
	else
		sess.role = holder ? &sess.eng->holder : &sess.eng->querier;
	if (sess.role->start == NULL)
		fatal(EXIT_USAGE, "engine %s has no --count-only",
		    sess.eng->name);
	sess.frame = xmalloc(CH_MAX_PAYLOAD);
	avail = o->memory - sess.eng->reserve;
	ctx->p = &o->p;
	ctx->hs_hash = ch_handshake_hash(ch);
	ctx->ch = ch;
	ctx->frame = sess.frame;
	ctx->pool = pool_new(o->threads);
	ctx->tmpdir = o->tmpdir;
	ctx->mem = avail / 100 * sess.eng->share;
	ctx->max_peer_keys = o->max_peer_keys;
	ctx->next_keys = next_keys;
	ctx->emit = emit;
	ctx->sess = &sess;
	avail -= ctx->mem;
	/* the reader's part comes out of the sorters' (rec_set_memory()
	 * leaves them enough at every --memory main.c accepts; a caller
	 * that skipped it gets the sorters' exit 1, not a wrapped budget) */
	avail = avail > rec_memory(&o->rec) ? avail - rec_memory(&o->rec) : 0;
	if (o->p.count_only)		/* the index sorter's third */
		ctx->mem += avail / 3;
	else {
		sess.recs = recspill_new(o->tmpdir);
		sess.hits = sorter_new(o->tmpdir, avail / 3);
		sorter_set_pool(sess.hits, ctx->pool);
	}
	spill_set_heartbeat(keepalive_beat, ch);
	source_on_idle(keepalive_beat, ch);	/* a pipe that pauses */
	sess.vals = sorter_new(o->tmpdir, avail / 3 * 2);
	sorter_set_pool(sess.vals, ctx->pool);
	sess.rr = rec_open(&o->rec, o->files, o->nfiles);
	rc = holder ? run_holder(&sess) : run_querier(&sess);
	/* run.c frees ch after us: no hook may still reach it */
	spill_set_heartbeat(NULL, NULL);
	source_on_idle(NULL, NULL);
	stats_phase(NULL);
	progress_end();
	rec_close(sess.rr);
	if (sess.recs)
		recspill_free(sess.recs);
	if (sess.vals)
		sorter_free(sess.vals);
	if (sess.hits)
		sorter_free(sess.hits);
	pool_free(ctx->pool);
	free(sess.frame);
	return rc;
}
