/*
 * t_spill.c: the spill family: the record spill (src/recspill.c), the
 * value sorter (src/sorter.c), the element sorter (src/esort.c), and the
 * temporary files under them (src/spillfile.c, src/runs.c).
 * Covers: record round trips (empty, one, many with empty, binary and
 * block-sized records, a 5 MB record); sorter output against qsort (empty,
 * one pair, all values equal, in memory only, many runs merged in several
 * passes, duplicates and extreme values; on a pool of 2 and 3 threads
 * too), and the same again after a
 * rewind (exit 7 for one before finish); the temporary directory empty
 * during and after use with O_TMPFILE and with the mkstemp fallback, and
 * no descriptor leaked; exit 2 naming the directory for a missing,
 * unwritable, read-only or full directory; exit 2 for a corrupted or
 * truncated temporary file; exit 1 for a budget under the minimum; the
 * heartbeat callback; peak RSS of a 4M-pair sorter within its budget.
 * Blocks: a random one is stored, and the SF_RAW_SKIP after it; a
 * compressible one after those is compressed; both read back.
 * Typed records: (value, index) pairs and values round trip, in the
 * documented little-endian layout, and a record of the wrong length is a
 * corrupt file (exit 2).  spill_bytes_written() grows by exactly what a
 * file holds, and not at all for a sorter kept in memory.
 * The sorter of 32-byte elements (esort) against qsort the same way, with
 * and without unique (empty, one, all equal, in memory only, many runs
 * merged in several passes, many duplicates and shared prefixes), the same
 * directory, corruption and budget cases, and its peak RSS.  Every check
 * has a negative twin: a wrong answer the same check must reject (a
 * perturbed reference, the other unique setting, a writable directory
 * that must not fail, an undamaged file, a memory hog the RSS probe must
 * catch).
 */
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "esort.h"
#include "pool.h"
#include "recspill.h"
#include "sorter.h"
#include "spillfile.h"
#include "tap.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

static char tmpdir[PATH_MAX];

/* ---- helpers ------------------------------------------------------------ */

static uint64_t
splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static u128
rand128(uint64_t *s)
{
	u128 hi = splitmix(s);

	return hi << 64 | splitmix(s);
}

/* Entries in dir other than . and .., or -1. */
static int
dir_entries(const char *dir)
{
	DIR *d;
	struct dirent *e;
	int n = 0;

	if ((d = opendir(dir)) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static int
fd_count(void)
{
	return dir_entries("/proc/self/fd");
}

/* The descriptor of a (deleted) file in dir, or -1. */
static int
find_tmp_fd(const char *dir)
{
	char path[PATH_MAX], link[PATH_MAX];
	DIR *d;
	struct dirent *e;
	ssize_t n;
	size_t dl = strlen(dir);
	int fd = -1;

	if ((d = opendir("/proc/self/fd")) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (snprintf(path, sizeof(path), "/proc/self/fd/%s",
		    e->d_name) >= (int)sizeof(path))
			continue;
		n = readlink(path, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (strncmp(link, dir, dl) == 0 && link[dl] == '/')
			fd = atoi(e->d_name);
	}
	closedir(d);
	return fd;
}

/*
 * Run fn(arg) in a child with stderr captured into msg; return its exit
 * status, or -1 if it did not exit normally.
 */
static int
in_child(void (*fn)(void *), void *arg, char *msg, size_t msgsz)
{
	int p[2], st;
	pid_t pid;
	size_t got = 0;
	ssize_t n;

	fflush(stdout);
	if (pipe(p) == -1 || (pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		close(p[0]);
		dup2(p[1], 2);
		fn(arg);
		_exit(0);
	}
	close(p[1]);
	while (got + 1 < msgsz &&
	    (n = read(p[0], msg + got, msgsz - 1 - got)) > 0)
		got += (size_t)n;
	msg[got] = '\0';
	close(p[0]);
	if (waitpid(pid, &st, 0) == -1 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

/* A child that must fail with status want and a message holding both. */
static void
expect_fatal(void (*fn)(void *), void *arg, int want, const char *what,
    const char *needle2, const char *name)
{
	char msg[2048];
	int st;

	st = in_child(fn, arg, msg, sizeof(msg));
	msg[strcspn(msg, "\n")] = '\0';
	ok(st == want && strstr(msg, what) != NULL &&
	    (needle2 == NULL || strstr(msg, needle2) != NULL),
	    "%s: exit %d, \"%s\"", name, st, msg);
}

/* A child that must exit 0 and print nothing: the twin of expect_fatal. */
static void
expect_clean(void (*fn)(void *), void *arg, const char *name)
{
	char msg[2048];
	int st;

	st = in_child(fn, arg, msg, sizeof(msg));
	msg[strcspn(msg, "\n")] = '\0';
	ok(st == 0 && msg[0] == '\0', "%s: exit %d, \"%s\"", name, st, msg);
}

/* tmpdir/name into out (PATH_MAX bytes). */
static char *
subdir(char *out, const char *name)
{
	if (snprintf(out, PATH_MAX, "%s/%s", tmpdir, name) >= PATH_MAX)
		abort();
	return out;
}

/* ---- record spill ------------------------------------------------------- */

#define BIG_REC		(5 * 1024 * 1024)

/* Record i of the "many" set: its length, and its bytes from a seed. */
static size_t
rec_len(uint64_t i)
{
	static const size_t edge[] = { 131072 - 4, 131072 - 3, 131072,
	    131073, 262144 + 7 };
	uint64_t s = i * 7919;

	if (i == 777)
		return BIG_REC;
	if (i % 1000 == 500)
		return edge[(i / 1000) % 5];
	if (i % 17 == 0)
		return 0;
	return splitmix(&s) % 600;
}

static void
rec_fill(uint64_t i, uint8_t *buf, size_t len)
{
	uint64_t s = i, r = 0;
	size_t j;

	for (j = 0; j < len; j++) {
		if (j % 8 == 0)
			r = splitmix(&s);
		/* half random bytes, half text, so zstd has some work */
		buf[j] = (i & 1) ? (uint8_t)(r >> (8 * (j % 8))) :
		    (uint8_t)("abcdefgh,0123\n\0"[(r >> (8 * (j % 8))) % 15]);
	}
}

static void
test_recspill_basic(void)
{
	struct recspill *rs;
	const uint8_t *d;
	size_t len;

	rs = recspill_new(tmpdir);
	recspill_rewind(rs);
	ok(recspill_count(rs) == 0 && recspill_next(rs, &d, &len) == 0,
	    "recspill: empty spill reads back nothing");
	recspill_free(rs);

	rs = recspill_new(tmpdir);
	recspill_add(rs, (const uint8_t *)"hello", 5);
	recspill_rewind(rs);
	ok(recspill_next(rs, &d, &len) == 1 && len == 5 &&
	    memcmp(d, "hello", 5) == 0 && recspill_next(rs, &d, &len) == 0,
	    "recspill: one record round trip");
	recspill_rewind(rs);
	ok(recspill_next(rs, &d, &len) == 1 && len == 5 &&
	    recspill_next(rs, &d, &len) == 0,
	    "recspill: a second rewind reads it again");
	recspill_free(rs);

	len = recspill_memory();
	ok(len > 128 * 1024 && len < 2 * 1024 * 1024,
	    "recspill_memory() = %zu bytes", len);
}

static void
test_recspill_many(const char *mode)
{
	const uint64_t n = 5000;
	struct recspill *rs;
	uint8_t *want = malloc(BIG_REC + 1);
	const uint8_t *d;
	size_t len, bad = 0, sawbig = 0;
	uint64_t i;
	int fds = fd_count();

	rs = recspill_new(tmpdir);
	for (i = 0; i < n; i++) {
		len = rec_len(i);
		rec_fill(i, want, len);
		recspill_add(rs, want, len);
	}
	ok(recspill_count(rs) == n && dir_entries(tmpdir) == 0,
	    "recspill %s: %llu records added, tmpdir empty while in use", mode,
	    (unsigned long long)n);
	recspill_rewind(rs);
	for (i = 0; recspill_next(rs, &d, &len); i++) {
		if (len == BIG_REC)
			sawbig++;
		if (i >= n || len != rec_len(i)) {
			bad++;
			break;
		}
		rec_fill(i, want, len);
		if (memcmp(d, want, len) != 0)
			bad++;
	}
	ok(bad == 0 && i == n && sawbig == 1,
	    "recspill %s: every record back in order, byte for byte "
	    "(empty, binary, block-edge and 5 MB records)", mode);
	ok(dir_entries(tmpdir) == 0, "recspill %s: tmpdir empty while "
	    "reading", mode);
	recspill_free(rs);
	ok(dir_entries(tmpdir) == 0 && fd_count() == fds,
	    "recspill %s: tmpdir empty and no descriptor left after free",
	    mode);
	free(want);
}

/* Corrupt or truncate the spill file, then read: must die, exit 2. */
struct damage {
	const char	*dir;
	long		 off;	/* byte to flip; -1: truncate to half */
	int		 sorter;
	size_t		 n;	/* records or pairs */
};

static void
damage_file(const struct damage *dm)
{
	struct stat st;
	uint8_t b;
	int fd = find_tmp_fd(dm->dir);
	off_t off;

	if (fd == -1 || fstat(fd, &st) == -1)
		_exit(98);
	if (dm->off < 0) {
		if (ftruncate(fd, st.st_size / 2) == -1)
			_exit(98);
		return;
	}
	off = dm->off < st.st_size ? dm->off : st.st_size / 2;
	if (dm->off == LONG_MAX)
		off = st.st_size - 1;
	if (pread(fd, &b, 1, off) != 1)
		_exit(98);
	b ^= 0x10;
	if (pwrite(fd, &b, 1, off) != 1)
		_exit(98);
}

static void
child_damaged_recspill(void *arg)
{
	const struct damage *dm = arg;
	struct recspill *rs = recspill_new(dm->dir);
	uint8_t buf[600];
	const uint8_t *d;
	size_t len, i;

	for (i = 0; i < dm->n; i++) {
		rec_fill(i, buf, sizeof(buf));
		recspill_add(rs, buf, sizeof(buf));
	}
	recspill_rewind(rs);
	damage_file(dm);
	while (recspill_next(rs, &d, &len))
		;
	recspill_free(rs);
}

static void
test_recspill_damage(void)
{
	static const long offs[] = { 0, 5, 20, 300000, LONG_MAX, -1 };
	struct damage dm = { tmpdir, 0, 0, 2000 };
	size_t i;

	for (i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		dm.off = offs[i];
		expect_fatal(child_damaged_recspill, &dm, 2,
		    "corrupt temporary file in", tmpdir, offs[i] < 0 ?
		    "recspill: truncated file is an error" :
		    "recspill: a flipped bit is an error");
	}
}

/* ---- typed records: (value, index) pairs and values --------------------- */

#define NPAIRS	100000

/* Pair i of the typed-record tests: extremes first, then random. */
static void
typed_pair(uint64_t i, u128 *v, uint64_t *idx)
{
	uint64_t s = i * 31 + 1;

	*v = i == 0 ? 0 : i == 1 ? ~(u128)0 : rand128(&s);
	*idx = i == 1 ? UINT64_MAX : i * 7;
}

static void
test_recspill_pairs(void)
{
	int fds = fd_count();
	struct recspill *rs = recspill_new(tmpdir);
	const uint8_t *d;
	size_t len;
	uint64_t i, idx, want_idx, bad = 0, got = 0;
	u128 v, want;
	uint8_t le[24];

	for (i = 0; i < NPAIRS; i++) {
		typed_pair(i, &want, &want_idx);
		recspill_add_pair(rs, want, want_idx);
	}
	recspill_rewind(rs);
	while (recspill_next_pair(rs, &v, &idx)) {
		typed_pair(got++, &want, &want_idx);
		bad += v != want || idx != want_idx;
	}
	ok(got == NPAIRS && bad == 0 && recspill_count(rs) == NPAIRS,
	    "recspill pairs: %llu of %d read back, %llu wrong",
	    (unsigned long long)got, NPAIRS, (unsigned long long)bad);
	/* negative twin: the same check against a perturbed reference */
	recspill_rewind(rs);
	for (got = 0, bad = 0; recspill_next_pair(rs, &v, &idx); got++) {
		typed_pair(got, &want, &want_idx);
		bad += v != want + (got == 777) || idx != want_idx;
	}
	ok(bad == 1, "recspill pairs: one perturbed reference pair is "
	    "caught (%llu)", (unsigned long long)bad);

	/* the format is little-endian, value low half first */
	recspill_rewind(rs);
	(void)recspill_next(rs, &d, &len);	/* pair 0: all zero */
	(void)recspill_next(rs, &d, &len);	/* pair 1: all ones */
	ok(len == 24 && d[0] == 0xff && d[23] == 0xff,
	    "recspill pairs: 24-byte records");
	recspill_free(rs);

	rs = recspill_new(tmpdir);
	recspill_add_pair(rs, (u128)0x0102030405060708ULL << 64 |
	    0x1112131415161718ULL, 0x2122232425262728ULL);
	recspill_rewind(rs);
	memcpy(le, "\x18\x17\x16\x15\x14\x13\x12\x11"
	    "\x08\x07\x06\x05\x04\x03\x02\x01"
	    "\x28\x27\x26\x25\x24\x23\x22\x21", 24);
	ok(recspill_next(rs, &d, &len) == 1 && len == 24 &&
	    memcmp(d, le, 24) == 0, "recspill pairs: bytes as documented "
	    "(value low, value high, index; each little-endian)");
	recspill_free(rs);

	rs = recspill_new(tmpdir);
	for (i = 0; i < 1000; i++)
		recspill_add_value(rs, (u128)i << 100 | i);
	recspill_rewind(rs);
	for (got = 0, bad = 0; recspill_next_value(rs, &v); got++)
		bad += v != ((u128)got << 100 | got);
	ok(got == 1000 && bad == 0, "recspill values: 1000 round trip");
	recspill_free(rs);
	ok(fd_count() == fds && dir_entries(tmpdir) == 0,
	    "recspill pairs: no descriptor or file left");
}

/* A spill of 16-byte values (or a raw record of len bytes) read as pairs. */
static void
child_pair_misread(void *arg)
{
	size_t rawlen = *(const size_t *)arg;
	struct recspill *rs = recspill_new(tmpdir);
	uint8_t raw[32] = { 0 };	/* room for the 25-byte case */
	uint64_t idx;
	u128 v;

	if (rawlen == 16)
		recspill_add_value(rs, 42);
	else
		recspill_add(rs, raw, rawlen);
	recspill_rewind(rs);
	while (recspill_next_pair(rs, &v, &idx))
		;
	recspill_free(rs);
}

static void
child_value_misread(void *arg)
{
	struct recspill *rs = recspill_new(tmpdir);
	u128 v;

	recspill_add_pair(rs, 42, 7);
	recspill_rewind(rs);
	while (recspill_next_value(rs, &v))
		;
	recspill_free(rs);
}

static void
test_recspill_typed_errors(void)
{
	static const size_t lens[] = { 16, 23, 25, 24 };
	size_t i;

	for (i = 0; i < 3; i++)
		expect_fatal(child_pair_misread, (void *)&lens[i], 2,
		    "corrupt temporary file in", tmpdir, lens[i] == 16 ?
		    "recspill pairs: a value read as a pair is corrupt" :
		    "recspill pairs: a record not 24 bytes is corrupt");
	expect_clean(child_pair_misread, (void *)&lens[3],
	    "recspill pairs: a raw 24-byte record reads as a pair, silent");
	expect_fatal(child_value_misread, NULL, 2, "corrupt temporary file "
	    "in", tmpdir, "recspill values: a pair read as a value is corrupt");
}

/* ---- bytes written to temporary files (--stats spill_bytes) ------------- */

/* One block of len bytes through sf_block_put and back: the bytes it
 * took on file, or 0 if it did not read back as written. */
static uint64_t
block_round_trip(struct spillfile *f, ZSTD_CCtx *c, ZSTD_DCtx *d,
    const uint8_t *raw, size_t len)
{
	static uint8_t zbuf[BLOCK_HDR + 70000], back[65536];
	uint64_t off = f->end, next;
	size_t got;

	sf_block_put(f, c, raw, len, zbuf, sf_zbuf_size(sizeof(back)));
	next = sf_block_get(f, d, off, f->end, back, sizeof(back), zbuf,
	    sf_zbuf_size(sizeof(back)), &got);
	if (next != f->end || got != len || memcmp(back, raw, len) != 0)
		return 0;
	return f->end - off;
}

/* Blocks zstd cannot shrink are stored, with the blocks after them;
 * blocks it can are compressed, once the stored ones are through. */
static void
test_stored_blocks(void)
{
	static uint8_t rnd[65536], txt[65536];
	struct spillfile f;
	ZSTD_CCtx *c = sf_cctx_new(1, sizeof(rnd));
	ZSTD_DCtx *d = sf_dctx_new();
	uint64_t seed = 11, first, ok_rest = 1, z;
	size_t i;
	int k;

	for (i = 0; i < sizeof(rnd); i += 8) {
		uint64_t r = splitmix(&seed);
		memcpy(rnd + i, &r, 8);
	}
	for (i = 0; i < sizeof(txt); i++)
		txt[i] = "psi-stream stores what does not shrink\n"[i % 40];
	sf_open(&f, tmpdir);
	first = block_round_trip(&f, c, d, rnd, sizeof(rnd));
	ok(first == BLOCK_HDR + sizeof(rnd) + BLOCK_SUM,
	    "spillfile: a random block is stored (%llu bytes on file)",
	    (unsigned long long)first);
	for (k = 0; k < SF_RAW_SKIP; k++)
		if (block_round_trip(&f, c, d, txt, sizeof(txt)) !=
		    BLOCK_HDR + sizeof(txt) + BLOCK_SUM)
			ok_rest = 0;
	ok(ok_rest, "spillfile: the %d blocks after it are stored untried",
	    SF_RAW_SKIP);
	z = block_round_trip(&f, c, d, txt, sizeof(txt));
	ok(z > 0 && z < sizeof(txt) / 8, "spillfile: then a text block is "
	    "compressed again (%llu bytes on file)", (unsigned long long)z);
	z = block_round_trip(&f, c, d, rnd + 1, 777);
	ok(z == BLOCK_HDR + 777 + BLOCK_SUM, "spillfile: a short odd-sized "
	    "random block is stored and reads back");
	sf_close(&f);
	ZSTD_freeCCtx(c);
	ZSTD_freeDCtx(d);
}

static void
test_bytes_written(void)
{
	struct recspill *rs;
	struct sorter *s;
	struct stat st;
	uint64_t before, i;
	uint8_t buf[600];
	int fd;

	before = spill_bytes_written();
	rs = recspill_new(tmpdir);
	for (i = 0; i < 2000; i++) {
		rec_fill(i, buf, sizeof(buf));
		recspill_add(rs, buf, sizeof(buf));
	}
	recspill_rewind(rs);
	fd = find_tmp_fd(tmpdir);
	if (fd == -1 || fstat(fd, &st) == -1)
		st.st_size = -1;
	ok(st.st_size > 0 &&
	    spill_bytes_written() - before == (uint64_t)st.st_size,
	    "spill_bytes_written: grows by the file's size (%lld bytes, "
	    "counted %llu)", (long long)st.st_size,
	    (unsigned long long)(spill_bytes_written() - before));
	recspill_free(rs);

	before = spill_bytes_written();
	s = sorter_new(tmpdir, 16 << 20);
	for (i = 0; i < 10000; i++)
		sorter_add(s, (u128)i * 0x9e3779b97f4a7c15ULL, i);
	sorter_finish(s);
	ok(sorter_runs(s) == 0 && spill_bytes_written() == before,
	    "spill_bytes_written: a sorter kept in memory writes 0 bytes");
	sorter_free(s);

	before = spill_bytes_written();
	s = sorter_new(tmpdir, sorter_min_memory());
	for (i = 0; i < 100000; i++)
		sorter_add(s, (u128)i * 0x9e3779b97f4a7c15ULL, i);
	sorter_finish(s);
	ok(sorter_runs(s) > 1 && spill_bytes_written() - before > 100000,
	    "spill_bytes_written: a sorter with %u runs wrote %llu bytes",
	    sorter_runs(s), (unsigned long long)(spill_bytes_written() -
	    before));
	sorter_free(s);
}

/* ---- unwritable directories --------------------------------------------- */

static void
child_recspill_fill(void *arg)
{
	struct recspill *rs = recspill_new(arg);
	uint8_t buf[4096];
	uint64_t s = 1;
	size_t i, j;

	for (i = 0; i < 1024; i++) {
		for (j = 0; j < sizeof(buf); j += 8) {
			uint64_t r = splitmix(&s);
			memcpy(buf + j, &r, 8);
		}
		recspill_add(rs, buf, sizeof(buf));
	}
	recspill_rewind(rs);
	recspill_free(rs);
}

static void
child_sorter_fill(void *arg)
{
	struct sorter *so = sorter_new(arg, sorter_min_memory());
	uint64_t s = 2, i;

	for (i = 0; i < 300000; i++)
		sorter_add(so, rand128(&s), i);
	sorter_finish(so);
	sorter_free(so);
}

static void
child_esort_fill(void *arg)
{
	struct esort *e = esort_new(arg, esort_min_memory());
	uint8_t el[32];
	uint64_t s = 4, r;
	size_t i, j;

	for (i = 0; i < 300000; i++) {
		for (j = 0; j < 32; j += 8) {
			r = splitmix(&s);
			memcpy(el + j, &r, 8);
		}
		esort_add(e, el);
	}
	esort_finish(e, 0);
	while (esort_next(e, el))
		;
	esort_free(e);
}

/* tmpdir/name, made and mounted as a 64 KiB tmpfs with flags, or NULL. */
static const char *
mount_tmpfs(char *dir, const char *name, unsigned long flags)
{
	if (mkdir(subdir(dir, name), 0700) == -1)
		return NULL;
	if (mount("tmpfs", dir, "tmpfs", flags, "size=64k") == -1) {
		rmdir(dir);
		return NULL;
	}
	return dir;
}

static void
unmount_tmpfs(const char *dir)
{
	umount(dir);
	rmdir(dir);
}

static void
test_bad_dirs(void)
{
	char dir[PATH_MAX];
	const char *m;

	subdir(dir, "does-not-exist");
	expect_fatal(child_recspill_fill, dir, 2, "cannot create temporary "
	    "file in", dir, "recspill: missing tmpdir is exit 2 naming it");
	expect_fatal(child_sorter_fill, dir, 2, "cannot create temporary "
	    "file in", dir, "sorter: missing tmpdir is exit 2 naming it");
	expect_fatal(child_esort_fill, dir, 2, "cannot create temporary "
	    "file in", dir, "esort: missing tmpdir is exit 2 naming it");
	expect_clean(child_esort_fill, tmpdir, "esort: the same work in a "
	    "writable tmpdir is exit 0, silent");

	if (geteuid() != 0) {
		subdir(dir, "readonly");
		mkdir(dir, 0500);
		expect_fatal(child_recspill_fill, dir, 2, "cannot create "
		    "temporary file in", dir, "recspill: mode 0500 tmpdir");
		expect_fatal(child_sorter_fill, dir, 2, "cannot create "
		    "temporary file in", dir, "sorter: mode 0500 tmpdir");
		expect_fatal(child_esort_fill, dir, 2, "cannot create "
		    "temporary file in", dir, "esort: mode 0500 tmpdir");
		rmdir(dir);
		printf("ok %d # SKIP full file system needs root to mount "
		    "a tmpfs\n", ++tap_n);
		printf("ok %d # SKIP full file system needs root\n", ++tap_n);
		return;
	}
	if ((m = mount_tmpfs(dir, "ro", MS_RDONLY)) == NULL) {
		printf("ok %d # SKIP cannot mount a read-only tmpfs\n", ++tap_n);
		printf("ok %d # SKIP cannot mount a read-only tmpfs\n", ++tap_n);
	} else {
		expect_fatal(child_recspill_fill, dir, 2, "cannot create "
		    "temporary file in", dir, "recspill: read-only "
		    "tmpdir is exit 2");
		expect_fatal(child_sorter_fill, dir, 2, "cannot create "
		    "temporary file in", dir, "sorter: read-only tmpdir is "
		    "exit 2");
		expect_fatal(child_esort_fill, dir, 2, "cannot create "
		    "temporary file in", dir, "esort: read-only tmpdir is "
		    "exit 2");
		unmount_tmpfs(m);
	}
	if ((m = mount_tmpfs(dir, "full", 0)) == NULL) {
		printf("ok %d # SKIP cannot mount a 64k tmpfs\n", ++tap_n);
		printf("ok %d # SKIP cannot mount a 64k tmpfs\n", ++tap_n);
		return;
	}
	expect_fatal(child_recspill_fill, dir, 2, "No space left", dir,
	    "recspill: full file system is exit 2 naming the directory");
	expect_fatal(child_sorter_fill, dir, 2, "No space left", dir,
	    "sorter: full file system is exit 2 naming the directory");
	expect_fatal(child_esort_fill, dir, 2, "No space left", dir,
	    "esort: full file system is exit 2 naming the directory");
	ok(dir_entries(dir) == 0, "full file system: nothing left in it");
	unmount_tmpfs(m);
}

/* ---- sorter ------------------------------------------------------------- */

struct tpair {
	u128		v;
	uint64_t	idx;
};

static int
tpair_cmp(const void *a, const void *b)
{
	const struct tpair *x = a, *y = b;

	if (x->v != y->v)
		return x->v < y->v ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static unsigned long ticks;

static void
count_tick(void *arg)
{
	(void)arg;
	ticks++;
}

/* Drain s and compare with p[0..n) sorted; 1 if identical. */
static int
same_as_qsort(struct sorter *s, struct tpair *p, size_t n)
{
	u128 v;
	uint64_t idx;
	size_t i;

	qsort(p, n, sizeof(*p), tpair_cmp);
	for (i = 0; sorter_next(s, &v, &idx); i++)
		if (i >= n || v != p[i].v || idx != p[i].idx)
			return 0;
	return i == n && sorter_next(s, &v, &idx) == 0;
}

enum { GEN_RANDOM, GEN_EQUAL, GEN_DUPS };

static struct tpair *
gen_pairs(size_t n, int kind, uint64_t seed)
{
	struct tpair *p = malloc(n * sizeof(*p) + 1);
	uint64_t s = seed;
	size_t i;

	for (i = 0; i < n; i++) {
		p[i].idx = kind == GEN_EQUAL ? n - 1 - i : splitmix(&s);
		if (kind == GEN_RANDOM)
			p[i].v = rand128(&s);
		else if (kind == GEN_EQUAL)
			p[i].v = (u128)0x0123456789abcdefULL << 64 | 42;
		else switch (splitmix(&s) % 4) {
		case 0: p[i].v = 0; break;
		case 1: p[i].v = ~(u128)0; break;
		case 2: p[i].v = (u128)(splitmix(&s) % 5) << 64; break;
		default: p[i].v = rand128(&s) % 100; break;
		}
	}
	return p;
}

/* Sorters made by check_sort sort on this pool (NULL: no pool). */
static struct pool *sort_pool;

/* Sort n pairs of a kind with budget mem; compare with qsort. */
static void
check_sort(const char *name, size_t n, int kind, size_t mem, int want_runs)
{
	struct tpair *p = gen_pairs(n, kind, n + (uint64_t)kind);
	struct sorter *s = sorter_new(tmpdir, mem);
	int fds = fd_count(), same;
	size_t i;
	unsigned runs;

	sorter_set_pool(s, sort_pool);
	for (i = 0; i < n; i++)
		sorter_add(s, p[i].v, p[i].idx);
	sorter_finish(s);
	runs = sorter_runs(s);
	same = sorter_count(s) == n && same_as_qsort(s, p, n);
	ok(same && (want_runs < 0 ? runs > 0 : runs == (unsigned)want_runs),
	    "sorter %s: %zu pairs, %u runs, same as qsort", name, n, runs);
	sorter_rewind(s);
	ok(same_as_qsort(s, p, n), "sorter %s: rewound, the same again", name);
	sorter_free(s);
	ok(fd_count() == fds && dir_entries(tmpdir) == 0,
	    "sorter %s: no descriptor or file left", name);
	free(p);
}

static void
test_sorter_small(void)
{
	struct sorter *s = sorter_new(tmpdir, 1 << 20);
	u128 v;
	uint64_t idx;
	int fds = fd_count();

	sorter_finish(s);
	ok(sorter_next(s, &v, &idx) == 0 && sorter_runs(s) == 0 &&
	    sorter_count(s) == 0, "sorter: empty");
	sorter_free(s);
	s = sorter_new(tmpdir, 1 << 20);
	sorter_add(s, ~(u128)0, UINT64_MAX);
	sorter_finish(s);
	ok(sorter_next(s, &v, &idx) == 1 && v == ~(u128)0 &&
	    idx == UINT64_MAX && sorter_next(s, &v, &idx) == 0,
	    "sorter: one pair (all ones) round trip");
	ok(fd_count() == fds, "sorter: in memory, no file opened");
	sorter_free(s);
}

static void
child_tiny_budget(void *arg)
{
	sorter_free(sorter_new(tmpdir, sorter_min_memory() - 1));
}

static void
child_rewind_early(void *arg)
{
	struct sorter *s = sorter_new(tmpdir, 1 << 20);

	(void)arg;
	sorter_add(s, 1, 1);
	sorter_rewind(s);
}

static void
test_sorter_budget(void)
{
	struct sorter *s = sorter_new(tmpdir, sorter_min_memory());

	sorter_add(s, 1, 1);
	sorter_finish(s);
	ok(sorter_count(s) == 1, "sorter: the minimum budget (%zu) is "
	    "accepted", sorter_min_memory());
	sorter_free(s);
	expect_fatal(child_tiny_budget, NULL, 1, "memory budget too small",
	    NULL, "sorter: a budget one byte under the minimum is exit 1");
	expect_fatal(child_rewind_early, NULL, 7 /* EXIT_BUG */,
	    "sorter_rewind before sorter_finish", NULL,
	    "sorter: rewind before finish is an internal error");
}

/* Many runs at the minimum budget: fan-in is under mem/4096 = 64. */
static void
test_sorter_many_runs(const char *mode)
{
	const size_t n = 1000000, mem = sorter_min_memory();
	struct tpair *p = gen_pairs(n, GEN_RANDOM, 7);
	struct sorter *s = sorter_new(tmpdir, mem);
	int fds = fd_count(), empty = 1, same;
	size_t i;

	ticks = 0;
	spill_set_heartbeat(count_tick, NULL);
	for (i = 0; i < n; i++) {
		sorter_add(s, p[i].v, p[i].idx);
		if (i % 100000 == 0 && dir_entries(tmpdir) != 0)
			empty = 0;
	}
	sorter_finish(s);
	ok(sorter_runs(s) > mem / 4096, "sorter %s: %u runs > %zu, so the "
	    "merge takes several passes", mode, sorter_runs(s), mem / 4096);
	ok(empty && dir_entries(tmpdir) == 0 && find_tmp_fd(tmpdir) != -1,
	    "sorter %s: tmpdir empty while runs exist", mode);
	same = same_as_qsort(s, p, n);
	ok(same, "sorter %s: multi-pass merge output same as qsort", mode);
	sorter_rewind(s);
	ok(same_as_qsort(s, p, n), "sorter %s: rewound after a multi-pass "
	    "merge, the same again", mode);
	ok(ticks > n / 65536, "sorter %s: tick called %lu times", mode, ticks);
	sorter_free(s);
	spill_set_heartbeat(NULL, NULL);
	ok(fd_count() == fds && dir_entries(tmpdir) == 0,
	    "sorter %s: no descriptor or file left after free", mode);
	free(p);
}

static void
test_sorter_no_tick(void)
{
	struct sorter *s = sorter_new(tmpdir, 1 << 20);
	u128 v;
	uint64_t idx;
	int i;

	ticks = 0;
	spill_set_heartbeat(count_tick, NULL);
	for (i = 0; i < 1000; i++)
		sorter_add(s, (u128)i, 0);
	sorter_finish(s);
	while (sorter_next(s, &v, &idx))
		;
	sorter_free(s);
	spill_set_heartbeat(NULL, NULL);
	ok(ticks == 0, "sorter: no tick for 1000 pairs of work");
}

static void
child_damaged_sorter(void *arg)
{
	const struct damage *dm = arg;
	struct sorter *s = sorter_new(dm->dir, sorter_min_memory());
	uint64_t seed = 3, idx;
	u128 v;
	size_t i;

	for (i = 0; i < dm->n; i++)
		sorter_add(s, rand128(&seed), i);
	if (dm->off != 0)
		sorter_finish(s);	/* the first blocks are read now */
	damage_file(dm);
	if (dm->off == 0)
		sorter_finish(s);
	while (sorter_next(s, &v, &idx))
		;
	sorter_free(s);
}

static void
test_sorter_damage(void)
{
	static const long offs[] = { 0, 100000, LONG_MAX, -1 };
	struct damage dm = { tmpdir, 0, 1, 40000 };
	size_t i;

	for (i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		dm.off = offs[i];
		expect_fatal(child_damaged_sorter, &dm, 2,
		    "corrupt temporary file in", tmpdir, offs[i] < 0 ?
		    "sorter: truncated run file is an error" :
		    "sorter: a flipped bit in a run is an error");
	}
}

/* ---- esort: 32-byte elements -------------------------------------------- */

#define EL	32

static int
el_cmp(const void *a, const void *b)
{
	return memcmp(a, b, EL);
}

static void
rand_el(uint64_t *s, uint8_t *el)
{
	uint64_t r;
	int j;

	for (j = 0; j < EL; j += 8) {
		r = splitmix(s);
		memcpy(el + j, &r, 8);
	}
}

enum { EL_RANDOM, EL_EQUAL, EL_DUPS };

/*
 * n elements of a kind.  EL_DUPS mixes all-zero and all-ones elements,
 * variants of one element that differ in a single byte (so buckets of
 * equal prefixes of every length, deeper than insertion sort's reach) and
 * a pool of 300 random elements.
 */
static uint8_t *
gen_els(size_t n, int kind, uint64_t seed)
{
	uint8_t *p = malloc(n * EL + 1), base[EL], *q;
	uint64_t s = seed, r, pool;
	size_t i;

	s = 99;
	rand_el(&s, base);
	s = seed;
	for (i = 0, q = p; i < n; i++, q += EL) {
		if (kind == EL_RANDOM) {
			rand_el(&s, q);
			continue;
		}
		if (kind == EL_EQUAL) {
			memcpy(q, base, EL);
			continue;
		}
		r = splitmix(&s);
		switch (r % 5) {
		case 0: memset(q, 0, EL); break;
		case 1: memset(q, 0xff, EL); break;
		case 2:
			memcpy(q, base, EL);
			q[EL - 1] = (uint8_t)(r >> 8) % 7;
			break;
		case 3:
			memcpy(q, base, EL);
			q[(r >> 8) % EL] = (uint8_t)((r >> 16) % 3);
			break;
		default:
			pool = 1000 + (r >> 8) % 300;
			rand_el(&pool, q);
			break;
		}
	}
	return p;
}

/* Sort p[0..n) with qsort and, with unique, drop repeats; new length. */
static size_t
reference(uint8_t *p, size_t n, int unique)
{
	size_t i, k;

	qsort(p, n, EL, el_cmp);
	if (!unique || n == 0)
		return n;
	for (i = 1, k = 1; i < n; i++)
		if (memcmp(p + i * EL, p + (k - 1) * EL, EL) != 0)
			memmove(p + k++ * EL, p + i * EL, EL);
	return k;
}

/* Drain e into a new array of room for n elements (plus one); its length. */
static uint8_t *
drain(struct esort *e, size_t n, size_t *got)
{
	uint8_t *out = malloc((n + 1) * EL), el[EL];

	*got = 0;
	while (esort_next(e, el)) {
		if (*got <= n)
			memcpy(out + *got * EL, el, EL);
		++*got;
	}
	return out;
}

static int
same_els(const uint8_t *a, size_t na, const uint8_t *b, size_t nb)
{
	return na == nb && (na == 0 || memcmp(a, b, na * EL) == 0);
}

/* The reference with one element changed: the checks must reject it. */
static int
same_as_perturbed(const uint8_t *got, size_t ngot, uint8_t *want,
    size_t nwant)
{
	int r;

	if (nwant == 0)
		return same_els(got, ngot, (const uint8_t *)"x", 1);
	want[(nwant / 2) * EL + EL - 1] ^= 1;
	r = same_els(got, ngot, want, nwant);
	want[(nwant / 2) * EL + EL - 1] ^= 1;
	return r;
}

/*
 * Sort n elements of a kind with budget mem and unique, compare with
 * qsort; want_runs: exact runs, or -1 for "some".
 */
static void
check_esort(const char *name, size_t n, int kind, size_t mem, int unique,
    int want_runs)
{
	uint8_t *p = gen_els(n, kind, n + (uint64_t)kind), *got;
	struct esort *e = esort_new(tmpdir, mem);
	int fds = fd_count(), runs_ok;
	size_t i, ngot, nwant;
	unsigned runs;

	for (i = 0; i < n; i++)
		esort_add(e, p + i * EL);
	esort_finish(e, unique);
	runs = esort_runs(e);
	runs_ok = want_runs < 0 ? runs > 0 : runs == (unsigned)want_runs;
	got = drain(e, n, &ngot);
	nwant = reference(p, n, unique);
	ok(esort_count(e) == n && runs_ok && same_els(got, ngot, p, nwant),
	    "esort %s%s: %zu elements, %u runs, %zu out, same as qsort", name,
	    unique ? ", unique" : "", n, runs, ngot);
	ok(!same_as_perturbed(got, ngot, p, nwant), "esort %s%s: negative: "
	    "a reference with one bit changed is rejected", name,
	    unique ? ", unique" : "");
	esort_free(e);
	ok(fd_count() == fds && dir_entries(tmpdir) == 0,
	    "esort %s%s: no descriptor or file left", name,
	    unique ? ", unique" : "");
	free(got);
	free(p);
}

static void
test_esort_small(void)
{
	uint8_t one[EL], el[EL];
	struct esort *e;
	int fds = fd_count();

	e = esort_new(tmpdir, 1 << 20);
	esort_finish(e, 1);
	ok(esort_next(e, el) == 0 && esort_next(e, el) == 0 &&
	    esort_count(e) == 0 && esort_runs(e) == 0,
	    "esort: empty, nothing comes out, twice");
	esort_free(e);

	memset(one, 0xff, EL);
	e = esort_new(tmpdir, 1 << 20);
	esort_add(e, one);
	esort_finish(e, 0);
	ok(esort_count(e) == 1 && esort_next(e, el) == 1 &&
	    memcmp(el, one, EL) == 0 && esort_next(e, el) == 0,
	    "esort: one element (all ones) round trip");
	ok(memcmp(el, one, EL) == 0 && esort_next(e, el) == 0,
	    "esort: negative: past the end, still 0 and the element "
	    "untouched");
	esort_free(e);
	ok(fd_count() == fds && dir_entries(tmpdir) == 0,
	    "esort: in memory, no file opened");
}

static void
test_esort_equal(void)
{
	const size_t n = 50000;
	uint8_t *p = gen_els(1, EL_EQUAL, 0), el[EL];
	struct esort *e;
	size_t i, k, bad;
	int unique, mem;

	for (mem = 0; mem < 2; mem++)
		for (unique = 1; unique >= 0; unique--) {
			e = esort_new(tmpdir, mem ? 16 << 20 :
			    esort_min_memory());
			for (i = 0; i < n; i++)
				esort_add(e, p);
			esort_finish(e, unique);
			for (k = 0, bad = 0; esort_next(e, el); k++)
				bad += memcmp(el, p, EL) != 0;
			ok(bad == 0 && k == (unique ? 1 : n) &&
			    (esort_runs(e) > 0) == !mem, "esort: %zu equal "
			    "elements, %s, %s: %zu out", n, mem ? "in memory" :
			    "runs", unique ? "unique" : "not unique (the "
			    "twin)", k);
			esort_free(e);
		}
	free(p);
}

static void
child_esort_tiny(void *arg)
{
	esort_free(esort_new(tmpdir, esort_min_memory() - 1));
}

static void
child_esort_min(void *arg)
{
	struct esort *e = esort_new(tmpdir, esort_min_memory());
	uint8_t el[EL] = { 1 };

	esort_add(e, el);
	esort_finish(e, 0);
	if (esort_next(e, el) != 1 || esort_next(e, el) != 0)
		_exit(9);
	esort_free(e);
}

static void
test_esort_budget(void)
{
	expect_clean(child_esort_min, NULL, "esort: the minimum budget is "
	    "accepted");
	expect_fatal(child_esort_tiny, NULL, 1, "memory budget too small",
	    NULL, "esort: negative: one byte under the minimum is exit 1");
}

/*
 * The in-memory bound: what fits sorts with no file at all; the same
 * data under the minimum budget opens one (the twin).
 */
static void
test_esort_in_memory(void)
{
	const size_t n = 100000;
	uint8_t *p = gen_els(n, EL_RANDOM, 5), el[EL];
	struct esort *e;
	int fds = fd_count(), opened, mem;
	size_t i;

	for (mem = 1; mem >= 0; mem--) {
		e = esort_new(tmpdir, mem ? 16 << 20 : esort_min_memory());
		for (i = 0; i < n; i++)
			esort_add(e, p + i * EL);
		esort_finish(e, 0);
		opened = fd_count() != fds;
		esort_next(e, el);
		if (mem)
			ok(!opened && esort_runs(e) == 0, "esort: %zu elements "
			    "in 16 MiB: no file, no run", n);
		else
			ok(opened && esort_runs(e) > 0 &&
			    find_tmp_fd(tmpdir) != -1, "esort: negative: the "
			    "same in %zu bytes: a temporary file, %u runs",
			    esort_min_memory(), esort_runs(e));
		esort_free(e);
	}
	free(p);
}

/* Many runs at the minimum budget: the final fan-in is under 64. */
static void
test_esort_many_runs(const char *mode)
{
	const size_t n = 1000000, mem = esort_min_memory();
	uint8_t *p = gen_els(n, EL_RANDOM, 8), *got;
	struct esort *e = esort_new(tmpdir, mem);
	int fds = fd_count(), empty = 1, probe, same;
	size_t i, ngot;
	char path[PATH_MAX];
	FILE *f;

	ticks = 0;
	spill_set_heartbeat(count_tick, NULL);
	for (i = 0; i < n; i++) {
		esort_add(e, p + i * EL);
		if (i % 100000 == 0 && dir_entries(tmpdir) != 0)
			empty = 0;
	}
	esort_finish(e, 0);
	ok(esort_runs(e) > mem / 4096, "esort %s: %u runs > %zu, so the "
	    "merge takes several passes", mode, esort_runs(e), mem / 4096);
	ok(empty && dir_entries(tmpdir) == 0 && find_tmp_fd(tmpdir) != -1,
	    "esort %s: tmpdir empty while runs exist", mode);
	f = fopen(subdir(path, "probe"), "w");
	probe = dir_entries(tmpdir);
	if (f != NULL)
		fclose(f);
	unlink(path);
	ok(probe == 1, "esort %s: negative: the emptiness probe sees a "
	    "file made beside the runs", mode);
	got = drain(e, n, &ngot);
	ok(ticks > n / 65536, "esort %s: tick called %lu times", mode, ticks);
	spill_set_heartbeat(NULL, NULL);
	esort_free(e);
	same = reference(p, n, 0) == ngot && same_els(got, ngot, p, n);
	ok(same, "esort %s: multi-pass merge output same as qsort", mode);
	ok(!same_as_perturbed(got, ngot, p, n), "esort %s: negative: a "
	    "reference with one bit changed is rejected", mode);
	ok(fd_count() == fds && dir_entries(tmpdir) == 0,
	    "esort %s: no descriptor or file left after free", mode);
	free(got);
	free(p);
}

static void
test_esort_no_tick(void)
{
	struct esort *e = esort_new(tmpdir, 1 << 20);
	uint8_t el[EL];
	int i;

	ticks = 0;
	spill_set_heartbeat(count_tick, NULL);
	memset(el, 0, EL);
	for (i = 0; i < 1000; i++) {
		el[0] = (uint8_t)i;
		esort_add(e, el);
	}
	esort_finish(e, 0);
	while (esort_next(e, el))
		;
	esort_free(e);
	spill_set_heartbeat(NULL, NULL);
	ok(ticks == 0, "esort: negative: no tick for 1000 elements of work");
}

static void
child_damaged_esort(void *arg)
{
	const struct damage *dm = arg;
	struct esort *e = esort_new(dm->dir, esort_min_memory());
	uint64_t seed = 3;
	uint8_t el[EL];
	size_t i;
	/* esort_finish reads the first block of every run */
	int early = dm->off >= 0 && dm->off < 64;

	for (i = 0; i < dm->n; i++) {
		rand_el(&seed, el);
		esort_add(e, el);
	}
	if (!early)
		esort_finish(e, 0);
	if (dm->off != LONG_MIN)
		damage_file(dm);
	if (early)
		esort_finish(e, 0);
	while (esort_next(e, el))
		;
	esort_free(e);
}

static void
test_esort_damage(void)
{
	static const long offs[] = { 0, 5, 20, 100000, 600000, LONG_MAX,
	    -1 };
	struct damage dm = { tmpdir, 0, 1, 40000 };
	size_t i;

	for (i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		dm.off = offs[i];
		expect_fatal(child_damaged_esort, &dm, 2,
		    "corrupt temporary file in", tmpdir, offs[i] < 0 ?
		    "esort: truncated run file is an error" :
		    "esort: a flipped bit in a run is an error");
	}
	dm.off = LONG_MIN;
	expect_clean(child_damaged_esort, &dm, "esort: negative: the same "
	    "runs undamaged read back, exit 0");
}

/* ---- memory ------------------------------------------------------------- */

#define MEMTEST_PAIRS	4000000
#define MEMTEST_MEM	(8 << 20)

static long
maxrss_kb(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

/* Exit 0 if sorted, complete, and RSS grew less than mem + 8 MiB. */
static void
child_memory(void *arg)
{
	struct sorter *s;
	long before = maxrss_kb(), grew;
	uint64_t seed = 11, sumi = 0, sumv = 0, idx, i;
	u128 v, prev = 0;

	s = sorter_new(tmpdir, MEMTEST_MEM);
	for (i = 0; i < MEMTEST_PAIRS; i++) {
		v = rand128(&seed);
		sumv += (uint64_t)(v >> 64) ^ (uint64_t)v;
		sumi += i;
		sorter_add(s, v, i);
	}
	sorter_finish(s);
	for (i = 0; sorter_next(s, &v, &idx); i++) {
		if (v < prev)
			_exit(10);
		prev = v;
		sumv -= (uint64_t)(v >> 64) ^ (uint64_t)v;
		sumi -= idx;
	}
	if (i != MEMTEST_PAIRS || sumv != 0 || sumi != 0)
		_exit(11);
	grew = maxrss_kb() - before;
	fprintf(stderr, "%u runs, peak RSS grew %ld KiB\n", sorter_runs(s),
	    grew);
	sorter_free(s);
	_exit(grew < (MEMTEST_MEM + (8 << 20)) / 1024 ? 0 : 12);
}

static void
test_memory(void)
{
	char msg[256];
	int st;

#ifdef UNDER_ASAN
	printf("ok %d # SKIP peak RSS is meaningless under AddressSanitizer\n",
	    ++tap_n);
	return;
#endif
	st = in_child(child_memory, NULL, msg, sizeof(msg));
	msg[strcspn(msg, "\n")] = '\0';
	ok(st == 0, "sorter: 4M pairs with mem 8 MiB, sorted, complete, peak "
	    "RSS growth under mem + 8 MiB (%s; exit %d)", msg, st);
}

#define EMEM_ELEMENTS	4000000
#define EMEM_MEM	(8 << 20)
#define EMEM_SLACK	(2 << 20)

/*
 * Exit 0 if sorted, complete, and RSS grew less than mem + 2 MiB; with
 * arg set, also touch mem + 4 MiB of its own, which must be caught.
 */
static void
child_esort_memory(void *arg)
{
	struct esort *e;
	long before = maxrss_kb(), grew;
	uint64_t seed = 12, sum = 0, w, i;
	uint8_t el[EL], prev[EL];
	volatile char *hog;
	size_t k;
	int j;

	e = esort_new(tmpdir, EMEM_MEM);
	for (i = 0; i < EMEM_ELEMENTS; i++) {
		rand_el(&seed, el);
		for (j = 0; j < EL; j += 8) {
			memcpy(&w, el + j, 8);
			sum += w;
		}
		esort_add(e, el);
	}
	esort_finish(e, 0);
	memset(prev, 0, EL);
	for (i = 0; esort_next(e, el); i++) {
		if (memcmp(prev, el, EL) > 0)
			_exit(10);
		memcpy(prev, el, EL);
		for (j = 0; j < EL; j += 8) {
			memcpy(&w, el + j, 8);
			sum -= w;
		}
	}
	if (i != EMEM_ELEMENTS || sum != 0)
		_exit(11);
	if (arg != NULL) {
		if ((hog = malloc(EMEM_MEM + (4 << 20))) == NULL)
			_exit(13);
		for (k = 0; k < EMEM_MEM + (4 << 20); k += 512)
			hog[k] = 1;
		free((void *)hog);
	}
	grew = maxrss_kb() - before;
	fprintf(stderr, "%u runs, peak RSS grew %ld KiB\n", esort_runs(e),
	    grew);
	esort_free(e);
	_exit(grew < (EMEM_MEM + EMEM_SLACK) / 1024 ? 0 : 12);
}

static void
test_esort_memory(void)
{
	char msg[256];
	int st;

#ifdef UNDER_ASAN
	printf("ok %d # SKIP peak RSS is meaningless under AddressSanitizer\n",
	    ++tap_n);
	printf("ok %d # SKIP peak RSS is meaningless under AddressSanitizer\n",
	    ++tap_n);
	return;
#endif
	st = in_child(child_esort_memory, NULL, msg, sizeof(msg));
	msg[strcspn(msg, "\n")] = '\0';
	ok(st == 0, "esort: 4M elements with mem 8 MiB, sorted, complete, "
	    "peak RSS growth under mem + 2 MiB (%s; exit %d)", msg, st);
	st = in_child(child_esort_memory, "hog", msg, sizeof(msg));
	msg[strcspn(msg, "\n")] = '\0';
	ok(st == 12, "esort: negative: the same plus mem + 4 MiB touched "
	    "is caught (%s; exit %d)", msg, st);
}

int
main(void)
{
	const char *base = getenv("TMPDIR");
	char tmpl[PATH_MAX];

	snprintf(tmpl, sizeof(tmpl), "%s/t_spill.XXXXXX",
	    base != NULL && *base != '\0' ? base : "/tmp");
	if (mkdtemp(tmpl) == NULL || realpath(tmpl, tmpdir) == NULL) {
		printf("Bail out! cannot make a temporary directory\n");
		return 1;
	}
	test_memory();
	test_esort_memory();
	test_recspill_basic();
	unsetenv("PSI_STREAM_TMPFILE");
	test_recspill_many("O_TMPFILE");
	setenv("PSI_STREAM_TMPFILE", "mkstemp", 1);
	test_recspill_many("mkstemp");
	unsetenv("PSI_STREAM_TMPFILE");
	test_recspill_damage();
	test_recspill_pairs();
	test_recspill_typed_errors();
	test_bytes_written();
	test_stored_blocks();

	test_sorter_small();
	test_sorter_budget();
	check_sort("in memory", 100000, GEN_RANDOM, 16 << 20, 0);
	check_sort("all values equal, in memory", 50000, GEN_EQUAL, 16 << 20,
	    0);
	check_sort("all values equal, runs", 50000, GEN_EQUAL,
	    sorter_min_memory(), -1);
	check_sort("duplicates and extremes, runs", 200000, GEN_DUPS,
	    sorter_min_memory(), -1);
	/* on 2 and 3 threads: the top level by the caller, the buckets by
	 * all, each with its own share of the scratch area */
	sort_pool = pool_new(2);
	check_sort("on 2 threads, in memory", 300000, GEN_RANDOM, 16 << 20, 0);
	check_sort("on 2 threads, runs", 300000, GEN_RANDOM, 4 << 20, -1);
	check_sort("on 2 threads, all values equal", 100000, GEN_EQUAL,
	    16 << 20, 0);
	check_sort("on 2 threads, duplicates and extremes", 200000, GEN_DUPS,
	    16 << 20, 0);
	pool_free(sort_pool);
	sort_pool = pool_new(3);
	check_sort("on 3 threads, in memory", 200001, GEN_RANDOM, 16 << 20, 0);
	pool_free(sort_pool);
	sort_pool = NULL;
	test_sorter_many_runs("O_TMPFILE");
	setenv("PSI_STREAM_TMPFILE", "mkstemp", 1);
	test_sorter_many_runs("mkstemp");
	unsetenv("PSI_STREAM_TMPFILE");
	test_sorter_no_tick();
	test_sorter_damage();

	test_esort_small();
	test_esort_budget();
	test_esort_equal();
	test_esort_in_memory();
	check_esort("random, in memory", 100000, EL_RANDOM, 16 << 20, 0, 0);
	check_esort("random, runs", 200000, EL_RANDOM, esort_min_memory(), 0,
	    -1);
	check_esort("duplicates and shared prefixes, in memory", 100000,
	    EL_DUPS, 16 << 20, 0, 0);
	check_esort("duplicates and shared prefixes, in memory", 100000,
	    EL_DUPS, 16 << 20, 1, 0);
	check_esort("duplicates and shared prefixes, runs", 300000, EL_DUPS,
	    esort_min_memory(), 0, -1);
	check_esort("duplicates and shared prefixes, runs", 300000, EL_DUPS,
	    esort_min_memory(), 1, -1);
	check_esort("random, runs", 200000, EL_RANDOM, esort_min_memory(), 1,
	    -1);
	test_esort_many_runs("O_TMPFILE");
	setenv("PSI_STREAM_TMPFILE", "mkstemp", 1);
	test_esort_many_runs("mkstemp");
	unsetenv("PSI_STREAM_TMPFILE");
	test_esort_no_tick();
	test_esort_damage();

	test_bad_dirs();
	ok(rmdir(tmpdir) == 0, "tmpdir empty at the end (rmdir %s)", tmpdir);
	return done_testing();
}
