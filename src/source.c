/*
 * source.c: byte streams from files or stdin, through io_uring or read(2),
 * with transparent zstd decompression.
 *
 * Three layers, bottom up:
 *
 *  1. raw_next() returns the file's bytes in order, in chunks.
 *     - io_uring, regular file: NBUF_FILE reads of BUFSZ bytes are kept in
 *       flight at increasing offsets (read-ahead).  They may complete in any
 *       order; buffers are handed out strictly in offset order.  A short
 *       read is not EOF: the remainder is resubmitted, and only a read that
 *       returns 0 ends the file.  (IOSQE_ASYNC, which would move the copy
 *       from the page cache to a kernel worker, measured no faster: the
 *       data then has to cross cores.)
 *     - io_uring, pipe/tty/socket: one read in flight (concurrent reads of
 *       one pipe would complete in no defined order), double-buffered so the
 *       next read runs while the caller parses the previous chunk.
 *     - read(2): one buffer, used when the ring cannot be set up or when
 *       PSI_STREAM_IO=read.
 *     A wait for a pipe, tty or socket calls source_on_idle()'s function
 *     every IDLE_MS (io_uring_wait_cqe_timeout, or poll before read), so
 *     a producer that pauses does not time out the peer.
 *     Every buffer handed out stays untouched until the next call: it is
 *     resubmitted only then.
 *  2. pull() serves the bytes peeked at open (the first chunk, or at
 *     least PEEK_MAX bytes of a pipe: source_format() recognises the
 *     format from them) before continuing with raw_next().
 *  3. source_next() passes them through, or through a ZSTD_DCtx whose
 *     window is capped from the memory budget (source_set_memory(): a
 *     quarter of what the engine's reserve leaves; 2^ZSTD_WINDOWLOG_CAP
 *     by default) so a frame header cannot make us allocate more; the
 *     first frame's header is checked at open, so an oversized window is
 *     refused before any reading.  The decoder holds the window plus two
 *     blocks (source_window_memory()), counted outside the sorters.
 *
 * source_open_range() reads only the bytes [off, off + len) of a regular
 * file, with no format detection: `check` uses it to parse one file in
 * byte ranges on several threads (each range has its own source and ring).
 * It sets `end`: read-ahead stops there, and the buffer reaching it is the
 * last.  A plain source has end = UINT64_MAX, so nothing changes for it.
 *
 * The ring probe runs once per process (the first source_open() that wants
 * io_uring); PSI_STREAM_IO is read at every open.  Opening is therefore not
 * thread-safe; a source once open may be read from any one thread.  All errors are fatal
 * (exit 2) and name the file.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <liburing.h>
#define ZSTD_STATIC_LINKING_ONLY	/* ZSTD_getFrameHeader() */
#include <zstd.h>
#include <zstd_errors.h>

#include "source.h"
#include "util.h"

/* One read, and how many are in flight on a regular file.  The copy from
 * the page cache runs when a read is submitted, ahead of the parser, so
 * what is in flight must stay in L2 until it is parsed: 4 x 512 KiB made
 * `check` 20% slower than 4 x 128 KiB, and 2 x 128 KiB is 5% faster
 * again.  Reading ahead from disk is the kernel's readahead's job. */
#define BUFSZ		(128u * 1024)
#define NBUF_FILE	2		/* reads in flight on a regular file */
#define IDLE_MS		250		/* source_on_idle's period */
#define NBUF_PIPE	2		/* one in flight, one with the caller */
#define NBUF_MAX	NBUF_FILE
#define RING_DEPTH	8
#define ZOUTSZ		(512u * 1024)
#define ZSTD_WINDOWLOG_CAP 27		/* 128 MiB, zstd's own default limit */
#define WINDOWLOG_LO	10		/* ZSTD_WINDOWLOG_MIN */
#define WINDOWLOG_HI	31		/* ZSTD_WINDOWLOG_MAX_64 */
#define PEEK_MAX	10		/* bytes needed to tell the formats apart */

enum { B_IDLE, B_INFLIGHT, B_DONE };

struct rbuf {
	uint8_t		*data;
	size_t		 len;		/* bytes read so far */
	uint64_t	 off;		/* file offset of data[0] */
	int		 state;
};

struct source {
	char		*name;
	int		 fd;
	int		 regular;
	uint64_t	 size;		/* regular files: st_size */
	uint64_t	 end;		/* range: offset after the last byte to
					   read; else UINT64_MAX */
	int		 raw_eof;

	/* io_uring */
	int		 uring;
	struct io_uring	 ring;
	struct rbuf	 buf[NBUF_MAX];
	int		 nbuf;
	int		 head;		/* next buffer to hand out */
	int		 held;		/* buffer the caller holds, or -1 */
	int		 inflight;
	uint64_t	 next_off;	/* next read-ahead offset */
	int		 stop;		/* a read returned 0: no more read-ahead */
	int		 eof_next;	/* the buffer handed out ended the file */

	/* read(2) */
	uint8_t		*rdbuf;

	/* bytes peeked at open, served before raw_next() */
	uint8_t		 peek[PEEK_MAX];
	size_t		 peeklen;
	const uint8_t	*rest;
	size_t		 restlen;

	/* zstd */
	ZSTD_DCtx	*dctx;
	ZSTD_inBuffer	 zin;
	uint8_t		*zout;
	size_t		 zret;		/* last ZSTD_decompressStream() hint */
	int		 zfull;		/* last call filled zout: more may be buffered */
	int		 text;		/* zstd: the first decompressed chunk is
					   still to be checked for a NUL */
};

static unsigned window_log = ZSTD_WINDOWLOG_CAP;	/* source_set_memory() */
static uint64_t window_budget;	/* its --memory, 0 if never set */
static uint64_t window_reserve;	/* the part of it the engine keeps */
static int zstd_expected = 1;	/* source_expect_zstd() */
static int probe_state = -1;	/* -1 not probed, 0 no io_uring, 1 io_uring */
static int last_uring;
static int said_forced;

static void
read_error(const struct source *s, int err)
{
	errno = err;
	fatal_input_errno("cannot read %s", s->name);
}

static void (*idle_fn)(void *);
static void *idle_arg;

void
source_on_idle(void (*fn)(void *), void *arg)
{
	idle_fn = fn;
	idle_arg = arg;
}

/* Wait until fd is readable (after EAGAIN on an O_NONBLOCK stdin, or
 * before a read of a pipe that may block), calling the idle function
 * every IDLE_MS meanwhile. */
static void
wait_readable(const struct source *s)
{
	struct pollfd p = { .fd = s->fd, .events = POLLIN };
	int n;

	while ((n = poll(&p, 1, idle_fn ? IDLE_MS : -1)) <= 0) {
		if (n < 0 && errno != EINTR)
			read_error(s, errno);
		if (n == 0)
			idle_fn(idle_arg);
	}
}

/* ---- io_uring ---------------------------------------------------------- */

/* Sets up s->ring; 0 or a negative errno. */
static int
ring_init(struct source *s)
{
	struct io_uring_probe *probe;
	int ret, ok;

	ret = io_uring_queue_init(RING_DEPTH, &s->ring, 0);
	if (ret < 0)
		return ret;
	/* IORING_OP_READ needs Linux 5.6. */
	probe = io_uring_get_probe_ring(&s->ring);
	ok = probe != NULL && io_uring_opcode_supported(probe, IORING_OP_READ);
	if (probe != NULL)
		io_uring_free_probe(probe);
	if (!ok) {
		io_uring_queue_exit(&s->ring);
		return -EINVAL;
	}
	return 0;
}

/* Decides between io_uring and read(2) for a new source. */
static int
want_uring(struct source *s)
{
	const char *env = getenv("PSI_STREAM_IO");
	int ret;

	if (env != NULL && strcmp(env, "read") == 0) {
		if (!said_forced++)
			vlog(2, "PSI_STREAM_IO=read: reading with read(2)");
		return 0;
	}
	if (probe_state == 0)
		return 0;
	ret = ring_init(s);
	if (ret < 0) {
		if (probe_state == -1)
			vlog(2, "io_uring unavailable (%s); using read(2)",
			    strerror(-ret));
		else
			vlog(2, "%s: io_uring setup failed (%s); using read(2)",
			    s->name, strerror(-ret));
		probe_state = probe_state == -1 ? 0 : probe_state;
		return 0;
	}
	if (probe_state == -1)
		vlog(2, "reading with io_uring");
	probe_state = 1;
	return 1;
}

static struct io_uring_sqe *
get_sqe(struct source *s)
{
	struct io_uring_sqe *sqe;

	while ((sqe = io_uring_get_sqe(&s->ring)) == NULL) {
		int ret = io_uring_submit(&s->ring);
		if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY)
			read_error(s, -ret);
	}
	return sqe;
}

/* Bytes buffer b is to hold when full: BUFSZ, less at the end of a range. */
static size_t
buf_want(const struct source *s, const struct rbuf *b)
{
	return s->regular && s->end - b->off < BUFSZ ?
	    (size_t)(s->end - b->off) : BUFSZ;
}

/* Queues a read filling the rest of buffer i (submitted by the caller). */
static void
queue_read(struct source *s, int i)
{
	struct rbuf *b = &s->buf[i];
	struct io_uring_sqe *sqe = get_sqe(s);
	uint64_t off = s->regular ? b->off + b->len : (uint64_t)-1;

	io_uring_prep_read(sqe, s->fd, b->data + b->len,
	    (unsigned)(buf_want(s, b) - b->len), off);
	io_uring_sqe_set_data(sqe, (void *)(uintptr_t)(i + 1));
	b->state = B_INFLIGHT;
	s->inflight++;
}

static void
submit(struct source *s)
{
	int ret;

	while ((ret = io_uring_submit(&s->ring)) < 0)
		if (ret != -EINTR && ret != -EAGAIN && ret != -EBUSY)
			read_error(s, -ret);
}

/* Starts a fresh read into buffer i at the next read-ahead offset. */
static void
start_buffer(struct source *s, int i)
{
	struct rbuf *b = &s->buf[i];

	b->len = 0;
	b->off = s->next_off;
	if (s->regular) {
		if (b->off >= s->end) {
			s->stop = 1;	/* end of range: leave it idle */
			return;
		}
		s->next_off += BUFSZ;
	}
	queue_read(s, i);
}

/* Takes one completion and updates its buffer; resubmits as needed. */
static void
reap_one(struct source *s)
{
	struct io_uring_cqe *cqe;
	struct rbuf *b;
	int ret, i, res;

	for (;;) {
		/* a pipe may keep us waiting: the idle function runs meanwhile */
		if (!s->regular && idle_fn) {
			struct __kernel_timespec ts = { 0, IDLE_MS * 1000000L };
			ret = io_uring_wait_cqe_timeout(&s->ring, &cqe, &ts);
			if (ret == -ETIME) {
				idle_fn(idle_arg);
				continue;
			}
		} else
			ret = io_uring_wait_cqe(&s->ring, &cqe);
		if (ret >= 0)
			break;
		if (ret != -EINTR && ret != -EAGAIN)
			read_error(s, -ret);
	}
	i = (int)(uintptr_t)io_uring_cqe_get_data(cqe) - 1;
	res = cqe->res;
	io_uring_cqe_seen(&s->ring, cqe);
	if (i < 0 || i >= s->nbuf)
		return;		/* completion of a cancel request */
	b = &s->buf[i];
	s->inflight--;
	b->state = B_DONE;
	if (res == -EINTR || res == -EAGAIN || res == -ECANCELED) {
		if (res == -ECANCELED)
			return;
		if (res == -EAGAIN && !s->regular)
			wait_readable(s);
		queue_read(s, i);
		submit(s);
	} else if (res < 0) {
		read_error(s, -res);
	} else if (res == 0) {
		s->stop = 1;
	} else {
		b->len += (size_t)res;
		/* A short read of a regular file is not EOF: read on. */
		if (s->regular && b->len < buf_want(s, b)) {
			queue_read(s, i);
			submit(s);
		}
	}
}

static int
uring_next(struct source *s, const uint8_t **out, size_t *len)
{
	struct rbuf *b;
	int i;

	/* The caller is done with the held buffer: on a regular file it
	 * goes back into the read-ahead window at the next offset. */
	if (s->held >= 0) {
		i = s->held;
		s->held = -1;
		s->buf[i].state = B_IDLE;
		if (s->regular && !s->stop) {
			start_buffer(s, i);
			submit(s);
		}
	}
	if (s->raw_eof)
		return 0;
	if (s->eof_next)
		goto eof;
	b = &s->buf[s->head];
	if (b->state == B_IDLE) {
		/* First call, or a pipe whose next read is not queued yet. */
		if (s->stop)
			goto eof;
		start_buffer(s, s->head);
		if (b->state == B_IDLE)
			goto eof;
		submit(s);
	}
	while (b->state == B_INFLIGHT)
		reap_one(s);
	if (b->len == 0)
		goto eof;
	i = s->head;
	s->held = i;
	s->head = (s->head + 1) % s->nbuf;
	/* A partial buffer is where the file ended: anything a later read
	 * found (the file grew meanwhile) would leave a gap. */
	if (s->regular && (b->len < BUFSZ || b->off + b->len >= s->end))
		s->stop = s->eof_next = 1;
	/* Pipes: start the next read now, while the caller parses. */
	if (!s->regular && !s->stop && s->buf[s->head].state == B_IDLE) {
		start_buffer(s, s->head);
		submit(s);
	}
	*out = b->data;
	*len = b->len;
	return 1;
eof:
	s->raw_eof = 1;
	return 0;
}

/* Cancels what is still in flight and waits for it: the kernel may write
 * into our buffers until its completion is reaped. */
static void
uring_drain(struct source *s)
{
	struct io_uring_sqe *sqe;
	int i;

	if (s->inflight > 0 && !s->regular) {
		for (i = 0; i < s->nbuf; i++) {
			if (s->buf[i].state != B_INFLIGHT)
				continue;
			sqe = get_sqe(s);
			/* io_uring_prep_cancel()'s signature varies across
			 * liburing 2.x; build the request by hand. */
			io_uring_prep_rw(IORING_OP_ASYNC_CANCEL, sqe, -1, NULL,
			    0, 0);
			sqe->addr = (uint64_t)(i + 1);
			io_uring_sqe_set_data(sqe, NULL);
		}
		submit(s);
	}
	s->stop = 1;
	while (s->inflight > 0) {
		struct io_uring_cqe *cqe;
		int ret = io_uring_wait_cqe(&s->ring, &cqe);
		if (ret == -EINTR || ret == -EAGAIN)
			continue;
		if (ret < 0)
			break;
		i = (int)(uintptr_t)io_uring_cqe_get_data(cqe) - 1;
		io_uring_cqe_seen(&s->ring, cqe);
		if (i >= 0 && i < s->nbuf) {
			s->buf[i].state = B_DONE;
			s->inflight--;
		}
	}
}

/* ---- read(2) ----------------------------------------------------------- */

static int
read_next(struct source *s, const uint8_t **out, size_t *len)
{
	ssize_t n;
	size_t want = BUFSZ;

	if (s->raw_eof)
		return 0;
	if (s->end != UINT64_MAX && s->end - s->next_off < want)
		want = (size_t)(s->end - s->next_off);
	for (;;) {
		if (want == 0) {
			s->raw_eof = 1;
			return 0;
		}
		if (!s->regular && idle_fn)
			wait_readable(s);	/* the read would block */
		n = s->end != UINT64_MAX ?
		    pread(s->fd, s->rdbuf, want, (off_t)s->next_off) :
		    read(s->fd, s->rdbuf, want);
		if (n > 0)
			break;
		if (n == 0) {
			s->raw_eof = 1;
			return 0;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			wait_readable(s);
			continue;
		}
		read_error(s, errno);
	}
	s->next_off += (uint64_t)n;
	*out = s->rdbuf;
	*len = (size_t)n;
	return 1;
}

static int
raw_next(struct source *s, const uint8_t **out, size_t *len)
{
	return s->uring ? uring_next(s, out, len) : read_next(s, out, len);
}

/* ---- format detection -------------------------------------------------- */

static void (*read_hook)(size_t);

void
source_on_read(void (*fn)(size_t))
{
	read_hook = fn;
}

/* Bytes peeked at open first, then the rest of the stream. */
static int
pull_raw(struct source *s, const uint8_t **out, size_t *len)
{
	if (s->peeklen > 0) {
		*out = s->peek;
		*len = s->peeklen;
		s->peeklen = 0;
		return 1;
	}
	if (s->restlen > 0) {
		*out = s->rest;
		*len = s->restlen;
		s->restlen = 0;
		return 1;
	}
	return raw_next(s, out, len);
}

/* pull_raw(), telling the read hook how many raw bytes were taken. */
static int
pull(struct source *s, const uint8_t **out, size_t *len)
{
	int more = pull_raw(s, out, len);

	if (more && read_hook != NULL)
		read_hook(*len);
	return more;
}

/* Reads up to PEEK_MAX bytes ahead (the whole first chunk if it is
 * longer); leaves them to be served by pull(). */
static void
peek_start(struct source *s, const uint8_t **start, size_t *n)
{
	const uint8_t *b;
	size_t len, take;

	*start = NULL;
	*n = 0;
	if (!raw_next(s, &b, &len))
		return;
	if (len >= sizeof(s->peek)) {
		s->rest = b;
		s->restlen = len;
		*start = b;
		*n = len;
		return;
	}
	/* A pipe gave fewer than PEEK_MAX bytes: gather them in s->peek. */
	memcpy(s->peek, b, len);
	s->peeklen = len;
	while (s->peeklen < sizeof(s->peek) && raw_next(s, &b, &len)) {
		take = sizeof(s->peek) - s->peeklen;
		if (take > len)
			take = len;
		memcpy(s->peek + s->peeklen, b, take);
		s->peeklen += take;
		if (take < len) {
			s->rest = b + take;
			s->restlen = len - take;
		}
	}
	*start = s->peek;
	*n = s->peeklen;
}

void
source_set_memory(uint64_t memory, uint64_t reserve)
{
	uint64_t rest = memory > reserve ? memory - reserve : 0;
	unsigned l = WINDOWLOG_LO;

	if (memory == 0) {
		window_log = ZSTD_WINDOWLOG_CAP;
		window_budget = window_reserve = 0;
		return;
	}
	while (l < WINDOWLOG_HI && ((uint64_t)1 << (l + 1)) <= rest / 4)
		l++;
	window_log = l;
	window_budget = memory;
	window_reserve = reserve;
}

uint64_t
source_window_memory(void)
{
	/* the window, and the decoder's input and output blocks */
	return zstd_expected ? ((uint64_t)1 << window_log) +
	    2 * ZSTD_BLOCKSIZE_MAX : 0;
}

void
source_expect_zstd(int yes)
{
	zstd_expected = yes;
}

int
source_is_zstd(const struct source *s)
{
	return s->dctx != NULL;
}

/* Exits 2: a frame wants a window of `window` bytes (0: unknown, more
 * than the cap), more than the budget lets the decoder have. */
static void
window_refused(const struct source *s, uint64_t window)
{
	char need[32], have[32], cap[32], size[48];
	unsigned l = window_log + 1;

	while (l < 62 && ((uint64_t)1 << l) < window)
		l++;
	fmt_size(cap, sizeof(cap), (uint64_t)1 << window_log);
	fmt_size(need, sizeof(need), ((uint64_t)4 << l) + window_reserve);
	if (window > 0)
		snprintf(size, sizeof(size), "a %.1f MiB window",
		    (double)window / (1 << 20));
	else
		snprintf(size, sizeof(size), "a window over %s", cap);
	if (window_budget == 0)
		fatal_input("%s: zstd frame needs %s, over the %s limit",
		    s->name, size, cap);
	fmt_size(have, sizeof(have), window_budget);
	fatal_input("%s: zstd frame needs %s, too much memory for --memory "
	    "%s (a %s window at most); --memory %s would read it", s->name,
	    size, have, cap, need);
}

/* Sets up decompression; start[0..n) is the beginning of the stream,
 * whose first frame header is checked against the window cap here, so
 * that the error comes at open. */
static void
zstd_start(struct source *s, const uint8_t *start, size_t n)
{
	ZSTD_frameHeader zfh;
	size_t r;

	if (!zstd_expected)	/* pre-flight saw none: no room kept for it */
		fatal_input("%s: became zstd data after the pre-flight "
		    "read it", s->name);
	if (ZSTD_getFrameHeader(&zfh, start, n) == 0 &&
	    zfh.frameType == ZSTD_frame &&
	    zfh.windowSize > (uint64_t)1 << window_log)
		window_refused(s, zfh.windowSize);
	s->dctx = ZSTD_createDCtx();
	if (s->dctx == NULL)
		fatal_input("%s: cannot allocate zstd decoder", s->name);
	r = ZSTD_DCtx_setParameter(s->dctx, ZSTD_d_windowLogMax,
	    (int)window_log);
	if (ZSTD_isError(r))
		fatal_input("%s: zstd: %s", s->name, ZSTD_getErrorName(r));
	s->zout = xmalloc(ZOUTSZ);
	s->zret = 1;
}

static int
zstd_next(struct source *s, const uint8_t **out, size_t *len)
{
	ZSTD_outBuffer zo = { s->zout, ZOUTSZ, 0 };
	const uint8_t *b;
	size_t n, r, inpos;

	for (;;) {
		if (s->zin.pos == s->zin.size && !s->zfull) {
			if (!pull(s, &b, &n)) {
				if (s->zret != 0)
					fatal_input("%s: corrupt zstd data: "
					    "truncated input", s->name);
				return 0;
			}
			s->zin.src = b;
			s->zin.size = n;
			s->zin.pos = 0;
		}
		inpos = s->zin.pos;
		r = ZSTD_decompressStream(s->dctx, &zo, &s->zin);
		if (ZSTD_isError(r) && ZSTD_getErrorCode(r) ==
		    ZSTD_error_frameParameter_windowTooLarge)
			window_refused(s, 0);	/* a later frame */
		if (ZSTD_isError(r))
			fatal_input("%s: corrupt zstd data: %s", s->name,
			    ZSTD_getErrorName(r));
		/* A call that did nothing (flushing a full buffer that turned
		 * out to be complete) says "expecting a new frame": not a
		 * sign of truncation, so keep the previous answer. */
		if (zo.pos > 0 || s->zin.pos != inpos)
			s->zret = r;
		s->zfull = zo.pos == zo.size;
		if (zo.pos > 0) {
			*out = s->zout;
			*len = zo.pos;
			return 1;
		}
	}
}

/* ---- API --------------------------------------------------------------- */

/* Opens path ("-" = stdin) and sets up reading from its start (or, for a
 * regular stdin, from its current offset); no format detection yet. */
static struct source *
open_raw(const char *path, uint64_t off, uint64_t end)
{
	struct source *s = xcalloc(1, sizeof(*s));
	struct stat st;
	int i;

	if (is_stdio_path(path)) {
		s->name = xstrdup("stdin");
		s->fd = STDIN_FILENO;
	} else {
		s->name = xstrdup(path);
		s->fd = open(path, O_RDONLY | O_CLOEXEC);
		if (s->fd < 0)
			fatal_input_errno("cannot open %s", path);
	}
	if (fstat(s->fd, &st) < 0)
		fatal_input_errno("cannot stat %s", s->name);
	if (S_ISDIR(st.st_mode))
		fatal_input("%s: is a directory", s->name);
	s->held = -1;
	if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)) {
		off_t pos = lseek(s->fd, 0, SEEK_CUR);

		s->regular = 1;
		s->size = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
		s->next_off = pos > 0 ? (uint64_t)pos : 0;
	}
	s->end = UINT64_MAX;
	if (end != UINT64_MAX) {
		if (!S_ISREG(st.st_mode))
			fatal_input("%s: not a regular file", s->name);
		s->next_off = off;
		s->end = end;
		s->size = end - off;
	}

	s->uring = want_uring(s);
	last_uring = s->uring;
	if (s->uring) {
		s->nbuf = s->regular ? NBUF_FILE : NBUF_PIPE;
		for (i = 0; i < s->nbuf; i++)
			s->buf[i].data = xmalloc(BUFSZ);
		if (s->regular) {
			/* Fill the read-ahead window. */
			for (i = 0; i < s->nbuf; i++)
				start_buffer(s, i);
			submit(s);
		}
	} else {
		s->rdbuf = xmalloc(BUFSZ);
	}
	return s;
}

int
source_format(const uint8_t *p, size_t n, int text)
{
	/* bzip2: "BZh", the block size, then the magic of the first block
	 * (the digits of pi) or of the end of an empty stream (of sqrt(pi)):
	 * ten bytes, since "BZh" alone is ordinary text. */
	static const uint8_t bz_block[6] = { 0x31, 0x41, 0x59, 0x26, 0x53, 0x59 };
	static const uint8_t bz_end[6] = { 0x17, 0x72, 0x45, 0x38, 0x50, 0x90 };

	if (n >= 4 && memcmp(p, "\x28\xb5\x2f\xfd", 4) == 0)
		return SRC_ZSTD;
	/* A zstd skippable frame (magic 0x184D2A50..5F, little-endian), as
	 * pzstd writes first: the decoder steps over it. */
	if (n >= 4 && (p[0] & 0xf0) == 0x50 && memcmp(p + 1, "\x2a\x4d\x18", 3) == 0)
		return SRC_ZSTD;
	if (n >= 2 && p[0] == 0x1f && p[1] == 0x8b)
		return SRC_GZIP;
	if (n >= 6 && memcmp(p, "\xfd" "7zXZ", 5) == 0 && p[5] == 0)
		return SRC_XZ;
	if (n >= 10 && memcmp(p, "BZh", 3) == 0 && p[3] >= '1' && p[3] <= '9' &&
	    (memcmp(p + 4, bz_block, 6) == 0 || memcmp(p + 4, bz_end, 6) == 0))
		return SRC_BZIP2;
	/* lz4 frame format, and the legacy format lz4 -l writes. */
	if (n >= 4 && (memcmp(p, "\x04\x22\x4d\x18", 4) == 0 ||
	    memcmp(p, "\x02\x21\x4c\x18", 4) == 0))
		return SRC_LZ4;
	/* UTF-16 text (its byte order mark) is full of NULs: say so. */
	if (text && n >= 2 && ((p[0] == 0xff && p[1] == 0xfe) ||
	    (p[0] == 0xfe && p[1] == 0xff)))
		return SRC_UTF16;
	if (text && n > 0 && memchr(p, '\0', n < SOURCE_SNIFF ? n : SOURCE_SNIFF) != NULL)
		return SRC_BINARY;
	return SRC_PLAIN;
}

/* Exits 2 if fmt is not one we read, with the way to read it. */
static void
refuse(const struct source *s, int fmt)
{
	static const char *const tool[] = {
		[SRC_GZIP] = "zcat", [SRC_XZ] = "xzcat",
		[SRC_BZIP2] = "bzcat", [SRC_LZ4] = "lz4cat",
	};
	static const char *const name[] = {
		[SRC_GZIP] = "gzip", [SRC_XZ] = "xz",
		[SRC_BZIP2] = "bzip2", [SRC_LZ4] = "lz4",
	};

	if (fmt == SRC_UTF16)
		fatal_input("%s: UTF-16 text is not supported; use: "
		    "iconv -f UTF-16 -t UTF-8 %s | psi-stream ...", s->name,
		    s->fd == STDIN_FILENO ? "FILE" : s->name);
	if (fmt == SRC_BINARY)
		fatal_input("%s: binary data (a NUL byte in its first %u "
		    "bytes); for NUL-terminated records use -z", s->name,
		    SOURCE_SNIFF);
	if (fmt >= SRC_GZIP)
		fatal_input("%s: %s input is not supported; use: "
		    "%s %s | psi-stream ...", s->name, name[fmt], tool[fmt],
		    s->fd == STDIN_FILENO ? "FILE" : s->name);
}

static struct source *
open_detect(const char *path, int text)
{
	struct source *s = open_raw(path, 0, UINT64_MAX);
	const uint8_t *start;
	size_t n;
	int fmt;

	peek_start(s, &start, &n);
	fmt = source_format(start, n, text);
	refuse(s, fmt);
	if (fmt == SRC_ZSTD) {
		s->size = 0;
		s->text = text;	/* checked on the first decompressed chunk */
		zstd_start(s, start, n);
	}
	return s;
}

struct source *
source_open(const char *path)
{
	return open_detect(path, 0);
}

struct source *
source_open_text(const char *path)
{
	return open_detect(path, 1);
}

struct source *
source_open_range(const char *path, uint64_t off, uint64_t len)
{
	if (len > UINT64_MAX - 1 - off)
		fatal_input("%s: invalid byte range", path);
	return open_raw(path, off, off + len);
}

int
source_next(struct source *s, const uint8_t **buf, size_t *len)
{
	int ret, fmt;

	if (s->dctx == NULL)
		return pull(s, buf, len);
	ret = zstd_next(s, buf, len);
	if (ret && s->text) {
		/* Compressed formats inside zstd are data, as zstd -dc
		 * would pass them on; binary data is not. */
		s->text = 0;
		fmt = source_format(*buf, *len, 1);
		refuse(s, fmt == SRC_BINARY || fmt == SRC_UTF16 ? fmt :
		    SRC_PLAIN);
	}
	return ret;
}

const char *
source_name(const struct source *s)
{
	return s->name;
}

uint64_t
source_size(const struct source *s)
{
	return s->size;
}

void
source_close(struct source *s)
{
	int i;

	if (s == NULL)
		return;
	if (s->uring) {
		uring_drain(s);
		io_uring_queue_exit(&s->ring);
		for (i = 0; i < s->nbuf; i++)
			free(s->buf[i].data);
	}
	free(s->rdbuf);
	if (s->dctx != NULL)
		ZSTD_freeDCtx(s->dctx);
	free(s->zout);
	if (s->fd != STDIN_FILENO)
		close(s->fd);
	free(s->name);
	free(s);
}

int
source_uses_uring(void)
{
	return last_uring;
}
