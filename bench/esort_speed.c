/*
 * esort_speed.c: how fast the element sorter (src/esort.c) is, and how
 * much disk it uses.  Sorts N uniformly random elements with budget MEM
 * (default 10^7 elements, 64 MiB, in $TMPDIR or /tmp) and prints
 * elements per second for adding (sorting and writing runs included),
 * finishing and reading back, the number of runs, bytes an element on
 * disk (written in all, intermediate merges included, and
 * still held by the final merge) and peak RSS against the budget.  With
 * -u, one element in four repeats an earlier one and the output is asked
 * to be unique.  A benchmark, not a test: it checks only that the output
 * is sorted and has the right length.
 *
 *	usage: esort_speed [-u] [elements [mem [tmpdir]]]  (mem takes K/M/G)
 */
#include <sys/resource.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "benchlib.h"
#include "esort.h"
#include "util.h"

/* Element i: random from seed i; with -u, element 4k+3 repeats 4k. */
static void
element(uint64_t i, int dups, uint8_t el[32])
{
	uint64_t s = dups && i % 4 == 3 ? i - 3 : i, r;
	int j;

	for (j = 0; j < 32; j += 8) {
		r = splitmix(&s);
		memcpy(el + j, &r, 8);
	}
}

int
main(int argc, char **argv)
{
	uint64_t n = 10000000, mem = 64 << 20, i, want, bad = 0;
	const char *dir = getenv("TMPDIR");
	uint8_t el[32], prev[32];
	struct esort *e;
	struct rusage ru;
	double t0, t1, t2, t3;
	long long written, held;
	int dups = 0;

	if (argc > 1 && strcmp(argv[1], "-u") == 0) {
		dups = 1;
		argc--;
		argv++;
	}
	if (dir == NULL || *dir == '\0')
		dir = "/tmp";
	if ((argc > 1 && parse_uint(argv[1], 1, UINT64_MAX, &n) == -1) ||
	    (argc > 2 && parse_size(argv[2], &mem) == -1) || argc > 4) {
		fprintf(stderr, "usage: esort_speed [-u] [elements [mem "
		    "[tmpdir]]]\n");
		return 1;
	}
	if (argc > 3)
		dir = argv[3];
	e = esort_new(dir, (size_t)mem);
	t0 = now_seconds();
	for (i = 0; i < n; i++) {
		element(i, dups, el);
		esort_add(e, el);
	}
	t1 = now_seconds();
	esort_finish(e, dups);
	t2 = now_seconds();
	spill_bytes(dir, &written, &held);
	memset(prev, 0, sizeof(prev));
	for (i = 0; esort_next(e, el); i++) {
		bad += dups ? memcmp(prev, el, 32) >= 0 :
		    memcmp(prev, el, 32) > 0;
		memcpy(prev, el, 32);
	}
	t3 = now_seconds();
	getrusage(RUSAGE_SELF, &ru);
	want = dups ? n - (n + 1) / 4 : n;
	if (bad > 0 || i != want) {
		fprintf(stderr, "esort_speed: output not sorted or not "
		    "complete\n");
		return 1;
	}
	printf("elements %llu  mem %.2f MiB  runs %u%s\n",
	    (unsigned long long)n, mem / 1048576.0,
	    esort_runs(e), dups ? "  unique" : "");
	printf("add+runs  %6.2f s  %6.2f Melem/s\n", t1 - t0,
	    n / (t1 - t0) / 1e6);
	printf("finish    %6.2f s\n", t2 - t1);
	printf("next      %6.2f s  %6.2f Melem/s\n", t3 - t2,
	    n / (t3 - t2) / 1e6);
	printf("total     %6.2f s  %6.2f Melem/s\n", t3 - t0,
	    n / (t3 - t0) / 1e6);
	printf("disk      %.2f bytes/element written, %.2f held for the last "
	    "merge (raw element: 32)\n", (double)written / n,
	    (double)held / n);
	printf("cpu       %6.2f s user, %.2f s system\n", ru.ru_utime.tv_sec +
	    ru.ru_utime.tv_usec / 1e6, ru.ru_stime.tv_sec +
	    ru.ru_stime.tv_usec / 1e6);
	printf("peak RSS  %.1f MiB for a budget of %.1f MiB\n",
	    ru.ru_maxrss / 1024.0, mem / 1048576.0);
	esort_free(e);
	return 0;
}
