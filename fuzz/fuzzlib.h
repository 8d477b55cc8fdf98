/*
 * fuzzlib.h: what the fuzz targets share: surviving fatal(), temporary
 * files, and splitting one input into pieces.
 *
 * psi-stream's parsers end the process on bad input: fatal() prints one
 * line and _exit()s with the status of DESIGN section 5.  That is right for
 * the program and useless for a fuzzer, which must go on to the next input.
 * The targets are therefore linked with `ld --wrap` for fatal_told and
 * fatal_errno_told (fatal() and fatal_errno() are macros over them)
 * and the resource functions the modules call (see FUZZ_WRAP in
 * Makefile.am).  fuzz_run() calls a function with every resource it takes
 * tracked; if it reaches fatal(), control comes back to fuzz_run() by
 * longjmp, which releases what the abandoned call still held (memory,
 * secure memory, mappings, FILEs, zstd contexts, then any file
 * descriptor opened since fuzz_init) and returns the exit status fatal()
 * was given.  Nothing
 * in src/ changes for this: the wrapped references are the undefined ones
 * in the modules' object files, and util.c keeps its own.
 *
 * Limits: resources taken by libraries behind our back (libsodium, zstd
 * internals) are not tracked, and no worker threads may be running when
 * fatal() is called (the session target runs with one thread).
 */
#ifndef PSI_FUZZLIB_H
#define PSI_FUZZLIB_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Once per process: libsodium, quiet logging, read(2) input (no ring to
 * leak), a private temporary directory removed at exit. */
void	fuzz_init(void);
/* Run fn(arg).  Returns 0 if it returned, else the status fatal() got. */
int	fuzz_run(void (*fn)(void *), void *arg);
/* The message of the last fatal() caught. */
const char *fuzz_last_error(void);
/* Keep this descriptor open across a caught fatal() (the target's own). */
void	fuzz_keep_fd(int fd);
void	fuzz_unkeep_fd(int fd);

/* Write data to NAME in the temporary directory (mode given); returns
 * the path, valid until the next call with the same name. */
const char *fuzz_file(const char *name, const uint8_t *data, size_t len,
	    mode_t mode);
const char *fuzz_dir(void);

/*
 * A scripted peer on a socketpair: returns the target's end in *fd; a
 * thread writes wire[0..len) to the other end, shuts it for writing, then
 * reads and drops whatever the target sends until the target's end is
 * closed.  fuzz_peer_end() joins it, after the target closed its end.
 */
struct fuzz_peer;
struct fuzz_peer *fuzz_peer_start(const uint8_t *wire, size_t len, int *fd);
void	fuzz_peer_end(struct fuzz_peer *);

/* A growing byte buffer for building wire images. */
struct fuzz_buf {
	uint8_t		*p;
	size_t		 len, cap;
};
void	fuzz_buf_add(struct fuzz_buf *, const void *, size_t);
/* Append pt[0..len) as one Noise transport message encrypted with c: a
 * 2-byte length prefix (prefix instead of the true length if fake_len),
 * then the ciphertext.  What a peer's channel would put on the wire. */
struct noise_cipher;
void	fuzz_add_frame(struct fuzz_buf *, struct noise_cipher *c,
	    const uint8_t *pt, size_t len, int fake_len, uint16_t prefix);

/* A cursor over the input: take bytes from the front. */
struct fuzz_in {
	const uint8_t	*p;
	size_t		 left;
};
uint8_t	fuzz_u8(struct fuzz_in *);		/* 0 when empty */
uint16_t fuzz_u16(struct fuzz_in *);		/* big-endian, 0 when short */
/* Up to n bytes; *got says how many. */
const uint8_t *fuzz_bytes(struct fuzz_in *, size_t n, size_t *got);

#endif
