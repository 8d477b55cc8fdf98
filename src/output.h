/* output.h: placeholder. */
