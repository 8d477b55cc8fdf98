/*
 * atomicfile.h: a file that appears whole or not at all, for -o, --stats,
 * known_peers and new key files (output.c, stats.c, peers.c).
 *
 * Call order: af_open() (the data goes to af->fd: an unnamed O_TMPFILE in
 * the target's directory where allowed, else a fresh ".NAME.XXXXXX" made
 * with O_EXCL | O_NOFOLLOW), then af_commit() or af_abort().  af_commit
 * fsyncs the data, gives the file its final mode, publishes it with
 * rename(2) (or link(2), which never replaces: AF_NOREPLACE) and fsyncs
 * the directory, so a reader sees the old file or the complete new one.
 *
 * A path that exists and is neither a regular file nor a directory
 * (/dev/null, a FIFO) is opened and written as it is: a rename over it
 * would replace the device with a file (as root, for everyone).
 *
 * Modes: a file that replaces an existing one keeps that file's mode and,
 * where we may (root, or a group we are in), its owner and group, as shell
 * redirection does; a new file gets the caller's mode less the umask, as
 * sort(1) does.  So a 0600 output file stays 0600.
 *
 * Memory: nothing is allocated here; the temporary name lives in the
 * struct, which a caller may keep in static storage (stats.c must not
 * allocate), and af_abort() is async-signal-safe.  Errors are returned as
 * -1 with errno set; the caller says what failed (nothing here is fatal).
 * Only the calling thread uses a struct atomicfile, except af_abort().
 */
#ifndef PSI_ATOMICFILE_H
#define PSI_ATOMICFILE_H

#include <sys/types.h>
#include <limits.h>

enum {
	AF_UNNAMED = 1,		/* af_open: try O_TMPFILE first */
	AF_NOREPLACE = 2	/* af_commit: link, fail with 1 if path exists */
};

struct atomicfile {
	int		 fd;		/* -1 when closed */
	int		 flags;
	int		 unnamed;	/* fd is an O_TMPFILE, not linked yet */
	int		 direct;	/* fd is path itself: a device, a FIFO */
	mode_t		 mode;		/* for a new file, before the umask */
	const char	*path;		/* the target (the caller's string) */
	char		 tmp[PATH_MAX];	/* non-empty while a named temp exists */
};

/* 0, or -1 with errno (ENAMETOOLONG for an over-long path). */
int	af_open(struct atomicfile *, const char *path, mode_t mode, int flags);
/* Publish: 0; 1 with AF_NOREPLACE if path exists (nothing published);
 * -1 with errno on failure (the temporary file is removed). */
int	af_commit(struct atomicfile *);
/* Remove the temporary file, if it has a name; async-signal-safe (from
 * the fatal path or a signal, while another thread may be writing): the
 * descriptor is left alone, the process is about to exit. */
void	af_abort(struct atomicfile *);

#endif
