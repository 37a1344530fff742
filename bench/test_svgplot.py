# SPDX-License-Identifier: MIT
"""TAP tests of bench/svgplot.py and bench/report.py on small fixed inputs:
the charts are well-formed SVG with what was asked for in them, and the
report turns a fixed set of records into its tables and four plots.

Usage: python3 bench/test_svgplot.py
"""

import os
import sys
import tempfile
import xml.etree.ElementTree as ET

# No __pycache__ in the source tree.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402
import svgplot  # noqa: E402

NS = "{http://www.w3.org/2000/svg}"
results = []


def case(fn):
    try:
        fn()
        results.append((fn.__name__, None))
    except Exception as e:  # noqa: BLE001 -- any failure is a "not ok"
        results.append((fn.__name__, "%s: %s" % (type(e).__name__, e)))
    return fn


def parse(text):
    root = ET.fromstring(text)
    assert root.tag == NS + "svg", root.tag
    assert root.get("viewBox") == "0 0 %d %d" % (svgplot.WIDTH, svgplot.HEIGHT)
    return root


def texts(root):
    return [t.text for t in root.iter(NS + "text")]


@case
def bar_chart_is_well_formed():
    svg = svgplot.bar_chart(
        "Fault <costs> & more", "us", ["A", "B"],
        [("ours", "#111111", [(8.0, 7.5, 8.5), 3.0]),
         ("floor", "#222222", [2.0, None]),
         ("hw", "#333333", [(4.0, 2.0, 6.0), None])])
    root = parse(svg)
    # The title, escaped on the way in, reads back as given.
    assert root.find(NS + "title").text == "Fault <costs> & more"
    bars = [r for r in root.iter(NS + "rect") if r.get("fill") in ("#111111", "#222222",
                                                                   "#333333")]
    # 4 bars (two values are None) and 3 legend swatches.
    assert len(bars) == 4 + 3, len(bars)
    # Two error bars of three lines each: ours in A, hw in A.
    whiskers = [ln for ln in root.iter(NS + "line") if ln.get("stroke") == "black" and
                ln.get("stroke-width") == "1.5"]
    assert len(whiskers) == 6, len(whiskers)
    for label in ("A", "B", "ours", "floor", "hw", "8", "3", "2", "4"):
        assert label in texts(root), label


@case
def bar_heights_follow_values():
    svg = svgplot.bar_chart("t", "y", ["g"], [("a", "#000001", [1.0]), ("b", "#000002", [4.0])])
    root = parse(svg)
    h = {r.get("fill"): float(r.get("height")) for r in root.iter(NS + "rect")
         if r.get("fill") in ("#000001", "#000002") and r.get("height") != "10"}
    assert abs(h["#000002"] / h["#000001"] - 4.0) < 0.05, h


@case
def line_chart_with_gaps_bands_and_log_axes():
    svg = svgplot.line_chart(
        "Reclaim", "EPC", "us", [64, 256, 1024, 8192], ["64M", "256M", "1G", "8G"],
        [("reclaim", "#0000aa", [(1.7, 1.6, 1.8), 1.7, None, 1.8], False),
         ("floor", "#00aa00", [0.9, 0.9, 0.9, 0.9], True)],
        bands=[("hw", "#aa0000", 10.0, 13.3)], ylog=True)
    root = parse(svg)
    lines = list(root.iter(NS + "polyline"))
    # reclaim: one run of two points before the gap (a lone point is only a dot); floor: one.
    assert len(lines) == 2, len(lines)
    assert lines[1].get("stroke-dasharray") == "5 3"
    dots = [c for c in root.iter(NS + "circle")]
    assert len(dots) == 3 + 4, len(dots)
    band = [r for r in root.iter(NS + "rect") if r.get("fill") == "#aa0000"]
    assert len(band) == 2, len(band)  # the band and its legend swatch
    # Log y: decades as ticks, and the band above the floor.
    for label in ("1", "10", "64M", "8G", "hw"):
        assert label in texts(root), label
    ys = [float(v.split(",")[1]) for v in lines[1].get("points").split()]
    assert all(y > float(band[0].get("y")) for y in ys)


@case
def same_input_same_bytes():
    a = svgplot.line_chart("t", "x", "y", [1, 10], ["1", "10"], [("s", "#000000", [1, 2], False)])
    b = svgplot.line_chart("t", "x", "y", [1, 10], ["1", "10"], [("s", "#000000", [1, 2], False)])
    assert a == b and len(a) < 8000


@case
def nothing_to_plot_is_an_error():
    try:
        svgplot.bar_chart("t", "y", ["g"], [("a", "#000000", [None])])
    except ValueError:
        return
    raise AssertionError("no ValueError")


RECORDS = "\n".join("\t".join(f) for f in [
    ["@meta", "mode", "test"],
    ["@ratio", "host.enter", "8.2e-07", "8.2e-06", "0.1", "0.098", "0.102", "9", "<=0.10",
     "undecided", "EENTER->EEXIT round trip (vDSO)"],
    ["@ratio", "host.enter.abs", "8.2e-07", "3e-07", "2.733", "2.7", "2.75", "9", "<=1.00",
     "missed", "EENTER->EEXIT round trip (vDSO) / 300 ns"],
    ["@ratio", "host.enter.trap_path", "8.2e-06", "7.5e-06", "1.093", "1.08", "1.10", "9", "-",
     "info", "the trap path's round trip is, in bare ENCLU traps,"],
    ["@ratio", "host.eaccept", "1.05e-06", "9e-06", "0.117", "0.11", "0.12", "9", "-", "info",
     "EACCEPT after EMODPR, per page"],
    ["@ratio", "host.enter.aside", "7.6e-06", "2e-06", "3.8", "3.7", "3.9", "9", "-", "info",
     "one bare ENCLU trap is, in page-fault signals (SIGSEGV),"],
    ["@ratio", "host.eaug", "8.3e-06", "3.3e-06", "2.5", "2.4", "2.6", "9", "<=1.50", "missed",
     "first-touch EAUG (EACCEPT), per page"],
    ["@ratio", "host.eldu", "1.06e-05", "4.9e-06", "2.2", "2.0", "2.3", "9", "<=1.50", "noisy",
     "ELDU reload, EPC free, per page"],
    ["@ratio", "cpu.eadd_warm", "3e-06", "2.8e-06", "1.084", "1.08", "1.09", "21", "<=1.10", "met",
     "EADD"],
    ["@ratio", "driver.tput.default", "8.4e-07", "1.64e-06", "0.515", "0.509", "0.53", "3",
     ">=0.50", "met", "reclaim throughput / AES-GCM throughput, 64 MiB EPC, default backing"],
    ["@value", "cpu.epcm_bytes", "32", "B", "-", "-", "EPCM metadata per frame"],
] + [["@value", "driver.sweep.%s.%d.%s" % (a, x, k), "1.7e-06", "s", "1.6e-06", "1.8e-06", k]
     for a, xs in (("epc", (64, 256, 1024, 8192)), ("encl", (1, 10, 100, 1000)))
     for x in xs for k in ("alloc", "reclaim", "reload")] + [
    ["@value", "driver.sweep.epc.gcm", "9e-07", "s", "-", "-", "AES-GCM"],
    ["@value", "driver.sweep.encl.gcm", "9e-07", "s", "-", "-", "AES-GCM"],
    ["@ratio", "short", "line"],  # malformed: skipped
]) + "\n"


@case
def report_from_fixed_records():
    with tempfile.TemporaryDirectory() as d:
        rec = os.path.join(d, "records.tsv")
        with open(rec, "w", encoding="utf-8") as f:
            f.write(RECORDS)
        assert report.main(["report.py", rec, d]) == 0
        md = open(os.path.join(d, "report.md"), encoding="utf-8").read()
        for want in ("- mode: test",
                     "| ecall: EENTER→EEXIT round trip (vDSO), real enclave code | 0.82 | "
                     "the same round trip, ENCLU trapping | 8.20 | 0.100 [0.098..0.102] | "
                     "≤ 0.10 | undecided | 8,200-17,000 cycles (2.0-5.7 µs) |",
                     "| ecall round trip against a flat 300 ns | 0.82 | 300 ns | 0.30 | "
                     "2.733 [2.700..2.750] | ≤ 1.00 | missed | - |",
                     "| EACCEPT inside one entry (after EMODPR), per page | 1.05 | the same, "
                     "ENCLU trapping | 9.00 | 0.117 [0.110..0.120] | - | info | - |",
                     "- the trap path's round trip is, in bare ENCLU traps, 1.093 [1.080..1.100]",
                     "| ELDU reload, EPC free, per page | 10.60 |",
                     "| 1 GiB EPC | 1.70 [1.60..1.80] |",
                     "| 64 MiB EPC, default backing | 1.64 | 0.84 | 0.515 [0.509..0.530] |",
                     "![epc](epc.svg)"):
            assert want in md, want
        # What the headline wants and the run did not record is named, not skipped silently.
        missing = [ln for ln in md.splitlines() if ln.startswith("Missing from this run:")]
        assert len(missing) == 1 and "host.eldu-thrash" in missing[0], missing
        for name in ("ecall.svg", "faults.svg", "epc.svg", "enclaves.svg"):
            parse(open(os.path.join(d, name), encoding="utf-8").read())
        # The ecall plot: the round trip, its trapping floor and the bare trap beside it.
        ecall = texts(parse(open(os.path.join(d, "ecall.svg"), encoding="utf-8").read()))
        for label in ("floor: the same, ENCLU trapping", "one bare ENCLU trap",
                      "a page-fault signal (SIGSEGV)"):
            assert label in ecall, label


@case
def report_without_records_fails():
    with tempfile.TemporaryDirectory() as d:
        rec = os.path.join(d, "records.tsv")
        open(rec, "w").close()
        assert report.main(["report.py", rec, d]) == 1
        assert not os.path.exists(os.path.join(d, "report.md"))


print("1..%d" % len(results))
for i, (name, err) in enumerate(results, 1):
    print("%s %d - %s" % ("ok" if err is None else "not ok", i, name))
    if err:
        print("# " + err)
sys.exit(any(err for _, err in results))
