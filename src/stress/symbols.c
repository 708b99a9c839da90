/* Symbol helpers shared by the scenario engine: case-insensitive lookup, the
 * wrapped/staked-token table and the shipped default correlation matrix. */
#include "stress.h"

#include <stdlib.h>
#include <string.h>

int xcr__strcasecmp(const char *a, const char *b)
{
    for (;; a++, b++) {
        int x = (unsigned char)*a, y = (unsigned char)*b;
        if (x >= 'A' && x <= 'Z')
            x += 'a' - 'A';
        if (y >= 'A' && y <= 'Z')
            y += 'a' - 'A';
        if (x != y || !x)
            return x - y;
    }
}

bool xcr__parse_double(const char *s, double *out)
{
    if (!s || !*s)
        return false;
    char *end;
    double v = strtod(s, &end);
    if (*end != '\0' || !isfinite(v))
        return false;
    *out = v;
    return true;
}

long xcr__find_asset_ci(const xcr_book *b, const char *sym)
{
    long i = xcr_book_find_asset(b, sym);
    if (i >= 0)
        return i;
    for (size_t k = 0; k < b->n_assets; k++)
        if (xcr__strcasecmp(b->assets[k].symbol, sym) == 0)
            return (long)k;
    return -1;
}

/* Wrapped, bridged and staked tokens and the asset each follows when a
 * scenario does not name it.  A liquid staking token moves with its base
 * unless the scenario gives it a depeg (scenarios-and-data.md §3: stETH
 * 2022, weETH 2024, wBETH/BNSOL 2025).  Chains are allowed (WSTETH wraps
 * STETH, which follows ETH) but never cycles. */
static const struct {
    const char *sym, *base;
} ALIASES[] = {
    {"WBTC", "BTC"},     {"BTCB", "BTC"},     {"CBBTC", "BTC"},
    {"TBTC", "BTC"},     {"LBTC", "BTC"},     {"SOLVBTC", "BTC"},
    {"WETH", "ETH"},     {"STETH", "ETH"},    {"WSTETH", "STETH"},
    {"RETH", "ETH"},     {"CBETH", "ETH"},    {"WBETH", "ETH"},
    {"BETH", "ETH"},     {"METH", "ETH"},     {"EETH", "ETH"},
    {"WEETH", "EETH"},   {"EZETH", "ETH"},    {"RSETH", "ETH"},
    {"OSETH", "ETH"},    {"ETHX", "ETH"},     {"SWETH", "ETH"},
    {"BNSOL", "SOL"},    {"MSOL", "SOL"},     {"JITOSOL", "SOL"},
    {"JSOL", "SOL"},     {"BSOL", "SOL"},     {"WBNB", "BNB"},
    {"SLISBNB", "BNB"},  {"WAVAX", "AVAX"},   {"SAVAX", "AVAX"},
};

const char *xcr_asset_base(const char *symbol)
{
    if (!symbol)
        return NULL;
    for (size_t i = 0; i < sizeof ALIASES / sizeof ALIASES[0]; i++)
        if (xcr__strcasecmp(ALIASES[i].sym, symbol) == 0)
            return ALIASES[i].base;
    return NULL;
}

/* Daily log-return correlations 2021–2025.  BTC–ETH 0.814, BTC–SOL 0.615,
 * ETH–SOL 0.664, BTC–BNB 0.661, BTC–DOGE 0.531 are scenarios-and-data.md
 * §2; the other five pairs, which §2 does not give, were derived the same
 * way (2021-01-01 … 2025-12-31, n = 1826) from the Binance daily closes in
 * shared/data/prices-daily (calibration only; the data is not shipped).
 * That derivation reproduces the five §2 pairs to ±0.003. */
const char *const xcr__default_corr_sym[XCR__DEFAULT_CORR_N] = {
    "BTC", "ETH", "SOL", "BNB", "DOGE"};
const double xcr__default_corr[XCR__DEFAULT_CORR_N * XCR__DEFAULT_CORR_N] = {
    1.000, 0.814, 0.615, 0.661, 0.531, /* BTC  */
    0.814, 1.000, 0.664, 0.675, 0.513, /* ETH  */
    0.615, 0.664, 1.000, 0.586, 0.399, /* SOL  */
    0.661, 0.675, 0.586, 1.000, 0.377, /* BNB  */
    0.531, 0.513, 0.399, 0.377, 1.000, /* DOGE */
};
