/*
 * t_pool.c: unit tests of pool.c.
 * - pool_run on 1, 2 and 3 threads calls fn on slices that cover [0, n)
 *   exactly once each (every item counted once, none twice), for n of 0,
 *   1, 2, 63, 64 * 8 * 3 + 5;
 * - a slice returning -1 makes pool_run return -1; its twin with no
 *   failing item returns 0;
 * - pool_start returns before the job is done where there are other
 *   threads (they start it while the caller waits, up to 10 s, on a flag
 *   they set),
 *   pool_wait then finishes it: every item once; with one thread nothing
 *   runs before pool_wait;
 * - pool_wait without pool_start, and pool_run between pool_start and
 *   pool_wait, are internal errors (exit 7); pool_busy says 1 exactly
 *   between pool_start and pool_wait.
 */
#include <sys/wait.h>

#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pool.h"
#include "tap.h"

#define NMAX	(64 * 8 * 3 + 5)

struct job {
	atomic_int	 hits[NMAX];
	atomic_int	 started;	/* a slice has begun */
	size_t		 fail_at;	/* item whose slice returns -1; NMAX: none */
};

static int
count(void *arg, size_t lo, size_t hi)
{
	struct job *j = arg;
	int bad = 0;

	atomic_store(&j->started, 1);
	for (size_t i = lo; i < hi; i++) {
		atomic_fetch_add(&j->hits[i], 1);
		if (i == j->fail_at)
			bad = 1;
	}
	return bad ? -1 : 0;
}

static void
job_reset(struct job *j)
{
	memset(j, 0, sizeof(*j));
	j->fail_at = NMAX;
}

/* Every item of [0, n) counted once, none beyond. */
static int
once_each(struct job *j, size_t n)
{
	for (size_t i = 0; i < NMAX; i++)
		if (atomic_load(&j->hits[i]) != (i < n))
			return 0;
	return 1;
}

/* Exit status of fn(p) in a child with stderr closed; -1 if it died. */
static int
status_of(void (*fn)(struct pool *), struct pool *p)
{
	pid_t pid;
	int st, fd;

	fflush(stdout);
	if ((pid = fork()) == 0) {
		if ((fd = open("/dev/null", O_WRONLY)) != -1)
			dup2(fd, 2);
		fn(p);
		_exit(0);
	}
	if (pid == -1 || waitpid(pid, &st, 0) == -1 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

static struct job J;

static void
wait_unstarted(struct pool *p)
{
	pool_wait(p);
}

static void
run_while_started(struct pool *p)
{
	pool_start(p, count, &J, 10);
	pool_run(p, count, &J, 10);
}

int
main(void)
{
	static const size_t ns[] = { 0, 1, 2, 63, NMAX };
	struct pool *p;
	int t, rc;
	size_t k;

	for (t = 1; t <= 3; t++) {
		p = pool_new(t);
		ok(pool_threads(p) == t, "%d threads: pool_threads says %d", t,
		    pool_threads(p));
		for (k = 0; k < sizeof(ns) / sizeof(ns[0]); k++) {
			job_reset(&J);
			rc = pool_run(p, count, &J, ns[k]);
			ok(rc == 0 && once_each(&J, ns[k]), "%d threads: "
			    "pool_run of %zu items, each once", t, ns[k]);
		}
		job_reset(&J);
		J.fail_at = NMAX - 7;
		ok(pool_run(p, count, &J, NMAX) == -1, "%d threads: a failing "
		    "slice makes pool_run -1", t);
		job_reset(&J);
		ok(pool_run(p, count, &J, NMAX - 8) == 0, "%d threads: twin: "
		    "the failing item outside [0, n) gives 0", t);

		job_reset(&J);
		k = (size_t)pool_busy(p);
		rc = pool_start(p, count, &J, NMAX);
		ok(k == 0 && pool_busy(p) == 1, "%d threads: pool_busy is 0 "
		    "before pool_start, 1 after", t);
		if (t > 1) {	/* the other threads take slices on their own */
			for (k = 0; k < 100000 && !atomic_load(&J.started); k++)
				usleep(100);
			ok(atomic_load(&J.started), "%d threads: the others "
			    "start the job before pool_wait", t);
		} else
			ok(!atomic_load(&J.started), "1 thread: nothing runs "
			    "before pool_wait");
		ok(rc == 0 && pool_wait(p) == 0 && once_each(&J, NMAX),
		    "%d threads: pool_start, work, pool_wait: each item once",
		    t);
		ok(pool_busy(p) == 0, "%d threads: twin: pool_busy is 0 after "
		    "pool_wait", t);
		job_reset(&J);
		J.fail_at = 3;
		pool_start(p, count, &J, NMAX);
		ok(pool_wait(p) == -1, "%d threads: pool_wait reports a failed "
		    "slice", t);
		ok(status_of(wait_unstarted, p) == 7, "%d threads: pool_wait "
		    "without pool_start is exit 7", t);
		ok(status_of(run_while_started, p) == 7, "%d threads: pool_run "
		    "while a job is started is exit 7", t);
		pool_free(p);
	}
	return done_testing();
}
