/*
 * pool.h: worker threads for batched curve, hashing and sorting work.
 *
 * pool_run(fn, arg, n) calls fn(arg, lo, hi) on disjoint slices of [0, n)
 * that cover it, on all threads (the caller's included), and returns when
 * every slice is done, so results land in the caller's arrays in input
 * order.  A slice returns 0, or -1 when an item failed (an invalid element
 * from the peer, a key that does not hash); pool_run then returns -1, and
 * which other slices ran is undefined: the caller gives up on the batch.  Which thread runs which slice, and how long a slice is (at most
 * 64 items), is not fixed: fn must not depend on it.  With one
 * thread it is a plain call.  fn must not call pool_run itself.
 */
#ifndef PSI_POOL_H
#define PSI_POOL_H

#include <stddef.h>

typedef int (*pool_fn)(void *arg, size_t lo, size_t hi);

struct pool;

/* nthreads 0 means one per online CPU. */
struct pool *pool_new(int nthreads);
/* 0, or -1 if any slice returned -1. */
int	pool_run(struct pool *, pool_fn, void *arg, size_t n);
/* pool_run in two halves: pool_start hands the job to the other threads
 * and returns at once; the caller may do anything but start another job
 * (a bug, exit 7) until pool_wait, where it takes slices too and which
 * returns what pool_run would.  fn and *arg must stay valid till then. */
int	pool_start(struct pool *, pool_fn, void *arg, size_t n);
int	pool_wait(struct pool *);
/* 1 between pool_start and pool_wait: a pool_run now would be a bug, so
 * code reached from there (a sorter filled by the caller) works alone. */
int	pool_busy(const struct pool *);
/* Threads, the caller's included: at most this many slices run at once. */
int	pool_threads(const struct pool *);
void	pool_free(struct pool *);

#endif
