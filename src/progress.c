/*
 * progress.c: the --progress line on stderr.
 *
 * State is a handful of statics owned by the main thread (see progress.h).
 * progress_set() is the hot call: when the line is off it returns at once;
 * when on it reads the monotonic clock and draws only if 1/6 s has passed
 * since the last draw, so callers need no rate limiting of their own.
 *
 * The rate is the phase's average (items since the phase began over the
 * time since it began): steadier than an instantaneous rate, and the time left
 * derived from it does not jump about.  A phase shorter than one interval
 * never draws at all, so quick runs leave stderr untouched even when the
 * line is on.  Every draw rewrites the whole line and pads it with spaces
 * to the length of the previous one, so no stale characters remain.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "progress.h"
#include "util.h"

#define INTERVAL	(1.0 / 6)	/* seconds between draws */
#define NAME_MAX_LEN	20		/* phase names are cut to this */
#define LINE_MAX_LEN	120

static int	enabled;		/* 0 until progress_init() says otherwise */
static int	in_phase;
static size_t	shown;			/* columns on screen now; 0 = no line */
static char	phase[NAME_MAX_LEN + 1];
static uint64_t	total, done, bytes_done, bytes_total;
static uint64_t	bytes_prev, done_prev;	/* at the last progress_bytes() */
static double	phase_start, last_draw;

void
progress_init(int mode)
{
	if (mode < 0)
		enabled = isatty(STDERR_FILENO);
	else
		enabled = mode != 0;
}

/* 1234567 -> "1.23M": three significant digits, K M G T (powers of 1000). */
static void
fmt_si(char *buf, size_t len, double v)
{
	static const char units[] = "KMGTP";
	int u = -1;

	while (v >= 999.5 && u < (int)sizeof(units) - 2) {
		v /= 1000;
		u++;
	}
	if (u < 0)
		snprintf(buf, len, "%.0f", v);
	else if (v < 9.995)
		snprintf(buf, len, "%.2f%c", v, units[u]);
	else if (v < 99.95)
		snprintf(buf, len, "%.1f%c", v, units[u]);
	else
		snprintf(buf, len, "%.0f%c", v, units[u]);
}

/* Seconds as m:ss or h:mm:ss, capped at 999:59:59. */
static void
fmt_duration(char *buf, size_t len, double secs)
{
	unsigned long s;

	if (secs < 0)
		secs = 0;
	if (secs > 999 * 3600.0 + 3599)
		secs = 999 * 3600.0 + 3599;
	s = (unsigned long)(secs + 0.5);
	if (s < 3600)
		snprintf(buf, len, "%lu:%02lu", s / 60, s % 60);
	else
		snprintf(buf, len, "%lu:%02lu:%02lu", s / 3600, s / 60 % 60,
		    s % 60);
}

/*
 * How far the reader has got.  progress_bytes() is told of a chunk when it
 * is handed to the parser, which then works through it: up to 128 KiB at
 * a time, a quarter of a small file.  Within the chunk the position is
 * estimated from the items counted since, at the bytes per item of the
 * chunks before, and kept inside the chunk; for the first chunk there is
 * nothing to go by, and it counts as not read yet.
 */
static uint64_t
bytes_read(void)
{
	double est;

	if (bytes_prev == 0 || done_prev == 0 || done < done_prev)
		return bytes_prev;
	est = (double)bytes_prev + (double)(done - done_prev) *
	    ((double)bytes_prev / (double)done_prev);
	return est < (double)bytes_done ? (uint64_t)est : bytes_done;
}

/* The line's text, without '\r' or padding; returns its length. */
static size_t
compose(char *line, size_t cap, double now)
{
	char count[16], rate[16], when[24];
	double elapsed = now - phase_start, frac = -1;
	double per_s = elapsed > 0 ? (double)done / elapsed : 0;
	int n;

	if (total > 0)
		frac = (double)done / (double)total;
	else if (bytes_total > 0)
		frac = (double)bytes_read() / (double)bytes_total;
	if (frac > 1)
		frac = 1;
	fmt_si(count, sizeof(count), (double)done);
	fmt_si(rate, sizeof(rate), per_s);
	if (frac > 0)
		fmt_duration(when, sizeof(when), elapsed * (1 - frac) / frac);
	else
		snprintf(when, sizeof(when), "?");
	if (frac >= 0)
		n = snprintf(line, cap, "psi-stream: %s  %s  %s/s  %d%%  %s left",
		    phase, count, rate, (int)(frac * 100), when);
	else {
		fmt_duration(when, sizeof(when), elapsed);
		n = snprintf(line, cap, "psi-stream: %s  %s  %s/s  %s",
		    phase, count, rate, when);
	}
	if (n < 0)
		return 0;
	return (size_t)n < cap ? (size_t)n : cap - 1;
}

/* Put buf + 1 (len characters; buf[0] is free) on the line. */
static void
put_line(char *buf, size_t len)
{
	buf[0] = '\r';
	if (len < shown) {		/* cover the rest of the old line */
		memset(buf + 1 + len, ' ', shown - len);
		write_all(STDERR_FILENO, buf, 1 + shown);
	} else
		write_all(STDERR_FILENO, buf, 1 + len);
	shown = len > shown ? len : shown;
}

static void
draw(double now)
{
	char buf[1 + 2 * LINE_MAX_LEN];

	put_line(buf, compose(buf + 1, LINE_MAX_LEN, now));
	last_draw = now;
}

void
progress_waiting(const char *addr, int attempt, double left)
{
	char buf[1 + 2 * LINE_MAX_LEN], when[24];
	int n;

	if (!enabled)
		return;
	if (attempt < 0) {	/* connected: the wait is over */
		progress_end();
		return;
	}
	fmt_duration(when, sizeof(when), left);
	if (attempt == 0)
		n = snprintf(buf + 1, LINE_MAX_LEN, "psi-stream: waiting for a "
		    "peer on %s, %s left", addr, when);
	else
		n = snprintf(buf + 1, LINE_MAX_LEN, "psi-stream: connecting to "
		    "%s, attempt %d, %s left", addr, attempt, when);
	if (n < 0)
		return;
	put_line(buf, (size_t)n < LINE_MAX_LEN ? (size_t)n : LINE_MAX_LEN - 1);
}

void
progress_phase(const char *name, uint64_t n)
{
	double now;

	if (!enabled)
		return;
	now = now_seconds();
	snprintf(phase, sizeof(phase), "%s", name);
	total = n;
	done = bytes_done = bytes_total = bytes_prev = done_prev = 0;
	phase_start = last_draw = now;
	in_phase = 1;
	if (shown)	/* a line is up: show the new phase at once */
		draw(now);
}

void
progress_set(uint64_t n)
{
	double now;

	if (!enabled || !in_phase)
		return;
	done = n;
	now = now_seconds();
	if (now - last_draw >= INTERVAL)
		draw(now);
}

void
progress_bytes(uint64_t n, uint64_t of)
{
	if (!enabled)
		return;
	bytes_prev = bytes_done;
	done_prev = done;
	bytes_done = n;
	bytes_total = of;
}

void
progress_end(void)
{
	char buf[2 + LINE_MAX_LEN];

	if (!enabled || shown == 0)
		return;
	buf[0] = '\r';
	memset(buf + 1, ' ', shown);
	buf[1 + shown] = '\r';
	write_all(STDERR_FILENO, buf, shown + 2);
	shown = 0;
}

void
progress_abort(void)
{
	progress_end();
	enabled = 0;
	in_phase = 0;
}
