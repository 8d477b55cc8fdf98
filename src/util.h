/*
 * util.h: allocation wrappers that never return NULL, one-line error
 * reporting with the exit statuses of DESIGN section 5, verbosity-levelled
 * logging, and size/number parsing.  Everything here is process-wide state
 * set up once by main.c.
 */
#ifndef PSI_UTIL_H
#define PSI_UTIL_H

#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>

/* Exit statuses (DESIGN section 5; documented in psi-stream(1)). */
enum {
	EXIT_OK = 0,
	EXIT_USAGE = 1,		/* usage or configuration error */
	EXIT_IO = 2,		/* local I/O: input, output, temporary files */
	EXIT_NET = 3,		/* cannot bind/connect, timeout, connection lost */
	EXIT_AUTH = 4,		/* authentication failed */
	EXIT_PROTO = 5,		/* incompatible peer or protocol violation */
	EXIT_PEER = 6,		/* the peer reported an error and aborted */
	EXIT_BUG = 7		/* internal error: a bug in psi-stream (bug()) */
};

/*
 * The one table of exit statuses (util.c): what each means, as --help,
 * the --stats "error" default and the man page's EXIT STATUS say it
 * (tests/man.sh checks the page against it), and the fixed, class-level
 * reason an ERROR frame tells the peer: never a path, a record number or
 * errno text, and nothing at all for 3 and 6 (the peer is gone or knows).
 * The last entry has status -1.
 */
struct exit_meaning {
	int		 status;
	const char	*meaning;	/* "local I/O error" */
	const char	*told;		/* to the peer; NULL: nothing is sent */
};
extern const struct exit_meaning exit_meanings[];
/* The meaning of a status ("killed by a signal" above 128). */
const char *exit_meaning(int status);
/* What the peer is told about it, NULL if nothing. */
const char *exit_told(int status);

extern int verbosity;		/* 0 quiet, 1 default, 2+ verbose */

/*
 * Finer classes than a status gives, for fatal_told(): what an ERROR frame
 * tells the peer when knowing it helps the peer's operator (is it our
 * input, our output or our disk?), still without a path or errno text.
 */
#define TOLD_INPUT	"input error"
#define TOLD_OUTPUT	"output error"
#define TOLD_TEMP	"temporary file error"
#define TOLD_TEMP_FULL	"out of temporary space"
#define TOLD_MEMORY	"out of memory"

/* Called by fatal() before exit: tears down temporary files, tells the
 * peer.  told: what the peer is told, never NULL for a status that tells
 * (exit_told), NULL for one that does not. */
typedef void (*fatal_hook_fn)(int status, const char *told, const char *msg);
void	set_fatal_hook(fatal_hook_fn);

/* The run is ending normally, and its teardown must not race the fatal
 * path: after this call, fatal() on another thread (the signal thread)
 * waits for the process to exit, and on this one prints its line and
 * exits without the hook.  If another thread is failing already, this
 * waits for it to end the process. */
void	fatal_claim_end(void);

/*
 * The result going into place (output_commit) must not race a signal:
 * otherwise a run could exit 143 with its -o file in place, and a cron
 * job would take a complete result for a failed one.  The commit runs
 * between result_commit_begin() and result_commit_end(); the signal thread
 * asks result_may_interrupt() first, which returns 1 (and keeps the
 * commit out for good: the caller then ends the process) while nothing is
 * in place, or 0 once it is: the signal is then ignored and the run
 * finishes normally, exit 0.
 */
void	result_commit_begin(void);
void	result_commit_end(void);
int	result_may_interrupt(void);

/* "psi-stream: <msg>" on stderr, then exit(status).  Never returns.  The
 * peer is told told (a TOLD_ class, or a fixed string of the same kind),
 * or with NULL the status's class (exit_told); told is ignored for a
 * status that tells nothing (3, 6). */
void	fatal_told(int status, const char *told, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4), noreturn));
/* Same, with ": strerror(errno)" appended. */
void	fatal_errno_told(int status, const char *told, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4), noreturn));
/* The two with the status's own class. */
#define fatal(status, ...)	fatal_told(status, NULL, __VA_ARGS__)
#define fatal_errno(status, ...) fatal_errno_told(status, NULL, __VA_ARGS__)
/* An internal error, a bug: "internal error: <msg>", exit EXIT_BUG. */
void	bug(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
/* The exit-2 classes by name. */
#define fatal_input(...)	fatal_told(EXIT_IO, TOLD_INPUT, __VA_ARGS__)
#define fatal_input_errno(...)	fatal_errno_told(EXIT_IO, TOLD_INPUT, __VA_ARGS__)
#define fatal_output_errno(...)	fatal_errno_told(EXIT_IO, TOLD_OUTPUT, __VA_ARGS__)
#define fatal_memory(...)	fatal_told(EXIT_IO, TOLD_MEMORY, __VA_ARGS__)
/* "psi-stream: <msg>" on stderr if verbosity >= level, after erasing the
 * --progress line; warnx_ is level 1 (hidden by -q). */
void	vlog(int level, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
#define warnx_(...)	vlog(1, __VA_ARGS__)

void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);
/* snprintf into a fresh xmalloc'd string. */
char	*xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* sodium_malloc that never returns NULL (exit 2: out of locked memory). */
void	*xsodium_malloc(size_t);

/* "256M" -> bytes; K M G T suffixes (powers of 1024).  -1 on error. */
int	parse_size(const char *, uint64_t *);
/* The other way: bytes -> "256M" (the largest suffix that is exact). */
void	fmt_size(char *buf, size_t len, uint64_t v);
/* Whole number in [lo, hi]; -1 on error. */
int	parse_uint(const char *, uint64_t lo, uint64_t hi, uint64_t *);

/* Write all of buf to fd, retrying on EINTR and short writes.  0 or -1. */
int	write_all(int fd, const void *buf, size_t len);
/* Read len bytes into buf (pread_full: from offset off), retrying on EINTR
 * and short reads.  The count read, less than len only at end of file;
 * -1 on an error, errno set. */
ssize_t	read_full(int fd, void *buf, size_t len);
ssize_t	pread_full(int fd, void *buf, size_t len, uint64_t off);

/* Text from a peer or a file, for a terminal: printable ASCII as is,
 * every other byte (controls, DEL, all of UTF-8, so no C1 or bidi
 * controls either) and '\\' as \xNN.  out gets at most cap - 1
 * characters and a NUL; an escape is never cut.  Returns strlen(out). */
size_t	safe_text(char *out, size_t cap, const void *in, size_t len);

void	hex_encode(char *out, const uint8_t *in, size_t len);	/* out: 2*len+1 */
int	hex_decode(uint8_t *out, size_t outlen, const char *hex, size_t hexlen);

/* "-" as a file name: standard input (or output), as sort and zstd take
 * it.  The one test for it, so every command agrees. */
static inline int
is_stdio_path(const char *path)
{
	return path[0] == '-' && path[1] == '\0';
}

double	now_seconds(void);	/* monotonic clock */
unsigned current_umask(void);	/* the process umask, read once */

#endif
