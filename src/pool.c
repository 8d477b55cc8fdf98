/*
 * pool.c: a fixed set of worker threads running parallel-for jobs.
 *
 * One job at a time: pool_run publishes (fn, arg, n) under the lock and
 * bumps `generation`; every thread, the caller included, then takes
 * slices of `grain` items from a shared atomic cursor until none are
 * left, and the caller waits until `pending` (the workers still at it)
 * drops to zero.  Taking slices as they come, rather than one fixed share
 * each, keeps both cores busy when one runs slower for a while (a busy
 * neighbour, a virtual CPU that loses its time slice): the other simply
 * takes more.  A grain of up to 64 items is a few milliseconds of
 * 50-microsecond scalar multiplications, so the cursor and the lock cost
 * nothing next to the work, and a slice is long enough for unblinding to
 * share one inversion among 64 elements.  A slice that fails sets `failed`;
 * the other threads stop taking slices, and pool_run reports it.
 * pool_start is pool_run's first half (publish the job to the workers)
 * and pool_wait its second (the caller takes slices too, then waits), so
 * the caller can do its own serial work, such as reading the network,
 * while the workers start; with one thread the whole job runs in
 * pool_wait.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "pool.h"
#include "util.h"

struct pool {
	int		 n;		/* threads, the caller included */
	pthread_t	*tid;
	pthread_mutex_t	 lock;
	pthread_cond_t	 work, done;
	/* guarded by lock, but for next and failed (atomics): */
	unsigned long	 generation;
	int		 pending;	/* workers still running this job */
	int		 quit;
	int		 started;	/* caller's: a job awaits pool_wait */
	pool_fn		 fn;
	void		*arg;
	size_t		 items;
	size_t		 grain;
	atomic_size_t	 next;		/* first item not yet taken */
	atomic_int	 failed;	/* a slice of this job returned -1 */
};

struct worker {
	struct pool	*p;
};

/* Takes slices of the current job until there are none left. */
static void
work(struct pool *p, pool_fn fn, void *arg, size_t items, size_t grain)
{
	size_t lo;

	while (!atomic_load(&p->failed) &&
	    (lo = atomic_fetch_add(&p->next, grain)) < items)
		if (fn(arg, lo, items - lo < grain ? items : lo + grain) < 0)
			atomic_store(&p->failed, 1);
}

static void *
worker_main(void *a)
{
	struct worker *w = a;
	struct pool *p = w->p;
	unsigned long seen = 0;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (p->generation == seen && !p->quit)
			pthread_cond_wait(&p->work, &p->lock);
		if (p->quit)
			break;
		seen = p->generation;
		pool_fn fn = p->fn;
		void *arg = p->arg;
		size_t items = p->items, grain = p->grain;
		pthread_mutex_unlock(&p->lock);
		work(p, fn, arg, items, grain);
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
		if (pthread_create(&p->tid[i], NULL, worker_main, w) != 0)
			fatal(EXIT_IO, "cannot start worker thread %d", i);
	}
	return p;
}

int
pool_start(struct pool *p, pool_fn fn, void *arg, size_t n)
{
	size_t grain;

	if (p->started)
		bug("pool_start or pool_run with a job started");
	p->started = 1;
	p->fn = fn;
	p->arg = arg;
	p->items = n;
	if (p->n == 1 || n < 2)
		return 0;		/* pool_wait runs it */
	/* About 8 slices a thread, at most 64 items each. */
	grain = n / (8 * (size_t)p->n);
	grain = grain < 1 ? 1 : grain > 64 ? 64 : grain;
	pthread_mutex_lock(&p->lock);
	p->grain = grain;
	atomic_store(&p->next, 0);
	atomic_store(&p->failed, 0);
	p->pending = p->n - 1;
	p->generation++;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->lock);
	return 0;
}

int
pool_wait(struct pool *p)
{
	if (!p->started)
		bug("pool_wait without pool_start");
	p->started = 0;
	if (p->n == 1 || p->items < 2)
		return p->items ? p->fn(p->arg, 0, p->items) : 0;
	work(p, p->fn, p->arg, p->items, p->grain);
	pthread_mutex_lock(&p->lock);
	while (p->pending > 0)
		pthread_cond_wait(&p->done, &p->lock);
	pthread_mutex_unlock(&p->lock);
	return atomic_load(&p->failed) ? -1 : 0;
}

int
pool_busy(const struct pool *p)
{
	return p->started;
}

int
pool_run(struct pool *p, pool_fn fn, void *arg, size_t n)
{
	pool_start(p, fn, arg, n);
	return pool_wait(p);
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
