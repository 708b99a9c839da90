/* String → uint32 index map: open addressing with linear probing, FNV-1a
 * hashing.  Keys are borrowed (the book owns the id strings). */
#include "core.h"

#include <string.h>

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

void xcr__strmap_init(xcr__strmap *m, const xcr_allocator *a)
{
    memset(m, 0, sizeof *m);
    m->alloc = a;
}

void xcr__strmap_free(xcr__strmap *m)
{
    xcr__free(m->alloc, (void *)m->keys);
    xcr__free(m->alloc, m->vals);
    m->keys = NULL;
    m->vals = NULL;
    m->cap = m->len = 0;
}

static xcr_status rehash(xcr__strmap *m, size_t ncap)
{
    const char **nk = xcr__calloc(m->alloc, ncap, sizeof *nk);
    uint32_t *nv = xcr__calloc(m->alloc, ncap, sizeof *nv);
    if (!nk || !nv) {
        xcr__free(m->alloc, (void *)nk);
        xcr__free(m->alloc, nv);
        return XCR_ENOMEM;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->keys[i])
            continue;
        size_t j = (size_t)fnv1a(m->keys[i]) & (ncap - 1);
        while (nk[j])
            j = (j + 1) & (ncap - 1);
        nk[j] = m->keys[i];
        nv[j] = m->vals[i];
    }
    xcr__free(m->alloc, (void *)m->keys);
    xcr__free(m->alloc, m->vals);
    m->keys = nk;
    m->vals = nv;
    m->cap = ncap;
    return XCR_OK;
}

xcr_status xcr__strmap_put(xcr__strmap *m, const char *key, uint32_t val,
                           uint32_t *existing)
{
    if ((m->len + 1) * 2 > m->cap) {
        xcr_status s = rehash(m, m->cap ? m->cap * 2 : 16);
        if (s != XCR_OK)
            return s;
    }
    size_t j = (size_t)fnv1a(key) & (m->cap - 1);
    while (m->keys[j]) {
        if (strcmp(m->keys[j], key) == 0) {
            if (existing)
                *existing = m->vals[j];
            return XCR_EDUP;
        }
        j = (j + 1) & (m->cap - 1);
    }
    m->keys[j] = key;
    m->vals[j] = val;
    m->len++;
    return XCR_OK;
}

long xcr__strmap_get(const xcr__strmap *m, const char *key)
{
    if (!m->cap || !key)
        return -1;
    size_t j = (size_t)fnv1a(key) & (m->cap - 1);
    while (m->keys[j]) {
        if (strcmp(m->keys[j], key) == 0)
            return (long)m->vals[j];
        j = (j + 1) & (m->cap - 1);
    }
    return -1;
}
