/*
 * spillfile.h: what every bounded-memory object of the spill family
 * (recspill.h, sorter.h, esort.h) stands on: temporary files that never
 * outlive the process, the compressed block format they hold, zstd
 * contexts of a size known in advance, large buffers straight from mmap,
 * and the heartbeat for long local work.  DESIGN section 2.
 *
 * TEMPORARY FILES
 *
 *	sf_open, (sf_append | sf_read | sf_punch)..., sf_close
 *
 * Each object owns at most one temporary file, opened with O_TMPFILE in
 * the directory it was given, so the file has no name from the start and
 * nothing can be left behind, not even after kill -9.  Where the file
 * system lacks O_TMPFILE (open fails with EOPNOTSUPP, EISDIR or EINVAL)
 * the file is made with mkostemp and unlinked at once.  Setting
 * PSI_STREAM_TMPFILE=mkstemp forces that fallback, so tests cover both.
 * Failing to create the file is fatal (EXIT_IO, "cannot create temporary
 * file in DIR: reason"), so is a failed write ("cannot write temporary
 * file in DIR", ENOSPC included) or read; a block that does not read back
 * exactly as written is fatal too ("corrupt temporary file in DIR").
 * Files are appended to only; sf_punch gives back the disk space of a
 * range already consumed, where the file system allows it.
 *
 * Every byte appended to any temporary file is counted for --stats
 * (spill_bytes_written()).
 *
 * BLOCKS
 *
 *	u32 zlen, u32 rawlen (little-endian), then a zstd frame of zlen
 *	bytes holding rawlen bytes, with zstd's content checksum; or, with
 *	bit 31 of zlen set (stored), the rawlen bytes themselves and a u64
 *	check of them (zlen = rawlen + 8).
 *
 * Blocks are compressed one at a time with one zstd context per object,
 * made when the first block is written and freed when writing is over;
 * its parameters are fixed by the level and the block size, so its size
 * is known in advance (sf_cctx_size, ZSTD_estimateCCtxSize_usingCParams)
 * and counted in the objects' budgets.  A block that zstd shrinks by less
 * than 1/SF_RAW_GAIN is stored instead, and so are the SF_RAW_SKIP blocks
 * after it without trying: sorted runs of pseudo-random values do not
 * compress, and trying cost a tenth of the holder's time.  A compressed
 * block of raw size blk needs sf_zbuf_size(blk) bytes, a stored one fits
 * there too.

 * HEARTBEAT
 *
 * spill_set_heartbeat's function is called about every HEARTBEAT_EVERY
 * items of local work done inside the spill family (sorting, writing
 * runs, intermediate merges) so the caller can send keepalives; loops
 * over sorter_next, esort_next and recspill_next belong to the caller,
 * which keeps its peer alive there itself.
 */
#ifndef PSI_SPILLFILE_H
#define PSI_SPILLFILE_H

#include <stddef.h>
#include <stdint.h>

#include <zstd.h>

#define BLOCK_HDR	8		/* u32 zlen, u32 rawlen */
#define BLOCK_SUM	8		/* u64 check after a stored block */
#define BLOCK_STORED	0x80000000u	/* in zlen: not compressed */
#define SF_RAW_GAIN	8		/* compress if it saves 1/8 or more */
#define SF_RAW_SKIP	15		/* blocks stored untried after one */
#define HEARTBEAT_EVERY	(64 * 1024)

/* fn(arg) about every HEARTBEAT_EVERY items of local work; NULL: none. */
void	spill_set_heartbeat(void (*fn)(void *), void *arg);

/* Bytes appended to temporary files by this process so far (--stats). */
uint64_t spill_bytes_written(void);

/* Account n items of work: inline, since the sorters call it per item. */
extern size_t spill_heartbeat_count;
void	spill_heartbeat_fire(void);

static inline void
spill_heartbeat(size_t n)
{
	spill_heartbeat_count += n;
	if (spill_heartbeat_count >= HEARTBEAT_EVERY)
		spill_heartbeat_fire();
}

struct spillfile {
	int		 fd;		/* -1 while closed */
	unsigned	 raw_left;	/* blocks to store without trying */
	uint64_t	 end;		/* bytes appended so far */
	const char	*dir;		/* for messages; owned by the caller */
};

void	sf_open(struct spillfile *, const char *dir);
void	sf_close(struct spillfile *);
void	sf_append(struct spillfile *, const uint8_t *p, size_t len);
void	sf_read(struct spillfile *, uint8_t *p, size_t len, uint64_t off);
/* Give back the disk space of [off, off+len); best effort. */
void	sf_punch(struct spillfile *, uint64_t off, uint64_t len);
/* "corrupt temporary file in DIR", exit 2. */
void	sf_corrupt(const char *dir) __attribute__((noreturn));

/* Bytes of a compressed-block buffer for blocks of blk raw bytes. */
size_t	sf_zbuf_size(size_t blk);
/* Bytes of a compression context for level and blocks of blk. */
size_t	sf_cctx_size(int level, size_t blk);
/* A compression context whose size is sf_cctx_size(level, blk). */
ZSTD_CCtx *sf_cctx_new(int level, size_t blk);
ZSTD_DCtx *sf_dctx_new(void);
/* Compress raw[0..len) into zbuf (zcap bytes), append it as one block. */
void	sf_block_put(struct spillfile *, ZSTD_CCtx *, const uint8_t *raw,
	    size_t len, uint8_t *zbuf, size_t zcap);
/* Read the block at off (which must end by end) into raw, checking
 * everything; its raw length in *len; return the next block's offset. */
uint64_t sf_block_get(struct spillfile *, ZSTD_DCtx *, uint64_t off,
	    uint64_t end, uint8_t *raw, size_t rawcap, uint8_t *zbuf,
	    size_t zcap, size_t *len);

/* len rounded up to whole pages. */
size_t	sf_pagesz(size_t len);
/* Large buffers from mmap: resident only once touched, returned to the
 * system when unmapped.  Out of memory: fatal, exit 2. */
void	*sf_map_alloc(size_t len);
void	sf_map_free(void *, size_t len);	/* NULL: nothing */

#endif
