/* source.c: placeholder, filled in by its issue. */
typedef int psi_source_placeholder;
