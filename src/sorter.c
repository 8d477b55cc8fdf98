/*
 * sorter.c: the value sorter (sorter.h for the call order and what
 * fails; spill-int.h for the skeleton and the memory bound it shares
 * with esort.c).
 *
 * Pairs are kept as three 64-bit words (value high, value low, index) and
 * ordered by all three.  sorter_add fills a buffer of `cap' pairs; when it
 * is full the buffer is sorted and written out as a sorted run.  The sort
 * is an MSD radix sort, one byte at a time.  A bucket too large for the
 * scratch area (1/SORTER_SCRATCH of the buffer) is permuted in place, an
 * American flag sort level; one that fits ping-pongs between the buffer
 * and the scratch area, and buckets of INSERTION_MAX pairs or fewer are
 * finished by insertion sort.  Values are uniformly random, so one
 * in-place level makes buckets that fit and two more leave buckets of
 * INSERTION_MAX even for millions of pairs; a level where every pair
 * falls in one bucket is skipped without moving anything (all values
 * equal costs 24 counting passes, not n^2).  With no second buffer a
 * budget holds 32/17 times the pairs two buffers would: the holder's
 * 3 x 10^6 values at the default --memory stay in memory, and larger
 * inputs make half as many runs.
 *
 * Threads: with a pool (sorter_set_pool), a buffer of PAR_MIN pairs or
 * more is sorted by all its threads: the calling thread permutes the top
 * level in place, then pool slices sort the 256 buckets, each with a
 * share of the scratch area of its own (scratch/threads pairs), taken
 * from a bit mask, so the scratch area stays 1/16 of the buffer.  The
 * heartbeat is ticked by the calling thread only, after the job.  A
 * buffer that fills while the pool is busy with another job (the OT
 * engine emits between pool_start and pool_wait) is sorted by the
 * calling thread alone.
 *
 * Inside a run block, pairs are coded as
 *
 *	varint(value - previous value), varint(index)
 *
 * where the first pair of each block has previous value 0, so every block
 * decodes alone (varint.h; zstd level 1 where it pays, as for the index
 * sorter's small gaps; the value runs' pseudo-random bytes do not shrink
 * and are stored, spillfile.h).  A merge reads one block per run at a
 * time and keeps each run's current pair in a binary min-heap; the
 * smallest pair is handed out and replaced by the next pair of its run.
 *
 * THE MEMORY BOUND
 *
 * spill-int.h's plan with item = 24 bytes, a scratch area of 1/16 of the
 * buffer, the writer's raw block counted while adding, and READ_SLACK
 * readable bytes after each reader block (get_varint_fast reads past the
 * varint it decodes):
 *
 *	writer	= CCtx + blk + zstd bound of blk		(writing runs)
 *	reader	= DCtx + zstd bound of blk			(one, shared)
 *	adding:	  cap * 24 * 17/16 + writer			<= mem - SLACK
 *	middle:	  writer + reader + fan_mid * (blk + RD)	<= mem - SLACK
 *	final:	  reader + fan_fin * (blk + RD)		<= mem - SLACK
 *
 * where RD is READ_SLACK plus a reader's bookkeeping and SLACK covers the
 * sorter itself.  Not counted: the run table (spill-int.h) and the radix
 * sort's stack (24 levels of three 2 KiB arrays at most).
 *
 * The heartbeat (spillfile.h) is ticked once a pair written to a run and
 * once a pair a counting or scattering pass.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"
#include "sorter.h"
#include "spill-int.h"
#include "util.h"
#include "varint.h"

#define SORTER_MIN_MEM	(256 * 1024)
#define SORTER_ZLEVEL	1
#define PAIR_MAX	(VARINT128_MAX + VARINT64_MAX)	/* longest pair */
#define READ_SLACK	64		/* readable bytes after a run block */
#define KEY_BYTES	24
#define SORTER_SCRATCH	16		/* scratch: 1/16 of the buffer */
#define PERMUTE_AHEAD	384		/* bytes: 16 pairs, 6 cache lines */

/* Set while a pool thread sorts a share: the heartbeat is the caller's
 * (it may write to the channel), ticked once the job is done. */
static __thread int quiet;

static inline void
sort_beat(size_t n)
{
	if (!quiet)
		spill_heartbeat(n);
}

#if READ_SLACK < VARINT_OVERREAD
#error "READ_SLACK must cover get_varint_fast's reads"
#endif

/* ---- in-memory radix sort ---------------------------------------------- */

/* value high, value low, index: compared in that order */
struct pair {
	uint64_t	k[3];
};

static inline int
pair_lt(const struct pair *a, const struct pair *b)
{
	if (a->k[0] != b->k[0])
		return a->k[0] < b->k[0];
	if (a->k[1] != b->k[1])
		return a->k[1] < b->k[1];
	return a->k[2] < b->k[2];
}

static void
insertion_sort(struct pair *a, size_t n)
{
	struct pair x;
	size_t i, j;

	for (i = 1; i < n; i++) {
		x = a[i];
		for (j = i; j > 0 && pair_lt(&x, &a[j - 1]); j--)
			a[j] = a[j - 1];
		a[j] = x;
	}
}

#define DIGIT(p, w, sh)	((size_t)((p)->k[w] >> (sh)) & 0xff)

/* Histogram of key byte d; 1 if every pair has the same byte there. */
static int
radix_count(const struct pair *a, size_t n, unsigned d, size_t cnt[256])
{
	unsigned w = d / 8, sh = 56 - 8 * (d % 8);
	size_t i;

	memset(cnt, 0, 256 * sizeof(cnt[0]));
	for (i = 0; i < n; i++)
		cnt[DIGIT(&a[i], w, sh)]++;
	sort_beat(n);
	return cnt[DIGIT(&a[0], w, sh)] == n;
}

/* Stable distribution of src into dst by key byte d. */
static void
radix_scatter(const struct pair *src, struct pair *dst, size_t n,
    unsigned d, const size_t cnt[256])
{
	unsigned w = d / 8, sh = 56 - 8 * (d % 8);
	size_t pos[256], i, sum = 0;

	for (i = 0; i < 256; i++) {
		pos[i] = sum;
		sum += cnt[i];
	}
	for (i = 0; i < n; i++)
		dst[pos[DIGIT(&src[i], w, sh)]++] = src[i];
	sort_beat(n);
}

/*
 * Sort a[0..n), whose pairs agree on key bytes before d, into a (to_b 0)
 * or into b (to_b 1), the other array serving as scratch.  Each level
 * scatters from a into b and sorts the buckets back the other way, so
 * the ping-pong saves copying back.
 */
static void
sort_pp(struct pair *a, struct pair *b, size_t n, unsigned d, int to_b)
{
	size_t cnt[256], i, off;

	for (;; d++) {
		if (n <= INSERTION_MAX || d == KEY_BYTES) {
			if (to_b)
				memcpy(b, a, n * sizeof(*a));
			insertion_sort(to_b ? b : a, n); /* linear if all equal */
			return;
		}
		if (!radix_count(a, n, d, cnt))
			break;
	}
	radix_scatter(a, b, n, d, cnt);
	for (i = 0, off = 0; i < 256; off += cnt[i++])
		if (cnt[i] > 0)
			sort_pp(b + off, a + off, cnt[i], d + 1, !to_b);
}

/* ---- state ------------------------------------------------------------- */

/* One run being merged: its current block, decoded lazily. */
struct reader {
	struct run_reader b;
	u128		 prev;		/* last value of this block */
};

/* Heap entry: a run's current pair, kept here for locality. */
struct hent {
	u128		 v;
	uint64_t	 idx;
	size_t		 r;		/* reader */
};

_Static_assert(sizeof(struct reader) % 16 == 0, "heap after readers");

struct sorter {
	struct xsort	 x;
	u128		 wprev;		/* last value coded in the block */
	struct pool	*pool;		/* NULL: sort on the calling thread */
};

#define PAIRS(s)	((struct pair *)(s)->x.buf)
#define READERS(s)	((struct reader *)(s)->x.rd)
#define HEAP(s)		((struct hent *)(s)->x.heap)

/*
 * Permute a[0..n) in place into the buckets of key byte d, whose counts
 * are cnt (an American flag sort level: every pair is cycled straight
 * into its bucket).  Each step of a cycle loads the pair at a random
 * bucket's write position and the next step needs it: a chain of cache
 * misses once the buffer outgrows the cache.  Every bucket's writes move
 * forward, so prefetching PERMUTE_AHEAD bytes past the position just
 * written has the pair there by the time the cycle comes back (the
 * holder's 3 x 10^6 values at 10^6 keys: the top level on one thread in
 * about half the time).
 */
static void
flag_permute(struct pair *a, size_t n, unsigned d, const size_t cnt[256])
{
	size_t next[256], end[256], b, sum = 0;
	unsigned w = d / 8, sh = 56 - 8 * (d % 8), c;
	struct pair x, y;

	for (b = 0; b < 256; b++) {
		next[b] = sum;
		end[b] = sum += cnt[b];
	}
	for (b = 0; b < 256; b++)
		while (next[b] < end[b]) {
			x = a[next[b]];
			while ((c = (unsigned)DIGIT(&x, w, sh)) != b) {
				y = a[next[c]];
				a[next[c]++] = x;
				/* bucket c's next pairs, wanted some swaps on:
				 * a hint, so past the end is harmless */
				__builtin_prefetch((const void *)((uintptr_t)
				    &a[next[c]] + PERMUTE_AHEAD), 1);
				x = y;
			}
			a[next[b]++] = x;
		}
	sort_beat(n);
}

/*
 * The first key byte at or after *d where a[0..n) differ, its counts in
 * cnt; 0 if the pairs are all equal from *d on.
 */
static int
first_split(const struct pair *a, size_t n, unsigned *d, size_t cnt[256])
{
	for (; *d < KEY_BYTES; (*d)++)
		if (!radix_count(a, n, *d, cnt))
			return 1;
	return 0;
}

/*
 * Sort a[0..n), whose pairs agree on key bytes before d, in place with
 * scratch room for `room` pairs: a bucket that fits goes to the ping-pong
 * sort through the scratch; a larger one is permuted in place on its
 * first byte that differs and each bucket sorted on the byte after.
 * Random values take one in-place level and then fit: the scratch is a
 * small fraction of the buffer, not a second one.
 */
static void
sort_inplace(struct pair *a, struct pair *scr, size_t n, size_t room,
    unsigned d)
{
	size_t cnt[256], i, b;

	if (n <= room || n <= INSERTION_MAX) {
		sort_pp(a, scr, n, d, 0);
		return;
	}
	if (!first_split(a, n, &d, cnt))
		return;		/* all equal */
	flag_permute(a, n, d, cnt);
	for (b = 0, i = 0; b < 256; i += cnt[b++])
		if (cnt[b] > 1)
			sort_inplace(a + i, scr, cnt[b], room, d + 1);
}

/*
 * On the pool: the top level is permuted by the caller, then the 256
 * buckets are sorted by every thread, each slice with a share of the
 * scratch area of its own (one share a thread, taken from `free`).
 */
#define PAR_MIN		(64 * 1024)	/* fewer pairs: one thread */

struct par_sort {
	struct pair	*a, *scr;
	size_t		 off[257];
	size_t		 room;		/* pairs a scratch share holds */
	unsigned	 d;		/* the buckets agree before d */
	uint64_t	 free;		/* bit i: share i is not in use */
};

static int
job_sort(void *arg, size_t lo, size_t hi)
{
	struct par_sort *ps = arg;
	uint64_t f;
	unsigned i;
	size_t b;

	f = __atomic_load_n(&ps->free, __ATOMIC_ACQUIRE);
	do {
		if (f == 0)
			bug("sorter: more threads than scratch shares");
		i = (unsigned)__builtin_ctzll(f);
	} while (!__atomic_compare_exchange_n(&ps->free, &f, f & ~(1ull << i),
	    0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
	quiet = 1;
	for (b = lo; b < hi; b++)
		if (ps->off[b + 1] - ps->off[b] > 1)
			sort_inplace(ps->a + ps->off[b], ps->scr + i * ps->room,
			    ps->off[b + 1] - ps->off[b], ps->room, ps->d + 1);
	quiet = 0;
	__atomic_fetch_or(&ps->free, 1ull << i, __ATOMIC_RELEASE);
	return 0;
}

static void
sorter_sort(struct xsort *x)
{
	struct sorter *s = (struct sorter *)x;
	struct pair *a = PAIRS(s);
	size_t room = xsort_scratch_items(x), cnt[256], b;
	/* A pool busy with the engine's job (its caller fills us between
	 * pool_start and pool_wait) cannot take ours: sort alone. */
	int nt = s->pool != NULL && !pool_busy(s->pool) ?
	    pool_threads(s->pool) : 1;
	struct par_sort ps;

	if (nt < 2 || nt > 64 || x->n < PAR_MIN || room / (size_t)nt < INSERTION_MAX) {
		sort_inplace(a, (struct pair *)x->scratch, x->n, room, 0);
		return;
	}
	ps.d = 0;
	if (!first_split(a, x->n, &ps.d, cnt))
		return;
	flag_permute(a, x->n, ps.d, cnt);
	ps.a = a;
	ps.scr = (struct pair *)x->scratch;
	ps.room = room / (size_t)nt;
	ps.free = nt == 64 ? ~0ull : (1ull << nt) - 1;
	for (b = 0, ps.off[0] = 0; b < 256; b++)
		ps.off[b + 1] = ps.off[b] + cnt[b];
	if (pool_run(s->pool, job_sort, &ps, 256) < 0)
		bug("sorter: a sort job failed");
	spill_heartbeat(x->n * 3);	/* about the levels the threads did */
}

void
sorter_set_pool(struct sorter *s, struct pool *p)
{
	s->pool = p;
}

/* ---- writing runs ------------------------------------------------------ */

static inline void
rw_put(struct sorter *s, u128 v, uint64_t idx)
{
	struct xsort *x = &s->x;
	uint8_t *q;

	if (x->wused > x->blk - PAIR_MAX) {
		xsort_run_block(x, x->wraw, x->wused);
		x->wused = 0;
		s->wprev = 0;
	}
	q = put_varint128(x->wraw + x->wused, v - s->wprev);
	q = put_varint(q, idx);
	x->wused = (size_t)(q - x->wraw);
	s->wprev = v;
	x->witems++;
	spill_heartbeat(1);
}

static void
sorter_write_buffer(struct xsort *x)
{
	struct sorter *s = (struct sorter *)x;
	const struct pair *p = PAIRS(s);
	size_t i;

	s->wprev = 0;
	for (i = 0; i < x->n; i++, p++)
		rw_put(s, (u128)p->k[0] << 64 | p->k[1], p->k[2]);
}

void
sorter_add(struct sorter *s, u128 value, uint64_t index)
{
	struct pair *p;

	if (s->x.n >= s->x.cap)
		xsort_full(&s->x);
	p = &PAIRS(s)[s->x.n++];
	p->k[0] = (uint64_t)(value >> 64);
	p->k[1] = (uint64_t)value;
	p->k[2] = index;
	s->x.count++;
}

/* ---- merging ----------------------------------------------------------- */

/* Decode the run's next pair; 0 when the run is over. */
static inline int
reader_next(struct sorter *s, struct reader *r, u128 *v, uint64_t *idx)
{
	struct run_reader *b = &r->b;
	u128 d, ix;

	if (b->p == b->pe) {
		if (!run_reader_load(&s->x, b))
			return 0;
		r->prev = 0;
	}
	if ((b->p = get_varint_fast(b->p, VARINT128_MAX, 3, &d)) == NULL ||
	    (b->p = get_varint_fast(b->p, VARINT64_MAX, 1, &ix)) == NULL ||
	    b->p > b->pe || r->prev + d < r->prev || b->left-- == 0)
		sf_corrupt(s->x.dir);
	*idx = (uint64_t)ix;
	*v = r->prev += d;
	return 1;
}

static inline int
hent_lt(const struct hent *a, const struct hent *b)
{
	return a->v < b->v || (a->v == b->v && a->idx < b->idx);
}

DEFINE_SIFT_DOWN(sift_down, struct hent, hent_lt)

/* Reader r's first pair into the heap entry. */
static int
sorter_prime(struct xsort *x, size_t r, void *hp)
{
	struct sorter *s = (struct sorter *)x;
	struct hent *h = hp;

	READERS(s)[r].prev = 0;
	h->r = r;
	return reader_next(s, &READERS(s)[r], &h->v, &h->idx);
}

static void
sorter_sift(struct xsort *x, size_t i)
{
	sift_down(x->heap, x->nheap, i);
}

static inline int
merge_pop(struct sorter *s, u128 *v, uint64_t *idx)
{
	struct hent *heap = HEAP(s), *top = &heap[0];

	if (s->x.nheap == 0)
		return 0;
	*v = top->v;
	*idx = top->idx;
	if (!reader_next(s, &READERS(s)[top->r], &top->v, &top->idx)) {
		*top = heap[--s->x.nheap];
		if (s->x.nheap == 0)
			return 1;
	}
	sift_down(heap, s->x.nheap, 0);
	return 1;
}

/* The open merge into the run being written. */
static void
sorter_drain(struct xsort *x)
{
	struct sorter *s = (struct sorter *)x;
	u128 v;
	uint64_t idx;

	s->wprev = 0;
	while (merge_pop(s, &v, &idx))
		rw_put(s, v, idx);
}

/* ---- the kind and the public interface ------------------------------ */

static const struct xsort_kind sorter_kind = {
	.name = "sorter", .min_mem = SORTER_MIN_MEM, .zlevel = SORTER_ZLEVEL,
	.self = sizeof(struct sorter), .item = sizeof(struct pair),
	.scratch = SORTER_SCRATCH, .raw_writer = 1, .slot_extra = READ_SLACK,
	.reader = sizeof(struct reader), .hent = sizeof(struct hent),
	.sort = sorter_sort, .write_buffer = sorter_write_buffer,
	.prime = sorter_prime, .sift = sorter_sift, .drain = sorter_drain,
};

DEFINE_XSORT_API(sorter, sorter_kind)

void
sorter_finish(struct sorter *s)
{
	xsort_finish(&s->x);
}

void
sorter_rewind(struct sorter *s)
{
	xsort_rewind(&s->x);
}

int
sorter_next(struct sorter *s, u128 *value, uint64_t *index)
{
	const struct pair *p;

	if (s->x.state == XS_MERGE)
		return merge_pop(s, value, index);
	if (s->x.state != XS_MEM)
		xsort_not_finished(&s->x);
	if (s->x.pos == s->x.n)
		return 0;
	p = &PAIRS(s)[s->x.pos++];
	*value = (u128)p->k[0] << 64 | p->k[1];
	*index = p->k[2];
	return 1;
}
