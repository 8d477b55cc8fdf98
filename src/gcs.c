/* gcs.c: placeholder, filled in by its issue. */
typedef int psi_gcs_placeholder;
