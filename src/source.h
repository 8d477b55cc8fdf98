/*
 * source.h: byte streams from files or stdin.
 *
 * A source reads one FILE argument ("-" is stdin) through io_uring
 * (liburing): regular files with several large reads in flight at
 * increasing offsets, pipes/ttys/sockets with one read in flight.  If the
 * ring cannot be set up (ENOSYS, EPERM, EINVAL, ENOMEM...) or
 * PSI_STREAM_IO=read is set, plain read(2) is used instead.
 * A stream starting with the zstd magic is decompressed on the fly with a
 * capped window; a gzip magic is refused with a hint to use zcat.
 * Errors are fatal (exit 2) with a message naming the file.
 */
#ifndef PSI_SOURCE_H
#define PSI_SOURCE_H

#include <stddef.h>
#include <stdint.h>

struct source;

struct source *source_open(const char *path);
/* The bytes [off, off + len) of the regular file path, as they are: no
 * zstd or gzip detection (the caller knows the file is plain). */
struct source *source_open_range(const char *path, uint64_t off,
	    uint64_t len);
/* Next chunk of (decompressed) bytes; *buf stays valid until the next call.
 * Returns 1 with *len > 0, or 0 at end of stream. */
int	source_next(struct source *, const uint8_t **buf, size_t *len);
/* The name used in messages ("stdin" for "-"). */
const char *source_name(const struct source *);
/* Size in bytes if a regular uncompressed file, else 0 (for progress). */
uint64_t source_size(const struct source *);
void	source_close(struct source *);
/* fn(n) is called for every n raw bytes (before decompression) a source
 * hands out, from the thread reading; NULL turns it off.  For progress. */
void	source_on_read(void (*fn)(size_t n));
/* 1 if io_uring is used for reading (after the first source_open). */
int	source_uses_uring(void);

#endif
