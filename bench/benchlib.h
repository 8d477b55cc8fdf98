/*
 * benchlib.h: what the sorter benchmarks (spill_speed, esort_speed) share:
 * a seeded generator for their random input and a measure of the disk
 * their spill file uses.  Linux only (/proc/self/fd).
 */
#ifndef PSI_BENCHLIB_H
#define PSI_BENCHLIB_H

#include <stdint.h>

/* splitmix64: the next of a sequence of well-mixed 64-bit values. */
uint64_t	splitmix(uint64_t *state);
/* Bytes written to the files this process holds open under dir (unlinked
 * spill files included, found through /proc/self/fd), and bytes still
 * allocated to them once consumed runs have been punched out. */
void		spill_bytes(const char *dir, long long *written, long long *held);

#endif
