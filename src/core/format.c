/* Human-readable numbers for tables and explanations. */
#include "core.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Two decimals with thousands separators ("-12,345.67"); "-" for NaN and
 * "inf"/"-inf" for infinities; never "-0.00". */
void xcr__fmt_money(double v, char *buf, size_t n)
{
    if (!isfinite(v)) {
        snprintf(buf, n, "%s", isnan(v) ? "-" : v > 0 ? "inf" : "-inf");
        return;
    }
    char raw[64];
    snprintf(raw, sizeof raw, "%.2f", fabs(v));
    char *dot = strchr(raw, '.');
    size_t ilen = dot ? (size_t)(dot - raw) : strlen(raw);
    size_t o = 0;
    if (v < 0 && strcmp(raw, "0.00") != 0 && o + 1 < n)
        buf[o++] = '-';
    for (size_t i = 0; i < ilen && o + 2 < n; i++) {
        buf[o++] = raw[i];
        size_t left = ilen - i - 1;
        if (left && left % 3 == 0)
            buf[o++] = ',';
    }
    for (const char *p = dot; p && *p && o + 1 < n; p++)
        buf[o++] = *p;
    buf[o] = '\0';
}

/* A JSON number in its shortest round-trip form; null when not finite;
 * never "-0". */
void xcr__put_num(FILE *f, double v)
{
    char buf[40];
    if (!isfinite(v)) {
        fputs("null", f);
        return;
    }
    if (v == 0)
        v = 0; /* no "-0" */
    xcr__fmt_double(v, buf, sizeof buf);
    fputs(buf, f);
}

/* A CSV number cell: empty when not finite. */
void xcr__put_csv_num(FILE *f, double v)
{
    char buf[40];
    if (!isfinite(v))
        return;
    if (v == 0)
        v = 0;
    xcr__fmt_double(v, buf, sizeof buf);
    fputs(buf, f);
}
