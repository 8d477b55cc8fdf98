/* oprf.c: placeholder, filled in by its issue. */
typedef int psi_oprf_placeholder;
