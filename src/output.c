/*
 * output.c: buffered, atomic output of matched records.
 *
 * With -o FILE the records go to an unnamed file (O_TMPFILE) in FILE's
 * directory, so a process killed even by SIGKILL leaves nothing behind;
 * output_commit() links it in under a temporary name (".FILE.XXXXXX") and
 * renames that over FILE.  Where O_TMPFILE or /proc is missing, the file
 * is named from the start, and only a SIGKILL can leave it behind.
 *
 * atomicfile.c does the file: an existing FILE's mode and owner are kept
 * (a 0600 output stays 0600), a new one gets 0666 less the umask, as
 * sort -o does; an existing device or FIFO (-o /dev/null) is written in
 * place.  Only one output is open per process, in a static struct
 * that output_abort() can reach from a signal or the fatal hook.
 */
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomicfile.h"
#include "output.h"
#include "util.h"

#define OUTBUF	(256 * 1024)

struct output {
	int	 fd;
	char	*path;		/* final name, NULL for stdout */
	char	 term;
	uint8_t	*buf;
	size_t	 used;
};

/* One output per process: static, so output_abort() can reach it from a
 * signal or the fatal hook without allocating. */
static struct atomicfile out_file = { .fd = -1 };

static void
flush_buf(struct output *o)
{
	if (o->used == 0)
		return;
	if (write_all(o->fd, o->buf, o->used) < 0) {
		if (errno == EPIPE && o->path == NULL) {
			/* reader went away (| head): end like a killed filter */
			output_abort();
			signal(SIGPIPE, SIG_DFL);
			raise(SIGPIPE);
			_exit(128 + SIGPIPE);
		}
		fatal_output_errno("cannot write %s",
		    o->path ? o->path : "standard output");
	}
	o->used = 0;
}

struct output *
output_open(const char *path, char term)
{
	struct output *o = xcalloc(1, sizeof(*o));

	o->term = term;
	o->buf = xmalloc(OUTBUF);
	if (path == NULL || is_stdio_path(path)) {
		o->fd = STDOUT_FILENO;
		return o;
	}
	o->path = xstrdup(path);
	if (af_open(&out_file, o->path, 0666, AF_UNNAMED) < 0) {
		if (errno == ENAMETOOLONG)
			fatal(EXIT_USAGE, "output path too long: %s", path);
		fatal_output_errno("cannot create output file next to %s",
		    path);
	}
	o->fd = out_file.fd;
	return o;
}

void
output_record(struct output *o, const uint8_t *data, size_t len)
{
	while (len + 1 > OUTBUF - o->used) {
		size_t n = OUTBUF - o->used;
		if (n > len)
			n = len;
		memcpy(o->buf + o->used, data, n);
		o->used += n;
		data += n;
		len -= n;
		flush_buf(o);
	}
	memcpy(o->buf + o->used, data, len);
	o->used += len;
	o->buf[o->used++] = (uint8_t)o->term;
}

void
output_text(struct output *o, const char *text)
{
	size_t len = strlen(text);

	if (len > OUTBUF - o->used)
		flush_buf(o);
	memcpy(o->buf + o->used, text, len);
	o->used += len;
}

void
output_commit(struct output *o)
{
	result_commit_begin();		/* no signal ends us half-way */
	flush_buf(o);
	if (o->path != NULL && af_commit(&out_file) != 0)
		fatal_output_errno("cannot write %s", o->path);
	result_commit_end();
	free(o->path);
	free(o->buf);
	free(o);
}

void
output_abort(void)
{
	af_abort(&out_file);
}
