/*
 * spill_speed.c: how fast the value sorter (src/sorter.c) is, and how much
 * disk it uses.  Sorts N uniformly random (128-bit value, index) pairs
 * with budget MEM (default 10^7 pairs, 64 MiB, in $TMPDIR or /tmp) and
 * prints pairs per second for adding (sorting and writing runs included),
 * finishing and reading back, the number of runs, bytes a pair on disk
 * (written in all, intermediate merges included, and still held by the
 * final merge) and peak RSS against the budget.  A benchmark, not a test: it checks
 * only that the output is sorted and complete.
 *
 *	usage: spill_speed [pairs [mem [tmpdir]]]	(mem takes K/M/G)
 */
#include <sys/resource.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "benchlib.h"
#include "sorter.h"
#include "util.h"

int
main(int argc, char **argv)
{
	uint64_t n = 10000000, mem = 64 << 20, seed = 1, i, idx, bad = 0;
	const char *dir = getenv("TMPDIR");
	struct sorter *s;
	struct rusage ru;
	double t0, t1, t2, t3;
	long long written, held;
	u128 v, prev = 0;

	if (dir == NULL || *dir == '\0')
		dir = "/tmp";
	if ((argc > 1 && parse_uint(argv[1], 1, UINT64_MAX, &n) == -1) ||
	    (argc > 2 && parse_size(argv[2], &mem) == -1) || argc > 4) {
		fprintf(stderr, "usage: spill_speed [pairs [mem [tmpdir]]]\n");
		return 1;
	}
	if (argc > 3)
		dir = argv[3];
	s = sorter_new(dir, (size_t)mem);
	t0 = now_seconds();
	for (i = 0; i < n; i++) {
		v = (u128)splitmix(&seed) << 64 | splitmix(&seed);
		sorter_add(s, v, i);
	}
	t1 = now_seconds();
	sorter_finish(s);
	t2 = now_seconds();
	spill_bytes(dir, &written, &held);
	for (i = 0; sorter_next(s, &v, &idx); i++) {
		bad += v < prev;
		prev = v;
	}
	t3 = now_seconds();
	getrusage(RUSAGE_SELF, &ru);
	if (bad || i != n) {
		fprintf(stderr, "spill_speed: output not sorted or not complete\n");
		return 1;
	}
	printf("pairs %llu  mem %llu MiB  runs %u\n", (unsigned long long)n,
	    (unsigned long long)(mem >> 20), sorter_runs(s));
	printf("add+runs  %6.2f s  %6.2f Mpairs/s\n", t1 - t0, n / (t1 - t0) / 1e6);
	printf("finish    %6.2f s\n", t2 - t1);
	printf("next      %6.2f s  %6.2f Mpairs/s\n", t3 - t2, n / (t3 - t2) / 1e6);
	printf("total     %6.2f s  %6.2f Mpairs/s\n", t3 - t0, n / (t3 - t0) / 1e6);
	printf("disk      %.2f bytes/pair written, %.2f held for the last "
	    "merge (raw pair: 24)\n", (double)written / n, (double)held / n);
	printf("peak RSS  %.1f MiB for a budget of %llu MiB\n",
	    ru.ru_maxrss / 1024.0, (unsigned long long)(mem >> 20));
	sorter_free(s);
	return 0;
}
