/* The built-in library of historical crash scenarios.
 *
 * Moves are from scenarios-and-data.md §1 (derived from Binance spot daily
 * candles, UTC) as arranged into proposed scenarios in §5:
 *  - "day high-to-low" = low/high − 1 of the UTC day (the instantaneous
 *    shock);
 *  - "window peak-to-trough" = the worst fall from a running 4-hour high to
 *    a later low within the listed days;
 *  - "close-to-close" = the day's close over the previous close − 1.
 * Depegs and venue events are as reported in §3 (unaudited press and forum
 * figures).  A move "to zero" is −99.99 % because prices must stay > 0.
 * Stablecoins not named stay at 1; other assets not named follow the
 * unlisted-asset rule (docs/stress.md), wrapped and staked tokens their
 * base asset. */
#include "stress.h"

#include <string.h>

#define MK(sym, mv) {sym, mv, NULL, XCR_MOVE_MARKET, NULL}
#define MKN(sym, mv, note) {sym, mv, NULL, XCR_MOVE_MARKET, note}
#define DEPEG(sym, mv, note) {sym, mv, NULL, XCR_MOVE_DEPEG, note}
#define DEPEG_REL(sym, mv, base, note) {sym, mv, base, XCR_MOVE_DEPEG, note}
#define N(a) (a), (sizeof(a) / sizeof((a)[0]))

static const char SRC_TABLE[] =
    "scenarios-and-data.md §1 and §5: Binance spot daily and 4-hour "
    "candles (UTC)";
static const char SOL_2020[] =
    "SOL was not listed in March 2020: ETH × 1.2 (scenarios-and-data.md §5)";

/* 12 March 2020, Black Thursday. */
static const xcr_scenario_move COVID_DAY[] = {
    MK("BTC", -0.446), MK("ETH", -0.482),
    MKN("SOL", -0.482 * 1.2, SOL_2020), MK("BNB", -0.464),
    MK("DOGE", -0.358),
    DEPEG("DAI", 0.10, "DAI traded up to ≈ $1.10 (§3.1)")};
static const xcr_scenario_move COVID_WINDOW[] = {
    MK("BTC", -0.525), MK("ETH", -0.560),
    MKN("SOL", -0.560 * 1.2, SOL_2020), MK("BNB", -0.616),
    MK("DOGE", -0.480),
    DEPEG("DAI", 0.10, "DAI traded up to ≈ $1.10 (§3.1)")};
static const char *const COVID_EVENTS[] = {
    ("Maker collateral auctions cleared at ~0 DAI bids for about 40 minutes "
     "(keepers failed under gas congestion; §3.2)"),
    "DAI above peg (+10 %)"};

/* 19 May 2021, China ban / leverage flush. */
static const xcr_scenario_move MAY21_DAY[] = {
    MK("BTC", -0.312), MK("ETH", -0.451), MK("SOL", -0.541),
    MK("BNB", -0.458), MK("DOGE", -0.560)};
static const xcr_scenario_move MAY21_CLOSE[] = {
    MK("BTC", -0.144), MK("ETH", -0.277), MK("SOL", -0.375),
    MK("BNB", -0.341), MK("DOGE", -0.307)};
static const char *const MAY21_EVENTS[] = {"exchange outages"};

/* LUNA / UST, 5–12 May 2022. */
static const xcr_scenario_move LUNA_WINDOW[] = {
    MK("BTC", -0.330), MK("ETH", -0.391), MK("SOL", -0.608),
    MK("BNB", -0.471), MK("DOGE", -0.500),
    DEPEG("UST", XCR__TO_ZERO, "UST → 0 (§5)"),
    DEPEG("LUNA", XCR__TO_ZERO, "LUNA → 0 (§5)")};
static const xcr_scenario_move LUNA_DAY[] = {
    MK("BTC", -0.117), MK("ETH", -0.180), MK("SOL", -0.312),
    MK("BNB", -0.232), MK("DOGE", -0.234),
    DEPEG("UST", XCR__TO_ZERO, "UST → 0 (§5)"),
    DEPEG("LUNA", XCR__TO_ZERO, "LUNA → 0 (§5)")};
static const char *const LUNA_EVENTS[] = {
    "UST depeg and LUNA collapse to ~0",
    "Curve stETH/ETH pool lost more than half its TVL (§3.1)"};

/* Celsius / stETH / 3AC, 10–18 June 2022. */
static const char STETH_NOTE[] =
    "stETH/ETH −5 … −7 % as reported (§5): the midpoint, relative to ETH";
static const xcr_scenario_move STETH_WINDOW[] = {
    MK("BTC", -0.420), MK("ETH", -0.511), MK("SOL", -0.368),
    MK("BNB", -0.386), MK("DOGE", -0.384),
    DEPEG_REL("stETH", -0.06, "ETH", STETH_NOTE)};
static const xcr_scenario_move STETH_DAY[] = {
    MK("BTC", -0.185), MK("ETH", -0.199), MK("SOL", -0.163),
    MK("BNB", -0.173), MK("DOGE", -0.210),
    DEPEG_REL("stETH", -0.06, "ETH", STETH_NOTE)};
static const char *const STETH_EVENTS[] = {
    "stETH trades at a discount to ETH",
    ("counterparty default of a large borrower (3AC; Celsius paused "
     "withdrawals)")};

/* FTX, 5–10 November 2022. */
static const xcr_scenario_move FTX_WINDOW[] = {
    MK("BTC", -0.274), MK("ETH", -0.356), MK("SOL", -0.681),
    MK("BNB", -0.347), MK("DOGE", -0.481),
    DEPEG("FTT", -0.90, "FTT −90 % (§5)")};
static const xcr_scenario_move FTX_DAY[] = {
    MK("BTC", -0.161), MK("ETH", -0.197), MK("SOL", -0.493),
    MK("BNB", -0.219), MK("DOGE", -0.235),
    DEPEG("FTT", -0.90, "FTT −90 % (§5)")};
static const char *const FTX_EVENTS[] = {
    ("venue failure: assets held on the venue frozen (model it with the "
     "contagion layer)"),
    "FTT −90 %"};

/* 5 August 2024, yen-carry unwind. */
static const xcr_scenario_move YEN_DAY[] = {
    MK("BTC", -0.160), MK("ETH", -0.217), MK("SOL", -0.211),
    MK("BNB", -0.200), MK("DOGE", -0.228)};
static const xcr_scenario_move YEN_WINDOW[] = {
    MK("BTC", -0.254), MK("ETH", -0.349), MK("SOL", -0.364),
    MK("BNB", -0.308), MK("DOGE", -0.346)};

/* 10 October 2025, tariff shock and record liquidations. */
static const xcr_scenario_move TARIFF_DAY[] = {
    MK("BTC", -0.168), MK("ETH", -0.218), MK("SOL", -0.248),
    MK("BNB", -0.327), MK("DOGE", -0.626),
    DEPEG("USDe", -0.35, "USDe fell by about a third on one venue (§3.1, §5)")};
static const xcr_scenario_move TARIFF_WINDOW[] = {
    MK("BTC", -0.192), MK("ETH", -0.278), MK("SOL", -0.290),
    MK("BNB", -0.363), MK("DOGE", -0.649),
    DEPEG("USDe", -0.35, "USDe fell by about a third on one venue (§3.1, §5)")};
static const xcr_scenario_move TARIFF_CLOSE[] = {
    MK("BTC", -0.073), MK("ETH", -0.123), MK("SOL", -0.147),
    MK("BNB", -0.122), MK("DOGE", -0.221)};
static const xcr_scenario_value TARIFF_LIQ[] = {{"*", 0.1}};
static const char *const TARIFF_EVENTS[] = {
    "order-book depth × 0.1",
    "USDe −35 % on one venue",
    ("LST depegs on venue-internal marks (wBETH, BNSOL; no size reported: "
     "they follow ETH and SOL)"),
    "auto-deleveraging (ADL) on"};
static const char *const TARIFF_CLOSE_EVENTS[] = {
    "end-of-day view: the intraday depegs and the liquidity drought had "
    "passed by the close"};

#define DEF(nm, ttl, dt, var, days, mv, liq, nliq, ev)                        \
    {nm,     ttl,   dt,  var, days, SRC_TABLE, N(mv), NULL, 0, liq, nliq,      \
     N(ev), {XCR_UNLISTED_DEFAULT, 0}}
#define DEF0(nm, ttl, dt, var, days, mv)                                       \
    {nm,   ttl,  dt, var,  days, SRC_TABLE, N(mv), NULL, 0, NULL, 0,           \
     NULL, 0,    {XCR_UNLISTED_DEFAULT, 0}}

static const char V_DAY[] = "day high-to-low";
static const char V_WIN[] = "window peak-to-trough";
static const char V_CLOSE[] = "close-to-close";

static const xcr_scenario_def BUILTINS[] = {
    DEF("covid_2020_03_12", "Black Thursday (COVID crash)", "2020-03-12",
        V_DAY, 0, COVID_DAY, NULL, 0, COVID_EVENTS),
    DEF("covid_2020_03_12_window", "Black Thursday (COVID crash)",
        "2020-03-12/2020-03-13", V_WIN, 2, COVID_WINDOW, NULL, 0,
        COVID_EVENTS),
    DEF("may_2021_05_19", "China ban / leverage flush", "2021-05-19", V_DAY,
        0, MAY21_DAY, NULL, 0, MAY21_EVENTS),
    DEF("may_2021_05_19_close", "China ban / leverage flush", "2021-05-19",
        V_CLOSE, 0, MAY21_CLOSE, NULL, 0, MAY21_EVENTS),
    DEF("luna_2022_05", "LUNA / UST collapse", "2022-05-05/2022-05-12",
        V_WIN, 8, LUNA_WINDOW, NULL, 0, LUNA_EVENTS),
    DEF("luna_2022_05_day", "LUNA / UST collapse", "2022-05-12", V_DAY, 0,
        LUNA_DAY, NULL, 0, LUNA_EVENTS),
    DEF("steth_3ac_2022_06", "Celsius / stETH / 3AC",
        "2022-06-10/2022-06-18", V_WIN, 9, STETH_WINDOW, NULL, 0,
        STETH_EVENTS),
    DEF("steth_3ac_2022_06_day", "Celsius / stETH / 3AC", "2022-06-13",
        V_DAY, 0, STETH_DAY, NULL, 0, STETH_EVENTS),
    DEF("ftx_2022_11", "FTX collapse", "2022-11-05/2022-11-10", V_WIN, 6,
        FTX_WINDOW, NULL, 0, FTX_EVENTS),
    DEF("ftx_2022_11_day", "FTX collapse", "2022-11-09", V_DAY, 0, FTX_DAY,
        NULL, 0, FTX_EVENTS),
    DEF0("yen_2024_08_05", "yen-carry unwind", "2024-08-05", V_DAY, 0,
         YEN_DAY),
    DEF0("yen_2024_08_05_window", "yen-carry unwind",
         "2024-08-01/2024-08-05", V_WIN, 5, YEN_WINDOW),
    DEF("tariff_2025_10_10", "tariff shock / record liquidations",
        "2025-10-10", V_DAY, 0, TARIFF_DAY, TARIFF_LIQ, 1, TARIFF_EVENTS),
    DEF("tariff_2025_10_10_window", "tariff shock / record liquidations",
        "2025-10-06/2025-10-11", V_WIN, 6, TARIFF_WINDOW, TARIFF_LIQ, 1,
        TARIFF_EVENTS),
    DEF("tariff_2025_10_10_close", "tariff shock / record liquidations",
        "2025-10-10", V_CLOSE, 0, TARIFF_CLOSE, NULL, 0,
        TARIFF_CLOSE_EVENTS),
};

size_t xcr_builtin_scenario_count(void)
{
    return sizeof BUILTINS / sizeof BUILTINS[0];
}

const xcr_scenario_def *xcr_builtin_scenario(size_t i)
{
    return i < xcr_builtin_scenario_count() ? &BUILTINS[i] : NULL;
}

const xcr_scenario_def *xcr_builtin_scenario_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < xcr_builtin_scenario_count(); i++)
        if (strcmp(BUILTINS[i].name, name) == 0)
            return &BUILTINS[i];
    return NULL;
}
