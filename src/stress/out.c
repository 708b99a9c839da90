/* Small output helpers shared by the stress writers. */
#include "stress.h"

#include <stdio.h>
#include <string.h>

void xcr__put_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
        switch (*p) {
        case '"':
            fputs("\\\"", f);
            break;
        case '\\':
            fputs("\\\\", f);
            break;
        case '\n':
            fputs("\\n", f);
            break;
        case '\r':
            fputs("\\r", f);
            break;
        case '\t':
            fputs("\\t", f);
            break;
        default:
            if (*p < 0x20)
                fprintf(f, "\\u%04x", *p);
            else
                fputc(*p, f);
        }
    }
    fputc('"', f);
}

void xcr__put_csv_str(FILE *f, const char *s)
{
    if (!s)
        return;
    bool q = strpbrk(s, ",\"\r\n") != NULL || s[0] == ' ' ||
             (s[0] && s[strlen(s) - 1] == ' ');
    if (!q) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (const char *p = s; *p; p++) {
        if (*p == '"')
            fputc('"', f);
        fputc(*p, f);
    }
    fputc('"', f);
}

void xcr__fmt_pct(double v, char *buf, size_t n)
{
    if (!isfinite(v))
        snprintf(buf, n, "-");
    else
        snprintf(buf, n, "%+.1f %%", 100 * v + 0.0);
}
