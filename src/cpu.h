/*
 * cpu.h: which SIMD instruction sets the hot loops may use -- the one
 * place that decides (transpose.c, blake2bx.c ask it).  See cpu.c.
 */
#ifndef PSI_CPU_H
#define PSI_CPU_H

#define CPU_AVX2	1u	/* AVX2 (transpose, 4-lane BLAKE2b) */
#define CPU_AVX512	2u	/* AVX-512 F (8-lane BLAKE2b, 16-block PRG) */
#define CPU_AVX512BW	4u	/* AVX-512 F and BW (64-column transpose) */

/*
 * The features above that this CPU and OS have and that this build may
 * use: none on non-x86-64 CPUs, in a -DPSI_PORTABLE_ONLY build, or when
 * the environment has PSI_STREAM_PORTABLE=1.  Decided once (the first
 * call), then constant; safe from any thread.
 */
unsigned	cpu_features(void);

#endif
