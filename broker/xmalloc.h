/*
 * xmalloc.h - allocation wrappers that abort on failure (Redis/tmux OOM
 * policy) and size arithmetic that aborts on overflow. Sizes that come
 * from the wire are checked against configured limits before they reach
 * these functions; an abort here means a bug or a machine out of memory.
 */
#ifndef TERN_XMALLOC_H
#define TERN_XMALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
/* reallocarray with abort on overflow or failure. */
void *xreallocarray(void *p, size_t nmemb, size_t size);
/* Copy n bytes of s and NUL-terminate; the result is a new allocation. */
char *xstrndup(const char *s, size_t n);
char *xstrdup(const char *s);
/* Copy n bytes; xmemdup(NULL, 0) returns NULL. */
void *xmemdup(const void *p, size_t n);

#endif /* TERN_XMALLOC_H */
