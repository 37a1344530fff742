# SPDX-License-Identifier: MIT
"""bench/report.sh's second half: the benchmarks' records (bench_stats.h:
@ratio and @value lines, and the @meta lines report.sh adds) to
OUTDIR/report.md and four SVG plots, each figure beside its floor and, where
one could be verified, a published hardware figure (docs/benchmarks.md cites
them).

Usage: python3 bench/report.py RECORDS OUTDIR
"""

import os
import sys

# No __pycache__ in the source tree.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import svgplot  # noqa: E402

# Published SGX hardware figures, as cycles; docs/benchmarks.md has the
# citations.  The papers' abstracts give cycles without the clock, so they
# are shown at 3.0 to 4.0 GHz: a span, never a point.
GHZ_LO, GHZ_HI = 3.0, 4.0
HW = {
    # Weisse, Bertacco, Austin: Regaining Lost Cycles with HotCalls (ISCA 2017).
    "ecall": (8200, 17000, "HotCalls (ISCA 2017): an SDK ecall, 8,200-17,000 cycles"),
    # Taassori, Shafiee, Balasubramonian: VAULT (ASPLOS 2018).
    "swap": (40000, 40000, "VAULT (ASPLOS 2018): an EPC page swap, about 40K cycles"),
}


def hw_us(key):
    """A published figure in microseconds: (middle, low, high)."""
    lo_c, hi_c, _ = HW[key]
    lo, hi = lo_c / (GHZ_HI * 1e3), hi_c / (GHZ_LO * 1e3)
    return ((lo + hi) / 2, lo, hi)


def load(path):
    """The records: {id: dict}, and the meta lines: {key: text}."""
    recs, meta = {}, {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            if p[0] == "@ratio" and len(p) == 11:
                recs[p[1]] = {
                    "kind": "ratio", "num": float(p[2]), "den": float(p[3]),
                    "ratio": float(p[4]), "q1": float(p[5]), "q3": float(p[6]),
                    "pairs": int(p[7]), "target": p[8], "verdict": p[9], "what": p[10],
                }
            elif p[0] == "@value" and len(p) == 7:
                recs[p[1]] = {
                    "kind": "value", "v": float(p[2]), "unit": p[3],
                    "lo": None if p[4] == "-" else float(p[4]),
                    "hi": None if p[5] == "-" else float(p[5]), "what": p[6],
                }
            elif p[0] == "@meta" and len(p) >= 3:
                meta[p[1]] = "\t".join(p[2:])
    return recs, meta


def us(s):
    return "%.2f" % (s * 1e6)


def ratio_cell(r):
    return "%.3f [%.3f..%.3f]" % (r["ratio"], r["q1"], r["q3"])


def target_cell(r):
    t = r["target"]
    return "-" if t == "-" else t.replace("<=", "≤ ").replace(">=", "≥ ")


def hw_cell(key):
    if key not in HW:
        return "none verified"
    mid, lo, hi = hw_us(key)
    lo_c, hi_c, _ = HW[key]
    cyc = "%s cycles" % format(lo_c, ",") if lo_c == hi_c else \
        "%s-%s cycles" % (format(lo_c, ","), format(hi_c, ","))
    return "%s (%.1f-%.1f µs)" % (cyc, lo, hi)


class Report:
    def __init__(self, recs, meta):
        self.recs, self.meta, self.lines, self.missing = recs, meta, [], []

    def get(self, rid):
        r = self.recs.get(rid)
        if r is None:
            self.missing.append(rid)
        return r

    def out(self, s=""):
        self.lines.append(s)

    def bullets(self, ids, fmt):
        """A list item fmt(record) for each of @ids that was recorded, then a blank line."""
        for rid in ids:
            r = self.recs.get(rid)
            if r:
                self.out("- " + fmt(r))
        self.out()

    def ratio_table(self, rows, floor_head="floor (µs)", work_head="ours (µs)", hw=True):
        """Rows of (label, record id, floor name, hardware key or None)."""
        head = "| measurement | %s | floor | %s | ratio [IQR of pairs] | target | verdict |" % (
            work_head, floor_head)
        sep = "|---|---:|---|---:|---|---|---|"
        if floor_head != "floor (µs)":
            head = head.replace("| floor |", "| baseline |")
        if hw:
            head += " published hardware |"
            sep += "---|"
        self.out(head)
        self.out(sep)
        for label, rid, floor, hwk in rows:
            r = self.get(rid)
            if not r:
                continue
            row = "| %s | %s | %s | %s | %s | %s | %s |" % (
                label, us(r["num"]), floor, us(r["den"]), ratio_cell(r), target_cell(r),
                r["verdict"])
            if hw:
                row += " %s |" % (hw_cell(hwk) if hwk else "-")
            self.out(row)
        self.out()


def val(rec, scale=1e6):
    """A @value record as a chart value (value, low, high), scaled."""
    if not rec:
        return None
    lo = rec["lo"] if rec["lo"] is not None else rec["v"]
    hi = rec["hi"] if rec["hi"] is not None else rec["v"]
    return (rec["v"] * scale, lo * scale, hi * scale)


HEADLINE = [
    ("ecall: EENTER→EEXIT round trip (vDSO), real enclave code", "host.enter",
     "the same round trip, ENCLU trapping", "ecall"),
    ("ecall round trip against a flat 300 ns", "host.enter.abs", "300 ns", None),
    ("EACCEPT inside one entry (after EMODPR), per page", "host.eaccept",
     "the same, ENCLU trapping", None),
    ("first-touch EAUG (EACCEPT), per page", "host.eaug", "uffd MINOR fault + CONTINUE", None),
    ("first-touch EAUG, then a write to the page, per page", "host.eaug-touch",
     "uffd MINOR fault + CONTINUE", None),
    ("ELDU reload, EPC free, per page", "host.eldu", "uffd fault + AES-GCM 4 KiB", "swap"),
    ("ELDU reload fault alone (no enclave work), EPC free, per page", "host.eldu-net",
     "uffd fault + AES-GCM 4 KiB", "swap"),
    ("ELDU reload, EPC full (each reload waits for an EWB), per page", "host.eldu-thrash",
     "uffd fault + AES-GCM 4 KiB", "swap"),
]


def headline(rep):
    """The table README.md shows."""
    rep.ratio_table(HEADLINE)
    rows = [
        ("EADD + 16 EEXTEND (CPU model), cache-warm", "cpu.eadd_warm",
         "81 SHA-256 blocks + 4 KiB copy"),
        ("EWB + ELDU (CPU model)", "cpu.ewb_eldu", "AES-128-GCM enc + dec 4 KiB"),
    ]
    rep.ratio_table([(a, b, c, None) for a, b, c in rows], hw=False)
    t = rep.get("driver.tput.default")
    e = rep.get("driver.epc.reclaim")
    n = rep.get("driver.encl.reclaim")
    rep.out("| driver (simulated host) | figure | ratio [IQR of pairs] | target | verdict |")
    rep.out("|---|---:|---|---|---|")
    if t:
        rep.out("| reclaim throughput / AES-GCM throughput | %.0f pages/s | %s | %s | %s |" % (
            1 / t["den"], ratio_cell(t), target_cell(t), t["verdict"]))
    if e:
        rep.out("| reclaim per page, 8 GiB EPC / 64 MiB EPC | %s / %s µs | %s | %s | %s |" % (
            us(e["num"]), us(e["den"]), ratio_cell(e), target_cell(e), e["verdict"]))
    if n:
        rep.out("| reclaim per page, 1000 enclaves / 1 | %s / %s µs | %s | %s | %s |" % (
            us(n["num"]), us(n["den"]), ratio_cell(n), target_cell(n), n["verdict"]))
    rep.out()


def cpu_floor(rid):
    """What bench_cpu judges a figure against."""
    if rid.startswith("cpu.eadd_warm") or rid.startswith("cpu.eadd_cold"):
        return "81 SHA-256 blocks + 4 KiB copy"
    if rid == "cpu.ewb_eldu":
        return "AES-128-GCM enc + dec 4 KiB"
    return "fastest SHA-256 of 4 KiB"


def driver_base(rid):
    """The configuration bench_driver compares a figure with."""
    return {"thread": "no thread inside", "epc": "64 MiB EPC", "encl": "1 enclave",
            "encl_kernel": "1 enclave, kernel backing",
            "cgroup": "a task in the root"}.get(rid.split(".")[1], "-")


def write(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def plots(rep, outdir):
    """The four SVGs; returns their file names."""
    names = []
    g = rep.recs.get
    enter, aside = g("host.enter"), g("host.enter.aside")
    trap = g("host.enter.trap_path")
    if enter:
        series = [
            ("softsgx: EENTER→EEXIT (vDSO)", svgplot.PALETTE["ours"],
             [(enter["num"] * 1e6, enter["den"] * 1e6 * enter["q1"],
               enter["den"] * 1e6 * enter["q3"])]),
            ("floor: the same, ENCLU trapping", svgplot.PALETTE["floor"],
             [enter["den"] * 1e6]),
        ]
        if trap:
            series.append(("one bare ENCLU trap", svgplot.PALETTE["alt3"],
                           [trap["den"] * 1e6]))
        if aside:
            series.append(("a page-fault signal (SIGSEGV)", svgplot.PALETTE["alt"],
                           [aside["den"] * 1e6]))
        series.append(("SGX hardware (HotCalls, 3-4 GHz)", svgplot.PALETTE["hardware"],
                       [hw_us("ecall")]))
        write(os.path.join(outdir, "ecall.svg"), svgplot.bar_chart(
            "ecall round trip (real enclave code under softsgx exec)", "µs per round trip", ["EENTER→EEXIT, an op that returns at once"],
            series, note="Bars: medians; whiskers: IQR of the paired ratios x floor, or the "
            "published span. Targets: 0.1 x floor, 300 ns."))
        names.append("ecall.svg")

    faults = [("first-touch EAUG", "host.eaug", None), ("ELDU, EPC free", "host.eldu", "swap"),
              ("ELDU, EPC full", "host.eldu-thrash", "swap")]
    have = [(lbl, g(rid), hwk) for lbl, rid, hwk in faults if g(rid)]
    if have:
        def ours(r):
            return (r["num"] * 1e6, r["den"] * 1e6 * r["q1"], r["den"] * 1e6 * r["q3"])
        write(os.path.join(outdir, "faults.svg"), svgplot.bar_chart(
            "Fault costs per page (real enclave code under softsgx exec)", "µs per page",
            [lbl for lbl, _, _ in have],
            [("softsgx", svgplot.PALETTE["ours"], [ours(r) for _, r, _ in have]),
             ("floor (uffd fault; + AES-GCM 4 KiB for ELDU)", svgplot.PALETTE["floor"],
              [r["den"] * 1e6 for _, r, _ in have]),
             ("SGX hardware page swap (VAULT, 3-4 GHz)", svgplot.PALETTE["hardware"],
              [hw_us(k) if k else None for _, _, k in have])],
            note="No published EAUG figure could be verified; none is drawn."))
        names.append("faults.svg")

    for name, axis, xs, labels, xlabel, against in (
            ("epc.svg", "epc", [64, 256, 1024, 8192], ["64 MiB", "256 MiB", "1 GiB", "8 GiB"],
             "EPC size (one 16 MiB enclave)", "EPC size"),
            ("enclaves.svg", "encl", [1, 10, 100, 1000], ["1", "10", "100", "1000"],
             "enclaves sharing 16000 pages (128 MiB EPC)", "enclave count")):
        rec = [g("driver.sweep.%s.%d.reclaim" % (axis, x)) for x in xs]
        rel = [g("driver.sweep.%s.%d.reload" % (axis, x)) for x in xs]
        gcm = g("driver.sweep.%s.gcm" % axis)
        if not any(rec):
            continue
        series = [("reclaim (EBLOCK, ETRACK, EWB, zap)", svgplot.PALETTE["ours"],
                   [val(r) for r in rec], False),
                  ("reload (fault, ELDU, PTE)", svgplot.PALETTE["alt3"], [val(r) for r in rel], False)]
        if gcm:
            series.append(("floor: AES-128-GCM of 4 KiB", svgplot.PALETTE["floor"],
                           [gcm["v"] * 1e6] * len(xs), True))
        _, lo, hi = hw_us("swap")
        write(os.path.join(outdir, name), svgplot.line_chart(
            "Reclaim and reload per page against %s (simulated host)" % against, xlabel,
            "µs per page",
            xs, labels, series, bands=[("SGX hardware page swap (VAULT, 3-4 GHz)",
                                        svgplot.PALETTE["hardware"], lo, hi)],
            note="Medians of paired rounds; whiskers: IQR of the rounds."))
        names.append(name)
    return names


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: report.py RECORDS OUTDIR\n")
        return 2
    recs, meta = load(argv[1])
    if not recs:
        sys.stderr.write("report: no records in %s\n" % argv[1])
        return 1
    outdir = argv[2]
    os.makedirs(outdir, exist_ok=True)
    rep = Report(recs, meta)
    rep.out("# softsgx benchmark report")
    rep.out()
    for k in ("date", "commit", "mode", "cpu", "cpus", "load_before", "load_after"):
        if k in meta:
            rep.out("- %s: %s" % (k.replace("_", " "), meta[k]))
    rep.out()
    rep.out("Every ratio is the median of the work over the median of its floor, sampled in "
            "interleaved pairs; the bracket is the interquartile range of the per-pair ratios. "
            "`noisy` means that range is wider than 10% of the ratio, `impossible` that the "
            "ratio fell below its own lower bound: neither is a verdict. Published hardware "
            "figures are cycles converted at 3.0-4.0 GHz (docs/benchmarks.md cites them).")
    rep.out()
    rep.out("## Headline")
    rep.out()
    headline(rep)
    names = plots(rep, outdir)
    for n in names:
        rep.out("![%s](%s)" % (n[:-4], n))
        rep.out()

    rep.out("## CPU model (bench_cpu)")
    rep.out()
    rep.ratio_table([(r["what"], rid, cpu_floor(rid), None) for rid, r in recs.items()
                     if rid.startswith("cpu.") and r["kind"] == "ratio"], hw=False)
    rep.out("## Driver on the simulated host (bench_driver)")
    rep.out()
    rep.out("Reclaim throughput against AES-GCM's (a ratio of pages per second: at least "
            "0.50 means a page costs at most twice its encryption):")
    rep.out()
    rep.out("| configuration | reclaim (µs/page) | AES-GCM 4 KiB (µs) | throughput ratio "
            "[IQR of pairs] | target | verdict |")
    rep.out("|---|---:|---:|---|---|---|")
    for rid, r in recs.items():
        if rid.startswith("driver.tput."):
            rep.out("| %s | %s | %s | %s | %s | %s |" % (
                r["what"].split(", ", 1)[-1], us(r["den"]), us(r["num"]), ratio_cell(r),
                target_cell(r), r["verdict"]))
    rep.out()
    rep.out("Per-page costs of one configuration against another, sampled in the same rounds:")
    rep.out()
    rep.ratio_table([(r["what"], rid, driver_base(rid), None)
                     for rid, r in recs.items() if rid.startswith("driver.") and
                     r["kind"] == "ratio" and not rid.startswith("driver.tput.")],
                    hw=False, work_head="this (µs)", floor_head="baseline (µs)")
    rep.out("### Per page against EPC size and enclave count (bench_driver sweep)")
    rep.out()
    rep.out("| configuration | alloc (µs) | reclaim (µs) [IQR] | reload (µs) [IQR] |")
    rep.out("|---|---:|---|---|")
    for axis, xs, labels in (("epc", [64, 256, 1024, 8192],
                              ["64 MiB EPC", "256 MiB EPC", "1 GiB EPC", "8 GiB EPC"]),
                             ("encl", [1, 10, 100, 1000],
                              ["1 enclave", "10 enclaves", "100 enclaves", "1000 enclaves"])):
        for x, label in zip(xs, labels):
            cells = []
            for k in ("alloc", "reclaim", "reload"):
                r = recs.get("driver.sweep.%s.%d.%s" % (axis, x, k))
                cells.append("-" if not r else "%s [%s..%s]" % (us(r["v"]), us(r["lo"]),
                                                                 us(r["hi"])))
            rep.out("| %s | %s | %s | %s |" % (label, cells[0], cells[1], cells[2]))
    rep.out()
    rep.out("## Real host under softsgx exec (bench_host, bench/run_host.sh)")
    rep.out()
    rep.out("The ratios are in the headline table. What the floors themselves cost here:")
    rep.out()
    rep.bullets(("host.enter.trap_path", "host.enter.aside", "host.eaug.aside"),
                lambda r: "%s %s" % (r["what"], ratio_cell(r)))
    rep.out("Reclaim and reload per page on the real host (CPU time, runs of the big test "
            "enclave in a 1 MiB EPC), and bench_driver's simulated host beside them:")
    rep.out()
    rep.out("| per page | median (µs) | range (µs) |")
    rep.out("|---|---:|---|")
    for rid, r in recs.items():
        if rid.startswith("host.stream.") or rid.startswith("driver.host."):
            rep.out("| %s | %s | %s |" % (r["what"], us(r["v"]),
                                         "-" if r["lo"] is None else "%s..%s" % (
                                             us(r["lo"]), us(r["hi"]))))
    rep.out()
    rep.out("## Sizes")
    rep.out()
    rep.bullets(("cpu.epcm_bytes", "driver.metadata_share"),
                lambda r: "%s: %.3g %s" % (r["what"], r["v"], r["unit"]))
    rep.out("## Published hardware figures")
    rep.out()
    for key in HW:
        rep.out("- %s: %s at 3-4 GHz" % (HW[key][2], hw_cell(key).split(" (")[1].rstrip(")")))
    rep.out()
    if rep.missing:
        rep.out("Missing from this run: %s" % ", ".join(sorted(set(rep.missing))))
        rep.out()
    write(os.path.join(outdir, "report.md"), "\n".join(rep.lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
