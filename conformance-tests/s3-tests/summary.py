"""Summarises an s3-tests run written by areas.py: pass count per area, against the list of
tests expected to pass (expected-pass.txt). Exits 1 when an expected test did not pass.

usage: summary.py RESULTS.jsonl EXPECTED.txt [--label NAME] [--write-passed FILE]
"""
import argparse
import json
import sys

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from areas import CORE, RULES  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("expected")
    ap.add_argument("--label", default="")
    ap.add_argument("--write-passed")
    args = ap.parse_args()

    outcome, area = {}, {}
    with open(args.results) as f:
        for line in f:
            r = json.loads(line)
            outcome[r["test"]] = r["outcome"]
            area[r["test"]] = r["area"]
    expected = set()
    with open(args.expected) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                expected.add(line)

    passed = {t for t, o in outcome.items() if o == "passed"}
    order = [a for a, *_ in RULES]
    print(f"s3-tests {args.label}: {len(passed)} of {len(outcome)} AWS-faithful tests passed")
    print(f"{'area':<14} {'core':<5} {'passed':>7} {'of':>4} {'expected':>9}")
    totals = [0, 0, 0]
    for a in sorted(set(area.values()), key=order.index):
        tests = [t for t in outcome if area[t] == a]
        p = sum(t in passed for t in tests)
        e = sum(t in expected for t in tests)
        core = a in CORE
        if core:
            totals[0] += p
            totals[1] += len(tests)
            totals[2] += e
        print(f"{a:<14} {'yes' if core else '':<5} {p:>7} {len(tests):>4} {e:>9}")
    print(f"{'core areas':<20} {totals[0]:>7} {totals[1]:>4} {totals[2]:>9}")

    missing = sorted(t for t in expected if t in outcome and t not in passed)
    new = sorted(passed - expected)
    absent = sorted(t for t in expected if t not in outcome)
    for t in new:
        print(f"newly passing: {t} ({area[t]})")
    for t in absent:
        print(f"expected but not run: {t}")
    for t in missing:
        print(f"REGRESSION: {t} ({area[t]}): {outcome[t]}")
    if args.write_passed:
        with open(args.write_passed, "w") as f:
            f.writelines(t + "\n" for t in sorted(passed))
    sys.exit(1 if missing else 0)


if __name__ == "__main__":
    main()
