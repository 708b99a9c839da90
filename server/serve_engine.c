/* The engine thread: the one thread that touches the monitor.  HTTP workers
 * (civetweb threads, with small stacks) and the stdin reader hand it jobs
 * through a bounded queue and wait for them; a full queue is answered 503.
 * This serialises every update in arrival order, which is also the order
 * of the durable log. */
#include "serve.h"

#include <stdlib.h>
#include <string.h>

static void *engine_main(void *arg)
{
    serve_engine *e = arg;
    pthread_mutex_lock(&e->mu);
    for (;;) {
        while (!e->head && !e->stop)
            pthread_cond_wait(&e->cv_work, &e->mu);
        if (!e->head)
            break; /* stopped and drained */
        serve_job *j = e->head;
        e->head = j->next;
        if (!e->head)
            e->tail = NULL;
        e->n--;
        pthread_mutex_unlock(&e->mu);
        j->fn(j->arg);
        pthread_mutex_lock(&e->mu);
        j->done = true;
        pthread_cond_broadcast(&e->cv_done);
    }
    pthread_mutex_unlock(&e->mu);
    return NULL;
}

bool engine_start(serve_engine *e, size_t cap)
{
    memset(e, 0, sizeof *e);
    e->cap = cap;
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->cv_work, NULL);
    pthread_cond_init(&e->cv_done, NULL);
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setstacksize(&at, (size_t)16 << 20);
    bool ok = pthread_create(&e->th, &at, engine_main, e) == 0;
    pthread_attr_destroy(&at);
    return ok;
}

bool engine_call(serve_engine *e, void (*fn)(void *), void *arg)
{
    serve_job j = {fn, arg, false, NULL};
    pthread_mutex_lock(&e->mu);
    if (e->stop || e->n >= e->cap) {
        pthread_mutex_unlock(&e->mu);
        return false;
    }
    if (e->tail)
        e->tail->next = &j;
    else
        e->head = &j;
    e->tail = &j;
    e->n++;
    pthread_cond_signal(&e->cv_work);
    while (!j.done)
        pthread_cond_wait(&e->cv_done, &e->mu);
    pthread_mutex_unlock(&e->mu);
    return true;
}

void engine_stop(serve_engine *e)
{
    pthread_mutex_lock(&e->mu);
    e->stop = true;
    pthread_cond_broadcast(&e->cv_work);
    pthread_mutex_unlock(&e->mu);
    pthread_join(e->th, NULL);
    /* the mutex stays valid: a late caller (the stdin reader) finds `stop`
     * and returns */
}
