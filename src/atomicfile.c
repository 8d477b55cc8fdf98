/*
 * atomicfile.c: files that appear whole or not at all (see atomicfile.h).
 *
 * The temporary file lives in the target's directory, so the final
 * rename(2) or link(2) never crosses a file system.  An O_TMPFILE has no
 * name until af_commit() gives it one through /proc/self/fd, so even
 * SIGKILL leaves nothing behind; a named one (no O_TMPFILE or no /proc)
 * is removed by af_abort() from the fatal path or a signal, and only
 * SIGKILL can leave it.  The final mode is set on the descriptor just
 * before the file gets a name others can open.
 */
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "atomicfile.h"
#include "util.h"

/* "DIR/.NAME.XXXXXX" in buf, six fresh random characters at the end. */
static int
temp_name(char *buf, size_t cap, const char *path)
{
	static const char digits[] =
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	const char *slash = strrchr(path, '/');
	int dirlen = slash ? (int)(slash - path + 1) : 0;
	int n = snprintf(buf, cap, "%.*s.%s.XXXXXX", dirlen, path,
	    slash ? slash + 1 : path);

	if (n < 0 || (size_t)n >= cap) {
		buf[0] = '\0';
		errno = ENAMETOOLONG;
		return -1;
	}
	for (int i = n - 6; i < n; i++)
		buf[i] = digits[randombytes_uniform(sizeof(digits) - 1)];
	return 0;
}

/* The directory of path ("." if none) in buf. */
static void
dir_of(char *buf, size_t cap, const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		snprintf(buf, cap, ".");
	else
		snprintf(buf, cap, "%.*s", (int)(slash - path + 1), path);
}

int
af_open(struct atomicfile *af, const char *path, mode_t mode, int flags)
{
	char dir[PATH_MAX];
	struct stat st;
	int e;

	af->fd = -1;
	af->flags = flags;
	af->unnamed = 0;
	af->direct = 0;
	af->mode = mode;
	af->path = path;
	af->tmp[0] = '\0';
	if (strlen(path) + 16 > sizeof(af->tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (!(flags & AF_NOREPLACE) && stat(path, &st) == 0 &&
	    !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
		af->fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
		af->direct = af->fd >= 0;
		return af->fd >= 0 ? 0 : -1;
	}
	if ((flags & AF_UNNAMED) && access("/proc/self/fd", X_OK) == 0) {
		dir_of(dir, sizeof(dir), path);
		af->fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
		if (af->fd >= 0) {
			af->unnamed = 1;
			return 0;
		}
	}
	for (int tries = 0; tries < 100; tries++) {
		if (temp_name(af->tmp, sizeof(af->tmp), path) < 0)
			return -1;
		af->fd = open(af->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0600);
		if (af->fd >= 0)
			return 0;
		if (errno != EEXIST)
			break;
	}
	e = errno;
	af->tmp[0] = '\0';
	errno = e;
	return -1;
}

/* The mode (and, where we may, the owner) the file is published with. */
static int
final_mode(struct atomicfile *af)
{
	struct stat st;

	if (stat(af->path, &st) == 0 && S_ISREG(st.st_mode)) {
		/* as `>` would: the old file's owner, group and mode */
		if (fchown(af->fd, st.st_uid, st.st_gid) < 0 &&
		    fchown(af->fd, (uid_t)-1, st.st_gid) < 0) {
			/* not ours to give away: ours it stays */
		}
		return fchmod(af->fd, st.st_mode & 07777);
	}
	return fchmod(af->fd, af->mode & ~(mode_t)current_umask() & 07777);
}

int
af_commit(struct atomicfile *af)
{
	char proc[64], dir[PATH_MAX];
	int noreplace = af->flags & AF_NOREPLACE, e, dfd, tries;

	if (af->direct) {		/* a device or FIFO: nothing to publish */
		e = close(af->fd);
		af->fd = -1;
		return e < 0 ? -1 : 0;
	}
	if (fsync(af->fd) < 0 || final_mode(af) < 0)
		goto fail;
	if (af->unnamed) {
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", af->fd);
		if (noreplace) {
			if (linkat(AT_FDCWD, proc, AT_FDCWD, af->path,
			    AT_SYMLINK_FOLLOW) < 0)
				goto fail;
			goto published;
		}
		for (tries = 0; tries < 100; tries++) {
			if (temp_name(af->tmp, sizeof(af->tmp), af->path) < 0)
				goto fail;
			if (linkat(AT_FDCWD, proc, AT_FDCWD, af->tmp,
			    AT_SYMLINK_FOLLOW) == 0)
				break;
			af->tmp[0] = '\0';
			if (errno != EEXIST)
				goto fail;
		}
		if (af->tmp[0] == '\0')
			goto fail;
		af->unnamed = 0;
	}
	if (close(af->fd) < 0) {
		af->fd = -1;
		goto fail;
	}
	af->fd = -1;
	if (noreplace ? link(af->tmp, af->path) < 0 :
	    rename(af->tmp, af->path) < 0)
		goto fail;
	if (noreplace)
		unlink(af->tmp);
	af->tmp[0] = '\0';
published:
	if (af->fd >= 0) {
		close(af->fd);
		af->fd = -1;
	}
	dir_of(dir, sizeof(dir), af->path);
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		(void)fsync(dfd);	/* best effort: some refuse */
		close(dfd);
	}
	return 0;
fail:
	e = errno;
	if (af->fd >= 0)
		close(af->fd);
	af->fd = -1;
	af_abort(af);
	errno = e;
	return noreplace && e == EEXIST ? 1 : -1;
}

void
af_abort(struct atomicfile *af)
{
	if (af->tmp[0] != '\0') {
		unlink(af->tmp);
		af->tmp[0] = '\0';
	}
}
