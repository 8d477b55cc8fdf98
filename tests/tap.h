/*
 * tap.h: a tiny TAP producer for the C unit tests (header-only).
 * ok(cond, name...) prints "ok N - name" or "not ok N - name"; done_testing()
 * prints the plan and returns the exit status.  A test program that crashes
 * before done_testing() has printed no plan, which the TAP driver reports
 * as a failure.
 */
#ifndef PSI_TAP_H
#define PSI_TAP_H
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed;

__attribute__((format(printf, 2, 3), unused)) static int
ok(int cond, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d - ", cond ? "" : "not ", ++tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	if (!cond)
		tap_failed++;
	return cond;
}

__attribute__((unused, format(printf, 1, 2))) static void
diag(const char *fmt, ...)
{
	va_list ap;

	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

__attribute__((unused)) static int
done_testing(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

/* Directory holding the copied test vectors; set by the Makefile. */
#ifndef VECTORS_DIR
#define VECTORS_DIR "tests/vectors"
#endif
#endif
