/* The Server-Sent Events hub: one bounded ring shared by every stream.
 * Publishing never blocks on readers; a reader that falls more than the
 * ring's size behind is told how many events it missed. */
#include "serve.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

bool hub_init(serve_hub *h, size_t cap)
{
    memset(h, 0, sizeof *h);
    h->ev = calloc(cap, sizeof *h->ev);
    h->cap = cap;
    pthread_mutex_init(&h->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->cv, &ca);
    pthread_condattr_destroy(&ca);
    return h->ev != NULL;
}

void hub_free(serve_hub *h)
{
    for (size_t i = 0; h->ev && i < h->cap; i++)
        free(h->ev[i]);
    free(h->ev);
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->cv);
}

void hub_publish(serve_hub *h, const char *name, const char *data)
{
    size_t n = strlen(name) + strlen(data) + 32;
    char *e = malloc(n);
    if (!e)
        return;
    snprintf(e, n, "event: %s\ndata: %s\n\n", name, data);
    /* SSE data must be one line: the views write JSON with newlines */
    for (char *p = e + strlen(name) + 13; *p; p++)
        if (*p == '\n' && p[1] != '\n' && p[1] != '\0')
            *p = ' ';
    pthread_mutex_lock(&h->mu);
    size_t at = h->next_id % h->cap;
    free(h->ev[at]);
    h->ev[at] = e;
    h->next_id++;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

void hub_close(serve_hub *h)
{
    pthread_mutex_lock(&h->mu);
    h->closed = true;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

uint64_t hub_next(serve_hub *h)
{
    pthread_mutex_lock(&h->mu);
    uint64_t n = h->next_id;
    pthread_mutex_unlock(&h->mu);
    return n;
}

char *hub_wait(serve_hub *h, uint64_t *cursor, int ms)
{
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += ms / 1000;
    dl.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&h->mu);
    while (!h->closed && h->next_id <= *cursor)
        if (pthread_cond_timedwait(&h->cv, &h->mu, &dl) == ETIMEDOUT)
            break;
    if (h->closed) {
        pthread_mutex_unlock(&h->mu);
        return NULL;
    }
    size_t len = 1;
    char note[96] = "";
    if (h->next_id - *cursor > h->cap) {
        snprintf(note, sizeof note, ": %llu events dropped (slow reader)\n\n",
                 (unsigned long long)(h->next_id - h->cap - *cursor));
        *cursor = h->next_id - h->cap;
    }
    len += strlen(note);
    for (uint64_t i = *cursor; i < h->next_id; i++)
        len += strlen(h->ev[i % h->cap]);
    char *out = malloc(len);
    if (out) {
        size_t at = strlen(note);
        memcpy(out, note, at);
        for (uint64_t i = *cursor; i < h->next_id; i++) {
            size_t n = strlen(h->ev[i % h->cap]);
            memcpy(out + at, h->ev[i % h->cap], n);
            at += n;
        }
        out[at] = '\0';
        *cursor = h->next_id;
    }
    pthread_mutex_unlock(&h->mu);
    return out;
}
