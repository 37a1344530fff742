#!/usr/bin/env python3
"""Sum the TAP cases of every meson test run and print 'N passed, N failed'.

Each test program reports one TAP line per case, so this counts cases, not
programs. A program that crashed or printed no plan counts as one failure.
Exit status is non-zero when anything failed or nothing ran at all.
"""
import json
import re
import sys

passed = failed = skipped = 0
for build in sys.argv[1:]:
    if build.endswith(".tap"):
        try:
            out = open(build).read()
        except FileNotFoundError:
            out = ""
        ok = len(re.findall(r"^ok \d+", out, re.M))
        bad = len(re.findall(r"^not ok \d+", out, re.M))
        plan = re.search(r"^1\.\.(\d+)", out, re.M)
        if not plan or ok + bad < int(plan.group(1)):
            print(f"{build}: incomplete TAP", file=sys.stderr)
            bad += 1
        passed += ok
        failed += bad
        continue
    try:
        with open(f"{build}/meson-logs/testlog.json") as f:
            runs = [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        print(f"{build}: no test log", file=sys.stderr)
        failed += 1
        continue
    for r in runs:
        out = r.get("stdout", "") or ""
        ok = len(re.findall(r"^ok \d+", out, re.M))
        skip = len(re.findall(r"^ok \d+.*# SKIP", out, re.M))
        bad = len(re.findall(r"^not ok \d+", out, re.M))
        plan = re.search(r"^1\.\.(\d+)", out, re.M)
        if r.get("result") not in ("OK", "SKIP", "EXPECTEDFAIL") and bad == 0:
            bad = 1  # crashed, timed out or sanitizer abort without a failing case
            print(f"{build}: {r.get('name')}: {r.get('result')}", file=sys.stderr)
        elif plan and ok + bad < int(plan.group(1)):
            bad += int(plan.group(1)) - ok - bad
            print(f"{build}: {r.get('name')}: missing TAP cases", file=sys.stderr)
        passed += ok - skip
        skipped += skip
        failed += bad
line = f"{passed} passed, {failed} failed"
if skipped:
    line += f", {skipped} skipped"
print(line)
sys.exit(0 if failed == 0 and passed > 0 else 1)
