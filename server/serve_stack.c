/* A floor under the stack size of civetweb's threads.
 *
 * Debian's libcivetweb creates its worker threads with a fixed small stack
 * (its compile-time USE_STACK_SIZE) and has no run-time option for it.  That
 * is enough for the handlers in a release build, but not under
 * AddressSanitizer, whose instrumented frames (and libc's positional printf
 * inside civetweb's own header writer) are several times larger.  The `xcr`
 * executable therefore interposes pthread_attr_setstacksize: any request
 * below SERVE_MIN_STACK is raised to it; larger ones pass unchanged.  Only
 * the executable defines it, never the library. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>

#define SERVE_MIN_STACK ((size_t)4 << 20)

typedef int (*setstack_fn)(pthread_attr_t *, size_t);

int pthread_attr_setstacksize(pthread_attr_t *attr, size_t size)
{
    static setstack_fn real;
    if (!real) {
        /* POSIX's way to turn dlsym's object pointer into a function one */
        void *sym = dlsym(RTLD_NEXT, "pthread_attr_setstacksize");
        union {
            void *obj;
            setstack_fn fn;
        } u = {sym};
        real = u.fn;
    }
    if (!real)
        return 0; /* keep the default stack: still a valid attribute */
    return real(attr, size < SERVE_MIN_STACK ? SERVE_MIN_STACK : size);
}
