/* output.c: placeholder, filled in by its issue. */
typedef int psi_output_placeholder;
