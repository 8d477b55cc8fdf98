/*
 * source.h: byte streams from files or stdin.
 *
 * A source reads one FILE argument ("-" is stdin) through io_uring
 * (liburing): regular files with several large reads in flight at
 * increasing offsets, pipes/ttys/sockets with one read in flight.  If the
 * ring cannot be set up (ENOSYS, EPERM, EINVAL, ENOMEM...) or
 * PSI_STREAM_IO=read is set, plain read(2) is used instead.
 * A stream starting with the zstd magic is decompressed on the fly with a
 * capped window; gzip, xz, bzip2 and lz4 are refused with a hint to pipe
 * through zcat, xzcat, bzcat or lz4cat (source_format() is the one place
 * that tells them apart).  Errors are fatal (exit 2) with a one-line
 * message naming the file.
 */
#ifndef PSI_SOURCE_H
#define PSI_SOURCE_H

#include <stddef.h>
#include <stdint.h>

struct source;

/* What the first bytes of a stream say it is (source_format()). */
enum {
	SRC_PLAIN, SRC_ZSTD,		/* read */
	SRC_BINARY,			/* a NUL byte where records end at '\n' */
	SRC_UTF16,			/* a UTF-16 byte order mark, ditto */
	SRC_GZIP, SRC_XZ, SRC_BZIP2, SRC_LZ4	/* compressed: refused */
};
/* Bytes of a (decompressed) stream looked at for a NUL. */
#define SOURCE_SNIFF	4096u

/* The format of a stream that starts with p[0..n): at least the first 10
 * bytes are needed to tell every format apart.  With text set (records
 * end at newlines), a UTF-16 byte order mark makes it SRC_UTF16 and a
 * NUL in the first SOURCE_SNIFF bytes of a plain stream SRC_BINARY. */
int	source_format(const uint8_t *p, size_t n, int text);

/* Opens path ("-" = stdin): zstd is decompressed, SRC_GZIP and above are
 * refused (exit 2, naming the file and the tool to pipe it through). */
struct source *source_open(const char *path);
/* The same, and SRC_BINARY and SRC_UTF16 are refused too (pointing to -z,
 * iconv); for a zstd
 * stream the first decompressed chunk is checked, at the first
 * source_next(). */
struct source *source_open_text(const char *path);
/* The bytes [off, off + len) of the regular file path, as they are: no
 * zstd or gzip detection (the caller knows the file is plain). */
struct source *source_open_range(const char *path, uint64_t off,
	    uint64_t len);
/* Next chunk of (decompressed) bytes; *buf stays valid until the next call.
 * Returns 1 with *len > 0, or 0 at end of stream. */
int	source_next(struct source *, const uint8_t **buf, size_t *len);
/* The memory budget (--memory), less the engine's reserve, for every
 * source opened after the call: a zstd frame may use a window of the
 * largest power of two up to a quarter of memory - reserve (2^10..2^31);
 * one that needs more is refused at open (first frame) or when it starts
 * (exit 2, naming the file, the window and the --memory that would read
 * it).  Without a call, or after a call with memory 0, the cap is 2^27. */
void	source_set_memory(uint64_t memory, uint64_t reserve);
/* The most a zstd decoder holds under that cap, window and buffers; 0
 * after source_expect_zstd(0). */
uint64_t source_window_memory(void);
/* The run's pre-flight: whether an input may be zstd (one was, or stdin
 * is read, which it cannot look at).  With 0 no memory is kept for a
 * decoder, and a later zstd stream is refused (exit 2).  Default 1. */
void	source_expect_zstd(int);
/* 1 if the source is being decompressed from zstd. */
int	source_is_zstd(const struct source *);
/* The name used in messages ("stdin" for "-"). */
const char *source_name(const struct source *);
/* Size in bytes if a regular uncompressed file, else 0 (for progress). */
uint64_t source_size(const struct source *);
void	source_close(struct source *);
/* fn(n) is called for every n raw bytes (before decompression) a source
 * hands out, from the thread reading; NULL turns it off.  For progress. */
void	source_on_read(void (*fn)(size_t n));
/* fn(arg) is called about every 0.25 s while a source waits for a pipe,
 * terminal or socket to give data, from the thread reading; NULL turns
 * it off.  The run sends keepalives from it, so a producer that pauses
 * does not time out the peer. */
void	source_on_idle(void (*fn)(void *), void *arg);
/* 1 if io_uring is used for reading (after the first source_open). */
int	source_uses_uring(void);

#endif
