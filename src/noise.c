/* noise.c: placeholder, filled in by its issue. */
typedef int psi_noise_placeholder;
