/*
 * transpose.h: bit-matrix transpose from 512 columns to 64-byte rows, the
 * step of the OT extension that turns PRG columns into per-bin rows.
 * Three paths with identical results: AVX-512 BW and AVX2 (chosen at
 * run time) and portable C (any CPU).  See transpose.c.
 */
#ifndef PSI_TRANSPOSE_H
#define PSI_TRANSPOSE_H

#include <stddef.h>
#include <stdint.h>

#define TRANSPOSE_COLS	512	/* columns = bits per row */
#define TRANSPOSE_ROW	64	/* bytes per row */
#define TRANSPOSE_UNIT	128	/* n must be a multiple of this */

/*
 * For c < 512 and i < n: bit c of row i = bit i of column c, where bit i
 * of a byte string is bit (i % 8) of byte i / 8.  Column c starts at
 * cols + c * stride (stride >= n / 8); rows has n * 64 bytes.
 */
void	transpose_512(uint8_t *rows, const uint8_t *cols, size_t stride,
	    size_t n);

/* Test hook: 0 = choose (default), 1 = portable, 2 = AVX2, 3 = AVX-512 BW.
 * Returns -1 (and changes nothing) if the path is not available here. */
int	transpose_force(int path);
/* The path transpose_512 uses now (1, 2 or 3). */
int	transpose_path(void);

#endif
