/*
 * output.c: buffered, atomic output of matched records.
 *
 * With -o FILE the records go to an unnamed file (O_TMPFILE) in FILE's
 * directory, so a process killed even by SIGKILL leaves nothing behind;
 * output_commit() links it in under a temporary name (".FILE.XXXXXX") and
 * renames that over FILE.  Where O_TMPFILE or /proc is missing, the file
 * is named from the start, and only a SIGKILL can leave it behind.
 *
 * An existing -o that is neither a regular file nor a directory (/dev/null,
 * a FIFO) is opened and written as it is: renaming over it would replace
 * the device.
 *
 * Only one output is open per process, so the temporary file's name is kept
 * in a static buffer that output_abort() can unlink from a signal handler
 * or the fatal hook without allocating.
 */
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "output.h"
#include "util.h"

#define OUTBUF	(256 * 1024)

struct output {
	int	 fd;
	char	*path;		/* final name, NULL for stdout */
	int	 unnamed;	/* fd is an O_TMPFILE: link it in at commit */
	int	 direct;	/* fd is path itself: a device or a FIFO */
	char	 term;
	uint8_t	*buf;
	size_t	 used;
};

static char tmp_name[PATH_MAX];	/* non-empty while a temp file exists */

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
		fatal_errno(EXIT_IO, "cannot write %s",
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
	if (path == NULL || strcmp(path, "-") == 0) {
		o->fd = STDOUT_FILENO;
		return o;
	}
	struct stat st;
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode) &&
	    !S_ISDIR(st.st_mode)) {
		/* -o /dev/null, a FIFO: written as it is.  A rename over it
		 * would replace the device with a file (as root, for all). */
		if ((o->fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY)) < 0)
			fatal_errno(EXIT_IO, "cannot open %s", path);
		o->path = xstrdup(path);
		o->direct = 1;
		return o;
	}
	const char *slash = strrchr(path, '/');
	int dirlen = slash ? (int)(slash - path + 1) : 0;
	char dir[PATH_MAX];
	if (snprintf(tmp_name, sizeof(tmp_name), "%.*s.%s.XXXXXX", dirlen,
	    path, slash ? slash + 1 : path) >= (int)sizeof(tmp_name))
		fatal(EXIT_USAGE, "output path too long: %s", path);
	snprintf(dir, sizeof(dir), "%.*s", dirlen ? dirlen : 1,
	    dirlen ? path : ".");
	o->path = xstrdup(path);
	if (access("/proc/self/fd", X_OK) == 0 &&
	    (o->fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666)) >= 0) {
		o->unnamed = 1;
		tmp_name[0] = '\0';	/* nothing to unlink until commit */
		return o;
	}
	o->fd = mkostemp(tmp_name, O_CLOEXEC);
	if (o->fd < 0) {
		tmp_name[0] = '\0';
		fatal_errno(EXIT_IO, "cannot create output file next to %s", path);
	}
	fchmod(o->fd, 0666 & ~current_umask());
	return o;
}

/* Give the unnamed file the temporary name ".FILE.XXXXXX" (fresh X's). */
static void
link_unnamed(struct output *o)
{
	static const char digits[] =
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	const char *slash = strrchr(o->path, '/');
	int dirlen = slash ? (int)(slash - o->path + 1) : 0;
	char proc[64], name[PATH_MAX];
	size_t len;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", o->fd);
	snprintf(name, sizeof(name), "%.*s.%s.XXXXXX", dirlen, o->path,
	    slash ? slash + 1 : o->path);
	len = strlen(name);
	for (int tries = 0; tries < 100; tries++) {
		for (size_t i = len - 6; i < len; i++)
			name[i] = digits[randombytes_uniform(sizeof(digits) - 1)];
		memcpy(tmp_name, name, len + 1);	/* unlinked on failure */
		if (linkat(AT_FDCWD, proc, AT_FDCWD, tmp_name,
		    AT_SYMLINK_FOLLOW) == 0)
			return;
		tmp_name[0] = '\0';
		if (errno != EEXIST)
			break;
	}
	fatal_errno(EXIT_IO, "cannot write %s", o->path);
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
	flush_buf(o);
	if (o->direct && close(o->fd) < 0)
		fatal_errno(EXIT_IO, "cannot write %s", o->path);
	if (o->path != NULL && !o->direct) {
		if (fsync(o->fd) < 0)
			fatal_errno(EXIT_IO, "cannot write %s", o->path);
		if (o->unnamed)
			link_unnamed(o);
		if (close(o->fd) < 0)
			fatal_errno(EXIT_IO, "cannot write %s", o->path);
		if (rename(tmp_name, o->path) < 0)
			fatal_errno(EXIT_IO, "cannot rename output into place "
			    "as %s", o->path);
		tmp_name[0] = '\0';
	}
	free(o->path);
	free(o->buf);
	free(o);
}

void
output_abort(void)
{
	if (tmp_name[0] != '\0') {
		unlink(tmp_name);
		tmp_name[0] = '\0';
	}
}
