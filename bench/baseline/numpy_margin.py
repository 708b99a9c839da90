#!/usr/bin/env python3
"""A straightforward NumPy implementation of xcr's cross-margin revaluation
and of a uniform-shock stress, the baseline of bench/run.sh
(docs/performance.md).

It reads a book in the CSV folder form (`xcr demo -o DIR`, `xcr convert`;
/work/shared/spec/book-format.md) and evaluates every account with the
formulas of spec §2, written the obvious array way (one array operation
per step, NumPy's own loops, one thread):

  * unrealised PnL: linear size*cs*(mark - entry) USD; inverse
    size*cs*(1/entry - 1/mark) coins; options size*value with Black-76 on
    the forward (Black 1976; no discounting; intrinsic at expiry);
  * net amount per (account, asset) = balances + PnL in the settle asset
    (isolated positions keep theirs in their isolated margin);
  * collateral: progressive tiers on positive values (margin-models.md
    §2.1), liability weight and borrow margins on negative ones (cross);
    Aave's sum C*LT, sum C*LTV and debt for lending (margin-models.md §14.2);
  * maintenance/initial margin per position from the bracket tables with
    Binance's maintenance amounts (margin-models.md §3.1);
  * status: bankrupt / liquidatable / margin call / healthy as in spec §2.

Modes: cross, isolated and lending (the demo generator's mix).  Portfolio
accounts are not modelled (the script refuses such a book).

Usage:
  numpy_margin.py BOOK_DIR [--check-margin MARGIN.json]
                  [--check-stress STRESS.json] [--shocks -0.6:0.2:0.1]
                  [--bench REPS]
--check-*: compare with `xcr margin --format json --no-liquidation` and
`xcr stress --grid FROM:TO:STEP --format json` on the same book to 1e-9
relative; exit 1 on a difference.  --bench: time the revaluation and the
stress (best of REPS) and print `key=value` lines.
"""
import csv
from array import array
import datetime
import json
import math
import os
import sys
import time

import numpy as np

REL = 1e-9
STATUS = ["healthy", "margin_call", "liquidatable", "bankrupt"]


def read_csv(d, name):
    path = os.path.join(d, name)
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def num(s, default):
    return default if s is None or s == "" else float(s)


def parse_time(s):
    s = s.strip().replace("Z", "+00:00")
    if len(s) == 10:
        s += "T00:00:00+00:00"
    return datetime.datetime.fromisoformat(s).timestamp()


def load_book(d):
    """The book as NumPy arrays (loading is not part of any timing)."""
    b = {}
    assets = read_csv(d, "assets.csv")
    sym = {r["symbol"]: i for i, r in enumerate(assets)}
    na = len(assets)
    b["na"] = na
    b["price"] = np.array([float(r["price"]) for r in assets])
    b["stable"] = np.array([r.get("stable") == "true" for r in assets])
    b["lw"] = np.array([num(r.get("liability_weight"), 1.0) for r in assets])
    b["bimr"] = np.array([num(r.get("borrow_imr"), 0.0) for r in assets])
    b["bmmr"] = np.array([num(r.get("borrow_mmr"), 0.0) for r in assets])
    b["ltv"] = np.array([num(r.get("ltv"), 0.0) for r in assets])
    b["lt"] = np.array([num(r.get("liquidation_threshold"), 0.0)
                        for r in assets])
    b["aemode"] = np.array([int(num(r.get("emode_category"), 0))
                            for r in assets])
    # progressive collateral tiers, padded to one table per asset
    tiers = [[] for _ in range(na)]
    for r in read_csv(d, "asset_tiers.csv"):
        tiers[sym[r["symbol"]]].append((num(r["upper_usd"], math.inf),
                                         float(r["weight"])))
    nt = max([len(t) for t in tiers] + [1])
    t_lo = np.zeros((na, nt))
    t_hi = np.full((na, nt), math.inf)
    t_w = np.zeros((na, nt))
    t_base = np.zeros((na, nt))
    t_n = np.zeros(na, dtype=np.int64)
    for a in range(na):
        t = tiers[a] or [(math.inf, 1.0)]
        lo = base = 0.0
        for k, (hi, w) in enumerate(t):
            t_lo[a, k], t_hi[a, k], t_w[a, k], t_base[a, k] = lo, hi, w, base
            if math.isfinite(hi):
                base += (hi - lo) * w
            lo = hi
        # padding repeats the last tier (never selected: see tiered())
        for k in range(len(t), nt):
            t_lo[a, k], t_hi[a, k] = t_lo[a, len(t) - 1], t_hi[a, len(t) - 1]
            t_w[a, k], t_base[a, k] = t_w[a, len(t) - 1], t_base[a, len(t) - 1]
        t_n[a] = len(t)
    b.update(t_lo=t_lo, t_hi=t_hi, t_w=t_w, t_base=t_base, t_n=t_n)

    settings = {r["key"]: json.loads(r["value"])
                for r in read_csv(d, "settings.csv")}
    as_of = parse_time(settings["as_of"]) if "as_of" in settings else 0.0
    em = {0: (0.0, 0.0)}
    for e in settings.get("emode_categories", []):
        em[int(e["id"])] = (float(e["ltv"]), float(e["liquidation_threshold"]))
    first_stable = next(i for i in range(na) if b["stable"][i])

    insts = read_csv(d, "instruments.csv")
    iid = {r["id"]: i for i, r in enumerate(insts)}
    ni = len(insts)
    b["ni"] = ni
    und = np.array([sym[r["underlying"]] for r in insts])
    inv = np.array([r.get("inverse") == "true" for r in insts])
    settle = np.array([sym[r["settle"]] if r.get("settle") else
                       (und[i] if inv[i] else first_stable)
                       for i, r in enumerate(insts)])
    b["und"], b["inv"], b["settle"] = und, inv, settle
    b["cs"] = np.array([num(r.get("contract_size"), 1.0) for r in insts])
    b["mark0"] = np.array([num(r.get("mark_price"), b["price"][und[i]])
                           for i, r in enumerate(insts)])
    b["is_opt"] = np.array([r["type"] == "option" for r in insts])
    b["opt"] = [(i, r.get("option_type") == "call", float(r["strike"]),
                 (parse_time(r["expiry"]) - as_of) / (365.0 * 86400.0),
                 float(r["iv"]))
                for i, r in enumerate(insts) if r["type"] == "option"]
    mts = [[] for _ in range(ni)]
    for r in read_csv(d, "margin_tiers.csv"):
        mts[iid[r["instrument"]]].append((num(r["notional_max"], math.inf),
                                          float(r["imr"]), float(r["mmr"])))
    nm = max([len(t) for t in mts] + [1])
    m_hi = np.full((ni, nm), math.inf)
    m_imr = np.zeros((ni, nm))
    m_mmr = np.zeros((ni, nm))
    m_cim = np.zeros((ni, nm))
    m_cmm = np.zeros((ni, nm))
    m_n = np.zeros(ni, dtype=np.int64)
    for i in range(ni):
        t = mts[i] or [(math.inf, 0.1, 0.05)]
        lo = cim = cmm = 0.0
        for k, (hi, imr, mmr) in enumerate(t):
            if k > 0:  # Binance's maintenance amounts (§3.1)
                cim += lo * (imr - t[k - 1][1])
                cmm += lo * (mmr - t[k - 1][2])
            m_hi[i, k], m_imr[i, k], m_mmr[i, k] = hi, imr, mmr
            m_cim[i, k], m_cmm[i, k] = cim, cmm
            lo = hi
        m_n[i] = len(t)
    b.update(m_hi=m_hi, m_imr=m_imr, m_mmr=m_mmr, m_cim=m_cim, m_cmm=m_cmm,
             m_n=m_n)

    accts = read_csv(d, "accounts.csv")
    aid = {r["id"]: i for i, r in enumerate(accts)}
    modes = {"cross": 0, "isolated": 1, "portfolio": 2, "lending": 3}
    b["ids"] = [r["id"] for r in accts]
    b["mode"] = np.array([modes[r["mode"]] for r in accts], dtype=np.int64)
    if (b["mode"] == 2).any():
        raise SystemExit("numpy_margin: portfolio accounts are not modelled")
    emode = np.array([int(num(r.get("emode"), 0)) for r in accts])
    b["emode"] = emode
    b["em_ltv"] = np.array([em.get(int(e), (0.0, 0.0))[0] for e in emode])
    b["em_lt"] = np.array([em.get(int(e), (0.0, 0.0))[1] for e in emode])
    b["nacc"] = len(accts)

    # balances and positions: millions of rows, read column-wise into
    # compact arrays (no per-row dicts)
    acc, ast, amt = array("q"), array("q"), array("d")
    with open(os.path.join(d, "balances.csv"), newline="") as f:
        rd = csv.reader(f)
        hdr = next(rd)
        ia, isym, iamt = (hdr.index(k) for k in ("account", "symbol",
                                                  "amount"))
        for r in rd:
            acc.append(aid[r[ia]])
            ast.append(sym[r[isym]])
            amt.append(float(r[iamt]))
    b["bal_acct"] = np.frombuffer(acc, dtype=np.int64)
    b["bal_asset"] = np.frombuffer(ast, dtype=np.int64)
    b["bal_amt"] = np.frombuffer(amt, dtype=np.float64)
    pa, pi, ps, pe, pz = (array("q"), array("q"), array("d"), array("d"),
                          array("d"))
    with open(os.path.join(d, "positions.csv"), newline="") as f:
        rd = csv.reader(f)
        hdr = next(rd)
        ia, ii, isz, ie, iz = (hdr.index(k) for k in (
            "account", "instrument", "size", "entry_price",
            "isolated_margin"))
        for r in rd:
            pa.append(aid[r[ia]])
            pi.append(iid[r[ii]])
            ps.append(float(r[isz]))
            pe.append(float(r[ie]) if r[ie] else 0.0)
            pz.append(float(r[iz]) if r[iz] else 0.0)
    b["pos_acct"] = np.frombuffer(pa, dtype=np.int64)
    b["pos_inst"] = np.frombuffer(pi, dtype=np.int64)
    b["pos_size"] = np.frombuffer(ps, dtype=np.float64)
    b["pos_entry"] = np.frombuffer(pe, dtype=np.float64)
    b["pos_iso"] = np.frombuffer(pz, dtype=np.float64)
    return b


def black76(is_call, fwd, strike, t, vol):
    """Black-76 value on a forward, no discounting (src/margin/black76.c)."""
    sd = vol * math.sqrt(t if t > 0 else 0)
    if not (t > 0) or not (sd > 0):
        v = fwd - strike if is_call else strike - fwd
        return v if v > 0 else 0.0
    d1 = (math.log(fwd / strike) + 0.5 * sd * sd) / sd
    d2 = d1 - sd
    ncdf = lambda x: 0.5 * math.erfc(-x * 0.70710678118654752440)
    if is_call:
        v = fwd * ncdf(d1) - strike * ncdf(d2)
    else:
        v = strike * ncdf(-d2) - fwd * ncdf(-d1)
    return v if v > 0 else 0.0


def unit_values(b, mark):
    """Option value per contract (USD) of every instrument at `mark`: a
    per-instrument loop (a few dozen instruments), not per position."""
    uv = np.zeros(b["ni"])
    for i, call, k, t, iv in b["opt"]:
        units = b["cs"][i] / k if b["inv"][i] else b["cs"][i]
        uv[i] = units * black76(call, mark[i], k, t, iv)
    return uv


def tiered(b, v):
    """Progressive tier value of positive USD values v (n_acc × na)."""
    na, nt = b["t_hi"].shape
    # tier index: the first tier whose cap exceeds v, capped at the last
    k = (v[:, :, None] >= b["t_hi"][None, :, :]).sum(axis=2)
    last = k >= b["t_n"][None, :]
    k = np.minimum(k, b["t_n"][None, :] - 1)
    ai = np.arange(na)[None, :]
    lo, hi = b["t_lo"][ai, k], b["t_hi"][ai, k]
    w, base = b["t_w"][ai, k], b["t_base"][ai, k]
    return np.where(last, base + (hi - lo) * w, base + (v - lo) * w)


def revalue(b, price):
    """Equity, collateral, IM, MM and status of every account at `price`
    (per asset, USD); marks move with their underlying (spec §2)."""
    na, nacc = b["na"], b["nacc"]
    mark = b["mark0"] * (price[b["und"]] / b["price"][b["und"]])
    uv = unit_values(b, mark)
    inst = b["pos_inst"]
    size, cs = b["pos_size"], b["cs"][inst]
    pmark = mark[inst]
    sp = price[b["settle"][inst]]
    is_opt, inv = b["is_opt"][inst], b["inv"][inst]
    lin_usd = size * cs * (pmark - b["pos_entry"])
    inv_coin = size * cs * (1.0 / np.where(inv, b["pos_entry"], 1.0) -
                            1.0 / pmark)
    upnl = np.where(is_opt, size * uv[inst], np.where(inv, inv_coin * sp,
                                                      lin_usd))
    contrib = np.where(inv & ~is_opt, inv_coin, upnl / sp)
    notional = np.where(inv, np.abs(size) * cs, np.abs(size) * cs * pmark)
    # brackets
    k = (notional[:, None] >= b["m_hi"][inst]).sum(axis=1)
    k = np.minimum(k, b["m_n"][inst] - 1)
    has_m = ~is_opt | (size < 0)
    pmm = np.where(has_m, notional * b["m_mmr"][inst, k] -
                   b["m_cmm"][inst, k], 0.0)
    pim = np.where(has_m, notional * b["m_imr"][inst, k] -
                   b["m_cim"][inst, k], 0.0)

    mode = b["mode"]
    pacct = b["pos_acct"]
    iso_pos = mode[pacct] == 1
    # net amount per (account, asset)
    idx = b["bal_acct"] * na + b["bal_asset"]
    net = np.bincount(idx, weights=b["bal_amt"], minlength=nacc * na)
    nidx = pacct * na + b["settle"][inst]
    net += np.bincount(nidx[~iso_pos], weights=contrib[~iso_pos],
                       minlength=nacc * na)
    v = net.reshape(nacc, na) * price[None, :]
    equity = v.sum(axis=1)
    pos_mm = np.bincount(pacct, weights=pmm, minlength=nacc)
    pos_im = np.bincount(pacct, weights=pim, minlength=nacc)

    # cross: tiers on positive values, liability weight and borrow margins
    pos_v = np.where(v > 0, v, 0.0)
    neg_v = np.where(v < 0, v, 0.0)
    coll_x = np.where(v > 0, tiered(b, pos_v), 0.0).sum(axis=1) + \
        (neg_v * b["lw"][None, :]).sum(axis=1)
    mm_x = pos_mm - (neg_v * b["bmmr"][None, :]).sum(axis=1)
    im_x = pos_im - (neg_v * b["bimr"][None, :]).sum(axis=1)

    # lending: Aave health factor (margin-models.md §14.2)
    in_em = (b["emode"][:, None] != 0) & \
        (b["aemode"][None, :] == b["emode"][:, None])
    lt = np.where(in_em, b["em_lt"][:, None], b["lt"][None, :])
    ltv = np.where(in_em, b["em_ltv"][:, None], b["ltv"][None, :])
    c_lt = (pos_v * lt).sum(axis=1)
    c_ltv = (pos_v * ltv).sum(axis=1)
    debt = -neg_v.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        im_l = np.where(debt > 0, np.where(c_ltv == 0, np.inf,
                                           debt * (c_lt / c_ltv)), 0.0)

    # isolated: each position with its own margin
    pm = b["pos_iso"] + upnl
    ps = np.where(pm < 0, 3, np.where(pm < pmm, 2, np.where(pm < pim, 1, 0)))
    iso_coll = np.bincount(pacct[iso_pos], weights=pm[iso_pos],
                           minlength=nacc)
    iso_st = np.zeros(nacc, dtype=np.int64)
    np.maximum.at(iso_st, pacct[iso_pos], ps[iso_pos])

    iso, lend = mode == 1, mode == 3
    equity = np.where(iso, equity + iso_coll, equity)
    coll = np.where(lend, c_lt, np.where(iso, iso_coll, coll_x))
    mm = np.where(lend, debt, np.where(iso, pos_mm, mm_x))
    im = np.where(lend, im_l, np.where(iso, pos_im, im_x))
    st_x = np.where(coll < mm, 2, np.where(coll < im, 1, 0))
    st_l = np.where(c_lt < debt, 2, np.where(c_ltv - debt < 0, 1, 0))
    st = np.where(lend, st_l, np.where(iso, iso_st, st_x))
    st = np.where(equity < 0, 3, st)
    return equity, coll, im, mm, st


def uniform_stress(b, shocks, eq0, st0):
    """Uniform shocks of every non-stable asset: loss, shortfall and status
    counts per shock (spec §5)."""
    out = []
    for u in shocks:
        price = np.where(b["stable"], b["price"], b["price"] * (1.0 + u))
        eq, _, _, _, st = revalue(b, price)
        out.append({"shock": u, "loss": float((eq0 - eq).sum()),
                    "shortfall": float(np.where(eq < 0, -eq, 0.0).sum()),
                    "counts": [int((st == k).sum()) for k in range(4)],
                    "newly": int(((st >= 2) & (st0 < 2)).sum())})
    return out


def close(a, b, scale=None):
    s = max(1.0, abs(b)) if scale is None else scale
    return abs(a - b) <= REL * s


def check_margin(b, res, path):
    with open(path) as f:
        doc = json.load(f)
    eq, coll, im, mm, st = res
    bad = 0
    for i, acc in enumerate(doc["accounts"]):
        assert acc["id"] == b["ids"][i]
        # tolerance relative to the account's gross size (sums of terms of
        # both signs lose relative accuracy when they nearly cancel)
        scale = max(1.0, abs(acc["equity"]), abs(acc["collateral"]),
                    abs(acc["maintenance_margin"]))
        for key, mine in (("equity", eq[i]), ("collateral", coll[i]),
                          ("initial_margin", im[i]),
                          ("maintenance_margin", mm[i])):
            ref = acc[key]
            if ref is None and not math.isfinite(mine):
                continue
            if not close(mine, ref, scale):
                if bad < 10:
                    print(f"{acc['id']}: {key} numpy {mine!r} xcr {ref!r}",
                          file=sys.stderr)
                bad += 1
        if STATUS[st[i]] != acc["status"]:
            if bad < 10:
                print(f"{acc['id']}: status numpy {STATUS[st[i]]} xcr "
                      f"{acc['status']}", file=sys.stderr)
            bad += 1
    print(f"check_margin: accounts={len(doc['accounts'])} mismatches={bad}")
    return bad == 0


def check_stress(b, rows, path):
    with open(path) as f:
        doc = json.load(f)
    bad = 0
    by_shock = {round(r["shock"], 12): r for r in rows}
    for res in doc["results"]:
        u = round(res["uniform_shock"], 12)
        mine = by_shock[u]
        gross = max(1.0, abs(res["loss"]), abs(res["shortfall"]))
        ok = close(mine["loss"], res["loss"], gross) and \
            close(mine["shortfall"], res["shortfall"], gross) and \
            mine["counts"] == [res["accounts"][k] for k in STATUS] and \
            mine["newly"] == res["newly_liquidatable"]
        if not ok:
            print(f"shock {u}: numpy {mine} xcr loss {res['loss']} "
                  f"shortfall {res['shortfall']} {res['accounts']}",
                  file=sys.stderr)
            bad += 1
    print(f"check_stress: shocks={len(doc['results'])} mismatches={bad}")
    return bad == 0


def parse_shocks(spec):
    lo, hi, step = (float(x) for x in spec.split(":"))
    n = int(round((hi - lo) / step))
    return [round(lo + k * step, 12) for k in range(n + 1)]


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0 if len(argv) >= 2 else 2
    d = argv[1]
    opts = {}
    i = 2
    while i < len(argv):
        if "=" in argv[i] and argv[i].startswith("--"):
            k, v = argv[i].split("=", 1)
            argv = argv[:i] + [k, v] + argv[i + 1:]
        if argv[i] in ("--check-margin", "--check-stress", "--shocks",
                       "--bench") and i + 1 < len(argv):
            opts[argv[i]] = argv[i + 1]
            i += 2
        else:
            print(f"numpy_margin: bad argument {argv[i]}", file=sys.stderr)
            return 2
    t0 = time.perf_counter()
    b = load_book(d)
    t_load = time.perf_counter() - t0
    npos = len(b["pos_size"])
    res = revalue(b, b["price"])
    shocks = parse_shocks(opts.get("--shocks", "-0.6:0.2:0.1"))
    ok = True
    if "--check-margin" in opts:
        ok = check_margin(b, res, opts["--check-margin"]) and ok
    if "--check-stress" in opts:
        rows = uniform_stress(b, shocks, res[0], res[4])
        ok = check_stress(b, rows, opts["--check-stress"]) and ok
    if "--bench" in opts:
        reps = max(1, int(opts["--bench"]))
        best = math.inf
        for _ in range(reps):
            t = time.perf_counter()
            revalue(b, b["price"])
            best = min(best, time.perf_counter() - t)
        print(f"numpy_margin: accounts={b['nacc']} positions={npos} "
              f"load_s={t_load:.3f} best_s={best:.6f} reps={reps} "
              f"positions_per_s={npos / best:.4g} "
              f"accounts_per_s={b['nacc'] / best:.4g}")
        t = time.perf_counter()
        uniform_stress(b, shocks, res[0], res[4])
        ts = time.perf_counter() - t
        cells = b["nacc"] * len(shocks)
        print(f"numpy_stress: accounts={b['nacc']} shocks={len(shocks)} "
              f"time_s={ts:.4f} evals_per_s={cells / ts:.4g}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
