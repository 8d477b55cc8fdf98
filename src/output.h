/*
 * output.h: the matched records, written to stdout or atomically to a file.
 *
 * With a path, records go to an unnamed temporary file in the same
 * directory (O_TMPFILE; else one named ".NAME.XXXXXX", unlinked on any
 * failure short of SIGKILL), which output_commit() renames into place: a
 * failed run never leaves a partial output file.  Write errors are fatal
 * (exit 2); a closed pipe on stdout ends the process quietly as if killed
 * by SIGPIPE.
 */
#ifndef PSI_OUTPUT_H
#define PSI_OUTPUT_H

#include <stddef.h>
#include <stdint.h>

struct output;

/* path NULL or "-" = stdout.  term is '\n' or '\0'. */
struct output *output_open(const char *path, char term);
/* One record plus the terminator. */
void	output_record(struct output *, const uint8_t *data, size_t len);
/* A line of text (count-only results and the like), no terminator added. */
void	output_text(struct output *, const char *text);
/* Flush, fsync and rename into place (or flush stdout); frees o.  From
 * then on a signal no longer ends the run (result_commit_end()). */
void	output_commit(struct output *);
/* Async-signal-safe: unlink the temporary file if there is one. */
void	output_abort(void);

#endif
