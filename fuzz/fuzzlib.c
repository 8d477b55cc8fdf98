/*
 * fuzzlib.c: fatal() that returns, resource tracking, temporary files and
 * input cursors for the fuzz targets (see fuzzlib.h for why).
 *
 * The tracking table holds what was taken inside fuzz_run() and not yet
 * given back; it stays small (tens of entries), so it is a plain array
 * searched from the end.  Outside fuzz_run() the wrappers only pass calls
 * through.  A size overflow in an allocation request aborts: it would mean
 * input data reached an allocation size unchecked, which the fuzzer
 * should report rather than paper over.
 */
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>
#include <zstd.h>

#include "fuzzlib.h"
#include "noise.h"
#include "output.h"
#include "util.h"

/* ---- the wrapped functions' real versions ------------------------------ */

void	*__real_xmalloc(size_t);
void	*__real_xcalloc(size_t, size_t);
void	*__real_xreallocarray(void *, size_t, size_t);
char	*__real_xstrdup(const char *);
void	 __real_free(void *);
void	*__real_sodium_malloc(size_t);
void	 __real_sodium_free(void *);
FILE	*__real_fopen(const char *, const char *);
FILE	*__real_fdopen(int, const char *);
int	 __real_fclose(FILE *);
char	*__real_realpath(const char *, char *);
ZSTD_DCtx *__real_ZSTD_createDCtx(void);
size_t	 __real_ZSTD_freeDCtx(ZSTD_DCtx *);
ZSTD_CCtx *__real_ZSTD_createCCtx(void);
size_t	 __real_ZSTD_freeCCtx(ZSTD_CCtx *);
void	*__real_mmap(void *, size_t, int, int, int, off_t);
int	 __real_munmap(void *, size_t);

void	*__wrap_xmalloc(size_t);
void	*__wrap_xcalloc(size_t, size_t);
void	*__wrap_xreallocarray(void *, size_t, size_t);
char	*__wrap_xstrdup(const char *);
void	 __wrap_free(void *);
void	*__wrap_sodium_malloc(size_t);
void	 __wrap_sodium_free(void *);
FILE	*__wrap_fopen(const char *, const char *);
FILE	*__wrap_fdopen(int, const char *);
int	 __wrap_fclose(FILE *);
char	*__wrap_realpath(const char *, char *);
ZSTD_DCtx *__wrap_ZSTD_createDCtx(void);
size_t	 __wrap_ZSTD_freeDCtx(ZSTD_DCtx *);
ZSTD_CCtx *__wrap_ZSTD_createCCtx(void);
size_t	 __wrap_ZSTD_freeCCtx(ZSTD_CCtx *);
void	*__wrap_mmap(void *, size_t, int, int, int, off_t);
int	 __wrap_munmap(void *, size_t);
void	 __wrap_fatal_told(int, const char *, const char *, ...)
	    __attribute__((format(printf, 3, 4), noreturn));
void	 __wrap_fatal_errno_told(int, const char *, const char *, ...)
	    __attribute__((format(printf, 3, 4), noreturn));

/* ---- tracking ------------------------------------------------------------ */

enum { R_MEM, R_SECURE, R_FILE, R_ZSTD, R_ZSTDC, R_MAP };

struct res {
	void	*p;
	int	 kind;
	size_t	 len;		/* R_MAP */
};

#define FD_SCAN	1024

static struct res *res;
static size_t nres, rescap;
static int tracking;		/* inside fuzz_run() */
static jmp_buf catch_env;
static char last_error[1024];
static unsigned char fd_at_init[FD_SCAN];	/* open when fuzz_init ran */
static unsigned char fd_kept[FD_SCAN];
static int fd_top;		/* highest fd worth sweeping, exclusive */
static char *tmpdir;

static void
track(void *p, int kind)
{
	if (!tracking || p == NULL)
		return;
	if (nres == rescap) {
		rescap = rescap ? 2 * rescap : 64;
		res = realloc(res, rescap * sizeof(*res));
		if (res == NULL)
			abort();
	}
	res[nres].p = p;
	res[nres].kind = kind;
	res[nres].len = 0;
	nres++;
}

static void
untrack(void *p)
{
	if (!tracking || p == NULL)
		return;
	for (size_t i = nres; i-- > 0;)
		if (res[i].p == p) {
			res[i] = res[--nres];
			return;
		}
}

static void
overflow_check(size_t n, size_t sz)
{
	if (sz && n > SIZE_MAX / sz) {
		fprintf(stderr, "fuzzlib: allocation of %zu x %zu overflows\n",
		    n, sz);
		abort();
	}
}

void *
__wrap_xmalloc(size_t n)
{
	void *p = __real_xmalloc(n);

	track(p, R_MEM);
	return p;
}

void *
__wrap_xcalloc(size_t n, size_t sz)
{
	void *p;

	overflow_check(n, sz);
	p = __real_xcalloc(n, sz);
	track(p, R_MEM);
	return p;
}

void *
__wrap_xreallocarray(void *old, size_t n, size_t sz)
{
	void *p;

	overflow_check(n, sz);
	untrack(old);
	p = __real_xreallocarray(old, n, sz);
	track(p, R_MEM);
	return p;
}

char *
__wrap_xstrdup(const char *s)
{
	char *p = __real_xstrdup(s);

	track(p, R_MEM);
	return p;
}

void
__wrap_free(void *p)
{
	untrack(p);
	__real_free(p);
}

void *
__wrap_sodium_malloc(size_t n)
{
	void *p = __real_sodium_malloc(n);

	track(p, R_SECURE);
	return p;
}

void
__wrap_sodium_free(void *p)
{
	untrack(p);
	__real_sodium_free(p);
}

FILE *
__wrap_fopen(const char *path, const char *mode)
{
	FILE *f = __real_fopen(path, mode);

	track(f, R_FILE);
	return f;
}

FILE *
__wrap_fdopen(int fd, const char *mode)
{
	FILE *f = __real_fdopen(fd, mode);

	track(f, R_FILE);
	return f;
}

int
__wrap_fclose(FILE *f)
{
	untrack(f);
	return __real_fclose(f);
}

char *
__wrap_realpath(const char *path, char *resolved)
{
	char *p = __real_realpath(path, resolved);

	if (resolved == NULL)
		track(p, R_MEM);
	return p;
}

ZSTD_DCtx *
__wrap_ZSTD_createDCtx(void)
{
	ZSTD_DCtx *d = __real_ZSTD_createDCtx();

	track(d, R_ZSTD);
	return d;
}

size_t
__wrap_ZSTD_freeDCtx(ZSTD_DCtx *d)
{
	untrack(d);
	return __real_ZSTD_freeDCtx(d);
}

ZSTD_CCtx *
__wrap_ZSTD_createCCtx(void)
{
	ZSTD_CCtx *c = __real_ZSTD_createCCtx();

	track(c, R_ZSTDC);
	return c;
}

size_t
__wrap_ZSTD_freeCCtx(ZSTD_CCtx *c)
{
	untrack(c);
	return __real_ZSTD_freeCCtx(c);
}

/* Whole mappings only: the modules unmap what they mapped, in one go. */
void *
__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	void *p = __real_mmap(addr, len, prot, flags, fd, off);

	if (p != MAP_FAILED) {
		track(p, R_MAP);
		if (tracking)
			res[nres - 1].len = len;
	}
	return p;
}

int
__wrap_munmap(void *p, size_t len)
{
	untrack(p);
	return __real_munmap(p, len);
}

/* Give back everything the abandoned call held, newest first. */
static void
release_all(void)
{
	while (nres > 0) {
		struct res *r = &res[--nres];
		switch (r->kind) {
		case R_MEM: __real_free(r->p); break;
		case R_SECURE: __real_sodium_free(r->p); break;
		case R_FILE: __real_fclose(r->p); break;
		case R_ZSTD: __real_ZSTD_freeDCtx(r->p); break;
		case R_ZSTDC: __real_ZSTD_freeCCtx(r->p); break;
		case R_MAP: __real_munmap(r->p, r->len); break;
		}
	}
}

/* Close descriptors opened since fuzz_init that the target did not keep.
 * New descriptors take the lowest free numbers, so a window above the
 * highest known one catches them all. */
static void
sweep_fds(void)
{
	for (int fd = 3; fd < fd_top + 64 && fd < FD_SCAN; fd++)
		if (!fd_at_init[fd] && !fd_kept[fd] && fcntl(fd, F_GETFD) != -1)
			close(fd);
}

static void __attribute__((noreturn, format(printf, 3, 0)))
vcatch(int status, int errnum, const char *fmt, va_list ap)
{
	int n = vsnprintf(last_error, sizeof(last_error), fmt, ap);

	if (errnum && n >= 0 && (size_t)n < sizeof(last_error))
		snprintf(last_error + n, sizeof(last_error) - (size_t)n, ": %s",
		    strerror(errnum));
	if (!tracking) {
		/* not under fuzz_run(): the harness itself failed */
		fprintf(stderr, "fuzzlib: fatal outside fuzz_run: %s\n",
		    last_error);
		abort();
	}
	if (getenv("FUZZ_VERBOSE"))
		fprintf(stderr, "fuzzlib: fatal(%d): %s\n", status, last_error);
	longjmp(catch_env, status > 0 ? status : 255);
}

/* fatal() and fatal_errno() are macros over these two.  What the peer
 * would be told is not the harness's business. */
void
__wrap_fatal_told(int status, const char *told, const char *fmt, ...)
{
	va_list ap;

	(void)told;
	va_start(ap, fmt);
	vcatch(status, 0, fmt, ap);
}

void
__wrap_fatal_errno_told(int status, const char *told, const char *fmt, ...)
{
	va_list ap;
	int e = errno;

	(void)told;
	va_start(ap, fmt);
	vcatch(status, e, fmt, ap);
}

int
fuzz_run(void (*fn)(void *), void *arg)
{
	int status;

	if (tracking)
		abort();
	nres = 0;
	tracking = 1;
	status = setjmp(catch_env);
	if (status == 0) {
		fn(arg);
		/* anything still listed leaked: leave it to LeakSanitizer */
		tracking = 0;
		nres = 0;
		return 0;
	}
	tracking = 0;
	release_all();
	output_abort();
	sweep_fds();
	return status;
}

const char *
fuzz_last_error(void)
{
	return last_error;
}

void
fuzz_keep_fd(int fd)
{
	if (fd >= 0 && fd < FD_SCAN) {
		fd_kept[fd] = 1;
		if (fd + 1 > fd_top)
			fd_top = fd + 1;
	}
}

void
fuzz_unkeep_fd(int fd)
{
	if (fd >= 0 && fd < FD_SCAN)
		fd_kept[fd] = 0;
}

/* ---- set-up and temporary files ----------------------------------------- */

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path);
}

static void
rm_tmpdir(void)
{
	if (tmpdir != NULL)
		nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void
fuzz_init(void)
{
	static int done;
	const char *t = getenv("TMPDIR");
	char tmpl[PATH_MAX];

	if (done)
		return;
	done = 1;
	if (sodium_init() < 0)
		abort();
	verbosity = 0;
	setenv("PSI_STREAM_IO", "read", 1);
	snprintf(tmpl, sizeof(tmpl), "%s/psi-fuzz.XXXXXX", t && *t ? t : "/tmp");
	if ((tmpdir = mkdtemp(tmpl)) == NULL) {
		perror("fuzzlib: mkdtemp");
		abort();
	}
	tmpdir = strdup(tmpdir);
	atexit(rm_tmpdir);
	for (int fd = 0; fd < FD_SCAN; fd++)
		if (fcntl(fd, F_GETFD) != -1) {
			fd_at_init[fd] = 1;
			fd_top = fd + 1;
		}
}

const char *
fuzz_dir(void)
{
	return tmpdir;
}

const char *
fuzz_file(const char *name, const uint8_t *data, size_t len, mode_t mode)
{
	static char paths[8][PATH_MAX];
	static char names[8][64];
	int slot, fd;

	for (slot = 0; slot < 8; slot++)
		if (names[slot][0] == '\0' || strcmp(names[slot], name) == 0)
			break;
	if (slot == 8 || strlen(name) >= sizeof(names[0]))
		abort();
	snprintf(names[slot], sizeof(names[slot]), "%s", name);
	snprintf(paths[slot], sizeof(paths[slot]), "%s/%s", tmpdir, name);
	unlink(paths[slot]);
	fd = open(paths[slot], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0 || write_all(fd, data, len) < 0 || fchmod(fd, mode) < 0 ||
	    close(fd) < 0) {
		perror(paths[slot]);
		abort();
	}
	return paths[slot];
}

/* ---- a scripted peer ------------------------------------------------------ */

struct fuzz_peer {
	pthread_t	 th;
	int		 fd;		/* our end */
	int		 target_fd;
	uint8_t		*wire;
	size_t		 len;
};

static void *
peer_main(void *arg)
{
	struct fuzz_peer *fp = arg;
	size_t off = 0;
	char sink[65536];

	while (off < fp->len) {
		ssize_t n = send(fp->fd, fp->wire + off, fp->len - off,
		    MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	shutdown(fp->fd, SHUT_WR);
	for (;;) {
		ssize_t n = recv(fp->fd, sink, sizeof(sink), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
	}
	return NULL;
}

struct fuzz_peer *
fuzz_peer_start(const uint8_t *wire, size_t len, int *fd)
{
	struct fuzz_peer *fp = calloc(1, sizeof(*fp));
	int sv[2];

	if (fp == NULL || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
	    sv) < 0)
		abort();
	fp->fd = sv[0];
	fp->target_fd = *fd = sv[1];
	fuzz_keep_fd(sv[0]);
	fuzz_keep_fd(sv[1]);
	fp->wire = malloc(len ? len : 1);
	if (fp->wire == NULL)
		abort();
	if (len > 0)
		memcpy(fp->wire, wire, len);
	fp->len = len;
	if (pthread_create(&fp->th, NULL, peer_main, fp) != 0)
		abort();
	return fp;
}

void
fuzz_peer_end(struct fuzz_peer *fp)
{
	pthread_join(fp->th, NULL);
	close(fp->fd);
	fuzz_unkeep_fd(fp->fd);
	fuzz_unkeep_fd(fp->target_fd);
	free(fp->wire);
	free(fp);
}

void
fuzz_buf_add(struct fuzz_buf *b, const void *data, size_t len)
{
	if (len == 0)
		return;
	if (len > b->cap - b->len) {
		while (len > b->cap - b->len)
			b->cap = b->cap ? 2 * b->cap : 4096;
		if ((b->p = realloc(b->p, b->cap)) == NULL)
			abort();
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
}

void
fuzz_add_frame(struct fuzz_buf *w, struct noise_cipher *c, const uint8_t *pt,
    size_t len, int fake_len, uint16_t prefix)
{
	uint8_t *ct = malloc(len + NOISE_TAG), hdr[2];
	size_t m = fake_len ? prefix : len + NOISE_TAG;

	if (ct == NULL || noise_encrypt(c, pt, len, ct) < 0)
		abort();
	hdr[0] = (uint8_t)(m >> 8);
	hdr[1] = (uint8_t)m;
	fuzz_buf_add(w, hdr, 2);
	fuzz_buf_add(w, ct, len + NOISE_TAG);
	free(ct);
}

/* ---- input cursor ------------------------------------------------------- */

uint8_t
fuzz_u8(struct fuzz_in *in)
{
	if (in->left == 0)
		return 0;
	in->left--;
	return *in->p++;
}

uint16_t
fuzz_u16(struct fuzz_in *in)
{
	uint16_t hi = fuzz_u8(in);

	return (uint16_t)(hi << 8 | fuzz_u8(in));
}

const uint8_t *
fuzz_bytes(struct fuzz_in *in, size_t n, size_t *got)
{
	const uint8_t *p = in->p;

	if (n > in->left)
		n = in->left;
	in->p += n;
	in->left -= n;
	*got = n;
	return p;
}
