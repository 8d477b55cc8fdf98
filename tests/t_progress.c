/*
 * t_progress.c: the --progress line (src/progress.c), stderr captured in a
 * file.  Covers: nothing at all is written when off, in auto mode with
 * stderr not a terminal, after progress_abort(), or for a phase shorter
 * than one redraw interval; when on: one '\r' line with phase, count,
 * rate, percentage and ETA for a known total (or from progress_bytes()),
 * elapsed time and no percentage for an unknown one, K/M suffixes, at most
 * about 6 draws a second however often progress_set() is called, a new
 * phase replacing a shown line at once and padded over the longer old
 * one, and progress_end() erasing the line with spaces between two '\r';
 * the time left falling as the bytes read rise; the waiting line of a
 * listener and of a connector, drawn at once and erased when the wait ends.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "progress.h"
#include "tap.h"
#include "util.h"

static char errfile[PATH_MAX];
static int saved_fd = -1;

static void
begin(void)
{
	int fd = open(errfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	saved_fd = dup(2);
	dup2(fd, 2);
	close(fd);
}

/* Restore stderr; returns what was written (length in *len). */
static char *
finish(size_t *len)
{
	static char buf[65536];
	FILE *f;

	dup2(saved_fd, 2);
	close(saved_fd);
	f = fopen(errfile, "r");
	*len = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	if (f)
		fclose(f);
	buf[*len] = '\0';
	return buf;
}

static int
count_char(const char *s, size_t len, char c)
{
	int n = 0;

	for (size_t i = 0; i < len; i++)
		n += s[i] == c;
	return n;
}

static void
wait_interval(void)
{
	usleep(220000);		/* a little over 1/6 s */
}

int
main(void)
{
	const char *tmp = getenv("TMPDIR");
	char *out, *last;
	size_t len;
	double t0;
	int draws;

	snprintf(errfile, sizeof(errfile), "%s/t_progress.%d",
	    tmp ? tmp : "/tmp", (int)getpid());

	/* off */
	begin();
	progress_init(0);
	progress_phase("read", 100);
	wait_interval();
	progress_set(50);
	progress_bytes(1, 2);
	progress_end();
	progress_abort();
	progress_waiting("0.0.0.0:7000", 0, 10);
	out = finish(&len);
	ok(len == 0, "off: nothing written, not even a waiting line");

	/* auto, stderr is a file: off */
	begin();
	progress_init(-1);
	progress_phase("read", 0);
	wait_interval();
	progress_set(5);
	progress_end();
	out = finish(&len);
	ok(len == 0, "auto with stderr not a terminal: nothing written");

	/* on, a phase too short to draw */
	begin();
	progress_init(1);
	progress_phase("quick", 10);
	progress_set(10);
	progress_end();
	out = finish(&len);
	ok(len == 0, "on: a phase shorter than 1/6 s draws nothing");

	/* on, known total */
	begin();
	progress_phase("query", 1000);
	progress_set(0);
	wait_interval();
	progress_set(500);
	out = finish(&len);
	ok(len > 0 && out[0] == '\r' && strchr(out, '\n') == NULL,
	    "on: one '\\r' line, no newline");
	ok(strstr(out, "psi-stream: query  500  ") != NULL,
	    "... with the phase and the count");
	ok(strstr(out, "/s  50%  0:0") != NULL && strstr(out, " left") != NULL,
	    "... the rate, the percentage and the time left");
	diag("line: %s", out + 1);

	/* a new phase while the line is up: redrawn at once, padded */
	begin();
	progress_phase("x", 0);
	out = finish(&len);
	ok(len > 1 && out[0] == '\r' && strstr(out, "psi-stream: x  0  ") &&
	    out[len - 1] == ' ', "a new phase replaces the line at once, "
	    "padded over the longer old one");

	/* unknown total, K/M suffixes, elapsed time */
	begin();
	wait_interval();
	progress_set(1234567);
	out = finish(&len);
	last = strrchr(out, '\r');
	ok(last && strstr(last, "  1.23M  ") && strstr(last, "M/s  0:00") &&
	    !strchr(last, '%') && !strstr(last, "left"),
	    "unknown total: count 1.23M, a rate, elapsed time, no %% or time left");
	diag("line: %s", last ? last + 1 : "(none)");
	/* progress_bytes: the first chunk counts as not read yet; then the
	 * position inside a chunk follows the items, at the bytes per item of
	 * the chunks before (250 bytes for 2500 items: 0.1 each) */
	begin();
	progress_phase("query", 0);
	progress_bytes(250, 1000);	/* chunk 1 handed over, 0 items */
	wait_interval();
	progress_set(2000);
	progress_set(2500);
	progress_bytes(500, 1000);	/* chunk 2, after 2500 items */
	wait_interval();
	progress_set(2500);
	wait_interval();
	progress_set(3750);		/* 250 + 1250 * 0.1 = 375 bytes */
	wait_interval();
	progress_set(9000);		/* past the chunk: held at 500 */
	out = finish(&len);
	diag("lines: %s", out);
	{
		char *p0 = strstr(out, "  2.00K  "), *p1 = strstr(out, "  25%  "),
		    *p2 = strstr(out, "  37%  "), *p3 = strstr(out, "  50%  ");
		unsigned m1, s1, m2, s2;
		ok(p0 && strstr(p0, "  0%  ") && p1 && p2 && p3 && p1 < p2 &&
		    p2 < p3, "progress_bytes: 0%% in the first chunk, then "
		    "25%%, 37%% (inside the chunk, from the items), 50%% at "
		    "most (its end)");
		ok(p2 && p3 && sscanf(p2, "  37%%  %u:%u left", &m1, &s1) == 2 &&
		    sscanf(p3, "  50%%  %u:%u left", &m2, &s2) == 2 &&
		    m2 * 60 + s2 <= m1 * 60 + s1,
		    "percentage up, time left down");
	}

	/* waiting: drawn at once, erased when the wait is over */
	begin();
	progress_end();
	progress_waiting("0.0.0.0:7000", 0, 581.2);
	out = finish(&len);
	last = strrchr(out, '\r');
	ok(last && strcmp(last + 1, "psi-stream: waiting for a peer on "
	    "0.0.0.0:7000, 9:41 left") == 0, "waiting listener: 'waiting for a peer on "
	    "ADDR, 9:41 left', drawn at once");
	begin();
	progress_waiting("b.example:7000", 4, 52);
	out = finish(&len);
	ok(strstr(out, "psi-stream: connecting to b.example:7000, attempt 4, "
	    "0:52 left") != NULL, "connector: 'connecting to ADDR, attempt 4, "
	    "0:52 left'");
	begin();
	progress_waiting("b.example:7000", -1, 0);
	out = finish(&len);
	ok(len >= 3 && out[0] == '\r' && out[len - 1] == '\r' &&
	    count_char(out, len, ' ') == (int)len - 2,
	    "attempt -1: the waiting line is erased");

	/* rate limit: call progress_set as fast as possible for 0.5 s */
	begin();
	progress_phase("busy", 0);
	t0 = now_seconds();
	for (uint64_t i = 0; now_seconds() - t0 < 0.5; i++)
		progress_set(i);
	out = finish(&len);
	draws = count_char(out, len, '\r');
	ok(draws >= 1 && draws <= 5, "0.5 s of calls: at most ~6 draws a "
	    "second (%d draws)", draws);

	/* end: erase */
	begin();
	progress_end();
	out = finish(&len);
	ok(len >= 3 && out[0] == '\r' && out[len - 1] == '\r' &&
	    count_char(out, len, ' ') == (int)len - 2,
	    "progress_end erases the line: \\r, spaces, \\r");
	begin();
	progress_end();
	out = finish(&len);
	ok(len == 0, "progress_end with no line up writes nothing");

	/* the phase goes on after progress_end; abort stops everything */
	begin();
	wait_interval();
	progress_set(7);
	out = finish(&len);
	ok(len > 0 && strstr(out, "busy  7  "),
	    "after progress_end the next update draws again");
	begin();
	progress_abort();
	progress_phase("after", 1);
	wait_interval();
	progress_set(1);
	progress_end();
	out = finish(&len);
	ok(len > 0 && strstr(out, "after") == NULL &&
	    out[len - 1] == '\r', "progress_abort erases, then nothing more");

	unlink(errfile);
	return done_testing();
}
