/*
 * spill-int.h: what the two external sorters share, the way sqlite's
 * vdbeInt.h holds what vdbesort.c shares.  Internal: included by
 * sorter.c, esort.c and runs.c only; users include sorter.h or esort.h.
 *
 * Both sorters are a struct xsort (the shared state: budget plan, item
 * buffer, run table, run writer, reader arena) plus their own fields,
 * and a struct xsort_kind saying what differs: item size, zstd level,
 * the sizes of their reader and heap entry, and the steps that touch
 * items (sort the buffer, write it as a run, prime and sift a heap
 * entry, drain a merge into the writer).  runs.c holds the cold
 * skeleton (plan, slow path of add, finish, opening merges, intermediate
 * merges, free); each sorter keeps its hot loops (add, the in-memory
 * sort, coding a run, reader, heap, next) in its own file, specialised
 * for its items.
 *
 * THE PLAN
 *
 * With budget mem and raw block size blk (mem/256 rounded down to a power
 * of two, kept within SORT_BLK_MIN..SORT_BLK_MAX), a kind whose buffered
 * items take item bytes each (and 1/S of that again in a scratch area,
 * for kinds with scratch = S; 0 for none), whose reader blocks have
 * slot_extra readable bytes after them, and whose reader and heap entry
 * take RD bytes a run:
 *
 *	writer	= CCtx + zstd bound of blk  (+ blk while adding, raw_writer)
 *	reader	= DCtx + zstd bound of blk			(one, shared)
 *	per	= blk + slot_extra + RD				(a run merged)
 *	adding:	  cap * item * (1 + 1/S) + writer		<= mem - SLACK
 *	middle:	  writer + blk + reader + fan_mid * per		<= mem - SLACK
 *	final:	  reader + fan_fin * per			<= mem - SLACK
 *
 * where SLACK is SORT_SLACK plus the sorter's own struct.  A budget that
 * leaves no room for two runs a merge is fatal (exit 1), and so is one
 * under the kind's min_mem.  Not counted: the run table, 24 bytes a run,
 * about n * 1152 / mem bytes for n pairs (4 KiB for 10^9 pairs at
 * 256 MiB), and the in-memory sort's stack.
 *
 * THE SKELETON
 *
 * A run is a sequence of blocks (spillfile.h) in the sorter's one file,
 * created at the first run; the run table records each run's offset,
 * length and item count.  When the buffer is full it is sorted and
 * written out as a run.  At finish, if no run was ever written the
 * buffer is sorted and read in place: no file at all.  Otherwise the
 * buffer becomes the last run, the buffers are unmapped, the reader
 * arena is mapped for min(runs, fan_fin) readers, and while more runs
 * exist than fan_fin, intermediate merges combine the oldest runs (at
 * most fan_mid at a time, fewer for the first one so the last pass lands
 * exactly on fan_fin) into new runs at the end of the file; the space of
 * consumed runs is given back (sf_punch).  The final merge is opened by
 * finish and drained lazily by the sorter's next; a rewind opens it again
 * (or, in memory, starts over at the first item), so a sorted stream can
 * be read twice without a copy.  The large areas (item
 * buffers, reader blocks) are mmap'ed (sf_map_alloc).
 */
#ifndef PSI_SPILL_INT_H
#define PSI_SPILL_INT_H

#include <stddef.h>
#include <stdint.h>

#include <zstd.h>

#include "spillfile.h"

#define SORT_BLK_MIN	(4 * 1024)
#define SORT_BLK_MAX	(64 * 1024)
#define SORT_SLACK	(4 * 1024)
#define INSERTION_MAX	32		/* buckets this small: insertion sort */

struct run {
	uint64_t	off, len;	/* bytes in the shared file */
	uint64_t	count;		/* items */
};

struct runtab {
	struct run	*run;
	size_t		 n, alloc;
	size_t		 head;		/* runs before it are merged away */
};

enum { XS_ADD, XS_MEM, XS_MERGE };

struct xsort;

struct xsort_kind {
	const char	*name;		/* "sorter", "esort": messages */
	size_t		 min_mem;	/* smallest budget accepted */
	int		 zlevel;	/* of the run blocks */
	size_t		 self;		/* sizeof the whole sorter */
	size_t		 item;		/* bytes an item in the buffer */
	unsigned	 scratch;	/* S: a scratch area of 1/S the buffer
					   for the sort; 0: none */
	int		 raw_writer;	/* 1: the writer's raw block while adding */
	size_t		 slot_extra;	/* readable bytes after a reader block */
	size_t		 reader, hent;	/* sizeof one reader, one heap entry */
	/* Sort buf[0..n) in place (scratch may be used). */
	void		(*sort)(struct xsort *);
	/* Write the sorted buf[0..n) through the run writer. */
	void		(*write_buffer)(struct xsort *);
	/* A merge is starting (NULL: nothing to do). */
	void		(*start)(struct xsort *);
	/* Reader r's first item into heap entry h: 0 if its run is empty. */
	int		(*prime)(struct xsort *, size_t r, void *h);
	/* Sift heap entry i down (building the heap). */
	void		(*sift)(struct xsort *, size_t i);
	/* Drain the open merge through the run writer. */
	void		(*drain)(struct xsort *);
};

struct xsort {
	const struct xsort_kind *kind;
	char		*dir;
	int		 state;		/* XS_ADD, XS_MEM, XS_MERGE */
	size_t		 blk;		/* raw bytes per run block */
	size_t		 maxitems;	/* items the buffer holds */
	size_t		 fan_mid;	/* runs per intermediate merge */
	size_t		 fan_fin;	/* runs in the final merge */
	uint64_t	 count;		/* items added */

	uint8_t		*buf;		/* maxitems, mmap'ed at the first add */
	uint8_t		*scratch;	/* xsort_scratch_items, mmap'ed too */
	size_t		 cap;		/* 0 before buf and after finish */
	size_t		 n;		/* items in buf */
	size_t		 pos;		/* next item to return (XS_MEM) */

	struct spillfile f;		/* fd -1 until the first run */
	struct runtab	 rt;
	unsigned	 nspilled;	/* runs written from the buffer */

	/* writer of runs */
	ZSTD_CCtx	*cctx;
	uint8_t		*wzbuf;		/* one compressed block */
	uint8_t		*wraw;		/* blk bytes being coded */
	size_t		 wused;		/* bytes in wraw */
	uint64_t	 wstart;	/* offset of the run being written */
	uint64_t	 witems;	/* items in it so far */

	/* merge */
	ZSTD_DCtx	*dctx;
	uint8_t		*rzbuf;		/* one compressed block, shared */
	uint8_t		*arena;		/* nslots * (blk + slot_extra) */
	size_t		 nslots;
	void		*rd;		/* nslots readers of the kind */
	void		*heap;		/* nslots heap entries of the kind */
	size_t		 nheap;
};

/* One run being merged: the part every kind's reader starts with. */
struct run_reader {
	const uint8_t	*p, *pe;	/* unread part of raw */
	uint8_t		*raw;		/* blk bytes in the arena */
	uint64_t	 off, end;	/* next block; end of the run */
	uint64_t	 left;		/* items the run still owes */
};

/* runs.c: the skeleton. */
/* A zeroed sorter of kind->self bytes, planned for budget mem. */
struct xsort *xsort_new(const struct xsort_kind *, const char *tmpdir,
	    size_t mem);
/* Slow path of add: map the buffer, or empty it into a run. */
void	xsort_full(struct xsort *);
void	xsort_finish(struct xsort *);
/* Back to the first item of the finished stream (the final merge's runs
 * are still on the file: it is simply opened again). */
void	xsort_rewind(struct xsort *);
/* next before finish: an internal error. */
void	xsort_not_finished(const struct xsort *) __attribute__((noreturn));
/* Free everything, the sorter too: struct xsort is its first member. */
void	xsort_free(struct xsort *);
/* Write one block of wraw (or, with raw != wraw, of raw) into the run. */
void	xsort_run_block(struct xsort *, const uint8_t *raw, size_t len);

/* Items the scratch area holds: 1/scratch of the buffer's. */
static inline size_t
xsort_scratch_items(const struct xsort *xs)
{
	return xs->kind->scratch ? xs->maxitems / xs->kind->scratch : 0;
}

/* The run's next block into raw: 1, or 0 once the run is over. */
static inline int
run_reader_load(struct xsort *xs, struct run_reader *r)
{
	size_t len;

	if (r->off == r->end) {
		if (r->left != 0)
			sf_corrupt(xs->dir);
		return 0;
	}
	r->off = sf_block_get(&xs->f, xs->dctx, r->off, r->end, r->raw,
	    xs->blk, xs->rzbuf, sf_zbuf_size(xs->blk), &len);
	r->p = r->raw;
	r->pe = r->raw + len;
	return 1;
}

/*
 * The public functions every sorter has the same way, for sorter T (a
 * struct T whose first member is its struct xsort x) of kind KIND:
 * T_min_memory, T_new, T_count, T_runs and T_free, as declared in T.h.
 */
#define DEFINE_XSORT_API(T, KIND)					\
size_t									\
T##_min_memory(void)							\
{									\
	return (KIND).min_mem;						\
}									\
struct T *								\
T##_new(const char *tmpdir, size_t mem)					\
{									\
	return (struct T *)xsort_new(&(KIND), tmpdir, mem);		\
}									\
uint64_t								\
T##_count(const struct T *p)						\
{									\
	return p->x.count;						\
}									\
unsigned								\
T##_runs(const struct T *p)						\
{									\
	return p->x.nspilled;						\
}									\
void									\
T##_free(struct T *p)							\
{									\
	xsort_free(p != NULL ? &p->x : NULL);				\
}

/*
 * NAME(h, n, i): sift h[i] down a binary min-heap of n entries of type T
 * ordered by LT(a, b).  A macro so that each sorter's heap is compiled
 * for its own entry and comparison, inline in its merge loop.
 */
#define DEFINE_SIFT_DOWN(NAME, T, LT)					\
static inline void							\
NAME(T *h, size_t n, size_t i)						\
{									\
	T x = h[i];							\
	size_t c;							\
									\
	while ((c = 2 * i + 1) < n) {					\
		if (c + 1 < n && LT(&h[c + 1], &h[c]))			\
			c++;						\
		if (!LT(&h[c], &x))					\
			break;						\
		h[i] = h[c];						\
		i = c;							\
	}								\
	h[i] = x;							\
}

#endif
