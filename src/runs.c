/*
 * runs.c: sorted runs on a temporary file, the skeleton both external
 * sorters (sorter.c, esort.c) share: the budget plan, the run table, the
 * run writer, the reader arena, intermediate merges, finish and free.
 * spill-int.h says how the plan and the skeleton work and which steps a
 * sorter kind brings; nothing here touches an item.
 *
 * Call order (each sorter's public functions map onto it):
 *
 *	xsort_new, xsort_full... (from add), xsort_finish,
 *	xsort_not_finished (from next), [xsort_rewind...], xsort_free
 *
 * Fails: a budget under the kind's minimum or too small for the plan
 * (exit 1, "memory budget too small"), add after finish or finish twice
 * (an internal error: bug(), exit 7), temporary files as in spillfile.h
 * (exit 2).
 */
#define ZSTD_STATIC_LINKING_ONLY	/* ZSTD_estimateDCtxSize */

#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "spill-int.h"
#include "util.h"

/* ---- the run table ----------------------------------------------------- */

static void
runtab_add(struct runtab *rt, uint64_t off, uint64_t len, uint64_t count)
{
	struct run *r;

	if (rt->n == rt->alloc) {
		rt->alloc = rt->alloc ? 2 * rt->alloc : 16;
		rt->run = xreallocarray(rt->run, rt->alloc, sizeof(*rt->run));
	}
	r = &rt->run[rt->n++];
	r->off = off;
	r->len = len;
	r->count = count;
}

/* Runs not merged away yet. */
static size_t
runtab_live(const struct runtab *rt)
{
	return rt->n - rt->head;
}

/*
 * How many of the oldest runs the next intermediate merge takes, 0 once
 * the final merge can take them all: at most fan_mid, and just enough
 * that the last intermediate merge lands exactly on fan_fin.
 */
static size_t
runtab_next_merge(const struct runtab *rt, size_t fan_mid, size_t fan_fin)
{
	size_t live = runtab_live(rt), k;

	if (live <= fan_fin)
		return 0;
	k = live - fan_fin + 1;
	return k < fan_mid ? k : fan_mid;
}

/* Runs [first, first+k) are merged: give their disk space back. */
static void
runtab_punch(const struct runtab *rt, struct spillfile *f, size_t first,
    size_t k)
{
	const struct run *a = &rt->run[first], *z = &rt->run[first + k - 1];

	sf_punch(f, a->off, z->off + z->len - a->off);
}

/* ---- the plan ---------------------------------------------------------- */

/* Raw bytes of a run block for budget mem: mem/256, a power of two. */
static size_t
run_block_size(size_t mem)
{
	size_t blk = SORT_BLK_MIN;

	while (blk < SORT_BLK_MAX && blk * 2 <= mem / 256)
		blk *= 2;
	return blk;
}

/* The budget split of spill-int.h. */
static void
plan(struct xsort *xs, size_t mem)
{
	const struct xsort_kind *k = xs->kind;
	size_t avail, wsz, rsz, per, adding;

	xs->blk = run_block_size(mem);
	wsz = sf_cctx_size(k->zlevel, xs->blk) + sf_zbuf_size(xs->blk);
	rsz = ZSTD_estimateDCtxSize() + sf_zbuf_size(xs->blk);
	per = xs->blk + k->slot_extra + k->reader + k->hent;
	avail = mem - SORT_SLACK - k->self;
	if (avail < wsz + xs->blk + rsz + 2 * per)
		fatal(EXIT_USAGE, "memory budget too small: %zu bytes", mem);
	adding = avail - wsz - (k->raw_writer ? xs->blk : 0);
	xs->maxitems = k->scratch == 0 ? adding / k->item :
	    adding / (k->item * (k->scratch + 1)) * k->scratch;
	xs->fan_mid = (avail - wsz - xs->blk - rsz) / per;
	xs->fan_fin = (avail - rsz) / per;
}

struct xsort *
xsort_new(const struct xsort_kind *kind, const char *tmpdir, size_t mem)
{
	struct xsort *xs;

	if (mem < kind->min_mem)
		fatal(EXIT_USAGE, "memory budget too small: %zu bytes for a "
		    "sorter, at least %zu needed", mem, kind->min_mem);
	xs = xcalloc(1, kind->self);
	xs->kind = kind;
	xs->dir = xstrdup(tmpdir);
	xs->f.fd = -1;
	xs->f.dir = xs->dir;
	plan(xs, mem);
	return xs;
}

/* ---- the run writer ---------------------------------------------------- */

static void
run_begin(struct xsort *xs)
{
	if (xs->f.fd == -1)
		sf_open(&xs->f, xs->dir);
	if (xs->cctx == NULL) {
		xs->cctx = sf_cctx_new(xs->kind->zlevel, xs->blk);
		xs->wzbuf = xmalloc(sf_zbuf_size(xs->blk));
	}
	if (xs->kind->raw_writer && xs->wraw == NULL)
		xs->wraw = xmalloc(xs->blk);
	xs->wstart = xs->f.end;
	xs->wused = 0;
	xs->witems = 0;
}

void
xsort_run_block(struct xsort *xs, const uint8_t *raw, size_t len)
{
	sf_block_put(&xs->f, xs->cctx, raw, len, xs->wzbuf,
	    sf_zbuf_size(xs->blk));
}

static void
run_end(struct xsort *xs)
{
	if (xs->wused > 0)
		xsort_run_block(xs, xs->wraw, xs->wused);
	xs->wused = 0;
	runtab_add(&xs->rt, xs->wstart, xs->f.end - xs->wstart, xs->witems);
}

static void
writer_free(struct xsort *xs)
{
	ZSTD_freeCCtx(xs->cctx);
	xs->cctx = NULL;
	free(xs->wraw);
	free(xs->wzbuf);
	xs->wraw = xs->wzbuf = NULL;
}

/* ---- adding ------------------------------------------------------------ */

static size_t
buf_len(const struct xsort *xs)
{
	return sf_pagesz(xs->maxitems * xs->kind->item);
}

static size_t
scratch_len(const struct xsort *xs)
{
	return sf_pagesz(xsort_scratch_items(xs) * xs->kind->item);
}

/* Sort the buffer and write it out as one run. */
static void
spill_buffer(struct xsort *xs)
{
	xs->kind->sort(xs);
	run_begin(xs);
	xs->kind->write_buffer(xs);
	run_end(xs);
	xs->n = 0;
	xs->nspilled++;
}

void
xsort_full(struct xsort *xs)
{
	if (xs->state != XS_ADD)
		bug("%s_add after %s_finish",
		    xs->kind->name, xs->kind->name);
	if (xs->buf == NULL) {
		xs->buf = sf_map_alloc(buf_len(xs));
		if (xs->kind->scratch)
			xs->scratch = sf_map_alloc(scratch_len(xs));
		xs->cap = xs->maxitems;
	} else
		spill_buffer(xs);
}

static void
unmap_buffers(struct xsort *xs)
{
	sf_map_free(xs->buf, buf_len(xs));
	sf_map_free(xs->scratch, scratch_len(xs));
	xs->buf = xs->scratch = NULL;
}

/* ---- merging ----------------------------------------------------------- */

static size_t
slot_size(const struct xsort *xs)
{
	return xs->blk + xs->kind->slot_extra;
}

/* Start merging runs [first, first+k): one item of each in the heap. */
static void
merge_open(struct xsort *xs, size_t first, size_t k)
{
	const struct xsort_kind *kd = xs->kind;
	const struct run *rn;
	struct run_reader *r;
	size_t i;

	if (kd->start != NULL)
		kd->start(xs);
	xs->nheap = 0;
	for (i = 0; i < k; i++) {
		rn = &xs->rt.run[first + i];
		r = (struct run_reader *)((uint8_t *)xs->rd + i * kd->reader);
		r->raw = xs->arena + i * slot_size(xs);
		r->p = r->pe = r->raw;
		r->off = rn->off;
		r->end = rn->off + rn->len;
		r->left = rn->count;
		if (kd->prime(xs, i, (uint8_t *)xs->heap + xs->nheap * kd->hent))
			xs->nheap++;
	}
	for (i = xs->nheap / 2; i-- > 0;)
		kd->sift(xs, i);
}

/* Buffers for the readers, sized for the widest merge ahead. */
static void
merge_alloc(struct xsort *xs)
{
	size_t live = runtab_live(&xs->rt);

	xs->nslots = live < xs->fan_fin ? live : xs->fan_fin;
	xs->dctx = sf_dctx_new();
	xs->rzbuf = xmalloc(sf_zbuf_size(xs->blk));
	xs->arena = sf_map_alloc(sf_pagesz(xs->nslots * slot_size(xs)));
	/* readers, then the heap: reader sizes keep it aligned (16) */
	xs->rd = xcalloc(xs->nslots, xs->kind->reader + xs->kind->hent);
	xs->heap = (uint8_t *)xs->rd + xs->nslots * xs->kind->reader;
}

/* Intermediate merges, oldest runs first, until fan_fin runs are left. */
static void
merge_down(struct xsort *xs)
{
	size_t k, first;

	while ((k = runtab_next_merge(&xs->rt, xs->fan_mid, xs->fan_fin)) >
	    0) {
		first = xs->rt.head;
		if (xs->wraw == NULL)
			xs->wraw = xmalloc(xs->blk);
		run_begin(xs);
		merge_open(xs, first, k);
		xs->kind->drain(xs);
		run_end(xs);
		runtab_punch(&xs->rt, &xs->f, first, k);
		xs->rt.head += k;
	}
}

void
xsort_finish(struct xsort *xs)
{
	const char *name = xs->kind->name;

	if (xs->state != XS_ADD)
		bug("%s_finish called twice", name);
	xs->cap = 0;
	if (xs->nspilled == 0) {
		if (xs->n > 0)
			xs->kind->sort(xs);
		sf_map_free(xs->scratch, scratch_len(xs));
		xs->scratch = NULL;
		xs->pos = 0;
		xs->state = XS_MEM;
		return;
	}
	if (xs->n > 0)
		spill_buffer(xs);
	unmap_buffers(xs);
	merge_alloc(xs);
	merge_down(xs);
	writer_free(xs);
	vlog(2, "%s: %u runs, %zu intermediate merges, final merge of %zu",
	    name, xs->nspilled, xs->rt.n - xs->nspilled,
	    runtab_live(&xs->rt));
	merge_open(xs, xs->rt.head, runtab_live(&xs->rt));
	xs->state = XS_MERGE;
}

void
xsort_rewind(struct xsort *xs)
{
	if (xs->state == XS_MEM)
		xs->pos = 0;
	else if (xs->state == XS_MERGE)
		merge_open(xs, xs->rt.head, runtab_live(&xs->rt));
	else
		bug("%s_rewind before %s_finish", xs->kind->name,
		    xs->kind->name);
}

void
xsort_not_finished(const struct xsort *xs)
{
	bug("%s_next before %s_finish",
	    xs->kind->name, xs->kind->name);
}

void
xsort_free(struct xsort *xs)
{
	if (xs == NULL)
		return;
	unmap_buffers(xs);
	sf_map_free(xs->arena, sf_pagesz(xs->nslots * slot_size(xs)));
	writer_free(xs);
	ZSTD_freeDCtx(xs->dctx);
	free(xs->rzbuf);
	free(xs->rd);
	free(xs->rt.run);
	sf_close(&xs->f);
	free(xs->dir);
	free(xs);
}
