/* gcs.h: placeholder. */
