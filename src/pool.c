/*
 * pool.c: a fixed set of worker threads running parallel-for jobs.
 *
 * One job at a time: pool_run publishes (fn, arg, n) under the lock and
 * bumps `generation`; each worker w takes slice w of nthreads, the caller
 * takes slice 0, and the caller waits until `pending` drops to zero.
 * Slices are contiguous, so a job on 1024 elements with 2 threads is two
 * runs of 512: enough work per wake-up that locking costs nothing next to
 * 50-microsecond scalar multiplications.
 */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "pool.h"
#include "util.h"

struct pool {
	int		 n;		/* threads, the caller included */
	pthread_t	*tid;
	pthread_mutex_t	 lock;
	pthread_cond_t	 work, done;
	/* guarded by lock: */
	unsigned long	 generation;
	int		 pending;	/* workers still running this job */
	int		 quit;
	pool_fn		 fn;
	void		*arg;
	size_t		 items;
};

struct worker {
	struct pool	*p;
	int		 index;		/* 1..n-1 */
};

static void
slice(size_t items, int n, int i, size_t *lo, size_t *hi)
{
	*lo = items * (size_t)i / (size_t)n;
	*hi = items * (size_t)(i + 1) / (size_t)n;
}

static void *
worker_main(void *a)
{
	struct worker *w = a;
	struct pool *p = w->p;
	unsigned long seen = 0;
	size_t lo, hi;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (p->generation == seen && !p->quit)
			pthread_cond_wait(&p->work, &p->lock);
		if (p->quit)
			break;
		seen = p->generation;
		slice(p->items, p->n, w->index, &lo, &hi);
		pool_fn fn = p->fn;
		void *arg = p->arg;
		pthread_mutex_unlock(&p->lock);
		if (lo < hi)
			fn(arg, lo, hi);
		pthread_mutex_lock(&p->lock);
		if (--p->pending == 0)
			pthread_cond_signal(&p->done);
	}
	pthread_mutex_unlock(&p->lock);
	free(w);
	return NULL;
}

struct pool *
pool_new(int nthreads)
{
	struct pool *p = xcalloc(1, sizeof(*p));

	if (nthreads <= 0) {
		long c = sysconf(_SC_NPROCESSORS_ONLN);
		nthreads = c > 0 ? (int)c : 1;
	}
	if (nthreads > 256)
		nthreads = 256;
	p->n = nthreads;
	p->tid = xcalloc((size_t)nthreads, sizeof(*p->tid));
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->done, NULL);
	for (int i = 1; i < nthreads; i++) {
		struct worker *w = xmalloc(sizeof(*w));
		w->p = p;
		w->index = i;
		if (pthread_create(&p->tid[i], NULL, worker_main, w) != 0)
			fatal(EXIT_IO, "cannot start worker thread %d", i);
	}
	return p;
}

void
pool_run(struct pool *p, pool_fn fn, void *arg, size_t n)
{
	size_t lo, hi;

	if (p->n == 1 || n < 2) {
		if (n)
			fn(arg, 0, n);
		return;
	}
	pthread_mutex_lock(&p->lock);
	p->fn = fn;
	p->arg = arg;
	p->items = n;
	p->pending = p->n - 1;
	p->generation++;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->lock);
	slice(n, p->n, 0, &lo, &hi);
	if (lo < hi)
		fn(arg, lo, hi);
	pthread_mutex_lock(&p->lock);
	while (p->pending > 0)
		pthread_cond_wait(&p->done, &p->lock);
	pthread_mutex_unlock(&p->lock);
}

int
pool_threads(const struct pool *p)
{
	return p->n;
}

void
pool_free(struct pool *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	p->quit = 1;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->lock);
	for (int i = 1; i < p->n; i++)
		pthread_join(p->tid[i], NULL);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->done);
	free(p->tid);
	free(p);
}
