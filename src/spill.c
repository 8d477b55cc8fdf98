/*
 * spill.c: bounded-memory building blocks on temporary files (DESIGN
 * section 2): a record spill, an external sorter of (value, index)
 * pairs, and one of 32-byte elements.
 *
 * TEMPORARY FILES
 *
 * Each object owns at most one temporary file, opened with O_TMPFILE in
 * the directory it was given, so the file has no name from the start and
 * nothing can be left behind, not even after kill -9.  Where the file
 * system lacks O_TMPFILE (open fails with EOPNOTSUPP, EISDIR or EINVAL)
 * the file is made with mkstemp and unlinked at once.  Setting
 * PSI_STREAM_TMPFILE=mkstemp forces that fallback, so tests cover both.
 * A failed open or write is fatal (EXIT_IO) with a message naming the
 * directory; a block that does not read back exactly as written is fatal
 * too ("corrupt temporary file").
 *
 * All three store data as blocks appended to their file:
 *
 *	u32 zlen, u32 rawlen (little-endian), then a zstd frame of zlen
 *	bytes holding rawlen bytes, with zstd's content checksum.
 *
 * Blocks are compressed one at a time with one zstd context per object,
 * made when the first block is written and freed when writing is over;
 * its parameters are fixed by the level and the block size, so its size
 * is known in advance (ZSTD_estimateCCtxSize_usingCParams) and counted.
 *
 * RECORD SPILL
 *
 *	recspill_new, recspill_add..., recspill_rewind, recspill_next...,
 *	recspill_free
 *
 * Records are a byte stream of (varint length, bytes), cut into blocks of
 * RS_BLOCK raw bytes.  A record that fits in a block never straddles two,
 * so recspill_next can return a pointer into the decoded block.  A longer
 * record starts a fresh block and runs over as many as it needs; reading
 * it back costs one transient buffer of its own size, freed at the next
 * call.  Memory: one raw block, one compressed block and a zstd context
 * (recspill_memory()), plus, transiently, the largest record over a block.
 *
 * SORTER
 *
 *	sorter_new, sorter_add..., sorter_finish, sorter_next...,
 *	sorter_free
 *
 * Pairs are kept as three 64-bit words (value high, value low, index) and
 * ordered by all three.  sorter_add fills a buffer of `cap' pairs; when it
 * is full the buffer is sorted and written out as a sorted "run".  The
 * sort is an MSD radix sort, one byte at a time, ping-ponging between the
 * buffer and a scratch area of the same size; buckets of a few dozen pairs
 * are finished by insertion sort.  Values are uniformly random, so two
 * byte levels leave buckets of that size even for millions of pairs, and
 * a level where every pair falls in one bucket is skipped without moving
 * anything (all values equal costs 24 counting passes, not n^2).
 *
 * A run is a sequence of blocks of `blk' raw bytes in the sorter's one
 * shared file; the run table records each run's offset, length and pair
 * count.  Inside a block, pairs are coded as
 *
 *	varint(value - previous value), varint(index)
 *
 * where the first pair of each block has previous value 0, so every block
 * decodes alone.  The varints are LEB128, coded and decoded eight bytes
 * (56 bits) at a time with shifts and masks rather than byte by byte.
 * Measured on random values: 19.7 bytes a pair before zstd level 1 and
 * 17.9 after (the varint continuation bits are what it takes away), at
 * about 20 ns a pair for compressing, so blocks are compressed.
 *
 * sorter_finish sorts what is in the buffer.  If no run was ever written,
 * sorter_next just walks the buffer: no file is created at all.  Otherwise
 * the buffer becomes the last run, the buffer and the scratch area are
 * unmapped, and the runs are merged.  A merge reads one block per run at
 * a time and keeps each run's current pair in a binary min-heap; the
 * smallest pair is handed out and replaced by the next pair of its run.
 * While more runs exist than fan_fin (the final fan-in) intermediate
 * merges combine the oldest runs (at most fan_mid at a time, fewer for the
 * first one so the last pass lands exactly on fan_fin) into new runs at
 * the end of the file; the space of consumed runs is given back with
 * FALLOC_FL_PUNCH_HOLE where the file system allows it.  The last merge is
 * done lazily by sorter_next.
 *
 * THE MEMORY BOUND
 *
 * With budget mem and raw block size blk (mem/256 rounded down to a power
 * of two, kept within 4 KiB..64 KiB):
 *
 *	writer	= CCtx + blk + zstd bound of blk		(writing runs)
 *	reader	= DCtx + zstd bound of blk			(one, shared)
 *	adding:	  2 * cap * 24 + writer			<= mem - SLACK
 *	middle:	  writer + reader + fan_mid * (blk + RD)	<= mem - SLACK
 *	final:	  reader + fan_fin * (blk + RD)		<= mem - SLACK
 *
 * where RD is a reader's bookkeeping and SLACK covers the sorter itself.
 * The large areas (pair buffer, scratch, block buffers of the readers) are
 * mmap'ed directly: their pages are only resident once touched and go
 * back to the system when unmapped, whatever malloc's thresholds are.  Not
 * counted: the run table, 24 bytes a run, about n * 1152 / mem bytes for
 * n pairs (4 KiB for 10^9 pairs at 256 MiB), and the radix sort's stack
 * (24 levels of two 2 KiB arrays at most).
 *
 * ELEMENT SORTER
 *
 *	esort_new, esort_add..., esort_finish(unique), esort_next...,
 *	esort_free
 *
 * The sorter's plan for 32-byte elements (ristretto255 encodings, some
 * of them chosen by the peer) in memcmp order.  Differences:
 *
 * The buffer is sorted in place by an American flag sort: count byte d,
 * cycle every element straight into its bucket, then sort each bucket on
 * byte d + 1; buckets of INSERTION_MAX or fewer go to insertion sort and
 * a byte all elements share is skipped after one counting pass.  Whatever
 * the elements, that is at most 32 linear levels, never quadratic.  With
 * no scratch area the buffer gets the whole budget: twice the elements
 * per run, and twice as many sorted without any file, as the sorter's
 * ping-pong radix sort would allow.  That sort is faster (8M elements on
 * huge pages: 0.3-0.6 s against 0.55-1.1 s here), but each element costs
 * a scalar multiplication (about 10^4 a second a core), so staying off
 * the disk, and fewer runs to merge, matter more than sorting speed.
 *
 * Runs are stored as they are, blk/32 whole elements a block: sorted
 * random elements do not compress.  Measured on 64 KiB blocks: zstd
 * level 1 gives 32.007 bytes an element at 0.75 GB/s, front coding of
 * shared prefixes would save 1 byte in 32.  For a raw block with a
 * checksum, BLAKE2b-128 runs at 1.05 GB/s and SipHash at 2.8 GB/s, while
 * zstd at a negative level gives up on the block, stores it raw with its
 * own checksum (32 bits of XXH64, as for the other objects) and runs at
 * 4-6 GB/s (decoding at 10 GB/s).  So esort uses the same block format
 * at level ESORT_ZLEVEL (-1), which still shrinks runs of repeated
 * elements (23.8 bytes an element when one in four repeats).  A block whose length is not a
 * whole number of elements, or holds more than its run owes, is corrupt.
 *
 * Heap entries keep an element's first 8 bytes as a big-endian number, so
 * most comparisons are one integer comparison.  esort_finish(unique):
 * with unique, every merge (intermediate ones included) drops an element
 * equal to the last one it kept; runs written before esort_finish keep
 * their repeats, since unique is not known yet.  The bound, with writer =
 * CCtx + zstd bound of blk and reader = DCtx + zstd bound of blk:
 *
 *	adding:	  cap * 32 + writer				<= mem - SLACK
 *	middle:	  writer + blk + reader + fan_mid * (blk + RD)	<= mem - SLACK
 *	final:	  reader + fan_fin * (blk + RD)			<= mem - SLACK
 *
 * (a buffer is written out block by block straight from the buffer, so
 * only merges need the writer's blk).  Not counted: the run table as for
 * the sorter, and el_sort's stack, 32 levels of about 4 KiB at most.
 *
 * spill_set_tick's function is called about every TICK_EVERY items of
 * local work done inside this module (sorting, writing runs, intermediate
 * merges) so the caller can send keepalives; loops over sorter_next,
 * esort_next and recspill_next belong to the caller, which ticks there
 * itself.
 */
#define ZSTD_STATIC_LINKING_ONLY	/* ZSTD_estimate*, ZSTD_getCParams */

#include <sys/mman.h>
#include <sys/types.h>

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zstd.h>

#include "spill.h"
#include "util.h"

#define BLOCK_HDR	8		/* u32 zlen, u32 rawlen */
#define RS_BLOCK	(128 * 1024)	/* raw bytes per record spill block */
#define SORT_BLK_MIN	(4 * 1024)
#define SORT_BLK_MAX	(64 * 1024)
#define SORTER_MIN_MEM	(256 * 1024)
#define SORTER_SLACK	(4 * 1024)
#define PAIR_MAX	(19 + 10)	/* longest coded pair: u128 + u64 varints */
#define READ_SLACK	64		/* readable bytes after a run block */
#define INSERTION_MAX	32		/* radix buckets this small: insertion sort */
#define TICK_EVERY	(64 * 1024)
#define ZLEVEL		1
#define ESORT_MIN_MEM	(256 * 1024)
#define ESORT_ZLEVEL	(-1)		/* stores random blocks, see above */

static void	(*tick_fn)(void *);
static void	*tick_arg;
static size_t	 tick_count;

void
spill_set_tick(void (*fn)(void *), void *arg)
{
	tick_fn = fn;
	tick_arg = arg;
}

/* Account n items of work; call the tick function every TICK_EVERY. */
static inline void
tick(size_t n)
{
	tick_count += n;
	if (tick_count >= TICK_EVERY) {
		tick_count = 0;
		if (tick_fn != NULL)
			tick_fn(tick_arg);
	}
}

/*
 * Large buffers straight from mmap: resident only once touched, returned
 * to the system when unmapped.  Huge pages (where enabled) make the first
 * touch of a 64 MiB buffer 12% cheaper overall and never exceed the map.
 */
static void *
map_alloc(size_t len)
{
	void *p;

	p = mmap(NULL, len, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		fatal(EXIT_IO, "out of memory mapping %zu bytes", len);
	(void)madvise(p, len, MADV_HUGEPAGE);
	return p;
}

static void
map_free(void *p, size_t len)
{
	if (p != NULL)
		munmap(p, len);
}

/* ---- temporary files -------------------------------------------------- */

struct tmpf {
	int		 fd;
	uint64_t	 end;		/* bytes appended so far */
	const char	*dir;		/* for messages; owned by the caller */
};

static void __attribute__((noreturn))
tmp_fail(const char *dir)
{
	fatal(EXIT_IO, "cannot write temporary file in %s: %s", dir,
	    strerror(errno));
}

static void __attribute__((noreturn))
tmp_corrupt(const char *dir)
{
	fatal(EXIT_IO, "corrupt temporary file in %s", dir);
}

/* A temporary file with no name, or mkstemp's, unlinked at once. */
static int
tmp_create(const char *dir)
{
	const char *force = getenv("PSI_STREAM_TMPFILE");
	char *path;
	size_t len;
	int fd, e;

#ifdef O_TMPFILE
	if (force == NULL || strcmp(force, "mkstemp") != 0) {
		fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
		if (fd != -1)
			return fd;
		if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
			tmp_fail(dir);
	}
#endif
	len = strlen(dir) + sizeof("/psi-stream.XXXXXX");
	path = xmalloc(len);
	snprintf(path, len, "%s/psi-stream.XXXXXX", dir);
	if ((fd = mkostemp(path, O_CLOEXEC)) == -1)
		tmp_fail(dir);
	if (unlink(path) == -1) {
		e = errno;
		close(fd);
		errno = e;
		tmp_fail(dir);
	}
	free(path);
	return fd;
}

static void
tmp_open(struct tmpf *t, const char *dir)
{
	t->fd = tmp_create(dir);
	t->end = 0;
	t->dir = dir;
}

static void
tmp_close(struct tmpf *t)
{
	if (t->fd != -1)
		close(t->fd);
	t->fd = -1;
}

static void
tmp_append(struct tmpf *t, const uint8_t *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = pwrite(t->fd, p, len, (off_t)t->end);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = ENOSPC;
			tmp_fail(t->dir);
		}
		p += n;
		len -= (size_t)n;
		t->end += (uint64_t)n;
	}
}

static void
tmp_read(struct tmpf *t, uint8_t *p, size_t len, uint64_t off)
{
	ssize_t n;

	while (len > 0) {
		n = pread(t->fd, p, len, (off_t)off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			fatal(EXIT_IO, "cannot read temporary file in %s: %s",
			    t->dir, strerror(errno));
		if (n == 0)
			tmp_corrupt(t->dir);
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
}

/* Give back the disk space of [off, off+len); best effort. */
static void
tmp_punch(struct tmpf *t, uint64_t off, uint64_t len)
{
#ifdef FALLOC_FL_PUNCH_HOLE
	if (len > 0)
		(void)fallocate(t->fd, FALLOC_FL_PUNCH_HOLE |
		    FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len);
#endif
}

/* ---- blocks: u32 zlen, u32 rawlen, zstd frame -------------------------- */

static void
put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint32_t
get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

/* Bytes of a compressed-block buffer for blocks of blk raw bytes. */
static size_t
zbuf_size(size_t blk)
{
	return BLOCK_HDR + ZSTD_compressBound(blk);
}

static size_t
cctx_size(int level, size_t blk)
{
	return ZSTD_estimateCCtxSize_usingCParams(ZSTD_getCParams(level,
	    blk, 0));
}

static void
zcheck(size_t r)
{
	if (ZSTD_isError(r))
		fatal(EXIT_IO, "zstd: %s", ZSTD_getErrorName(r));
}

/* A compression context whose size is cctx_size(level, blk), not more. */
static ZSTD_CCtx *
cctx_new(int level, size_t blk)
{
	ZSTD_compressionParameters cp = ZSTD_getCParams(level, blk, 0);
	ZSTD_CCtx *c;

	if ((c = ZSTD_createCCtx()) == NULL)
		fatal(EXIT_IO, "out of memory for a zstd context");
	zcheck(ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level));
	zcheck(ZSTD_CCtx_setParameter(c, ZSTD_c_windowLog, cp.windowLog));
	zcheck(ZSTD_CCtx_setParameter(c, ZSTD_c_hashLog, cp.hashLog));
	zcheck(ZSTD_CCtx_setParameter(c, ZSTD_c_chainLog, cp.chainLog));
	zcheck(ZSTD_CCtx_setParameter(c, ZSTD_c_searchLog, cp.searchLog));
	zcheck(ZSTD_CCtx_setParameter(c, ZSTD_c_minMatch, cp.minMatch));
	zcheck(ZSTD_CCtx_setParameter(c, ZSTD_c_targetLength,
	    cp.targetLength));
	zcheck(ZSTD_CCtx_setParameter(c, ZSTD_c_strategy, cp.strategy));
	zcheck(ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1));
	return c;
}

static ZSTD_DCtx *
dctx_new(void)
{
	ZSTD_DCtx *d;

	if ((d = ZSTD_createDCtx()) == NULL)
		fatal(EXIT_IO, "out of memory for a zstd context");
	return d;
}

/* Compress raw[0..len) into zbuf and append it to t as one block. */
static void
block_put(struct tmpf *t, ZSTD_CCtx *c, const uint8_t *raw, size_t len,
    uint8_t *zbuf, size_t zcap)
{
	size_t z;

	z = ZSTD_compress2(c, zbuf + BLOCK_HDR, zcap - BLOCK_HDR, raw, len);
	zcheck(z);
	put_le32(zbuf, (uint32_t)z);
	put_le32(zbuf + 4, (uint32_t)len);
	tmp_append(t, zbuf, BLOCK_HDR + z);
}

/*
 * Read the block at off (which must end by end) into raw, checking
 * everything; return the offset of the next block.
 */
static uint64_t
block_get(struct tmpf *t, ZSTD_DCtx *d, uint64_t off, uint64_t end,
    uint8_t *raw, size_t rawcap, uint8_t *zbuf, size_t zcap, size_t *len)
{
	uint32_t zlen, rawlen;
	size_t r;

	if (end < off || end - off < BLOCK_HDR)
		tmp_corrupt(t->dir);
	tmp_read(t, zbuf, BLOCK_HDR, off);
	zlen = get_le32(zbuf);
	rawlen = get_le32(zbuf + 4);
	if (zlen > zcap || zlen > end - off - BLOCK_HDR || rawlen == 0 ||
	    rawlen > rawcap)
		tmp_corrupt(t->dir);
	tmp_read(t, zbuf, zlen, off + BLOCK_HDR);
	r = ZSTD_decompressDCtx(d, raw, rawcap, zbuf, zlen);
	if (ZSTD_isError(r) || r != rawlen)
		tmp_corrupt(t->dir);
	*len = rawlen;
	return off + BLOCK_HDR + zlen;
}

/* ---- varints ----------------------------------------------------------- */

static inline uint8_t *
put_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)v | 0x80;
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

/* spread7 puts 56 bits in 8 varint bytes, 7 bits each; compact7 undoes it. */
static inline uint64_t
spread7(uint64_t x)
{
	x = (x & 0x000000000fffffffULL) | (x & 0x00fffffff0000000ULL) << 4;
	x = (x & 0x00003fff00003fffULL) | (x & 0x0fffc0000fffc000ULL) << 2;
	x = (x & 0x007f007f007f007fULL) | (x & 0x3f803f803f803f80ULL) << 1;
	return x;
}

static inline uint64_t
compact7(uint64_t x)
{
	x &= 0x7f7f7f7f7f7f7f7fULL;
	x = (x & 0x007f007f007f007fULL) | (x & 0x7f007f007f007f00ULL) >> 1;
	x = (x & 0x00003fff00003fffULL) | (x & 0x3fff00003fff0000ULL) >> 2;
	x = (x & 0x000000000fffffffULL) | (x & 0x0fffffff00000000ULL) >> 4;
	return x;
}

static inline uint64_t
load_le64(const uint8_t *p)
{
	uint64_t x;

	memcpy(&x, p, sizeof(x));
	return le64toh(x);
}

static inline uint8_t *
put_varint128(uint8_t *p, u128 v)
{
	uint64_t x;

	while ((v >> 56) != 0) {
		x = htole64(spread7((uint64_t)v & 0x00ffffffffffffffULL) |
		    0x8080808080808080ULL);
		memcpy(p, &x, sizeof(x));
		p += 8;
		v >>= 56;
	}
	return put_varint(p, (uint64_t)v);
}

/*
 * A varint of at most max bytes whose last byte is at most lastmax (19
 * and 3 for 128 bits, 10 and 1 for 64): NULL if it is longer or too big.
 * Reads up to 24 bytes from p whatever the varint's length: the caller's
 * buffer has READ_SLACK bytes after its end and checks the result.
 */
static inline const uint8_t *
get_varint_fast(const uint8_t *p, unsigned max, unsigned lastmax, u128 *v)
{
	u128 r = 0;
	uint64_t x, stop;
	unsigned i, n;

	for (i = 0; i < 3; i++) {
		x = load_le64(p + 8 * i);
		stop = ~x & 0x8080808080808080ULL;
		if (stop == 0) {
			r |= (u128)compact7(x) << (56 * i);
			continue;
		}
		n = 8 * i + (unsigned)__builtin_ctzll(stop) / 8 + 1;
		if (n > max || (n == max && p[n - 1] > lastmax))
			return NULL;
		x &= ~0ULL >> (56 - 8 * ((n - 1) % 8));
		*v = r | (u128)compact7(x) << (56 * i);
		return p + n;
	}
	return NULL;
}

/* NULL if the varint runs past pe or does not fit 64 bits. */
static inline const uint8_t *
get_varint(const uint8_t *p, const uint8_t *pe, uint64_t *v)
{
	uint64_t r = 0;
	unsigned sh;

	for (sh = 0; sh < 70; sh += 7) {
		if (p == pe || (sh == 63 && *p > 1))
			return NULL;
		r |= (uint64_t)(*p & 0x7f) << sh;
		if (*p++ < 0x80) {
			*v = r;
			return p;
		}
	}
	return NULL;
}

/* ---- record spill ------------------------------------------------------ */

struct recspill {
	char		*dir;
	struct tmpf	 tf;
	uint64_t	 count;		/* records added */
	uint64_t	 nread;		/* records returned since rewind */
	size_t		 maxlen;	/* longest record added */
	uint8_t		*raw;		/* RS_BLOCK bytes: block being built/read */
	uint8_t		*zbuf;		/* zbuf_size(RS_BLOCK) */
	size_t		 used;		/* bytes in raw, while adding */
	ZSTD_CCtx	*cctx;		/* while adding */
	ZSTD_DCtx	*dctx;		/* while reading */
	int		 reading;
	uint64_t	 off;		/* next block to read */
	const uint8_t	*p, *pe;	/* unread part of raw */
	uint8_t		*big;		/* last record longer than a block */
};

size_t
recspill_memory(void)
{
	size_t c = cctx_size(ZLEVEL, RS_BLOCK), d = ZSTD_estimateDCtxSize();

	return sizeof(struct recspill) + RS_BLOCK + zbuf_size(RS_BLOCK) +
	    (c > d ? c : d);
}

struct recspill *
recspill_new(const char *tmpdir)
{
	struct recspill *rs;

	rs = xcalloc(1, sizeof(*rs));
	rs->dir = xstrdup(tmpdir);
	tmp_open(&rs->tf, rs->dir);
	rs->raw = xmalloc(RS_BLOCK);
	rs->zbuf = xmalloc(zbuf_size(RS_BLOCK));
	return rs;
}

static void
rs_flush(struct recspill *rs)
{
	if (rs->used == 0)
		return;
	if (rs->cctx == NULL)
		rs->cctx = cctx_new(ZLEVEL, RS_BLOCK);
	block_put(&rs->tf, rs->cctx, rs->raw, rs->used, rs->zbuf,
	    zbuf_size(RS_BLOCK));
	rs->used = 0;
}

void
recspill_add(struct recspill *rs, const uint8_t *data, size_t len)
{
	uint8_t hdr[10];
	size_t hlen, n;

	if (rs->reading)
		fatal(EXIT_IO, "internal error: recspill_add after rewind");
	rs->count++;
	if (len > rs->maxlen)
		rs->maxlen = len;
	hlen = (size_t)(put_varint(hdr, len) - hdr);
	/* A record that fits in a block must not straddle two. */
	if (rs->used + hlen + len > RS_BLOCK)
		rs_flush(rs);
	memcpy(rs->raw + rs->used, hdr, hlen);
	rs->used += hlen;
	while (len > 0) {
		if (rs->used == RS_BLOCK)
			rs_flush(rs);
		n = RS_BLOCK - rs->used < len ? RS_BLOCK - rs->used : len;
		memcpy(rs->raw + rs->used, data, n);
		rs->used += n;
		data += n;
		len -= n;
	}
}

uint64_t
recspill_count(const struct recspill *rs)
{
	return rs->count;
}

void
recspill_rewind(struct recspill *rs)
{
	if (!rs->reading) {
		rs_flush(rs);
		ZSTD_freeCCtx(rs->cctx);
		rs->cctx = NULL;
		rs->dctx = dctx_new();
		rs->reading = 1;
	}
	free(rs->big);
	rs->big = NULL;
	rs->off = 0;
	rs->nread = 0;
	rs->p = rs->pe = NULL;
}

/* Decode the next block into raw; 0 at the end of the file. */
static int
rs_load(struct recspill *rs)
{
	size_t len;

	if (rs->off == rs->tf.end)
		return 0;
	rs->off = block_get(&rs->tf, rs->dctx, rs->off, rs->tf.end, rs->raw,
	    RS_BLOCK, rs->zbuf, zbuf_size(RS_BLOCK), &len);
	rs->p = rs->raw;
	rs->pe = rs->raw + len;
	return 1;
}

/* A record longer than what is left of the block: gather it. */
static const uint8_t *
rs_gather(struct recspill *rs, size_t len)
{
	size_t have = 0, n;

	rs->big = xmalloc(len);
	while (have < len) {
		if (rs->p == rs->pe && !rs_load(rs))
			tmp_corrupt(rs->dir);
		n = (size_t)(rs->pe - rs->p);
		if (n > len - have)
			n = len - have;
		memcpy(rs->big + have, rs->p, n);
		rs->p += n;
		have += n;
	}
	return rs->big;
}

int
recspill_next(struct recspill *rs, const uint8_t **data, size_t *len)
{
	uint64_t n;

	free(rs->big);
	rs->big = NULL;
	if (!rs->reading)
		fatal(EXIT_IO, "internal error: recspill_next before rewind");
	if (rs->p == rs->pe && !rs_load(rs)) {
		if (rs->nread != rs->count)
			tmp_corrupt(rs->dir);
		return 0;
	}
	if ((rs->p = get_varint(rs->p, rs->pe, &n)) == NULL ||
	    n > rs->maxlen || ++rs->nread > rs->count)
		tmp_corrupt(rs->dir);
	*len = (size_t)n;
	if (n <= (uint64_t)(rs->pe - rs->p)) {
		*data = rs->p;
		rs->p += n;
	} else
		*data = rs_gather(rs, (size_t)n);
	return 1;
}

void
recspill_free(struct recspill *rs)
{
	if (rs == NULL)
		return;
	tmp_close(&rs->tf);
	ZSTD_freeCCtx(rs->cctx);
	ZSTD_freeDCtx(rs->dctx);
	free(rs->big);
	free(rs->raw);
	free(rs->zbuf);
	free(rs->dir);
	free(rs);
}

/* ---- runs: what both sorters write and merge --------------------------- */

struct run {
	uint64_t	off, len;	/* bytes in the shared file */
	uint64_t	count;		/* items */
};

struct runtab {
	struct run	*run;
	size_t		 n, alloc;
	size_t		 head;		/* runs before it are merged away */
};

/* Raw bytes of a run block for budget mem: mem/256, a power of two. */
static size_t
run_block_size(size_t mem)
{
	size_t blk = SORT_BLK_MIN;

	while (blk < SORT_BLK_MAX && blk * 2 <= mem / 256)
		blk *= 2;
	return blk;
}

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
runtab_punch(const struct runtab *rt, struct tmpf *t, size_t first, size_t k)
{
	const struct run *a = &rt->run[first], *z = &rt->run[first + k - 1];

	tmp_punch(t, a->off, z->off + z->len - a->off);
}

/* ---- sorter: in-memory radix sort -------------------------------------- */

/* value high, value low, index: compared in that order */
struct pair {
	uint64_t	k[3];
};

#define KEY_BYTES	24

static inline int
pair_lt(const struct pair *a, const struct pair *b)
{
	if (a->k[0] != b->k[0])
		return a->k[0] < b->k[0];
	if (a->k[1] != b->k[1])
		return a->k[1] < b->k[1];
	return a->k[2] < b->k[2];
}

static void
insertion_sort(struct pair *a, size_t n)
{
	struct pair x;
	size_t i, j;

	for (i = 1; i < n; i++) {
		x = a[i];
		for (j = i; j > 0 && pair_lt(&x, &a[j - 1]); j--)
			a[j] = a[j - 1];
		a[j] = x;
	}
}

#define DIGIT(p, w, sh)	((size_t)((p)->k[w] >> (sh)) & 0xff)

/* Histogram of key byte d; 1 if every pair has the same byte there. */
static int
radix_count(const struct pair *a, size_t n, unsigned d, size_t cnt[256])
{
	unsigned w = d / 8, sh = 56 - 8 * (d % 8);
	size_t i;

	memset(cnt, 0, 256 * sizeof(cnt[0]));
	for (i = 0; i < n; i++)
		cnt[DIGIT(&a[i], w, sh)]++;
	tick(n);
	return cnt[DIGIT(&a[0], w, sh)] == n;
}

/* Stable distribution of src into dst by key byte d. */
static void
radix_scatter(const struct pair *src, struct pair *dst, size_t n,
    unsigned d, const size_t cnt[256])
{
	unsigned w = d / 8, sh = 56 - 8 * (d % 8);
	size_t pos[256], i, sum = 0;

	for (i = 0; i < 256; i++) {
		pos[i] = sum;
		sum += cnt[i];
	}
	for (i = 0; i < n; i++)
		dst[pos[DIGIT(&src[i], w, sh)]++] = src[i];
	tick(n);
}

static void sort_to(struct pair *, struct pair *, size_t, unsigned);

/*
 * Sort a[0..n), whose pairs agree on key bytes before d, in place, using
 * tmp as scratch.  sort_to is its twin that leaves the result in dst and
 * uses src as scratch; alternating the two saves copying back.
 */
static void
sort_in(struct pair *a, struct pair *tmp, size_t n, unsigned d)
{
	size_t cnt[256], b, off;

	for (;; d++) {
		if (n <= INSERTION_MAX) {
			insertion_sort(a, n);
			return;
		}
		if (d == KEY_BYTES)
			return;		/* all keys equal */
		if (!radix_count(a, n, d, cnt))
			break;
	}
	radix_scatter(a, tmp, n, d, cnt);
	for (b = 0, off = 0; b < 256; off += cnt[b++])
		if (cnt[b] > 0)
			sort_to(tmp + off, a + off, cnt[b], d + 1);
}

static void
sort_to(struct pair *src, struct pair *dst, size_t n, unsigned d)
{
	size_t cnt[256], b, off;

	for (;; d++) {
		if (n <= INSERTION_MAX || d == KEY_BYTES) {
			memcpy(dst, src, n * sizeof(*src));
			insertion_sort(dst, n);	/* linear if all equal */
			return;
		}
		if (!radix_count(src, n, d, cnt))
			break;
	}
	radix_scatter(src, dst, n, d, cnt);
	for (b = 0, off = 0; b < 256; off += cnt[b++])
		if (cnt[b] > 0)
			sort_in(dst + off, src + off, cnt[b], d + 1);
}

/* ---- sorter: state ----------------------------------------------------- */

/* One run being merged: its current block, decoded lazily. */
struct reader {
	const uint8_t	*p, *pe;	/* unread part of raw */
	uint8_t		*raw;		/* blk bytes in the arena */
	uint64_t	 off, end;	/* next block; end of the run */
	uint64_t	 left;		/* pairs the run still owes */
	u128		 prev;		/* last value of this block */
};

/* Heap entry: a run's current pair, kept here for locality. */
struct hent {
	u128		 v;
	uint64_t	 idx;
	size_t		 r;		/* reader */
};

enum { S_ADD, S_MEM, S_MERGE };

struct sorter {
	char		*dir;
	int		 state;
	size_t		 blk;		/* raw bytes per run block */
	size_t		 maxpairs;	/* pairs the buffer holds */
	size_t		 fan_mid;	/* runs per intermediate merge */
	size_t		 fan_fin;	/* runs in the final merge */
	uint64_t	 count;		/* pairs added */

	struct pair	*buf;		/* maxpairs, mmap'ed at first add */
	struct pair	*scratch;	/* maxpairs, for the radix sort */
	size_t		 cap;		/* 0 until buf exists and after finish */
	size_t		 n;		/* pairs in buf */
	size_t		 pos;		/* next pair to return (S_MEM) */

	struct tmpf	 tf;		/* fd -1 until the first run */
	struct runtab	 rt;
	unsigned	 nspilled;	/* runs written from the buffer */

	/* writer of runs */
	ZSTD_CCtx	*cctx;
	uint8_t		*wraw, *wzbuf;
	size_t		 wused;
	u128		 wprev;
	uint64_t	 wstart, wpairs;

	/* merge */
	ZSTD_DCtx	*dctx;
	uint8_t		*rzbuf;		/* one compressed block, shared */
	uint8_t		*arena;		/* nslots * blk */
	size_t		 nslots;
	struct reader	*rd;
	struct hent	*heap;
	size_t		 nheap;
};

static size_t
pagesz(size_t n)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);

	return (n + pg - 1) / pg * pg;
}

size_t
sorter_min_memory(void)
{
	return SORTER_MIN_MEM;
}

/* The budget split of the header comment. */
static void
sorter_plan(struct sorter *s, size_t mem)
{
	size_t avail, wsz, rsz, per;

	s->blk = run_block_size(mem);
	wsz = cctx_size(ZLEVEL, s->blk) + s->blk + zbuf_size(s->blk);
	rsz = ZSTD_estimateDCtxSize() + zbuf_size(s->blk);
	per = s->blk + READ_SLACK + sizeof(struct reader) + sizeof(struct hent);
	avail = mem - SORTER_SLACK - sizeof(struct sorter);
	if (avail < wsz + rsz + 2 * per)
		fatal(EXIT_USAGE, "memory budget too small: %zu bytes", mem);
	s->maxpairs = (avail - wsz) / (2 * sizeof(struct pair));
	s->fan_mid = (avail - wsz - rsz) / per;
	s->fan_fin = (avail - rsz) / per;
}

struct sorter *
sorter_new(const char *tmpdir, size_t mem)
{
	struct sorter *s;

	if (mem < SORTER_MIN_MEM)
		fatal(EXIT_USAGE, "memory budget too small: %zu bytes for a "
		    "sorter, at least %zu needed", mem, (size_t)SORTER_MIN_MEM);
	s = xcalloc(1, sizeof(*s));
	s->dir = xstrdup(tmpdir);
	s->tf.fd = -1;
	s->tf.dir = s->dir;
	sorter_plan(s, mem);
	return s;
}

uint64_t
sorter_count(const struct sorter *s)
{
	return s->count;
}

unsigned
sorter_runs(const struct sorter *s)
{
	return s->nspilled;
}

/* ---- sorter: writing runs ---------------------------------------------- */

static void
rw_begin(struct sorter *s)
{
	if (s->tf.fd == -1)
		tmp_open(&s->tf, s->dir);
	if (s->cctx == NULL) {
		s->cctx = cctx_new(ZLEVEL, s->blk);
		s->wraw = xmalloc(s->blk);
		s->wzbuf = xmalloc(zbuf_size(s->blk));
	}
	s->wstart = s->tf.end;
	s->wused = 0;
	s->wprev = 0;
	s->wpairs = 0;
}

static void
rw_flush(struct sorter *s)
{
	block_put(&s->tf, s->cctx, s->wraw, s->wused, s->wzbuf,
	    zbuf_size(s->blk));
	s->wused = 0;
	s->wprev = 0;
}

static inline void
rw_put(struct sorter *s, u128 v, uint64_t idx)
{
	uint8_t *q;

	if (s->wused > s->blk - PAIR_MAX)
		rw_flush(s);
	q = put_varint128(s->wraw + s->wused, v - s->wprev);
	q = put_varint(q, idx);
	s->wused = (size_t)(q - s->wraw);
	s->wprev = v;
	s->wpairs++;
	tick(1);
}

static void
rw_end(struct sorter *s)
{
	if (s->wused > 0)
		rw_flush(s);
	runtab_add(&s->rt, s->wstart, s->tf.end - s->wstart, s->wpairs);
}

static void
rw_free(struct sorter *s)
{
	ZSTD_freeCCtx(s->cctx);
	s->cctx = NULL;
	free(s->wraw);
	free(s->wzbuf);
	s->wraw = s->wzbuf = NULL;
}

/* Sort the buffer and write it out as one run. */
static void
spill_buffer(struct sorter *s)
{
	const struct pair *p;
	size_t i;

	sort_in(s->buf, s->scratch, s->n, 0);
	rw_begin(s);
	for (i = 0, p = s->buf; i < s->n; i++, p++)
		rw_put(s, (u128)p->k[0] << 64 | p->k[1], p->k[2]);
	rw_end(s);
	s->n = 0;
	s->nspilled++;
}

/* Slow path of sorter_add: map the buffer, or empty it into a run. */
static void
sorter_full(struct sorter *s)
{
	if (s->state != S_ADD)
		fatal(EXIT_IO, "internal error: sorter_add after "
		    "sorter_finish");
	if (s->buf == NULL) {
		s->buf = map_alloc(pagesz(s->maxpairs * sizeof(struct pair)));
		s->scratch = map_alloc(pagesz(s->maxpairs *
		    sizeof(struct pair)));
		s->cap = s->maxpairs;
	} else
		spill_buffer(s);
}

void
sorter_add(struct sorter *s, u128 value, uint64_t index)
{
	struct pair *p;

	if (s->n >= s->cap)
		sorter_full(s);
	p = &s->buf[s->n++];
	p->k[0] = (uint64_t)(value >> 64);
	p->k[1] = (uint64_t)value;
	p->k[2] = index;
	s->count++;
}

static void
unmap_buffers(struct sorter *s)
{
	size_t len = pagesz(s->maxpairs * sizeof(struct pair));

	map_free(s->buf, len);
	map_free(s->scratch, len);
	s->buf = s->scratch = NULL;
}

/* ---- sorter: merging --------------------------------------------------- */

static void
reader_init(struct reader *r, const struct run *run, uint8_t *raw)
{
	r->raw = raw;
	r->p = r->pe = raw;
	r->off = run->off;
	r->end = run->off + run->len;
	r->left = run->count;
	r->prev = 0;
}

/* Decode the run's next pair; 0 when the run is over. */
static inline int
reader_next(struct sorter *s, struct reader *r, u128 *v, uint64_t *idx)
{
	u128 d, ix;
	size_t len;

	if (r->p == r->pe) {
		if (r->off == r->end) {
			if (r->left != 0)
				tmp_corrupt(s->dir);
			return 0;
		}
		r->off = block_get(&s->tf, s->dctx, r->off, r->end, r->raw,
		    s->blk, s->rzbuf, zbuf_size(s->blk), &len);
		r->p = r->raw;
		r->pe = r->raw + len;
		r->prev = 0;
	}
	if ((r->p = get_varint_fast(r->p, 19, 3, &d)) == NULL ||
	    (r->p = get_varint_fast(r->p, 10, 1, &ix)) == NULL ||
	    r->p > r->pe || r->prev + d < r->prev || r->left-- == 0)
		tmp_corrupt(s->dir);
	*idx = (uint64_t)ix;
	*v = r->prev += d;
	return 1;
}

static inline int
hent_lt(const struct hent *a, const struct hent *b)
{
	return a->v < b->v || (a->v == b->v && a->idx < b->idx);
}

static inline void
sift_down(struct hent *h, size_t n, size_t i)
{
	struct hent x = h[i];
	size_t c;

	while ((c = 2 * i + 1) < n) {
		if (c + 1 < n && hent_lt(&h[c + 1], &h[c]))
			c++;
		if (!hent_lt(&h[c], &x))
			break;
		h[i] = h[c];
		i = c;
	}
	h[i] = x;
}

/* Start merging runs[first..first+k): prime one pair per run. */
static void
merge_open(struct sorter *s, size_t first, size_t k)
{
	struct hent *h;
	size_t i;

	s->nheap = 0;
	for (i = 0; i < k; i++) {
		reader_init(&s->rd[i], &s->rt.run[first + i],
		    s->arena + i * (s->blk + READ_SLACK));
		h = &s->heap[s->nheap];
		h->r = i;
		if (reader_next(s, &s->rd[i], &h->v, &h->idx))
			s->nheap++;
	}
	for (i = s->nheap / 2; i-- > 0;)
		sift_down(s->heap, s->nheap, i);
}

static inline int
merge_pop(struct sorter *s, u128 *v, uint64_t *idx)
{
	struct hent *top = &s->heap[0];

	if (s->nheap == 0)
		return 0;
	*v = top->v;
	*idx = top->idx;
	if (!reader_next(s, &s->rd[top->r], &top->v, &top->idx)) {
		*top = s->heap[--s->nheap];
		if (s->nheap == 0)
			return 1;
	}
	sift_down(s->heap, s->nheap, 0);
	return 1;
}

/* Merge runs[first..first+k) into a new run at the end of the file. */
static void
merge_runs(struct sorter *s, size_t first, size_t k)
{
	u128 v;
	uint64_t idx;

	merge_open(s, first, k);
	rw_begin(s);
	while (merge_pop(s, &v, &idx))
		rw_put(s, v, idx);
	rw_end(s);
	runtab_punch(&s->rt, &s->tf, first, k);
}

/* Buffers for the readers, sized for the widest merge ahead. */
static void
merge_alloc(struct sorter *s)
{
	size_t live = runtab_live(&s->rt);

	s->nslots = live < s->fan_fin ? live : s->fan_fin;
	s->dctx = dctx_new();
	s->rzbuf = xmalloc(zbuf_size(s->blk));
	s->arena = map_alloc(pagesz(s->nslots * (s->blk + READ_SLACK)));
	s->rd = xcalloc(s->nslots, sizeof(*s->rd));
	s->heap = xcalloc(s->nslots, sizeof(*s->heap));
}

/* Intermediate merges, oldest runs first, until fan_fin runs are left. */
static void
merge_down(struct sorter *s)
{
	size_t k;

	while ((k = runtab_next_merge(&s->rt, s->fan_mid, s->fan_fin)) > 0) {
		merge_runs(s, s->rt.head, k);
		s->rt.head += k;
	}
}

void
sorter_finish(struct sorter *s)
{
	if (s->state != S_ADD)
		fatal(EXIT_IO, "internal error: sorter_finish called twice");
	s->cap = 0;
	if (s->nspilled == 0) {
		if (s->n > 0)
			sort_in(s->buf, s->scratch, s->n, 0);
		map_free(s->scratch, pagesz(s->maxpairs * sizeof(struct pair)));
		s->scratch = NULL;
		s->pos = 0;
		s->state = S_MEM;
		return;
	}
	if (s->n > 0)
		spill_buffer(s);
	unmap_buffers(s);
	merge_alloc(s);
	merge_down(s);
	rw_free(s);
	vlog(2, "sorter: %u runs, %zu intermediate merges, final merge of %zu",
	    s->nspilled, s->rt.n - s->nspilled, runtab_live(&s->rt));
	merge_open(s, s->rt.head, runtab_live(&s->rt));
	s->state = S_MERGE;
}

int
sorter_next(struct sorter *s, u128 *value, uint64_t *index)
{
	const struct pair *p;

	if (s->state == S_MERGE)
		return merge_pop(s, value, index);
	if (s->state != S_MEM)
		fatal(EXIT_IO, "internal error: sorter_next before "
		    "sorter_finish");
	if (s->pos == s->n)
		return 0;
	p = &s->buf[s->pos++];
	*value = (u128)p->k[0] << 64 | p->k[1];
	*index = p->k[2];
	return 1;
}

void
sorter_free(struct sorter *s)
{
	if (s == NULL)
		return;
	unmap_buffers(s);
	map_free(s->arena, pagesz(s->nslots * (s->blk + READ_SLACK)));
	rw_free(s);
	ZSTD_freeDCtx(s->dctx);
	free(s->rzbuf);
	free(s->rd);
	free(s->heap);
	free(s->rt.run);
	tmp_close(&s->tf);
	free(s->dir);
	free(s);
}

/* ---- esort: in-memory sort of 32-byte elements ------------------------- */

#define EL		32		/* bytes an element */

struct el {
	uint8_t		b[EL];
};

/* The first 8 bytes as a number that orders like memcmp. */
static inline uint64_t
el_key(const uint8_t *p)
{
	uint64_t x;

	memcpy(&x, p, sizeof(x));
	return be64toh(x);
}

/* a[0..n) agree on the bytes before d. */
static void
el_insertion_sort(struct el *a, size_t n, unsigned d)
{
	struct el x;
	size_t i, j;

	for (i = 1; i < n; i++) {
		x = a[i];
		for (j = i; j > 0; j--) {
			if (memcmp(x.b + d, a[j - 1].b + d, EL - d) >= 0)
				break;
			a[j] = a[j - 1];
		}
		a[j] = x;
	}
}

/*
 * Sort a[0..n), whose elements agree on the bytes before d, in place: an
 * American flag sort on byte d (count, then cycle every element into its
 * bucket), then each bucket on byte d + 1.  A byte every element shares is
 * skipped after one counting pass.
 */
static void
el_sort(struct el *a, size_t n, unsigned d)
{
	size_t start[257], next[256], i, b;
	struct el x, y;
	unsigned c;

	for (;; d++) {
		if (n <= INSERTION_MAX) {
			el_insertion_sort(a, n, d);
			return;
		}
		if (d == EL)
			return;		/* all equal */
		memset(start, 0, sizeof(start));
		for (i = 0; i < n; i++)
			start[a[i].b[d] + 1]++;
		tick(n);
		if (start[a[0].b[d] + 1] != n)
			break;
	}
	for (b = 0; b < 256; b++) {
		start[b + 1] += start[b];
		next[b] = start[b];
	}
	for (b = 0; b < 256; b++) {
		while (next[b] < start[b + 1]) {
			x = a[next[b]];
			while ((c = x.b[d]) != b) {
				y = a[next[c]];
				a[next[c]++] = x;
				x = y;
			}
			a[next[b]++] = x;
		}
	}
	tick(n);
	for (b = 0; b < 256; b++)
		if (start[b + 1] - start[b] > 1)
			el_sort(a + start[b], start[b + 1] - start[b], d + 1);
}

/* ---- esort: state ------------------------------------------------------ */

/* One run being merged: its current block. */
struct ereader {
	const uint8_t	*p, *pe;	/* unread part of raw */
	uint8_t		*raw;		/* blk bytes in the arena */
	uint64_t	 off, end;	/* next block; end of the run */
	uint64_t	 left;		/* elements the run still owes */
};

/* Heap entry: a run's current element and its first 8 bytes. */
struct eent {
	uint64_t	 key;
	const uint8_t	*p;		/* in its reader's block */
	size_t		 r;		/* reader */
};

struct esort {
	char		*dir;
	int		 state;		/* S_ADD, S_MEM, S_MERGE */
	int		 unique;
	size_t		 blk;		/* raw bytes per run block */
	size_t		 maxel;		/* elements the buffer holds */
	size_t		 fan_mid;	/* runs per intermediate merge */
	size_t		 fan_fin;	/* runs in the final merge */
	uint64_t	 count;		/* elements added */

	struct el	*buf;		/* maxel, mmap'ed at the first add */
	size_t		 cap;		/* 0 before buf and after finish */
	size_t		 n;		/* elements in buf */
	size_t		 pos;		/* next element to return (S_MEM) */

	struct tmpf	 tf;		/* fd -1 until the first run */
	struct runtab	 rt;
	unsigned	 nspilled;	/* runs written from the buffer */

	/* writer of runs */
	ZSTD_CCtx	*cctx;
	uint8_t		*wzbuf;		/* one compressed block */
	uint8_t		*wraw;		/* blk bytes, for merges only */
	size_t		 wn;		/* elements in wraw */
	uint64_t	 wstart, wcount;

	/* merge */
	ZSTD_DCtx	*dctx;
	uint8_t		*rzbuf;		/* one compressed block, shared */
	uint8_t		*arena;		/* nslots * blk */
	size_t		 nslots;
	struct ereader	*rd;
	struct eent	*heap;
	size_t		 nheap;

	/* with unique: the last element kept by the current merge */
	uint8_t		 last[EL];
	int		 have_last;
};

size_t
esort_min_memory(void)
{
	return ESORT_MIN_MEM;
}

/* The budget split of the header comment. */
static void
esort_plan(struct esort *e, size_t mem)
{
	size_t avail, wsz, rsz, per;

	e->blk = run_block_size(mem);
	wsz = cctx_size(ESORT_ZLEVEL, e->blk) + zbuf_size(e->blk);
	rsz = ZSTD_estimateDCtxSize() + zbuf_size(e->blk);
	per = e->blk + sizeof(struct ereader) + sizeof(struct eent);
	avail = mem - SORTER_SLACK - sizeof(struct esort);
	if (avail < wsz + e->blk + rsz + 2 * per)
		fatal(EXIT_USAGE, "memory budget too small: %zu bytes", mem);
	e->maxel = (avail - wsz) / EL;
	e->fan_mid = (avail - wsz - e->blk - rsz) / per;
	e->fan_fin = (avail - rsz) / per;
}

struct esort *
esort_new(const char *tmpdir, size_t mem)
{
	struct esort *e;

	if (mem < ESORT_MIN_MEM)
		fatal(EXIT_USAGE, "memory budget too small: %zu bytes for a "
		    "sorter, at least %zu needed", mem, (size_t)ESORT_MIN_MEM);
	e = xcalloc(1, sizeof(*e));
	e->dir = xstrdup(tmpdir);
	e->tf.fd = -1;
	e->tf.dir = e->dir;
	esort_plan(e, mem);
	return e;
}

uint64_t
esort_count(const struct esort *e)
{
	return e->count;
}

unsigned
esort_runs(const struct esort *e)
{
	return e->nspilled;
}

/* With unique: 1 if el repeats the last element kept, else keep it. */
static inline int
repeat(struct esort *e, const uint8_t *el)
{
	if (!e->unique)
		return 0;
	if (e->have_last && memcmp(e->last, el, EL) == 0)
		return 1;
	memcpy(e->last, el, EL);
	e->have_last = 1;
	return 0;
}

/* ---- esort: writing runs ----------------------------------------------- */

static void
ew_begin(struct esort *e)
{
	if (e->tf.fd == -1)
		tmp_open(&e->tf, e->dir);
	if (e->cctx == NULL) {
		e->cctx = cctx_new(ESORT_ZLEVEL, e->blk);
		e->wzbuf = xmalloc(zbuf_size(e->blk));
	}
	e->wstart = e->tf.end;
	e->wcount = 0;
	e->wn = 0;
}

/* Append n elements at p to the run as one block. */
static void
ew_block(struct esort *e, const uint8_t *p, size_t n)
{
	block_put(&e->tf, e->cctx, p, n * EL, e->wzbuf, zbuf_size(e->blk));
	e->wcount += n;
	tick(n);
}

/* Append one element through wraw (merges). */
static inline void
ew_put(struct esort *e, const uint8_t *el)
{
	memcpy(e->wraw + e->wn * EL, el, EL);
	if (++e->wn == e->blk / EL) {
		ew_block(e, e->wraw, e->wn);
		e->wn = 0;
	}
}

static void
ew_end(struct esort *e)
{
	if (e->wn > 0)
		ew_block(e, e->wraw, e->wn);
	e->wn = 0;
	runtab_add(&e->rt, e->wstart, e->tf.end - e->wstart, e->wcount);
}

static void
ew_free(struct esort *e)
{
	ZSTD_freeCCtx(e->cctx);
	e->cctx = NULL;
	free(e->wzbuf);
	free(e->wraw);
	e->wzbuf = e->wraw = NULL;
}

/* Sort the buffer and write it out as one run, straight from the buffer. */
static void
espill_buffer(struct esort *e)
{
	size_t per = e->blk / EL, i, k;

	el_sort(e->buf, e->n, 0);
	ew_begin(e);
	for (i = 0; i < e->n; i += k) {
		k = e->n - i < per ? e->n - i : per;
		ew_block(e, e->buf[i].b, k);
	}
	ew_end(e);
	e->n = 0;
	e->nspilled++;
}

static size_t
ebuf_len(const struct esort *e)
{
	return pagesz(e->maxel * sizeof(struct el));
}

/* Slow path of esort_add: map the buffer, or empty it into a run. */
static void
esort_full(struct esort *e)
{
	if (e->state != S_ADD)
		fatal(EXIT_IO, "internal error: esort_add after esort_finish");
	if (e->buf == NULL) {
		e->buf = map_alloc(ebuf_len(e));
		e->cap = e->maxel;
	} else
		espill_buffer(e);
}

void
esort_add(struct esort *e, const uint8_t elem[32])
{
	if (e->n >= e->cap)
		esort_full(e);
	memcpy(e->buf[e->n++].b, elem, EL);
	e->count++;
}

/* ---- esort: merging ---------------------------------------------------- */

/* The run's next element, valid until the next call; NULL at its end. */
static inline const uint8_t *
ereader_next(struct esort *e, struct ereader *r)
{
	size_t len;

	if (r->p == r->pe) {
		if (r->off == r->end) {
			if (r->left != 0)
				tmp_corrupt(e->dir);
			return NULL;
		}
		r->off = block_get(&e->tf, e->dctx, r->off, r->end, r->raw,
		    e->blk, e->rzbuf, zbuf_size(e->blk), &len);
		if (len % EL != 0 || len / EL > r->left)
			tmp_corrupt(e->dir);
		r->p = r->raw;
		r->pe = r->raw + len;
	}
	r->left--;
	r->p += EL;
	return r->p - EL;
}

static inline int
eent_lt(const struct eent *a, const struct eent *b)
{
	if (a->key != b->key)
		return a->key < b->key;
	return memcmp(a->p + 8, b->p + 8, EL - 8) < 0;
}

static inline void
esift_down(struct eent *h, size_t n, size_t i)
{
	struct eent x = h[i];
	size_t c;

	while ((c = 2 * i + 1) < n) {
		if (c + 1 < n && eent_lt(&h[c + 1], &h[c]))
			c++;
		if (!eent_lt(&h[c], &x))
			break;
		h[i] = h[c];
		i = c;
	}
	h[i] = x;
}

/* Start merging runs[first..first+k): one element per run in the heap. */
static void
emerge_open(struct esort *e, size_t first, size_t k)
{
	const struct run *run;
	struct ereader *r;
	struct eent *h;
	size_t i;

	e->nheap = 0;
	e->have_last = 0;
	for (i = 0; i < k; i++) {
		run = &e->rt.run[first + i];
		r = &e->rd[i];
		r->raw = e->arena + i * e->blk;
		r->p = r->pe = r->raw;
		r->off = run->off;
		r->end = run->off + run->len;
		r->left = run->count;
		h = &e->heap[e->nheap];
		h->r = i;
		if ((h->p = ereader_next(e, r)) != NULL) {
			h->key = el_key(h->p);
			e->nheap++;
		}
	}
	for (i = e->nheap / 2; i-- > 0;)
		esift_down(e->heap, e->nheap, i);
}

/* Copy the smallest element to out and advance its run; 0 at the end. */
static inline int
emerge_pop(struct esort *e, uint8_t *out)
{
	struct eent *top = &e->heap[0];

	if (e->nheap == 0)
		return 0;
	memcpy(out, top->p, EL);
	if ((top->p = ereader_next(e, &e->rd[top->r])) == NULL) {
		*top = e->heap[--e->nheap];
		if (e->nheap == 0)
			return 1;
	} else
		top->key = el_key(top->p);
	esift_down(e->heap, e->nheap, 0);
	return 1;
}

/* Merge runs[first..first+k) into a new run at the end of the file. */
static void
emerge_runs(struct esort *e, size_t first, size_t k)
{
	uint8_t el[EL];

	emerge_open(e, first, k);
	ew_begin(e);
	while (emerge_pop(e, el))
		if (!repeat(e, el))
			ew_put(e, el);
	ew_end(e);
	runtab_punch(&e->rt, &e->tf, first, k);
}

/* Buffers for the readers, sized for the widest merge ahead. */
static void
emerge_alloc(struct esort *e)
{
	size_t live = runtab_live(&e->rt);

	e->nslots = live < e->fan_fin ? live : e->fan_fin;
	e->dctx = dctx_new();
	e->rzbuf = xmalloc(zbuf_size(e->blk));
	e->arena = map_alloc(pagesz(e->nslots * e->blk));
	e->rd = xcalloc(e->nslots, sizeof(*e->rd));
	e->heap = xcalloc(e->nslots, sizeof(*e->heap));
}

/* Intermediate merges, oldest runs first, until fan_fin runs are left. */
static void
emerge_down(struct esort *e)
{
	size_t k;

	while ((k = runtab_next_merge(&e->rt, e->fan_mid, e->fan_fin)) > 0) {
		if (e->wraw == NULL)
			e->wraw = xmalloc(e->blk);
		emerge_runs(e, e->rt.head, k);
		e->rt.head += k;
	}
}

void
esort_finish(struct esort *e, int unique)
{
	if (e->state != S_ADD)
		fatal(EXIT_IO, "internal error: esort_finish called twice");
	e->unique = unique;
	e->have_last = 0;
	e->cap = 0;
	if (e->nspilled == 0) {
		if (e->n > 0)
			el_sort(e->buf, e->n, 0);
		e->pos = 0;
		e->state = S_MEM;
		return;
	}
	if (e->n > 0)
		espill_buffer(e);
	map_free(e->buf, ebuf_len(e));
	e->buf = NULL;
	emerge_alloc(e);
	emerge_down(e);
	ew_free(e);
	vlog(2, "esort: %u runs, %zu intermediate merges, final merge of %zu",
	    e->nspilled, e->rt.n - e->nspilled, runtab_live(&e->rt));
	emerge_open(e, e->rt.head, runtab_live(&e->rt));
	e->state = S_MERGE;
}

int
esort_next(struct esort *e, uint8_t elem[32])
{
	if (e->state == S_MERGE) {
		do {
			if (!emerge_pop(e, elem))
				return 0;
		} while (repeat(e, elem));
		return 1;
	}
	if (e->state != S_MEM)
		fatal(EXIT_IO, "internal error: esort_next before "
		    "esort_finish");
	do {
		if (e->pos == e->n)
			return 0;
		memcpy(elem, e->buf[e->pos++].b, EL);
	} while (repeat(e, elem));
	return 1;
}

void
esort_free(struct esort *e)
{
	if (e == NULL)
		return;
	map_free(e->buf, ebuf_len(e));
	map_free(e->arena, pagesz(e->nslots * e->blk));
	ew_free(e);
	ZSTD_freeDCtx(e->dctx);
	free(e->rzbuf);
	free(e->rd);
	free(e->heap);
	free(e->rt.run);
	tmp_close(&e->tf);
	free(e->dir);
	free(e);
}
