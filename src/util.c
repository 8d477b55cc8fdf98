/*
 * util.c: xmalloc and friends, fatal errors with exit statuses, logging,
 * size parsing, whole reads and writes (EINTR retried), hex.  Assumes
 * single-threaded callers for fatal() except that worker threads may call
 * it too: the hook runs once, guarded below.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <stdatomic.h>

#include <sodium.h>

#include "progress.h"
#include "util.h"

int verbosity = 1;
static fatal_hook_fn fatal_hook;
enum { FATAL_FAILING = 1, FATAL_ENDING = 2 };
static atomic_int in_fatal;		/* 0, or who owns the end */
static pthread_t fatal_owner;

void
set_fatal_hook(fatal_hook_fn fn)
{
	fatal_hook = fn;
}

/* The one way a line reaches stderr: the --progress line is erased
 * first (a no-op when it is off). */
static void __attribute__((format(printf, 1, 0)))
vput_line(const char *fmt, va_list ap)
{
	progress_end();
	fputs("psi-stream: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

static void __attribute__((format(printf, 1, 2)))
put_line(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vput_line(fmt, ap);
	va_end(ap);
}

static void __attribute__((format(printf, 4, 0)))
vfatal(int status, const char *told, int errnum, const char *fmt, va_list ap)
{
	char msg[1024];
	int n, was;

	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (errnum && n >= 0 && (size_t)n < sizeof(msg))
		snprintf(msg + n, sizeof(msg) - n, ": %s", strerror(errnum));
	if ((was = atomic_exchange(&in_fatal, FATAL_FAILING)) != 0) {
		if (pthread_equal(fatal_owner, pthread_self())) {
			if (was == FATAL_ENDING)	/* the hook is done with */
				put_line("%s", msg);
			_exit(status);	/* else failing inside the hook itself */
		}
		for (;;)		/* another thread is failing or the run */
			pause();	/* is ending: let it */
	}
	fatal_owner = pthread_self();
	/* The hook first: it clears the progress line, tells the peer, removes
	 * partial output and writes --stats; then our one line. */
	if (fatal_hook)
		fatal_hook(status, exit_told(status) && told ? told :
		    exit_told(status), msg);
	put_line("%s", msg);
	fflush(stderr);
	_exit(status);
}

static pthread_mutex_t result_lock = PTHREAD_MUTEX_INITIALIZER;
static int result_in_place;

void
result_commit_begin(void)
{
	pthread_mutex_lock(&result_lock);
}

void
result_commit_end(void)
{
	result_in_place = 1;
	pthread_mutex_unlock(&result_lock);
}

int
result_may_interrupt(void)
{
	pthread_mutex_lock(&result_lock);
	if (!result_in_place)
		return 1;	/* held: the process ends before a commit */
	pthread_mutex_unlock(&result_lock);
	return 0;
}

void
fatal_claim_end(void)
{
	int was = 0;

	if (!atomic_compare_exchange_strong(&in_fatal, &was, FATAL_ENDING))
		for (;;)	/* another thread is failing: it exits for us */
			pause();
	fatal_owner = pthread_self();
}

void
fatal_told(int status, const char *told, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfatal(status, told, 0, fmt, ap);
	va_end(ap);
	abort();
}

void
bug(const char *fmt, ...)
{
	char msg[900];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fatal(EXIT_BUG, "internal error: %s", msg);
}

const struct exit_meaning exit_meanings[] = {
	{ EXIT_OK,	"success", NULL },
	{ EXIT_USAGE,	"usage or configuration error", "configuration error" },
	{ EXIT_IO,	"local I/O error", "local I/O error" },
	{ EXIT_NET,	"network error", NULL },
	{ EXIT_AUTH,	"authentication failed", "authentication failed" },
	{ EXIT_PROTO,	"incompatible peer or protocol violation",
			"incompatible peer or protocol violation" },
	{ EXIT_PEER,	"the peer reported an error", NULL },
	{ EXIT_BUG,	"internal error", "internal error" },
	{ -1, NULL, NULL }
};

static const struct exit_meaning *
find_exit(int status)
{
	for (int i = 0; exit_meanings[i].status >= 0; i++)
		if (exit_meanings[i].status == status)
			return &exit_meanings[i];
	return NULL;
}

const char *
exit_meaning(int status)
{
	const struct exit_meaning *e = find_exit(status);

	return e ? e->meaning : status > 128 ? "killed by a signal" : "error";
}

const char *
exit_told(int status)
{
	const struct exit_meaning *e = find_exit(status);

	return e ? e->told : status > 128 ? "interrupted" : "error";
}

size_t
safe_text(char *out, size_t cap, const void *in, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *s = in;
	size_t n = 0;

	if (cap == 0)
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '\\') {
			if (n + 1 >= cap)
				break;
			out[n++] = (char)s[i];
			continue;
		}
		if (n + 4 >= cap)
			break;
		out[n++] = '\\';
		out[n++] = 'x';
		out[n++] = digits[s[i] >> 4];
		out[n++] = digits[s[i] & 15];
	}
	out[n] = '\0';
	return n;
}

void
fatal_errno_told(int status, const char *told, const char *fmt, ...)
{
	va_list ap;
	int e = errno;

	va_start(ap, fmt);
	vfatal(status, told, e, fmt, ap);
	va_end(ap);
	abort();
}

void
vlog(int level, const char *fmt, ...)
{
	va_list ap;

	if (verbosity < level)
		return;
	va_start(ap, fmt);
	vput_line(fmt, ap);
	va_end(ap);
}

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		fatal_memory("out of memory allocating %zu bytes", n);
	return p;
}

void *
xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz ? sz : 1);

	if (p == NULL)
		fatal_memory("out of memory allocating %zu x %zu bytes", n, sz);
	return p;
}

void *
xreallocarray(void *old, size_t n, size_t sz)
{
	void *p;

	if (sz && n > SIZE_MAX / sz)
		fatal_memory("allocation size overflow (%zu x %zu)", n, sz);
	p = realloc(old, n * sz != 0 ? n * sz : 1);
	if (p == NULL)
		fatal_memory("out of memory allocating %zu x %zu bytes", n, sz);
	return p;
}

char *
xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;

	return memcpy(xmalloc(n), s, n);
}

char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		fatal(EXIT_IO, "cannot format a string");
	s = xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}

void *
xsodium_malloc(size_t n)
{
	void *p = sodium_malloc(n);

	if (p == NULL)
		fatal_memory("out of locked memory allocating %zu bytes", n);
	return p;
}

int
parse_uint(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end != '\0' || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

void
fmt_size(char *buf, size_t len, uint64_t v)
{
	if (v > 0 && v % (1u << 30) == 0)
		snprintf(buf, len, "%lluG", (unsigned long long)(v >> 30));
	else if (v > 0 && v % (1u << 20) == 0)
		snprintf(buf, len, "%lluM", (unsigned long long)(v >> 20));
	else if (v > 0 && v % 1024 == 0)
		snprintf(buf, len, "%lluK", (unsigned long long)(v >> 10));
	else
		snprintf(buf, len, "%llu", (unsigned long long)v);
}

int
parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	switch (*end) {
	case '\0': break;
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	default: return -1;
	}
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end != '\0')
		return -1;
	if (shift && v > (UINT64_MAX >> shift))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

int
write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* read_full() with off < 0, pread_full() from off otherwise. */
static ssize_t
read_loop(int fd, uint8_t *buf, size_t len, int64_t off)
{
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		n = off < 0 ? read(fd, buf + got, len - got) :
		    pread(fd, buf + got, len - got, (off_t)(off + (int64_t)got));
		if (n > 0)
			got += (size_t)n;
		else if (n == 0)
			break;		/* end of file */
		else if (errno != EINTR)
			return -1;
	}
	return (ssize_t)got;
}

ssize_t
read_full(int fd, void *buf, size_t len)
{
	return read_loop(fd, buf, len, -1);
}

ssize_t
pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	return read_loop(fd, buf, len, (int64_t)off);
}

void
hex_encode(char *out, const uint8_t *in, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

int
hex_decode(uint8_t *out, size_t outlen, const char *hex, size_t hexlen)
{
	size_t i;

	if (hexlen != 2 * outlen)
		return -1;
	for (i = 0; i < outlen; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

unsigned
current_umask(void)
{
	static int known;
	static mode_t mask;

	if (!known) {
		mask = umask(022);
		umask(mask);
		known = 1;
	}
	return (unsigned)mask;
}
