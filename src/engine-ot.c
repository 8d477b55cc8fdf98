/*
 * engine-ot.c: the OT-extension engine (engine.h): KKRT16 (kkrt.c) over
 * 512 base OTs (baseot.c), bucket by bucket, semi-honest.  The querier
 * gets one value per record, the holder three per record (one per cuckoo
 * hash index); the session sorts, digests, merges and reveals them as for
 * the DH engine.  doc/PROTOCOL.md section "OT engine" is the wire format.
 *
 * PROTOCOL (both roles, in this order; frames in FR_RANGE_OT)
 *
 *   1. Each side pulls its whole key stream, turns every key into a
 *      fingerprint f (fingerprint.c, keyed by a seed from the handshake
 *      hash) and sorts (f, record index) with a sorter of its own, so
 *      duplicate keys are adjacent and every bucket is a contiguous range.
 *   2. Both send OT_COUNT (their number of records), then read the
 *      peer's.  From the two counts alone both derive B buckets, the
 *      querier's padded load L_Q and m bins per bucket (bucket.c, a fixed
 *      target of keys per bucket: nothing about either side's --memory
 *      reaches the peer); the querier sends them in OT_PARAMS and the
 *      holder refuses numbers that differ from its own (exit 5, naming
 *      both).
 *   3. Base OTs: the querier sends OT_BASE_A, the holder (choice string s,
 *      fresh random) answers OT_BASE_B with 512 points.
 *   4. For b = 0 .. B-1 the querier puts the distinct fingerprints of
 *      bucket b into a cuckoo table of m bins (at most L_Q keys: more is a
 *      bucket overflow, exit 5; an insertion that fails is exit 5 too --
 *      each below 2^-40 over a run, never a dropped key) and sends the m
 *      correction rows of bucket b in OT_CORR frames of at most 1023 rows,
 *      each headed by (bucket, first bin).  Every frame's size follows from
 *      (nQ, nH) alone.  The holder checks each header and size, turns the
 *      rows into q rows and evaluates its keys of bucket b at their three
 *      bins.
 *   The engine then has nothing more to send: the digest follows.
 *
 * Seeds (all public to both parties, fresh per session):
 *   fingerprint seed = BLAKE2b-256("psi-stream ot fingerprint" || hs)
 *   cuckoo key       = BLAKE2b-128("psi-stream ot cuckoo" || hs)
 *   code seed        = BLAKE2b-256("psi-stream ot code" || hs)
 * with hs the Noise handshake hash; the base OTs take hs as session id.
 *
 * Test hook: PSI_STREAM_TEST_OT_BUCKET=N in the environment of both
 * parties sets the bucket target to N keys (many tiny buckets in tests);
 * OT_PARAMS catches a side that lacks it.
 *
 * Threads: fingerprints, the base OTs (by slices of the 512), superblocks
 * of a bucket (kkrt_*_block) and the holder's evaluations run on the
 * pool; frames are sent and received on the calling thread only,
 * overlapped with the pool's other threads
 * (pool_start, pool_wait): the querier fills bucket b + 1's cuckoo table
 * while they compute bucket b, and sends b's rows and emits its values
 * while they compute b + 1; the holder receives bucket b + 1's rows while
 * they evaluate its last batch of bucket b.  So the channel's encryption
 * and the serial steps do not leave a core idle (two buckets in flight:
 * see Memory; with one, they take turns).
 *
 * Memory: ctx->mem holds the bucket arrays and the fingerprint sorter.
 * The arrays are set aside first, for the largest bucket any counts can
 * give (bucket_bins_worst(): 6,954 bins at 2^12 keys a bucket): the
 * querier's take 101 bytes a bin and 56 a slot (1.1 MiB), the holder's
 * 64 bytes a bin (q rows) plus 0.3 MiB of evaluation batch (0.7 MiB);
 * with two buckets in flight (see Threads; only where the second set
 * costs at most an eighth of ctx->mem: from --memory 26M on the
 * querier, 13M on the holder, at the default bucket size) the querier's
 * twice, the holder's 64 bytes a bin more for the next
 * bucket's corrections arriving.  The sorter gets the rest.  A
 * share that cannot hold both (only with a large
 * PSI_STREAM_TEST_OT_BUCKET: the smallest --memory has room) is exit 1
 * before OT_COUNT.  Outside ctx->mem: 1 MiB of scratch per busy thread
 * and the frame buffer, in the engine's reserve.  Duplicates of a key in
 * the querier's bucket are parked in a recspill (12 bytes each,
 * compressed, on disk) until the bucket's values are known.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "baseot.h"
#include "bucket.h"
#include "channel.h"
#include "cpu.h"
#include "cuckoo.h"
#include "engine-ot.h"
#include "fingerprint.h"
#include "kkrt.h"
#include "noise.h"
#include "pool.h"
#include "progress.h"
#include "recspill.h"
#include "sorter.h"
#include "stats.h"
#include "util.h"

#define NOTS		KKRT_K
#define EVAL_CHUNK	4096	/* holder pairs per evaluation batch */
#define TEST_TARGET_ENV	"PSI_STREAM_TEST_OT_BUCKET"
/* --memory kept outside the sorters: per-thread scratch, buffers. */
#define OT_RESERVE	(4u << 20)
#define Q_BIN_BYTES	(KKRT_FP + 1 + KKRT_ROW + KKRT_OUT + 4)
#define Q_SLOT_BYTES	(sizeof(u128) + 8 + 32)
#define H_BIN_BYTES	KKRT_ROW
#define H_FIXED_BYTES	(EVAL_CHUNK * (sizeof(u128) * 4 + 1 + 8))

struct seeds {
	uint8_t	fp[FP_SEED_BYTES];
	uint8_t	cuckoo[CUCKOO_KEY_BYTES];
	uint8_t	code[KKRT_SEED];
};

/* The sorted (fingerprint, record index) pairs, read bucket by bucket. */
struct stream {
	struct sorter	*s;
	uint64_t	 buckets;
	int		 have;
	u128		 f;
	uint64_t	 idx;
};

static void
derive(uint8_t *out, size_t len, const char *label, const uint8_t *hs)
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, len);
	crypto_generichash_update(&st, (const uint8_t *)label, strlen(label));
	crypto_generichash_update(&st, hs, NOISE_HASH);
	crypto_generichash_final(&st, out, len);
}

static void
derive_seeds(struct seeds *sd, const uint8_t *hs)
{
	derive(sd->fp, sizeof(sd->fp), "psi-stream ot fingerprint", hs);
	derive(sd->cuckoo, sizeof(sd->cuckoo), "psi-stream ot cuckoo", hs);
	derive(sd->code, sizeof(sd->code), "psi-stream ot code", hs);
}


static uint64_t
test_target(void)
{
	const char *e = getenv(TEST_TARGET_ENV);
	uint64_t v;

	if (e == NULL || *e == '\0')
		return BUCKET_TARGET;
	if (parse_uint(e, 1, (uint64_t)1 << 40, &v) != 0)
		fatal(EXIT_USAGE, "%s=%s: not a number of keys", TEST_TARGET_ENV,
		    e);
	return v;
}

void
ot_sizes(struct ot_sizes *z, uint64_t target)
{
	struct bucket_sizes b;

	bucket_sizes(z->nq, z->nh, target ? target : BUCKET_TARGET, &b);
	z->buckets = b.buckets;
	z->load = b.load;
	z->bins = b.bins;
	if (z->bins >= UINT32_MAX)
		fatal(EXIT_USAGE, "OT engine: %" PRIu64 " bins per bucket is "
		    "too many", z->bins);
}

long
ot_corr_check(const uint8_t *buf, size_t len, uint64_t bucket, uint64_t off,
    uint64_t bins, const char **why)
{
	uint64_t want = bins - off;

	if (want > OT_CORR_ROWS)
		want = OT_CORR_ROWS;
	if (len < OT_CORR_HEADER) {
		*why = "shorter than its header";
		return -1;
	}
	if (get_u64(buf) != bucket) {
		*why = "rows of another bucket than the next one";
		return -1;
	}
	if (get_u32(buf + 8) != off) {
		*why = "rows from another bin than the next one";
		return -1;
	}
	if (len != OT_CORR_HEADER + want * KKRT_ROW) {
		*why = "a number of rows the bucket sizes do not give";
		return -1;
	}
	return (long)want;
}

int
ot_params_check(const struct ot_sizes *z, const uint8_t *buf, size_t len,
    char *err, size_t errlen)
{
	static const char *names[3] = { "buckets", "keys per bucket",
	    "bins per bucket" };
	uint64_t ours[3] = { z->buckets, z->load, z->bins }, theirs;
	int i;

	if (len != OT_PARAMS_LEN) {
		snprintf(err, errlen, "malformed OT_PARAMS from peer (%zu "
		    "bytes, not %d)", len, OT_PARAMS_LEN);
		return -1;
	}
	for (i = 0; i < 3; i++)
		if ((theirs = get_u64(buf + 8 * i)) != ours[i]) {
			snprintf(err, errlen, "OT engine parameters differ: "
			    "peer has %" PRIu64 " %s, we have %" PRIu64
			    " (a different build or %s?)", theirs, names[i],
			    ours[i], TEST_TARGET_ENV);
			return -1;
		}
	return 0;
}

/* ---- step 1: fingerprints, sorted ---------------------------------------- */

struct fpjob {
	const struct fpctx	*fc;
	const struct key_batch	*kb;
	u128			*f;
};

static int
job_fp(void *arg, size_t lo, size_t hi)
{
	struct fpjob *j = arg;

	fp_keys(j->fc, hi - lo, j->kb->buf, j->kb->off + lo, j->f + lo);
	return 0;
}

/* Bytes of ctx->mem the arrays for `sets' buckets of `bins' bins in
 * flight take on our side. */
static uint64_t
bucket_bytes(uint64_t bins, int querier, unsigned sets)
{
	return querier ? sets * bins * (Q_BIN_BYTES + Q_SLOT_BYTES) :
	    sets * bins * H_BIN_BYTES + H_FIXED_BYTES;
}

/* Buckets in flight: 2 (overlapping the channel and the serial steps with
 * the pool) when the second set of arrays costs at most an eighth of
 * ctx->mem, else 1 (a small --memory keeps its sorter's share). */
static unsigned
in_flight(const struct engine_ctx *ctx, uint64_t target, int querier)
{
	uint64_t bins = bucket_bins_worst(target);

	return bucket_bytes(bins, querier, 2) - bucket_bytes(bins, querier, 1)
	    <= ctx->mem / 8 ? 2 : 1;
}

/* What ctx->mem leaves the fingerprint sorter once the largest bucket any
 * counts can give is set aside; exit 1 if that is not enough. */
static size_t
sorter_share(const struct engine_ctx *ctx, uint64_t target, int querier)
{
	uint64_t bins = bucket_bins_worst(target),
	    need = bucket_bytes(bins, querier, in_flight(ctx, target, querier));

	if (need > ctx->mem || ctx->mem - need < sorter_min_memory())
		fatal(EXIT_USAGE, "OT engine: a bucket of up to %" PRIu64
		    " bins needs %" PRIu64 " KiB and the sorter %zu KiB, more "
		    "than the engine's %zu KiB share of --memory: raise "
		    "--memory", bins, need >> 10, sorter_min_memory() >> 10,
		    ctx->mem >> 10);
	return (size_t)(ctx->mem - need);
}

/* -vv: the SIMD paths this process takes (cpu.h), so a test or a user
 * can see PSI_STREAM_PORTABLE=1 at work; the outputs never show it. */
static void
log_paths(void)
{
	unsigned f = cpu_features();

	vlog(2, "OT engine: %s paths", (f & CPU_AVX512) ? "AVX-512 and AVX2" :
	    (f & CPU_AVX2) ? "AVX2" : "portable");
}

/* Pull every key; returns how many, *out the finished sorter. */
static uint64_t
collect(struct engine_ctx *ctx, const struct seeds *sd, uint64_t target,
    int querier, struct sorter **out)
{
	struct sorter *s = sorter_new(ctx->tmpdir, sorter_share(ctx, target,
	    querier));
	struct key_batch *kb = kb_new();
	struct fpctx fc;
	struct fpjob j = { &fc, kb, xcalloc(KEY_BATCH, sizeof(u128)) };
	uint64_t n = 0;
	size_t i;

	log_paths();
	sorter_set_pool(s, ctx->pool);
	fp_init(&fc, sd->fp);
	while (ctx->next_keys(ctx->sess, kb, KEY_BATCH) > 0) {
		if (pool_run(ctx->pool, job_fp, &j, kb->n) < 0)
			fatal(EXIT_IO, "cannot fingerprint a key");
		for (i = 0; i < kb->n; i++)
			sorter_add(s, j.f[i], kb->first + i);
		n += kb->n;
		ch_keepalive(ctx->ch);
	}
	free(j.f);
	kb_free(kb);
	sodium_memzero(&fc, sizeof(fc));
	sorter_finish(s);
	*out = s;
	return n;
}

/* Next pair of bucket b, 0 when the bucket is done. */
static int
next_in_bucket(struct stream *st, uint64_t b, u128 *f, uint64_t *idx)
{
	if (!st->have)
		st->have = sorter_next(st->s, &st->f, &st->idx);
	if (!st->have || fp_bucket(st->f, st->buckets) != b)
		return 0;
	*f = st->f;
	*idx = st->idx;
	st->have = 0;
	return 1;
}

/* ---- step 2: counts and sizes ------------------------------------------- */

static void
exchange_counts(struct engine_ctx *ctx, struct ot_sizes *z, uint64_t ours,
    uint64_t target, int querier)
{
	uint64_t theirs;

	if (ours > BUCKET_MAX_KEYS)	/* the peer refuses it anyway */
		fatal(EXIT_USAGE, "OT engine: %" PRIu64 " keys, more than "
		    "%" PRIu64, ours, BUCKET_MAX_KEYS);
	put_u64(ctx->frame, ours);
	ch_send(ctx->ch, FR_OT_COUNT, ctx->frame, OT_COUNT_LEN);
	if (ch_expect(ctx->ch, FR_OT_COUNT, ctx->frame) != OT_COUNT_LEN)
		fatal(EXIT_PROTO, "malformed OT_COUNT from peer (not %d bytes)",
		    OT_COUNT_LEN);
	theirs = get_u64(ctx->frame);
	engine_peer_keys(ctx, theirs, "announced");
	ctx->peer_keys = theirs;
	ctx->own_keys = ours;
	z->nq = querier ? ours : theirs;
	z->nh = querier ? theirs : ours;
	ot_sizes(z, target);
	run_stats.buckets = z->buckets;
	run_stats.bucket_padded_load = z->load;
	run_stats.bins_per_bucket = z->bins;
}

/*
 * Steps 1 and 2, alike for both roles: the seeds from the handshake, the
 * key stream fingerprinted and sorted into st->s, the counts exchanged and
 * the sizes derived into z.  Returns the bucket target.
 */
static uint64_t
fingerprint_and_count(struct engine_ctx *ctx, struct seeds *sd,
    struct ot_sizes *z, struct stream *st, int querier)
{
	uint64_t target, n;

	derive_seeds(sd, ctx->hs_hash);
	stats_phase("fingerprint");
	progress_phase("fingerprints", 0);
	target = test_target();
	n = collect(ctx, sd, target, querier, &st->s);
	exchange_counts(ctx, z, n, target, querier);
	return target;
}

/* ---- querier -------------------------------------------------------------- */

struct qbucket {
	const struct kkrt_querier *kq;
	uint64_t	 bucket, bins;
	uint8_t		*fp;		/* bins * 16 */
	uint8_t		*hidx;		/* bins */
	uint8_t		*corr;		/* bins * 64 */
	uint8_t		*out;		/* bins * 16 */
};

/*
 * Scratch spaces kept between pool jobs: a fresh 1 MiB per job came as
 * new zero pages from the kernel every time (a tenth of the run went to
 * clearing pages).  At most one per thread is ever out at once.
 */
static struct {
	pthread_mutex_t		 lock;
	struct kkrt_scratch	*free[64];
	int			 n;
} scratches = { PTHREAD_MUTEX_INITIALIZER, { NULL }, 0 };

static struct kkrt_scratch *
scratch_get(void)
{
	struct kkrt_scratch *w = NULL;

	pthread_mutex_lock(&scratches.lock);
	if (scratches.n > 0)
		w = scratches.free[--scratches.n];
	pthread_mutex_unlock(&scratches.lock);
	return w != NULL ? w : kkrt_scratch_new();
}

static void
scratch_put(struct kkrt_scratch *w)
{
	pthread_mutex_lock(&scratches.lock);
	if (scratches.n < 64) {
		scratches.free[scratches.n++] = w;
		w = NULL;
	}
	pthread_mutex_unlock(&scratches.lock);
	kkrt_scratch_free(w);
}

/* At the end of a role: wipe and free the idle ones. */
static void
scratch_release(void)
{
	pthread_mutex_lock(&scratches.lock);
	while (scratches.n > 0)
		kkrt_scratch_free(scratches.free[--scratches.n]);
	pthread_mutex_unlock(&scratches.lock);
}

/* Run fn on every superblock [lo, hi) of a bucket of `bins` bins, with
 * one scratch for the slice (a pool job's body). */
static int
superblocks(uint64_t bins, size_t lo, size_t hi, void *arg,
    void (*fn)(void *, struct kkrt_scratch *, uint64_t off, uint64_t n))
{
	struct kkrt_scratch *w = scratch_get();
	uint64_t off;
	size_t sb;

	for (sb = lo; sb < hi; sb++) {
		off = (uint64_t)sb * KKRT_SB;
		fn(arg, w, off, bins - off < KKRT_SB ? bins - off : KKRT_SB);
	}
	scratch_put(w);
	return 0;
}

static void
qblock(void *arg, struct kkrt_scratch *w, uint64_t off, uint64_t n)
{
	struct qbucket *q = arg;

	kkrt_querier_block(q->kq, w, q->bucket, off, n, q->fp + off * KKRT_FP,
	    q->hidx + off, q->corr + off * KKRT_ROW, q->out + off * KKRT_OUT);
}

static int
job_qblock(void *arg, size_t lo, size_t hi)
{
	return superblocks(((struct qbucket *)arg)->bins, lo, hi, arg, qblock);
}

/* The base OTs by slices on the pool (each OT is independent). */
struct baseot_job {
	const struct baseot_sender *snd;	/* the sender's, or NULL */
	const uint8_t	*sid, *A, *c;
	uint8_t		*B, *keys0, *keys1;
};

static int
job_baseot(void *arg, size_t lo, size_t hi)
{
	struct baseot_job *j = arg;

	if (j->snd != NULL)
		return baseot_sender_keys_range(j->snd, j->sid, j->B, lo, hi,
		    j->keys0, j->keys1);
	return baseot_receive_range(j->sid, j->A, j->c, lo, hi, j->B,
	    j->keys0, NULL);
}

static struct kkrt_querier *
querier_base_ots(struct engine_ctx *ctx, const struct seeds *sd)
{
	uint8_t *keys = xsodium_malloc(2 * NOTS * BASEOT_KEY);
	struct baseot_sender *snd;
	struct baseot_job j = { 0 };
	struct kkrt_querier *kq;

	snd = baseot_sender_new(ctx->frame, NULL);
	ch_send(ctx->ch, FR_OT_BASE_A, ctx->frame, BASEOT_POINT);
	if (ch_expect(ctx->ch, FR_OT_BASE_B, ctx->frame) != NOTS * BASEOT_POINT)
		fatal(EXIT_PROTO, "malformed OT_BASE_B from peer (not %d "
		    "points)", NOTS);
	j.snd = snd;
	j.sid = ctx->hs_hash;
	j.B = ctx->frame;
	j.keys0 = keys;
	j.keys1 = keys + NOTS * BASEOT_KEY;
	if (pool_run(ctx->pool, job_baseot, &j, NOTS) != 0)
		fatal(EXIT_PROTO, "invalid base-OT point in OT_BASE_B from "
		    "peer");
	baseot_sender_free(snd);
	kq = kkrt_querier_new(keys, keys + NOTS * BASEOT_KEY, sd->code);
	sodium_free(keys);
	return kq;
}

static void
send_rows(struct engine_ctx *ctx, uint64_t bucket, const uint8_t *corr,
    uint64_t bins)
{
	uint64_t off, n;

	for (off = 0; off < bins; off += n) {
		n = bins - off < OT_CORR_ROWS ? bins - off : OT_CORR_ROWS;
		put_u64(ctx->frame, bucket);
		put_u32(ctx->frame + 8, (uint32_t)off);
		memcpy(ctx->frame + OT_CORR_HEADER, corr + off * KKRT_ROW,
		    n * KKRT_ROW);
		ch_send(ctx->ch, FR_OT_CORR, ctx->frame,
		    OT_CORR_HEADER + n * KKRT_ROW);
	}
}

/* Fill the cuckoo table with bucket b's distinct keys; park duplicates. */
static void
querier_fill(struct engine_ctx *ctx, struct stream *st, uint64_t b,
    const struct ot_sizes *z, struct cuckoo *ck, uint64_t *first,
    struct recspill **dups)
{
	uint8_t rec[12];
	u128 f, prev = 0;
	uint64_t idx, slot = 0;
	int rc, any = 0;

	while (next_in_bucket(st, b, &f, &idx)) {
		if (any && f == prev) {
			if (*dups == NULL)
				*dups = recspill_new(ctx->tmpdir);
			put_u32(rec, (uint32_t)slot);
			put_u64(rec + 4, idx);
			recspill_add(*dups, rec, sizeof(rec));
			continue;
		}
		if ((rc = cuckoo_insert(ck, f)) == CUCKOO_FULL)
			fatal(EXIT_PROTO, "OT engine: bucket %" PRIu64 " holds "
			    "more than the padded maximum of %" PRIu64 " keys "
			    "(an event of probability below 2^-40); run again",
			    b, z->load);
		if (rc != CUCKOO_OK)
			fatal(EXIT_PROTO, "OT engine: cuckoo hashing failed in "
			    "bucket %" PRIu64 " (an event of probability below "
			    "2^-40); run again", b);
		slot = cuckoo_count(ck) - 1;
		first[slot] = idx;
		prev = f;
		any = 1;
	}
}

/* One bucket in flight on the querier: its cuckoo table and arrays. */
struct qset {
	struct qbucket	 q;
	struct cuckoo	*ck;
	u128		*val;		/* load: a slot's value */
	uint64_t	*first;		/* load: a slot's first record */
	struct recspill	*dups;		/* the bucket's repeated keys */
};

static void
qset_init(struct qset *s, const struct ot_sizes *z,
    const struct kkrt_querier *kq, const uint8_t *cuckoo_key)
{
	memset(s, 0, sizeof(*s));
	s->ck = cuckoo_new(z->load, z->bins, cuckoo_key);
	s->q.kq = kq;
	s->q.bins = z->bins;
	s->q.fp = xcalloc(z->bins, KKRT_FP);
	s->q.hidx = xmalloc(z->bins);
	s->q.corr = xmalloc(z->bins * KKRT_ROW);
	s->q.out = xmalloc(z->bins * KKRT_OUT);
	s->val = xcalloc(z->load, sizeof(*s->val));
	s->first = xcalloc(z->load, sizeof(*s->first));
}

static void
qset_free(struct qset *s, const struct ot_sizes *z)
{
	sodium_memzero(s->q.out, z->bins * KKRT_OUT);
	sodium_memzero(s->val, z->load * sizeof(*s->val));
	free(s->q.fp);
	free(s->q.hidx);
	free(s->q.corr);
	free(s->q.out);
	free(s->val);
	free(s->first);
	cuckoo_free(s->ck);
}

/* Bucket b's keys into the set's cuckoo table and its bins' inputs. */
static void
querier_prep(struct engine_ctx *ctx, struct stream *st, uint64_t b,
    const struct ot_sizes *z, struct qset *s)
{
	uint64_t j;
	uint32_t slot;
	unsigned h;

	cuckoo_clear(s->ck);
	s->dups = NULL;
	querier_fill(ctx, st, b, z, s->ck, s->first, &s->dups);
	for (j = 0; j < z->bins; j++) {
		slot = cuckoo_bin(s->ck, j, &h);
		s->q.hidx[j] = slot == CUCKOO_EMPTY ? KKRT_EMPTY : (uint8_t)h;
		if (slot != CUCKOO_EMPTY)
			fp_bytes(cuckoo_fp(s->ck, slot), s->q.fp + j * KKRT_FP);
	}
	s->q.bucket = b;
}

/* The set's bucket is computed: send its rows, emit its values. */
static void
querier_done(struct engine_ctx *ctx, const struct ot_sizes *z,
    struct qset *s)
{
	const uint8_t *rec;
	size_t len;
	uint64_t j, n;
	uint32_t slot;
	unsigned h;

	send_rows(ctx, s->q.bucket, s->q.corr, z->bins);
	for (j = 0; j < z->bins; j++)
		if ((slot = cuckoo_bin(s->ck, j, &h)) != CUCKOO_EMPTY)
			s->val[slot] = load_be128(s->q.out + j * KKRT_OUT);
	n = cuckoo_count(s->ck);
	for (j = 0; j < n; j++)
		ctx->emit(ctx->sess, s->val[j], s->first[j]);
	if (s->dups != NULL) {
		recspill_rewind(s->dups);
		while (recspill_next(s->dups, &rec, &len))
			ctx->emit(ctx->sess, s->val[get_u32(rec)],
			    get_u64(rec + 4));
		recspill_free(s->dups);
		s->dups = NULL;
	}
}

static void
querier_start_block(struct engine_ctx *ctx, const struct ot_sizes *z,
    struct qset *s)
{
	pool_start(ctx->pool, job_qblock, &s->q,
	    (z->bins + KKRT_SB - 1) / KKRT_SB);
}

/*
 * The buckets.  With two in flight: while the pool's other threads
 * compute bucket b's rows, this thread fills bucket b + 1's cuckoo table,
 * then, once b + 1 is handed to the pool, sends b's rows and emits its
 * values.  With one, each bucket in turn.
 */
static void
querier_buckets(struct engine_ctx *ctx, struct stream *st,
    const struct ot_sizes *z, struct qset *set, unsigned sets)
{
	uint64_t b;
	struct qset *cur, *nxt;

	querier_prep(ctx, st, 0, z, &set[0]);
	querier_start_block(ctx, z, &set[0]);
	for (b = 0; b < z->buckets; b++) {
		cur = &set[sets == 2 ? b & 1 : 0];
		nxt = &set[sets == 2 ? (b + 1) & 1 : 0];
		if (b + 1 < z->buckets && sets == 2)
			querier_prep(ctx, st, b + 1, z, nxt);
		if (pool_wait(ctx->pool) < 0)
			fatal(EXIT_IO, "OT extension failed");
		if (b + 1 < z->buckets && sets == 2)
			querier_start_block(ctx, z, nxt);
		querier_done(ctx, z, cur);
		if (b + 1 < z->buckets && sets == 1) {
			querier_prep(ctx, st, b + 1, z, nxt);
			querier_start_block(ctx, z, nxt);
		}
		progress_set(b + 1);
		ch_keepalive(ctx->ch);
	}
}

static void
querier_start(struct engine_ctx *ctx)
{
	struct seeds sd;
	struct ot_sizes z;
	struct stream st = { 0 };
	struct kkrt_querier *kq;
	struct qset set[2];
	uint64_t target;
	unsigned sets, i;

	target = fingerprint_and_count(ctx, &sd, &z, &st, 1);
	put_u64(ctx->frame, z.buckets);
	put_u64(ctx->frame + 8, z.load);
	put_u64(ctx->frame + 16, z.bins);
	ch_send(ctx->ch, FR_OT_PARAMS, ctx->frame, OT_PARAMS_LEN);

	stats_phase("base_ot");
	progress_phase("base OTs", 0);
	kq = querier_base_ots(ctx, &sd);

	stats_phase("ot_extension");
	progress_phase("buckets", z.buckets);
	st.buckets = z.buckets;
	if (z.bins > 0) {
		sets = in_flight(ctx, target, 1);
		for (i = 0; i < sets; i++)
			qset_init(&set[i], &z, kq, sd.cuckoo);
		querier_buckets(ctx, &st, &z, set, sets);
		for (i = 0; i < sets; i++)
			qset_free(&set[i], &z);
	}
	kkrt_querier_free(kq);
	scratch_release();
	sorter_free(st.s);
	sodium_memzero(&sd, sizeof(sd));
}

/* ---- holder --------------------------------------------------------------- */

struct hbucket {
	struct kkrt_holder *kh;
	const uint8_t	*cuckoo_key;
	uint64_t	 bucket, bins;
	uint8_t		*q;		/* bins * 64: corrections, then q rows */
	uint8_t		*qnext;		/* the same, next bucket's corrections */
	u128		*f;		/* EVAL_CHUNK pairs of the bucket */
	uint8_t		*dup;		/* f[i] == f[i - 1] */
	u128		*val;		/* 3 per pair */
};

static void
hblock(void *arg, struct kkrt_scratch *w, uint64_t off, uint64_t n)
{
	struct hbucket *h = arg;

	kkrt_holder_block(h->kh, w, h->bucket, off, n, h->q + off * KKRT_ROW,
	    h->q + off * KKRT_ROW);
}

static int
job_hblock(void *arg, size_t lo, size_t hi)
{
	return superblocks(((struct hbucket *)arg)->bins, lo, hi, arg, hblock);
}

/* Holder: the keys of [lo, hi) that differ from the one before, HEVAL at
 * a time, evaluated at their three bins. */
#define HEVAL	64

static int
job_heval(void *arg, size_t lo, size_t hi)
{
	struct hbucket *h = arg;
	uint8_t fp[HEVAL * KKRT_FP], out[HEVAL * 3 * KKRT_OUT];
	uint32_t bins[HEVAL * 3];
	size_t at[HEVAL], i, n, j;
	unsigned k;

	for (i = lo; i < hi;) {
		for (n = 0; n < HEVAL && i < hi; i++) {
			if (h->dup[i])
				continue;
			fp_bytes(h->f[i], fp + n * KKRT_FP);
			cuckoo_hashes(h->cuckoo_key, h->f[i], h->bins,
			    bins + 3 * n);
			at[n++] = i;
		}
		kkrt_holder_eval_keys(h->kh, h->bucket, h->q, n, fp, 3, bins,
		    out);
		for (j = 0; j < n; j++)
			for (k = 0; k < 3; k++)
				h->val[3 * at[j] + k] = load_be128(out +
				    (3 * j + k) * KKRT_OUT);
	}
	sodium_memzero(out, sizeof(out));
	return 0;
}

static struct kkrt_holder *
holder_base_ots(struct engine_ctx *ctx, const struct seeds *sd)
{
	uint8_t *sec = xsodium_malloc(KKRT_ROW + NOTS * BASEOT_KEY);
	uint8_t A[BASEOT_POINT];
	struct baseot_job j = { 0 };
	struct kkrt_holder *kh;

	randombytes_buf(sec, KKRT_ROW);		/* s */
	if (ch_expect(ctx->ch, FR_OT_BASE_A, ctx->frame) != BASEOT_POINT)
		fatal(EXIT_PROTO, "malformed OT_BASE_A from peer (not one "
		    "point)");
	memcpy(A, ctx->frame, BASEOT_POINT);
	j.sid = ctx->hs_hash;
	j.A = A;
	j.c = sec;
	j.B = ctx->frame;
	j.keys0 = sec + KKRT_ROW;
	if (pool_run(ctx->pool, job_baseot, &j, NOTS) != 0)
		fatal(EXIT_PROTO, "invalid base-OT point in OT_BASE_A from "
		    "peer");
	ch_send(ctx->ch, FR_OT_BASE_B, ctx->frame, NOTS * BASEOT_POINT);
	kh = kkrt_holder_new(sec, sec + KKRT_ROW, sd->code);
	sodium_free(sec);
	return kh;
}

/* Bucket b's correction rows from the peer into q (bins * 64 bytes). */
static void
holder_recv(struct engine_ctx *ctx, uint8_t *q, uint64_t b, uint64_t bins)
{
	const char *why;
	uint64_t off;
	long n;
	size_t len;

	for (off = 0; off < bins; off += (uint64_t)n) {
		len = ch_expect(ctx->ch, FR_OT_CORR, ctx->frame);
		if ((n = ot_corr_check(ctx->frame, len, b, off, bins,
		    &why)) < 0)
			fatal(EXIT_PROTO, "malformed OT_CORR from peer "
			    "(bucket %" PRIu64 ", bin %" PRIu64 "): %s", b, off,
			    why);
		memcpy(q + off * KKRT_ROW, ctx->frame + OT_CORR_HEADER,
		    (size_t)n * KKRT_ROW);
	}
}

/* The corrections of bucket h->bucket, in h->q, into q rows. */
static void
holder_rows(struct engine_ctx *ctx, struct hbucket *h)
{
	if (pool_run(ctx->pool, job_hblock, h,
	    (h->bins + KKRT_SB - 1) / KKRT_SB) < 0)
		fatal(EXIT_IO, "OT extension failed");
}

/*
 * Evaluate our keys of bucket h->bucket (its q rows ready) and emit their
 * values; with more buckets to come, receive the next one's rows and make
 * its q rows.  With two buckets in flight (h->qnext), the last batch is
 * evaluated by the pool's other threads while this one receives the next
 * bucket's rows into h->qnext, then the two swap.
 */
static void
holder_bucket(struct engine_ctx *ctx, struct stream *st, struct hbucket *h,
    uint64_t *idx, int next)
{
	uint8_t *t;
	size_t n, i;
	int more = 1, rc;

	while (more) {
		for (n = 0; n < EVAL_CHUNK; n++)
			if (!(more = next_in_bucket(st, h->bucket, &h->f[n],
			    &idx[n])))
				break;
		for (i = 0; i < n; i++)
			h->dup[i] = i > 0 && h->f[i] == h->f[i - 1];
		if (!more && next && h->qnext != NULL) {
			pool_start(ctx->pool, job_heval, h, n);
			holder_recv(ctx, h->qnext, h->bucket + 1, h->bins);
			rc = pool_wait(ctx->pool);
		} else
			rc = pool_run(ctx->pool, job_heval, h, n);
		if (rc < 0)
			fatal(EXIT_IO, "OT evaluation failed");
		for (i = 0; i < n; i++) {
			if (h->dup[i])
				memcpy(&h->val[3 * i], &h->val[3 * (i - 1)],
				    3 * sizeof(u128));
			ctx->emit(ctx->sess, h->val[3 * i], idx[i]);
			ctx->emit(ctx->sess, h->val[3 * i + 1], idx[i]);
			ctx->emit(ctx->sess, h->val[3 * i + 2], idx[i]);
		}
		ch_keepalive(ctx->ch);
	}
	if (next && h->qnext != NULL) {
		t = h->q;
		h->q = h->qnext;
		h->qnext = t;
	} else if (next)
		holder_recv(ctx, h->q, h->bucket + 1, h->bins);
	if (next) {
		h->bucket++;
		holder_rows(ctx, h);
	}
}

/* No querier keys, no bins: three random values per record, as the
 * contract wants D values per key (none can match). */
static void
holder_no_bins(struct engine_ctx *ctx, struct stream *st)
{
	u128 f, v;
	uint64_t idx, b;
	int k;

	for (b = 0; b < st->buckets; b++)
		while (next_in_bucket(st, b, &f, &idx))
			for (k = 0; k < 3; k++) {
				randombytes_buf(&v, sizeof(v));
				ctx->emit(ctx->sess, v, idx);
			}
}

static void
holder_start(struct engine_ctx *ctx)
{
	struct seeds sd;
	struct ot_sizes z;
	struct stream st = { 0 };
	struct hbucket h = { 0 };
	uint64_t b, *idx, target;
	size_t len;
	char err[256];

	target = fingerprint_and_count(ctx, &sd, &z, &st, 0);
	len = ch_expect(ctx->ch, FR_OT_PARAMS, ctx->frame);
	if (ot_params_check(&z, ctx->frame, len, err, sizeof(err)) != 0)
		fatal_told(EXIT_PROTO, len == OT_PARAMS_LEN ? "parameters "
		    "differ: OT engine" : NULL, "%s", err);

	stats_phase("base_ot");
	progress_phase("base OTs", 0);
	h.kh = holder_base_ots(ctx, &sd);

	stats_phase("ot_extension");
	progress_phase("buckets", z.buckets);
	st.buckets = z.buckets;
	if (z.bins > 0) {
		h.cuckoo_key = sd.cuckoo;
		h.bins = z.bins;
		h.q = xmalloc(z.bins * KKRT_ROW);
		if (in_flight(ctx, target, 0) == 2)
			h.qnext = xmalloc(z.bins * KKRT_ROW);
		h.f = xcalloc(EVAL_CHUNK, sizeof(*h.f));
		h.dup = xcalloc(EVAL_CHUNK, 1);
		h.val = xcalloc(3 * EVAL_CHUNK, sizeof(*h.val));
		idx = xcalloc(EVAL_CHUNK, sizeof(*idx));
		h.bucket = 0;
		holder_recv(ctx, h.q, 0, h.bins);
		holder_rows(ctx, &h);
		for (b = 0; b < z.buckets; b++) {
			holder_bucket(ctx, &st, &h, idx, b + 1 < z.buckets);
			progress_set(b + 1);
		}
		sodium_memzero(h.q, z.bins * KKRT_ROW);
		if (h.qnext != NULL)
			sodium_memzero(h.qnext, z.bins * KKRT_ROW);
		free(h.q);
		free(h.qnext);
		free(h.f);
		free(h.dup);
		free(h.val);
		free(idx);
	} else
		holder_no_bins(ctx, &st);
	kkrt_holder_free(h.kh);
	scratch_release();
	sorter_free(st.s);
	sodium_memzero(&sd, sizeof(sd));
}

/* Everything happens in start(): nothing is left for the digest's turn. */
static void
ot_finish(struct engine_ctx *ctx)
{
	(void)ctx;
}

const struct engine engine_ot = {
	.name = "ot",
	.id = ENGINE_OT,
	.values_per_key = 3,
	.reserve = OT_RESERVE,
	.share = 40,
	.frame_range = FR_RANGE_OT,
	.frames = { "OT_COUNT", "OT_PARAMS", "OT_BASE_A", "OT_BASE_B",
	    "OT_CORR" },
	.querier = { querier_start, ot_finish, NULL },
	.holder = { holder_start, ot_finish, NULL },
};
