/*
 * esort.c: the element sorter (esort.h for the call order and what
 * fails; spill-int.h for the skeleton and the memory bound it shares
 * with sorter.c).  The sorter's plan for 32-byte elements in memcmp
 * order; what differs:
 *
 * The buffer is sorted in place by an American flag sort: count byte d,
 * cycle every element straight into its bucket, then sort each bucket on
 * byte d + 1; buckets of INSERTION_MAX or fewer go to insertion sort and
 * a byte all elements share is skipped after one counting pass.  Whatever
 * the elements, that is at most 32 linear levels, never quadratic.  With
 * no scratch area the buffer gets the whole budget: twice the elements
 * per run, and twice as many sorted without any file, as the sorter's
 * ping-pong radix sort would allow.  Each element costs its caller a
 * scalar multiplication, so staying off the disk, and fewer runs to
 * merge, matter more than sorting speed (figures: bench/README).
 *
 * Runs are stored as they are, blk/32 whole elements a block: sorted
 * random elements do not compress, so the block format (spillfile.h) is
 * used at zstd level ESORT_ZLEVEL (-1), where zstd is quick to try; a
 * random block it cannot shrink is stored (spillfile.h), yet runs of
 * repeated elements still shrink.  A block whose length is not a whole number
 * of elements, or holds more than its run owes, is corrupt.
 *
 * Heap entries keep an element's first 8 bytes as a big-endian number, so
 * most comparisons are one integer comparison.  esort_finish(unique):
 * with unique, every merge (intermediate ones included) drops an element
 * equal to the last one it kept; runs written before esort_finish keep
 * their repeats, since unique is not known yet.
 *
 * THE MEMORY BOUND
 *
 * spill-int.h's plan with item = 32 bytes, no scratch area, and the
 * writer's raw block needed by merges only (a buffer is written out block
 * by block straight from the buffer):
 *
 *	writer	= CCtx + zstd bound of blk
 *	reader	= DCtx + zstd bound of blk
 *	adding:	  cap * 32 + writer				<= mem - SLACK
 *	middle:	  writer + blk + reader + fan_mid * (blk + RD)	<= mem - SLACK
 *	final:	  reader + fan_fin * (blk + RD)			<= mem - SLACK
 *
 * Not counted: the run table as for the sorter, and el_sort's stack, 32
 * levels of about 4 KiB at most.  The heartbeat (spillfile.h) is ticked
 * once an element a sorting pass and once an element written to a run.
 */
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "esort.h"
#include "spill-int.h"
#include "util.h"

#define ESORT_MIN_MEM	(256 * 1024)
#define ESORT_ZLEVEL	(-1)		/* stores random blocks, see above */
#define EL		32		/* bytes an element */

/* ---- in-memory sort ---------------------------------------------------- */

struct el {
	uint8_t		b[EL];
};

/* a[0..n) agree on the bytes before d. */
static void
el_insertion_sort(struct el *a, size_t n, unsigned d)
{
	struct el x;
	size_t i, j;

	for (i = 1; i < n; i++) {
		x = a[i];
		for (j = i; j > 0; j--) {
			if (memcmp(x.b + d, a[j - 1].b + d, EL - d) >= 0)
				break;
			a[j] = a[j - 1];
		}
		a[j] = x;
	}
}

/*
 * Sort a[0..n), whose elements agree on the bytes before d, in place: an
 * American flag sort on byte d (count, then cycle every element into its
 * bucket), then each bucket on byte d + 1.  A byte every element shares is
 * skipped after one counting pass.
 */
static void
el_sort(struct el *a, size_t n, unsigned d)
{
	size_t start[257], next[256], i, b;
	struct el x, y;
	unsigned c;

	for (;; d++) {
		if (n <= INSERTION_MAX) {
			el_insertion_sort(a, n, d);
			return;
		}
		if (d == EL)
			return;		/* all equal */
		memset(start, 0, sizeof(start));
		for (i = 0; i < n; i++)
			start[a[i].b[d] + 1]++;
		spill_heartbeat(n);
		if (start[a[0].b[d] + 1] != n)
			break;
	}
	for (b = 0; b < 256; b++) {
		start[b + 1] += start[b];
		next[b] = start[b];
	}
	for (b = 0; b < 256; b++) {
		while (next[b] < start[b + 1]) {
			x = a[next[b]];
			while ((c = x.b[d]) != b) {
				y = a[next[c]];
				a[next[c]++] = x;
				x = y;
			}
			a[next[b]++] = x;
		}
	}
	spill_heartbeat(n);
	for (b = 0; b < 256; b++)
		if (start[b + 1] - start[b] > 1)
			el_sort(a + start[b], start[b + 1] - start[b], d + 1);
}

/* ---- state ------------------------------------------------------------- */

/* Heap entry: a run's current element and its first 8 bytes. */
struct eent {
	uint64_t	 key;
	const uint8_t	*p;		/* in its reader's block */
	size_t		 r;		/* reader */
};

_Static_assert(sizeof(struct run_reader) % 16 == 0, "heap after readers");

struct esort {
	struct xsort	 x;
	int		 unique;
	/* with unique: the last element kept by the current merge */
	uint8_t		 last[EL];
	int		 have_last;
};

#define ELS(e)		((struct el *)(e)->x.buf)
#define READERS(e)	((struct run_reader *)(e)->x.rd)
#define HEAP(e)		((struct eent *)(e)->x.heap)

static void
esort_sort(struct xsort *x)
{
	el_sort((struct el *)x->buf, x->n, 0);
}

/* With unique: 1 if el repeats the last element kept, else keep it. */
static inline int
repeat(struct esort *e, const uint8_t *el)
{
	if (!e->unique)
		return 0;
	if (e->have_last && memcmp(e->last, el, EL) == 0)
		return 1;
	memcpy(e->last, el, EL);
	e->have_last = 1;
	return 0;
}

/* ---- writing runs ------------------------------------------------------ */

/* Append n elements at p to the run as one block. */
static void
ew_block(struct xsort *x, const uint8_t *p, size_t n)
{
	xsort_run_block(x, p, n * EL);
	x->witems += n;
	spill_heartbeat(n);
}

/* Append one element through wraw (merges). */
static inline void
ew_put(struct xsort *x, const uint8_t *el)
{
	memcpy(x->wraw + x->wused, el, EL);
	x->witems++;
	if ((x->wused += EL) == x->blk / EL * EL) {
		xsort_run_block(x, x->wraw, x->wused);
		spill_heartbeat(x->blk / EL);
		x->wused = 0;
	}
}

/* The sorted buffer as one run, written straight from the buffer. */
static void
esort_write_buffer(struct xsort *x)
{
	size_t per = x->blk / EL, i, k;

	for (i = 0; i < x->n; i += k) {
		k = x->n - i < per ? x->n - i : per;
		ew_block(x, x->buf + i * EL, k);
	}
}

void
esort_add(struct esort *e, const uint8_t elem[32])
{
	if (e->x.n >= e->x.cap)
		xsort_full(&e->x);
	memcpy(ELS(e)[e->x.n++].b, elem, EL);
	e->x.count++;
}

/* ---- merging ----------------------------------------------------------- */

/* The run's next element, valid until the next call; NULL at its end. */
static inline const uint8_t *
ereader_next(struct esort *e, struct run_reader *r)
{
	if (r->p == r->pe) {
		if (!run_reader_load(&e->x, r))
			return NULL;
		if ((size_t)(r->pe - r->p) % EL != 0 ||
		    (size_t)(r->pe - r->p) / EL > r->left)
			sf_corrupt(e->x.dir);
	}
	r->left--;
	r->p += EL;
	return r->p - EL;
}

static inline int
eent_lt(const struct eent *a, const struct eent *b)
{
	if (a->key != b->key)
		return a->key < b->key;
	return memcmp(a->p + 8, b->p + 8, EL - 8) < 0;
}

DEFINE_SIFT_DOWN(esift_down, struct eent, eent_lt)

/* Every merge keeps its own last element (unique). */
static void
esort_start(struct xsort *x)
{
	((struct esort *)x)->have_last = 0;
}

/* Reader r's first element into the heap entry. */
static int
esort_prime(struct xsort *x, size_t r, void *hp)
{
	struct eent *h = hp;

	h->r = r;
	h->p = ereader_next((struct esort *)x, (struct run_reader *)x->rd + r);
	if (h->p == NULL)
		return 0;
	h->key = load_be64(h->p);
	return 1;
}

static void
esort_sift(struct xsort *x, size_t i)
{
	esift_down(x->heap, x->nheap, i);
}

/* Copy the smallest element to out and advance its run; 0 at the end. */
static inline int
emerge_pop(struct esort *e, uint8_t *out)
{
	struct eent *heap = HEAP(e), *top = &heap[0];

	if (e->x.nheap == 0)
		return 0;
	memcpy(out, top->p, EL);
	if ((top->p = ereader_next(e, &READERS(e)[top->r])) == NULL) {
		*top = heap[--e->x.nheap];
		if (e->x.nheap == 0)
			return 1;
	} else
		top->key = load_be64(top->p);
	esift_down(heap, e->x.nheap, 0);
	return 1;
}

/* The open merge into the run being written, repeats dropped (unique). */
static void
esort_drain(struct xsort *x)
{
	struct esort *e = (struct esort *)x;
	uint8_t el[EL];

	while (emerge_pop(e, el))
		if (!repeat(e, el))
			ew_put(x, el);
}

/* ---- the kind and the public interface ------------------------------ */

/* No scratch area; the writer's raw block is for merges only. */
static const struct xsort_kind esort_kind = {
	.name = "esort", .min_mem = ESORT_MIN_MEM, .zlevel = ESORT_ZLEVEL,
	.self = sizeof(struct esort), .item = sizeof(struct el),
	.reader = sizeof(struct run_reader), .hent = sizeof(struct eent),
	.sort = esort_sort, .write_buffer = esort_write_buffer,
	.start = esort_start, .prime = esort_prime, .sift = esort_sift,
	.drain = esort_drain,
};

DEFINE_XSORT_API(esort, esort_kind)

void
esort_finish(struct esort *e, int unique)
{
	e->unique = unique;
	e->have_last = 0;
	xsort_finish(&e->x);
}

int
esort_next(struct esort *e, uint8_t elem[32])
{
	if (e->x.state == XS_MERGE) {
		do {
			if (!emerge_pop(e, elem))
				return 0;
		} while (repeat(e, elem));
		return 1;
	}
	if (e->x.state != XS_MEM)
		xsort_not_finished(&e->x);
	do {
		if (e->x.pos == e->x.n)
			return 0;
		memcpy(elem, ELS(e)[e->x.pos++].b, EL);
	} while (repeat(e, elem));
	return 1;
}
