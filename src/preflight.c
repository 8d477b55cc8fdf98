/*
 * preflight.c: a run's local paths, checked before the network is touched.
 *
 * Inputs are opened with rec_source_open(), the same call the session's
 * reader makes later, so every check source.c makes on open (the file
 * exists, is readable, is not a directory, its compression is one it
 * reads, it is not binary data) applies here with the same message; the source is closed again at once, which
 * costs one read of the first buffer of each file.  Standard input ("-")
 * cannot be read twice: it is only checked not to be a directory.  When
 * no input is zstd (and stdin is not read), source.c keeps no memory for a
 * zstd decoder: the sorters get it (rec_memory()).
 *
 * Outputs (-o and --stats) are written to a temporary file in their
 * directory and renamed into place (output.c, stats.c), so what must hold
 * now is that the directory exists, is a directory we may write into, and
 * that the path itself is not a directory.  access(2) answers for the real
 * user, which is the user: psi-stream is never set-uid.
 *
 * The progress measure: when every input is a regular file, the sum of
 * their sizes is the total, and source.c's read hook adds up the raw
 * (still compressed) bytes the session reads; both go to progress_bytes().
 * The hook runs in the thread that reads, which in a run is the main
 * thread, as progress.c requires.
 */
#include <sys/stat.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "preflight.h"
#include "progress.h"
#include "records.h"
#include "source.h"
#include "util.h"

static uint64_t input_total, input_read;

static void
count_read(size_t n)
{
	input_read += n;
	progress_bytes(input_read, input_total);
}

/* The inputs, opened and closed; returns their total size, or 0 if one
 * is not a regular file (then no percentage can be known).  Tells
 * source.c whether to keep memory for a zstd decoder. */
static uint64_t
check_inputs(const struct rec_opts *o, char **files, int nfiles)
{
	uint64_t total = 0;
	int all_regular = 1, zstd = 0;
	struct stat st;

	if (nfiles == 0) {
		if (fstat(STDIN_FILENO, &st) == 0 && S_ISDIR(st.st_mode))
			fatal(EXIT_IO, "stdin: is a directory");
		return 0;	/* stdin may be zstd: source.c's default */
	}
	for (int i = 0; i < nfiles; i++) {
		struct source *s;

		if (is_stdio_path(files[i])) {
			if (fstat(STDIN_FILENO, &st) == 0 && S_ISDIR(st.st_mode))
				fatal(EXIT_IO, "stdin: is a directory");
			all_regular = 0;
			zstd = 1;	/* cannot look: it may be */
			continue;
		}
		s = rec_source_open(o, files[i]);
		zstd |= source_is_zstd(s);
		source_close(s);
		if (stat(files[i], &st) == 0 && S_ISREG(st.st_mode))
			total += (uint64_t)st.st_size;
		else
			all_regular = 0;
	}
	source_expect_zstd(zstd);
	return all_regular ? total : 0;
}

/* path (given with opt) will be replaced by a rename from its directory. */
static void
check_new_file(const char *opt, const char *path)
{
	const char *slash;
	char dir[PATH_MAX];
	struct stat st;

	if (path == NULL || is_stdio_path(path))
		return;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		fatal(EXIT_IO, "cannot write %s %s: is a directory", opt, path);
	slash = strrchr(path, '/');
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 :
	    (int)(slash - path), path) >= (int)sizeof(dir))
		fatal(EXIT_IO, "cannot write %s %s: path too long", opt, path);
	if (stat(dir, &st) < 0)
		fatal_errno(EXIT_IO, "cannot write %s %s: directory %s", opt,
		    path, dir);
	if (!S_ISDIR(st.st_mode))
		fatal(EXIT_IO, "cannot write %s %s: %s is not a directory", opt,
		    path, dir);
	if (access(dir, W_OK | X_OK) < 0)
		fatal_errno(EXIT_IO, "cannot write %s %s: directory %s", opt,
		    path, dir);
}

static void
check_tmpdir(const char *dir)
{
	struct stat st;

	if (stat(dir, &st) < 0)
		fatal_errno(EXIT_IO, "cannot use temporary directory %s", dir);
	if (!S_ISDIR(st.st_mode))
		fatal(EXIT_IO, "cannot use temporary directory %s: not a "
		    "directory", dir);
	if (access(dir, W_OK | X_OK) < 0)
		fatal_errno(EXIT_IO, "cannot use temporary directory %s", dir);
}

void
preflight_stats(const char *path)
{
	check_new_file("--stats", path);
}

void
preflight_run(const struct session_opts *s)
{
	input_total = check_inputs(&s->rec, s->files, s->nfiles);
	check_new_file("-o", s->output);
	check_tmpdir(s->tmpdir);
	input_read = 0;
	if (input_total > 0)
		source_on_read(count_read);
}
