/*
 * spillfile.c: temporary files, the block format, zstd contexts, large
 * mapped buffers and the heartbeat of the spill family.  The contract
 * (what is created where, what fails with which message and exit status)
 * is in spillfile.h.
 *
 * Memory: a struct spillfile is three words; a file costs a descriptor.
 * The zstd contexts and mapped buffers made here belong to the caller,
 * which counts them in its budget (sf_cctx_size, sf_zbuf_size).
 */
#define ZSTD_STATIC_LINKING_ONLY	/* ZSTD_estimate*, ZSTD_getCParams */

#include <sys/mman.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zstd.h>

#include "bytes.h"
#include "spillfile.h"
#include "util.h"

/* ---- heartbeat --------------------------------------------------------- */

static void	(*heartbeat_fn)(void *);
static void	*heartbeat_arg;
size_t		 spill_heartbeat_count;

void
spill_set_heartbeat(void (*fn)(void *), void *arg)
{
	heartbeat_fn = fn;
	heartbeat_arg = arg;
}

void
spill_heartbeat_fire(void)
{
	spill_heartbeat_count = 0;
	if (heartbeat_fn != NULL)
		heartbeat_fn(heartbeat_arg);
}

/* ---- large buffers ----------------------------------------------------- */

size_t
sf_pagesz(size_t n)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);

	return (n + pg - 1) / pg * pg;
}

/*
 * Plain pages, no MADV_HUGEPAGE: on a virtual machine whose host takes
 * back free guest memory (virtio-balloon free page reporting), the first
 * touch of a huge page the host has taken back costs about 4 ms (0.5 GB/s
 * of first touch against 3 GB/s for 4 KiB pages), and memory freed a
 * second or two earlier, by the previous run, is taken back.  Huge pages
 * win only while the host still backs them (24 GB/s); the OT engine's
 * 10^6 run lost 0.15-0.2 s to them, the 10^7 run gains nothing from them.
 */
void *
sf_map_alloc(size_t len)
{
	void *p;

	p = mmap(NULL, len, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		fatal_memory("out of memory mapping %zu bytes", len);
	return p;
}

void
sf_map_free(void *p, size_t len)
{
	if (p != NULL)
		munmap(p, len);
}

/* ---- temporary files -------------------------------------------------- */

/* Read by --stats from any thread, so atomic; added to once a block. */
static uint64_t written;

uint64_t
spill_bytes_written(void)
{
	return __atomic_load_n(&written, __ATOMIC_RELAXED);
}

/* What the peer hears of a failed temporary file: a full disk, or not. */
static const char *
temp_told(int e)
{
	return e == ENOSPC || e == EDQUOT ? TOLD_TEMP_FULL : TOLD_TEMP;
}

static void __attribute__((noreturn))
create_fail(const char *dir)
{
	fatal_told(EXIT_IO, temp_told(errno), "cannot create temporary file "
	    "in %s: %s", dir, strerror(errno));
}

static void __attribute__((noreturn))
write_fail(const char *dir)
{
	fatal_told(EXIT_IO, temp_told(errno), "cannot write temporary file "
	    "in %s: %s", dir, strerror(errno));
}

void
sf_corrupt(const char *dir)
{
	fatal_told(EXIT_IO, TOLD_TEMP, "corrupt temporary file in %s", dir);
}

/* A temporary file with no name, or mkostemp's, unlinked at once. */
static int
create(const char *dir)
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
			create_fail(dir);
	}
#endif
	len = strlen(dir) + sizeof("/psi-stream.XXXXXX");
	path = xmalloc(len);
	snprintf(path, len, "%s/psi-stream.XXXXXX", dir);
	if ((fd = mkostemp(path, O_CLOEXEC)) == -1)
		create_fail(dir);
	if (unlink(path) == -1) {
		e = errno;
		close(fd);
		errno = e;
		create_fail(dir);
	}
	free(path);
	return fd;
}

void
sf_open(struct spillfile *f, const char *dir)
{
	f->fd = create(dir);
	f->raw_left = 0;
	f->end = 0;
	f->dir = dir;
}

void
sf_close(struct spillfile *f)
{
	if (f->fd != -1)
		close(f->fd);
	f->fd = -1;
}

void
sf_append(struct spillfile *f, const uint8_t *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = pwrite(f->fd, p, len, (off_t)f->end);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = ENOSPC;
			write_fail(f->dir);
		}
		p += n;
		len -= (size_t)n;
		f->end += (uint64_t)n;
		__atomic_fetch_add(&written, (uint64_t)n, __ATOMIC_RELAXED);
	}
}

void
sf_read(struct spillfile *f, uint8_t *p, size_t len, uint64_t off)
{
	ssize_t n;

	while (len > 0) {
		n = pread(f->fd, p, len, (off_t)off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			fatal_told(EXIT_IO, TOLD_TEMP, "cannot read temporary "
			    "file in %s: %s", f->dir, strerror(errno));
		if (n == 0)
			sf_corrupt(f->dir);
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
}

void
sf_punch(struct spillfile *f, uint64_t off, uint64_t len)
{
#ifdef FALLOC_FL_PUNCH_HOLE
	if (len > 0)
		(void)fallocate(f->fd, FALLOC_FL_PUNCH_HOLE |
		    FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len);
#endif
}

/* ---- blocks: u32 zlen, u32 rawlen, zstd frame -------------------------- */

size_t
sf_zbuf_size(size_t blk)
{
	size_t z = ZSTD_compressBound(blk);

	return BLOCK_HDR + (z > blk + BLOCK_SUM ? z : blk + BLOCK_SUM);
}

size_t
sf_cctx_size(int level, size_t blk)
{
	return ZSTD_estimateCCtxSize_usingCParams(ZSTD_getCParams(level,
	    blk, 0));
}

static void
zcheck(size_t r)
{
	if (ZSTD_isError(r))
		fatal_told(EXIT_IO, TOLD_TEMP, "zstd: %s",
		    ZSTD_getErrorName(r));
}

ZSTD_CCtx *
sf_cctx_new(int level, size_t blk)
{
	ZSTD_compressionParameters cp = ZSTD_getCParams(level, blk, 0);
	ZSTD_CCtx *c;

	if ((c = ZSTD_createCCtx()) == NULL)
		fatal_memory("out of memory for a zstd context");
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

ZSTD_DCtx *
sf_dctx_new(void)
{
	ZSTD_DCtx *d;

	if ((d = ZSTD_createDCtx()) == NULL)
		fatal_memory("out of memory for a zstd context");
	return d;
}

/*
 * The check of a stored block: four lanes of 64-bit multiply-rotate over
 * its words, folded with its length.  It catches what zstd's checksum
 * catches in a compressed block (a flipped bit, a torn or stale block);
 * nobody forges a temporary file, so it need not be a MAC.
 */
#define SUM_P1	0x9e3779b185ebca87ULL
#define SUM_P2	0xc2b2ae3d27d4eb4fULL

static inline uint64_t
sum_round(uint64_t acc, uint64_t w)
{
	acc += w * SUM_P2;
	acc = acc << 31 | acc >> 33;
	return acc * SUM_P1;
}

static uint64_t
block_sum(const uint8_t *p, size_t len)
{
	uint64_t a[4] = { SUM_P1, SUM_P2, ~SUM_P1, ~SUM_P2 }, h;
	uint8_t tail[32] = { 0 };
	size_t i, n = len / 32 * 32;
	int k;

	for (i = 0; i < n; i += 32)
		for (k = 0; k < 4; k++)
			a[k] = sum_round(a[k], load_le64(p + i + 8 * k));
	memcpy(tail, p + n, len - n);
	for (k = 0; k < 4; k++)
		a[k] = sum_round(a[k], load_le64(tail + 8 * k));
	h = (uint64_t)len;
	for (k = 0; k < 4; k++)
		h = sum_round(h ^ a[k], a[k] >> 29);
	return h ^ h >> 32;
}

void
sf_block_put(struct spillfile *f, ZSTD_CCtx *c, const uint8_t *raw,
    size_t len, uint8_t *zbuf, size_t zcap)
{
	size_t z;

	if (zcap < BLOCK_HDR + len + BLOCK_SUM)
		bug("a block of %zu bytes does not fit its buffer", len);
	if (f->raw_left > 0)
		f->raw_left--;
	else {
		z = ZSTD_compress2(c, zbuf + BLOCK_HDR, zcap - BLOCK_HDR, raw,
		    len);
		zcheck(z);
		if (z < len - len / SF_RAW_GAIN) {
			put_le32(zbuf, (uint32_t)z);
			put_le32(zbuf + 4, (uint32_t)len);
			sf_append(f, zbuf, BLOCK_HDR + z);
			return;
		}
		f->raw_left = SF_RAW_SKIP;
	}
	put_le32(zbuf, (uint32_t)(len + BLOCK_SUM) | BLOCK_STORED);
	put_le32(zbuf + 4, (uint32_t)len);
	memcpy(zbuf + BLOCK_HDR, raw, len);
	store_le64(zbuf + BLOCK_HDR + len, block_sum(raw, len));
	sf_append(f, zbuf, BLOCK_HDR + len + BLOCK_SUM);
}

uint64_t
sf_block_get(struct spillfile *f, ZSTD_DCtx *d, uint64_t off, uint64_t end,
    uint8_t *raw, size_t rawcap, uint8_t *zbuf, size_t zcap, size_t *len)
{
	uint32_t zlen, rawlen;
	int stored;
	size_t r;

	if (end < off || end - off < BLOCK_HDR)
		sf_corrupt(f->dir);
	sf_read(f, zbuf, BLOCK_HDR, off);
	zlen = get_le32(zbuf);
	rawlen = get_le32(zbuf + 4);
	stored = (zlen & BLOCK_STORED) != 0;
	zlen &= ~BLOCK_STORED;
	if (zlen > zcap || zlen > end - off - BLOCK_HDR || rawlen == 0 ||
	    rawlen > rawcap || (stored && zlen != rawlen + BLOCK_SUM))
		sf_corrupt(f->dir);
	sf_read(f, zbuf, zlen, off + BLOCK_HDR);
	if (stored) {
		memcpy(raw, zbuf, rawlen);
		if (load_le64(zbuf + rawlen) != block_sum(raw, rawlen))
			sf_corrupt(f->dir);
	} else {
		r = ZSTD_decompressDCtx(d, raw, rawcap, zbuf, zlen);
		if (ZSTD_isError(r) || r != rawlen)
			sf_corrupt(f->dir);
	}
	*len = rawlen;
	return off + BLOCK_HDR + zlen;
}
