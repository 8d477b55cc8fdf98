/* session.h: placeholder. */
