/* ISO 8601 UTC timestamps → seconds since the Unix epoch.
 * Accepts YYYY-MM-DD, optionally followed by T or space, hh:mm[:ss[.frac]]
 * and a zone (Z, +hh:mm, -hh:mm, +hhmm).  No zone means UTC (spec: times are
 * UTC). */
#include "core.h"

#include <stdbool.h>

/* Days from 1970-01-01 to a proleptic Gregorian civil date (H. Hinnant's
 * well-known days_from_civil algorithm, restated). */
static long days_from_civil(long y, long m, long d)
{
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static bool digits(const char **p, int n, long *out)
{
    long v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return false;
        v = v * 10 + (c - '0');
    }
    *p += n;
    *out = v;
    return true;
}

static int days_in_month(long y, long m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return dm[m - 1];
}

bool xcr__parse_iso8601(const char *s, double *out)
{
    if (!s)
        return false;
    const char *p = s;
    long y, mo, d, h = 0, mi = 0, sec = 0;
    double frac = 0;
    if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) ||
        *p++ != '-' || !digits(&p, 2, &d))
        return false;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
        return false;
    long tz = 0;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi))
            return false;
        if (*p == ':') {
            p++;
            if (!digits(&p, 2, &sec))
                return false;
            if (*p == '.' || *p == ',') {
                p++;
                double scale = 0.1;
                if (*p < '0' || *p > '9')
                    return false;
                while (*p >= '0' && *p <= '9') {
                    frac += (*p - '0') * scale;
                    scale *= 0.1;
                    p++;
                }
            }
        }
        if (h > 23 || mi > 59 || sec > 60)
            return false;
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int sign = *p == '-' ? -1 : 1;
            p++;
            long th, tm = 0;
            if (!digits(&p, 2, &th))
                return false;
            if (*p == ':')
                p++;
            if (*p)
                if (!digits(&p, 2, &tm))
                    return false;
            if (th > 23 || tm > 59)
                return false;
            tz = sign * (th * 3600 + tm * 60);
        }
    }
    if (*p != '\0')
        return false;
    double days = (double)days_from_civil(y, mo, d);
    *out = days * 86400.0 + (double)(h * 3600 + mi * 60 + sec - tz) + frac;
    return true;
}
