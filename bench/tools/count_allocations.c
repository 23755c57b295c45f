/*
 * count_allocations.c: an LD_PRELOAD shim that counts heap allocations.
 *
 * bench/allocation-check preloads it into `cnn bench` to show that a
 * training step allocates nothing: two runs that time different numbers of
 * mini-batches must report the same count.  It forwards to glibc's own
 * allocator and prints the count to stderr when the process exits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <errno.h>
extern void *__libc_malloc(size_t); extern void *__libc_calloc(size_t,size_t); extern void *__libc_realloc(void*,size_t); extern void *__libc_memalign(size_t,size_t);
static atomic_long calls;
void *malloc(size_t n){ calls++; return __libc_malloc(n);}
void *calloc(size_t a, size_t b){ calls++; return __libc_calloc(a,b);}
void *realloc(void *p, size_t n){ calls++; return __libc_realloc(p,n);}
void *memalign(size_t a, size_t n){ calls++; return __libc_memalign(a,n);}
void *aligned_alloc(size_t a, size_t n){ calls++; return __libc_memalign(a,n);}
int posix_memalign(void **p, size_t a, size_t n){ calls++; void*r=__libc_memalign(a,n); if(!r) return ENOMEM; *p=r; return 0;}
__attribute__((destructor)) static void done(void){ fprintf(stderr,"ALLOCATIONS %ld\n",(long)calls); }
