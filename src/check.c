/* check.c: placeholder, filled in by its issue. */
typedef int psi_check_placeholder;
