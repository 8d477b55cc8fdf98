/*
 * check.c: `psi-stream check`, the input pre-flight.
 *
 * Parses the input exactly as a run would (records.c, with count_invalid so
 * that bad records are counted instead of fatal) and prints the counts.
 *
 * Duplicate keys are keys minus distinct keys.  Distinct keys are counted
 * in bounded memory: every key is hashed to 64 bits (a fast non-
 * cryptographic hash; the counts are not security relevant) and fed to
 *  - an exact set of hashes while it holds at most EXACT_MAX of them
 *    (so small inputs get an exact answer, barring a 64-bit collision),
 *  - a HyperLogLog sketch of 2^HLL_P one-byte registers (64 KiB; relative
 *    standard error 1.04 / 2^(HLL_P/2), about 0.4%), used once the set has
 *    overflowed.  The printed margin is two standard errors.  The estimate
 *    uses Ertl's improved raw estimator ("New cardinality estimation
 *    algorithms for HyperLogLog sketches", 2017), which needs no empirical
 *    bias tables and is unbiased from small to large cardinalities.
 *
 * Parallel parsing.  A plain regular file (not stdin, not zstd, not --csv:
 * a quoted newline is not a record end) is parsed by one thread per CPU
 * (PSI_STREAM_CHECK_THREADS sets the number; 1 keeps the single-threaded
 * path), cut into RANGES_PER_THREAD byte ranges per thread of at least
 * MIN_RANGE bytes each by default.  Range k > 0 starts right after the
 * terminator that ends the record holding the byte just before its
 * nominal start, so every range but the last ends with a terminator and
 * every record belongs to exactly one range.  The threads take ranges in
 * turn from a shared counter, each range with its own reader
 * (rec_open_range), so a thread on a slower CPU (a busy host) simply
 * takes fewer; each thread has its own distinct counter.  Then the
 * ranges' counts add up in file order, record numbers of invalid records
 * are shifted by the records of the ranges before, HLL registers merge by
 * max and the exact sets merge by insertion.  The result is the same as
 * the single-threaded one: the set overflows exactly when the distinct
 * hashes of the whole input exceed EXACT_MAX, whatever the order they
 * come in, and HLL registers do not depend on order.  Several files are
 * read one after another, each split.
 */
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bytes.h"
#include "check.h"
#include "records.h"
#include "session.h"
#include "source.h"
#include "stats.h"
#include "util.h"

#define HLL_P		16
#define HLL_M		(1u << HLL_P)
#define HLL_Q		(64 - HLL_P)
#define EXACT_MAX	(1u << 18)	/* hashes kept exactly (4 MiB table) */
#define MAX_THREADS	64
/* The report's labels, one column: the longest ("duplicates") and two
 * spaces, so every count starts in the same place. */
#define LABEL		"%-12s"
#define RANGES_PER_THREAD 8
#define MAX_RANGES	(MAX_THREADS * RANGES_PER_THREAD)
#define MIN_RANGE	(1u << 20)	/* by default, bytes per range at least */
#define SCAN_BLOCK	(64u * 1024)	/* pread size when looking for a cut */

/* Set once by cmd_check() before any thread starts; read-only after. */
static uint32_t shard_i, shard_n;	/* --shard, 0/0 if not */
static int threads;			/* -j, 0 = online CPUs */

struct distinct {
	uint8_t		*reg;		/* HLL registers */
	uint64_t	*set;		/* open addressing; 0 = free slot */
	size_t		 setcap;	/* power of two */
	size_t		 setn;
	int		 overflow;	/* set abandoned: estimate only */
};

/* ---- hashing ----------------------------------------------------------- */

/* Folded 64x64->128 multiplication: a strong, cheap mixing step. */
static inline uint64_t
fold_mul(uint64_t a, uint64_t b)
{
#ifdef __SIZEOF_INT128__
	unsigned __int128 p = (unsigned __int128)a * b;

	return (uint64_t)p ^ (uint64_t)(p >> 64);
#else
	uint64_t lo = a * b, hi = (a ^ (a >> 29)) * (b | 1);

	return lo ^ (hi >> 32) ^ (hi << 32);
#endif
}

#define K0 0x9e3779b97f4a7c15ull	/* 2^64 / golden ratio */
#define K1 0xc2b2ae3d27d4eb4full
#define K2 0x165667b19e3779f9ull

/*
 * 64-bit hash of a key: two 64-bit lanes, each absorbing one word of every
 * 16-byte block with a multiply and a rotation (a bijection for a fixed
 * state, so equal-length keys that differ in one block never collide in
 * that lane), then one folded 128-bit multiplication of both lanes and
 * the last 1..16 bytes, the length, and a final avalanche.  Cheap enough
 * to run on every key; not meant to resist chosen inputs (a skewed
 * estimate is the worst that can happen).
 */
static uint64_t
key_hash(const uint8_t *p, size_t n)
{
	uint64_t a = K0, b = K1, w0, w1;
	size_t len = n;

	while (n > 16) {
		a = (a ^ load_host64(p)) * K2;
		a = a << 31 | a >> 33;
		b = (b ^ load_host64(p + 8)) * K0;
		b = b << 29 | b >> 35;
		p += 16;
		n -= 16;
	}
	/* 1..16 bytes left (0 only for an empty key); the loads may
	 * overlap, which is fine since the length is mixed in. */
	if (n >= 8) {
		w0 = load_host64(p);
		w1 = load_host64(p + n - 8);
	} else if (n >= 4) {
		w0 = load_host32(p);
		w1 = load_host32(p + n - 4);
	} else if (n > 0) {
		w0 = (uint64_t)p[0] << 16 | (uint64_t)p[n / 2] << 8 | p[n - 1];
		w1 = 0;
	} else {
		w0 = w1 = 0;
	}
	/* The length goes in after the fold: keys of different lengths can
	 * load the same w0 and w1 ("aaaa", "aaaaa").  The fold is weak when
	 * one factor barely varies (short keys): finish with a bijective
	 * shift-multiply-shift avalanche. */
	a = fold_mul(a ^ w0, b ^ w1 ^ K2) ^ len;
	a ^= a >> 31;
	a *= K1;
	return a ^ a >> 29;
}

/* ---- distinct counting ------------------------------------------------- */

static void
set_insert(struct distinct *d, uint64_t h)
{
	size_t i, mask;

	if (h == 0)
		h = 1;
	mask = d->setcap - 1;
	for (i = (size_t)(h >> 20) & mask; d->set[i] != 0; i = (i + 1) & mask)
		if (d->set[i] == h)
			return;
	d->set[i] = h;
	if (++d->setn <= d->setcap / 2)
		return;
	if (d->setn > EXACT_MAX) {
		free(d->set);
		d->set = NULL;
		d->overflow = 1;
		return;
	}
	/* Grow: rehash into a table twice as large. */
	{
		uint64_t *old = d->set;
		size_t oldcap = d->setcap, j;

		d->setcap *= 2;
		mask = d->setcap - 1;
		d->set = xcalloc(d->setcap, sizeof(*d->set));
		for (j = 0; j < oldcap; j++) {
			if (old[j] == 0)
				continue;
			for (i = (size_t)(old[j] >> 20) & mask; d->set[i] != 0;
			    i = (i + 1) & mask)
				;
			d->set[i] = old[j];
		}
		free(old);
	}
}

static inline void
distinct_add(struct distinct *d, uint64_t h)
{
	/* Top HLL_P bits pick the register; the rank is the position of
	 * the first 1 bit in the other HLL_Q bits (HLL_Q + 1 if none). */
	uint64_t w = h << HLL_P;
	uint8_t rank = w == 0 ? HLL_Q + 1 : (uint8_t)(__builtin_clzll(w) + 1);
	uint8_t *r = &d->reg[h >> HLL_Q];

	*r = rank > *r ? rank : *r;	/* branch-free: rarely changes */
	if (!d->overflow)
		set_insert(d, h);
}

/*
 * maxkeys bounds the keys to come (0: unknown).  A byte range of len bytes
 * holds at most (len + 1) / 2 keys (a key is at least one byte plus a
 * terminator, bar the last), so a large range starts with the table at
 * its final size instead of growing through every rehash, and a small or
 * unknown input starts small.
 */
static void
distinct_init(struct distinct *d, uint64_t maxkeys)
{
	d->reg = xcalloc(HLL_M, 1);
	d->setcap = 1024;
	while (d->setcap < 2 * (uint64_t)EXACT_MAX && d->setcap / 2 < maxkeys)
		d->setcap *= 2;
	d->set = xcalloc(d->setcap, sizeof(*d->set));
	d->setn = 0;
	d->overflow = 0;
}

static void
distinct_free(struct distinct *d)
{
	free(d->reg);
	free(d->set);
	d->reg = NULL;
	d->set = NULL;
}

/* Adds what part has counted to d: registers by max, set by union. */
static void
distinct_merge(struct distinct *d, const struct distinct *part)
{
	size_t i;

	for (i = 0; i < HLL_M; i++)
		if (part->reg[i] > d->reg[i])
			d->reg[i] = part->reg[i];
	if (!d->overflow && part->overflow) {
		free(d->set);
		d->set = NULL;
		d->overflow = 1;
	}
	for (i = 0; !d->overflow && i < part->setcap; i++)
		if (part->set[i] != 0)
			set_insert(d, part->set[i]);
}

/* Ertl's sigma(x) = x + sum_k x^(2^k) 2^(k-1), for x in [0, 1). */
static double
hll_sigma(double x)
{
	double y = 1, z = x, zold;

	if (x == 1)
		return INFINITY;
	do {
		x *= x;
		zold = z;
		z += x * y;
		y += y;
	} while (z != zold);
	return z;
}

/* Ertl's tau(x) = (1 - x - sum_k (1 - x^(2^-k))^2 2^-k) / 3. */
static double
hll_tau(double x)
{
	double y = 1, z = 1 - x, zold;

	if (x == 0 || x == 1)
		return 0;
	do {
		x = sqrt(x);
		zold = z;
		y *= 0.5;
		z -= (1 - x) * (1 - x) * y;
	} while (z != zold);
	return z / 3;
}

static double
hll_estimate(const struct distinct *d)
{
	unsigned count[HLL_Q + 2] = { 0 };
	double m = HLL_M, z;
	size_t i;
	int k;

	for (i = 0; i < HLL_M; i++)
		count[d->reg[i]]++;
	z = m * hll_tau(1 - count[HLL_Q + 1] / m);
	for (k = HLL_Q; k >= 1; k--)
		z = 0.5 * (z + count[k]);
	z += m * hll_sigma(count[0] / m);
	return m * m / (2 * log(2)) / z;
}

/* ---- byte ranges ------------------------------------------------------- */

/* A file cut into ranges, and what the threads share while parsing it. */
struct ranges {
	const struct rec_opts *o;
	const char	*path;
	const uint64_t	*cut;		/* n + 1 offsets */
	unsigned	 n;
	struct rec_stats *st;		/* per range */
	atomic_uint	 next;		/* first range not yet taken */
	pthread_mutex_t	 lock;		/* opening readers */
};

/* One thread parsing ranges. */
struct part {
	struct ranges	*rs;
	struct distinct	 d;
	uint64_t	 other;		/* keys in other shards */
	pthread_t	 tid;
	int		 started;	/* tid is a running thread */
};

/*
 * Hashes the keys a batch at a time, so that the HLL registers (64 KiB,
 * more than L1) and the exact set's slots (up to 4 MiB, more than L2) can
 * be prefetched: a miss per key would otherwise cost as much as parsing.
 */
#define BATCH	16

static void
count_keys(struct rec_reader *rr, struct distinct *d, uint64_t *other)
{
	struct record rec;
	uint64_t h[BATCH];
	size_t i, n;

	do {
		for (n = 0; n < BATCH && rec_next(rr, &rec); n++) {
			if (shard_n > 0 && shard_of(rec.key, rec.keylen,
			    shard_n) != shard_i) {
				(*other)++;
				n--;
				continue;
			}
			h[n] = key_hash(rec.key, rec.keylen);
			__builtin_prefetch(&d->reg[h[n] >> HLL_Q]);
			if (!d->overflow)
				__builtin_prefetch(&d->set[(size_t)(h[n] >>
				    20) & (d->setcap - 1)]);
		}
		for (i = 0; i < n; i++)
			distinct_add(d, h[i]);
	} while (n == BATCH);
}

/* Parses ranges until none is left.  Opening a source is not thread-safe
 * (the io_uring probe runs once), hence the lock around the open; closing
 * one touches only its own state. */
static void *
part_main(void *arg)
{
	struct part *p = arg;
	struct ranges *rs = p->rs;
	struct rec_reader *rr;
	struct rec_opts ro;
	unsigned k;

	while ((k = atomic_fetch_add(&rs->next, 1)) < rs->n) {
		if (rs->cut[k] == rs->cut[k + 1])
			continue;	/* empty: its stats stay zero */
		ro = *rs->o;
		ro.header = k == 0 ? rs->o->header : 0;
		pthread_mutex_lock(&rs->lock);
		rr = rec_open_range(&ro, rs->path, rs->cut[k],
		    rs->cut[k + 1] - rs->cut[k]);
		pthread_mutex_unlock(&rs->lock);
		count_keys(rr, &p->d, &p->other);
		rec_get_stats(rr, &rs->st[k]);
		rec_close(rr);
	}
	return NULL;
}

/* -j if given, else the online CPUs; 1..MAX_THREADS. */
static unsigned
check_cpus(void)
{
	long ncpu = threads > 0 ? threads : sysconf(_SC_NPROCESSORS_ONLN);

	return ncpu < 1 ? 1 : ncpu > MAX_THREADS ? MAX_THREADS : (unsigned)ncpu;
}

/*
 * Ranges to cut a file of size bytes into: PSI_STREAM_CHECK_RANGES (a test
 * switch), else RANGES_PER_THREAD per CPU with at least MIN_RANGE bytes
 * each; 1 = single-threaded.
 */
static unsigned
check_ranges(uint64_t size)
{
	const char *env = getenv("PSI_STREAM_CHECK_RANGES");
	uint64_t v;

	if (env != NULL && *env != '\0') {
		if (parse_uint(env, 1, MAX_RANGES, &v) != 0)
			fatal(EXIT_USAGE, "PSI_STREAM_CHECK_RANGES must be "
			    "1..%d", MAX_RANGES);
		return (unsigned)v;
	}
	v = (uint64_t)check_cpus() * RANGES_PER_THREAD;
	if (size / MIN_RANGE < v)
		v = size / MIN_RANGE;
	return v < 1 ? 1 : (unsigned)v;
}

/* Offset of the first byte c at or after off in fd, or size if none. */
static uint64_t
find_byte(int fd, const char *path, uint64_t off, uint64_t size, uint8_t c)
{
	uint8_t *buf = xmalloc(SCAN_BLOCK);
	const uint8_t *q;
	ssize_t n;

	while (off < size) {
		n = pread_full(fd, buf, SCAN_BLOCK, off);
		if (n < 0)
			fatal_errno(EXIT_IO, "cannot read %s", path);
		if (n == 0)
			break;
		q = memchr(buf, c, (size_t)n);
		if (q != NULL) {
			off += (uint64_t)(q - buf);
			free(buf);
			return off;
		}
		off += (uint64_t)n;
	}
	free(buf);
	return size;
}

/*
 * Cuts path into ranges: cut[0] = 0 < cut[1] <= ... <= cut[n] = size, each
 * cut right after a terminator.  Returns n, or 0 if the file is not to be
 * split (not a plain regular file, too small, compressed or binary, as
 * source_format() tells): the single-threaded reader then deals with it,
 * errors included.
 */
static unsigned
split_file(const char *path, uint8_t term, uint64_t *cut)
{
	struct stat st;
	uint8_t head[SOURCE_SNIFF];
	uint64_t size, nominal, t;
	ssize_t got;
	unsigned n, k;
	int fd;

	if (is_stdio_path(path))
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < 2 ||
	    (got = pread_full(fd, head, sizeof(head), 0)) < 0 ||
	    source_format(head, (size_t)got, term == '\n') != SRC_PLAIN) {
		close(fd);
		return 0;
	}
	size = (uint64_t)st.st_size;
	n = check_ranges(size);
	if (n > size)
		n = (unsigned)size;
	if (n < 2) {
		close(fd);
		return 0;
	}
	cut[0] = 0;
	for (k = 1; k < n; k++) {
		/* The record holding byte nominal - 1 ends range k - 1. */
		nominal = size / n * k + size % n * k / n;
		if (cut[k - 1] > nominal - 1) {
			cut[k] = cut[k - 1];
			continue;
		}
		t = find_byte(fd, path, nominal - 1, size, term);
		cut[k] = t < size ? t + 1 : size;
	}
	cut[n] = size;
	close(fd);
	return n;
}

/* Adds a part's counts to tot; its record numbers start at recbase + 1. */
static void
add_stats(struct rec_stats *tot, const struct rec_stats *st, uint64_t recbase,
    const char *name)
{
	uint64_t i;

	tot->records += st->records;
	tot->keys += st->keys;
	tot->empty += st->empty;
	tot->bytes += st->bytes;
	for (i = 0; i < st->invalid && i < 5 && tot->invalid + i < 5; i++) {
		tot->first_invalid[tot->invalid + i] = recbase +
		    st->first_invalid[i];
		tot->first_invalid_file[tot->invalid + i] = name;
	}
	tot->invalid += st->invalid;
}

/* Parses the n ranges of one file on up to one thread per CPU (this one
 * included), then adds up their counts in file order. */
static void
check_split(const struct rec_opts *o, const char *path, const uint64_t *cut,
    unsigned n, struct distinct *d, struct rec_stats *tot, uint64_t *other)
{
	struct ranges rs = { .o = o, .path = path, .cut = cut, .n = n };
	unsigned k, nt = check_cpus();
	struct part *parts;
	uint64_t recbase = 0;

	if (nt > n)
		nt = n;
	parts = xcalloc(nt, sizeof(*parts));
	rs.st = xcalloc(n, sizeof(*rs.st));
	atomic_init(&rs.next, 0);
	pthread_mutex_init(&rs.lock, NULL);
	for (k = 0; k < nt; k++) {
		parts[k].rs = &rs;
		distinct_init(&parts[k].d, (cut[n] + 1) / 2);
	}
	for (k = 1; k < nt; k++)
		if (pthread_create(&parts[k].tid, NULL, part_main,
		    &parts[k]) == 0)
			parts[k].started = 1;
	part_main(&parts[0]);	/* the others may not have started */
	for (k = 0; k < nt; k++) {
		if (parts[k].started)
			pthread_join(parts[k].tid, NULL);
		distinct_merge(d, &parts[k].d);
		distinct_free(&parts[k].d);
		*other += parts[k].other;
	}
	for (k = 0; k < n; k++) {
		add_stats(tot, &rs.st[k], recbase, path);
		/* Range 0 is never empty: its first record is the header. */
		recbase += rs.st[k].records + (k == 0 && o->header ? 1 : 0);
	}
	pthread_mutex_destroy(&rs.lock);
	free(rs.st);
	free(parts);
}

/* Parses one file on this thread. */
static void
check_whole(const struct rec_opts *o, char *path, struct distinct *d,
    struct rec_stats *tot, uint64_t *other)
{
	struct rec_reader *rr = rec_open(o, &path, 1);
	struct rec_stats st;

	count_keys(rr, d, other);
	rec_get_stats(rr, &st);
	add_stats(tot, &st, 0, is_stdio_path(path) ? "stdin" : path);
	rec_close(rr);
}

/* ---- the command ------------------------------------------------------- */

static void
print_invalid(const struct rec_stats *st, int several)
{
	uint64_t i, n = st->invalid < 5 ? st->invalid : 5;

	printf(LABEL "%llu", "invalid", (unsigned long long)st->invalid);
	if (n > 0) {
		printf(" (record%s ", st->invalid > 1 ? "s" : "");
		for (i = 0; i < n; i++) {
			if (several)
				printf("%s%s:%llu", i ? ", " : "",
				    st->first_invalid_file[i],
				    (unsigned long long)st->first_invalid[i]);
			else
				printf("%s%llu", i ? ", " : "",
				    (unsigned long long)st->first_invalid[i]);
		}
		printf("%s)", st->invalid > n ? ", ..." : "");
	}
	putchar('\n');
}

static const char *stats_path;

/* A fatal error: --stats still says how check ended. */
static void
check_on_fatal(int status, const char *told, const char *msg)
{
	stats_abort();
	stats_set_error(msg);
	stats_write(stats_path, status);
}

int
cmd_check(const struct session_opts *so)
{
	struct rec_opts o = so->rec;
	char **files = so->files;
	int nfiles = so->nfiles;
	struct rec_reader *rr = NULL;
	struct rec_stats st = { 0 };
	struct distinct dd = { 0 }, *d = &dd;
	uint64_t distinct, dups, other = 0, cut[MAX_RANGES + 1];
	double est;
	unsigned n;
	int i, rc, named = 0;
	char dash[] = "-";

	shard_i = so->p.shard_i;
	shard_n = so->p.shard_n;
	threads = so->threads;
	if (so->stats != NULL) {
		stats_path = so->stats;
		stats_start();
		run_stats.shard_i = shard_i;
		run_stats.shard_n = shard_n;
		set_fatal_hook(check_on_fatal);
	}
	o.count_invalid = 1;
	o.skip_invalid = 0;
	distinct_init(d, 0);
	/* Ranges after the first do not see the header that names the
	 * key columns: such input is read whole. */
	for (i = 0; i < (int)o.nkey_fields; i++)
		if (o.key_names[i] != NULL)
			named = 1;
	if (o.csv || named || check_ranges(UINT64_MAX) < 2) {
		rr = rec_open(&o, files, nfiles);
		count_keys(rr, d, &other);
		rec_get_stats(rr, &st);
	} else {
		/* File by file, each cut into ranges if it can be. */
		for (i = 0; i < (nfiles > 0 ? nfiles : 1); i++) {
			char *path = nfiles > 0 ? files[i] : dash;

			n = split_file(path, o.zero_term ? '\0' : '\n', cut);
			if (n >= 2) {
				vlog(2, "%s: parsing in %u byte ranges", path, n);
				check_split(&o, path, cut, n, d, &st, &other);
			} else
				check_whole(&o, path, d, &st, &other);
		}
	}
	st.keys -= other;	/* keys of our shard */

	if (d->overflow) {
		est = hll_estimate(d);
		distinct = est >= (double)st.keys ? st.keys : (uint64_t)llround(est);
	} else {
		distinct = d->setn;
	}
	dups = st.keys - distinct;

	printf(LABEL "%llu\n", "records", (unsigned long long)st.records);
	printf(LABEL "%llu\n", "keys", (unsigned long long)st.keys);
	if (shard_n > 0)
		printf(LABEL "%u/%u (%llu keys in other shards)\n", "shard",
		    shard_i, shard_n, (unsigned long long)other);
	printf(LABEL "%llu\n", "empty", (unsigned long long)st.empty);
	print_invalid(&st, nfiles > 1);
	if (d->overflow)
		printf(LABEL "~%llu (estimate, +-%llu)\n", "duplicates",
		    (unsigned long long)dups, (unsigned long long)llround(
		    2 * 1.04 / sqrt(HLL_M) * (double)distinct));
	else
		printf(LABEL "%llu\n", "duplicates", (unsigned long long)dups);
	if (fflush(stdout) == EOF || ferror(stdout))
		fatal_errno(EXIT_IO, "cannot write to stdout");

	rec_close(rr);
	distinct_free(d);
	/* Invalid records: 1, as the man page says (the input needs fixing,
	 * as a bad command line does); not 2, which says a read failed. */
	rc = st.invalid > 0 ? EXIT_USAGE : EXIT_OK;
	if (stats_path != NULL) {
		run_stats.records = st.records;
		run_stats.keys = st.keys;
		run_stats.empty_skipped = st.empty;
		run_stats.invalid_skipped = st.invalid;
		run_stats.shard_skipped = other;
		if (rc != 0)
			stats_set_error("invalid records");
		if (stats_write(stats_path, rc) < 0 && rc == 0)
			rc = EXIT_IO;
	}
	return rc;
}
