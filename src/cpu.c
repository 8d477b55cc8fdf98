/*
 * cpu.c: run-time choice of the SIMD paths (cpu.h).
 *
 * On x86-64 the CPU and OS support comes from __builtin_cpu_supports,
 * which also checks that the OS saves the wide registers (XGETBV), so a
 * path compiled with __attribute__((target(...))) runs only where it can;
 * the build itself needs no -m flags.  Two ways to take the portable
 * paths on a CPU that has more: build with -DPSI_PORTABLE_ONLY (what a
 * non-x86 CPU gets; tests that build on x86) or run with
 * PSI_STREAM_PORTABLE=1 in the environment (same program, for comparing
 * or for working around a CPU problem).  The paths give identical bytes,
 * so the choice never shows in any output, only in speed.
 *
 * Assumes nothing; no memory, no failure.  The result is cached in a
 * static written with the same value by every racing first caller.
 */
#include <stdlib.h>
#include <string.h>

#include "cpu.h"

#if defined(__x86_64__) && !defined(PSI_PORTABLE_ONLY)
#define CPU_X86 1
#endif

#define CPU_KNOWN	0x100u	/* cached value is valid */

static unsigned
detect(void)
{
	unsigned f = 0;
	const char *env = getenv("PSI_STREAM_PORTABLE");

	if (env != NULL && strcmp(env, "1") == 0)
		return 0;
#ifdef CPU_X86
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx2"))
		f |= CPU_AVX2;
	if (__builtin_cpu_supports("avx512f"))
		f |= CPU_AVX512;
	if (__builtin_cpu_supports("avx512f") &&
	    __builtin_cpu_supports("avx512bw"))
		f |= CPU_AVX512BW;
#endif
	return f;
}

unsigned
cpu_features(void)
{
	static unsigned cached;
	unsigned f = __atomic_load_n(&cached, __ATOMIC_RELAXED);

	if (f == 0) {
		f = detect() | CPU_KNOWN;
		__atomic_store_n(&cached, f, __ATOMIC_RELAXED);
	}
	return f & ~CPU_KNOWN;
}
