/*
 * stats.c: counters, phase timings and the --stats JSON file.
 *
 * stats_write() may run inside the fatal hook, after anything at all has
 * gone wrong (out of memory included), so it allocates nothing and calls
 * nothing that could call fatal(): the JSON is built in a static buffer
 * whose size bounds every field (an error message of at most ERR_MAX bytes
 * grows at most sixfold when escaped; at most MAX_PHASES phase names), and
 * failures are reported by one warning line and a return value.  The
 * warning goes through vlog(0, ...), util.c's one path to stderr, which
 * shows it even with -q and first erases a --progress line.
 *
 * The file is written with atomicfile.c, like -o: a temporary file in the
 * target's directory, fsync'ed and renamed over the target, the directory
 * fsync'ed; an existing file's mode and owner are kept.  A reader sees
 * either the previous file or the complete new one.  The atomicfile is
 * static, so this allocates nothing.
 */
#include <sys/resource.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "atomicfile.h"
#include "stats.h"
#include "util.h"

#define MAX_PHASES	32
#define PHASE_NAME	32		/* bytes, NUL included */
#define ERR_MAX		1024		/* bytes, NUL included */
#define JSON_MAX	(16 * 1024 + 6 * ERR_MAX)

struct stats run_stats;

static struct {
	char	name[PHASE_NAME];
	double	secs;			/* closed time so far */
} phases[MAX_PHASES];
static int	nphases;
static int	cur = -1;		/* open phase, -1 if none */
static double	cur_start, mono_start;
static time_t	wall_start;
static int	started;
static char	error_msg[ERR_MAX];
static struct atomicfile stats_file = { .fd = -1 };	/* static: no malloc */
static atomic_int writing;

void
stats_start(void)
{
	memset(&run_stats, 0, sizeof(run_stats));
	nphases = 0;
	cur = -1;
	error_msg[0] = '\0';
	mono_start = now_seconds();
	wall_start = time(NULL);
	started = 1;
}

void
stats_phase(const char *name)
{
	double now = now_seconds();
	int i;

	if (cur >= 0)
		phases[cur].secs += now - cur_start;
	cur = -1;
	if (name == NULL)
		return;
	for (i = 0; i < nphases; i++)
		if (strncmp(phases[i].name, name, PHASE_NAME - 1) == 0)
			break;
	if (i == nphases) {
		if (nphases == MAX_PHASES)
			return;		/* untimed; the total still counts it */
		snprintf(phases[i].name, PHASE_NAME, "%s", name);
		phases[i].secs = 0;
		nphases++;
	}
	cur = i;
	cur_start = now;
}

void
stats_set_error(const char *msg)
{
	snprintf(error_msg, sizeof(error_msg), "%s", msg ? msg : "");
}

/* ---- building the JSON text in a fixed buffer ----------------------------- */

struct jbuf {
	char	*p;
	size_t	 len, cap;
	int	 overflow;
};

static void
jput(struct jbuf *b, const char *s, size_t n)
{
	if (b->overflow || n > b->cap - b->len) {
		b->overflow = 1;
		return;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

__attribute__((format(printf, 2, 3)))
static void
jprintf(struct jbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= b->cap - b->len)
		b->overflow = 1;
	else
		b->len += (size_t)n;
}

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid.
 * Rejects overlong forms, surrogates and code points above U+10FFFF. */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t need, i;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		need = 1;
	else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		need = 2;
		if (s[0] == 0xe0)
			lo = 0xa0;	/* overlong */
		if (s[0] == 0xed)
			hi = 0x9f;	/* surrogates */
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		need = 3;
		if (s[0] == 0xf0)
			lo = 0x90;	/* overlong */
		if (s[0] == 0xf4)
			hi = 0x8f;	/* above U+10FFFF */
	} else
		return 0;
	if (n < need + 1 || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i <= need; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return need + 1;
}

/* A JSON string: quotes, escapes, invalid UTF-8 bytes as \u00XX; NULL is
 * written as null. */
static void
jstr(struct jbuf *b, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n, i = 0, k;
	char esc[8];

	if (str == NULL) {
		jput(b, "null", 4);
		return;
	}
	n = strlen(str);
	jput(b, "\"", 1);
	while (i < n) {
		unsigned char c = s[i];
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			jput(b, esc, 2);
		} else if (c == '\n')
			jput(b, "\\n", 2);
		else if (c == '\t')
			jput(b, "\\t", 2);
		else if (c == '\r')
			jput(b, "\\r", 2);
		else if (c < 0x20 || c == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			jput(b, esc, 6);
		} else if (c < 0x80)
			jput(b, (const char *)s + i, 1);
		else if ((k = utf8_len(s + i, n - i)) > 0) {
			jput(b, (const char *)s + i, k);
			i += k;
			continue;
		} else {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			jput(b, esc, 6);
		}
		i++;
	}
	jput(b, "\"", 1);
}

static void
jtime(struct jbuf *b, time_t t)
{
	struct tm tm;
	char s[32];

	if (t == (time_t)-1 || gmtime_r(&t, &tm) == NULL ||
	    strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
		jput(b, "null", 4);
		return;
	}
	jprintf(b, "\"%s\"", s);
}

static uint64_t
peak_rss(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) < 0 || ru.ru_maxrss < 0)
		return 0;
	return (uint64_t)ru.ru_maxrss * 1024;	/* Linux: kilobytes */
}

/*
 * The counters of struct stats, in the order the file lists them after
 * "finished".  Each key is the name of its field, so the two cannot drift
 * apart, and a new counter is one line here.
 */
enum ctype { C_U64, C_STR, C_BOOL };	/* C_STR: a string or null;
						   C_BOOL: an int */
#define COUNTER(type, field)	{ #field, type, offsetof(struct stats, field) }

static const struct counter {
	const char	*name;
	enum ctype	 type;
	size_t		 off;		/* of the field in struct stats */
} counters[] = {
	COUNTER(C_STR, peer_key),
	COUNTER(C_BOOL, peer_key_added),
	COUNTER(C_U64, records),
	COUNTER(C_U64, keys),
	COUNTER(C_U64, empty_skipped),
	COUNTER(C_U64, invalid_skipped),
	COUNTER(C_U64, shard_skipped),
	COUNTER(C_U64, peer_records),
	COUNTER(C_U64, matched_records),
	COUNTER(C_U64, unmatched_records),
	COUNTER(C_STR, key_settings),
	COUNTER(C_U64, truncation_bits),
	COUNTER(C_U64, digest_bytes),
	COUNTER(C_U64, spill_bytes),
	COUNTER(C_U64, buckets),
	COUNTER(C_U64, bucket_padded_load),
	COUNTER(C_U64, bins_per_bucket),
	COUNTER(C_U64, bytes_sent),
	COUNTER(C_U64, bytes_received),
};
#define NCOUNTERS	(sizeof(counters) / sizeof(counters[0]))

/* "  \"name\": value,\n" for one counter of s. */
static void
jcounter(struct jbuf *b, const struct stats *s, const struct counter *c)
{
	const void *field = (const char *)s + c->off;
	const uint64_t *u64 = field;
	const char *const *str = field;
	const int *flag = field;

	jprintf(b, "  \"%s\": ", c->name);
	switch (c->type) {
	case C_U64:
		jprintf(b, "%llu", (unsigned long long)*u64);
		break;
	case C_STR:
		jstr(b, *str);
		break;
	case C_BOOL:
		jprintf(b, "%s", *flag ? "true" : "false");
		break;
	}
	jput(b, ",\n", 2);
}

static void
build(struct jbuf *b, int status)
{
	const struct stats *s = &run_stats;
	const struct counter *c;
	double now = now_seconds(), secs;

	jput(b, "{\n", 2);
	jprintf(b, "  \"format\": 1,\n  \"version\": ");
	jstr(b, PACKAGE_VERSION);
	jput(b, ",\n  \"role\": ", 12);
	jstr(b, s->role);
	if (s->shard_n)
		jprintf(b, ",\n  \"shard\": \"%lu/%lu\"", (unsigned long)s->shard_i,
		    (unsigned long)s->shard_n);
	else
		jprintf(b, ",\n  \"shard\": null");
	jprintf(b, ",\n  \"exit_status\": %d,\n", status);
	if (status != 0) {
		jput(b, "  \"error\": ", 11);
		jstr(b, error_msg[0] ? error_msg : exit_meaning(status));
		jput(b, ",\n", 2);
	}
	jput(b, "  \"started\": ", 13);
	jtime(b, started ? wall_start : (time_t)-1);
	jput(b, ",\n  \"finished\": ", 16);
	jtime(b, time(NULL));
	jput(b, ",\n", 2);
	for (c = counters; c < counters + NCOUNTERS; c++)
		jcounter(b, s, c);
	jprintf(b, "  \"peak_rss_bytes\": %llu,\n",
	    (unsigned long long)peak_rss());
	secs = started ? now - mono_start : 0;
	jprintf(b, "  \"seconds\": {\n    \"total\": %.3f", secs > 0 ? secs : 0);
	for (int i = 0; i < nphases; i++) {
		secs = phases[i].secs + (i == cur ? now - cur_start : 0);
		jput(b, ",\n    ", 6);
		jstr(b, phases[i].name);
		jprintf(b, ": %.3f", secs > 0 ? secs : 0);
	}
	jput(b, "\n  }\n}\n", 7);
}

/* ---- writing the file ------------------------------------------------------ */

/* One warning line; errno as it was at the failure.  Returns -1. */
static int
warn_write(const char *what, const char *path, int err)
{
	vlog(0, "warning: %s %s: %s (statistics not written)", what, path,
	    strerror(err));
	return -1;
}

static int
write_atomically(const char *path, const char *text, size_t len)
{
	int err;

	if (af_open(&stats_file, path, 0666, 0) < 0) {
		err = errno;
		return err == ENAMETOOLONG ? warn_write("path too long:", path,
		    err) : warn_write("cannot create a temporary file next to",
		    path, err);
	}
	if (write_all(stats_file.fd, text, len) < 0) {
		err = errno;
		close(stats_file.fd);
		stats_abort();
		return warn_write("cannot write", path, err);
	}
	if (af_commit(&stats_file) != 0)
		return warn_write("cannot write", path, errno);
	return 0;
}

int
stats_write(const char *path, int exit_status)
{
	static char text[JSON_MAX];
	struct jbuf b = { text, 0, sizeof(text), 0 };
	int rc;

	if (path == NULL || atomic_exchange(&writing, 1))
		return -1;	/* never twice at once (run.c also makes sure) */
	build(&b, exit_status);
	if (b.overflow)
		rc = warn_write("statistics too large for", path, EOVERFLOW);
	else if (is_stdio_path(path)) {
		rc = write_all(STDOUT_FILENO, text, b.len);
		if (rc < 0)
			rc = warn_write("cannot write", "standard output", errno);
	} else
		rc = write_atomically(path, text, b.len);
	writing = 0;
	return rc;
}

void
stats_abort(void)
{
	af_abort(&stats_file);
}
