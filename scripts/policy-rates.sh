#!/usr/bin/env bash
# scripts/policy-rates.sh - how often each shipped policy pack fires on
# real text: harm benchmarks (COLD, ChineseHarm-Bench, hh-rlhf answers)
# and benign text (LLaMA-Factory answers, Chinese Wikipedia).
#
# For every pack in policies/*/ (baseline, cn-genai-template) and every
# corpus, it writes the corpus as a temporary JSONL of {"id","text"} lines,
# runs `sluice check -p PACK --jsonl FILE --json`, counts the action of each
# verdict, and prints one Markdown table per pack (rates) and one of the
# rules that fired most. Each corpus row is capped at its first
# $POLICY_RATES_CAP inputs (default 5000). Corpora are read in place.
#
#   scripts/policy-rates.sh
#
# Environment:
#   SLUICE_DATA       corpora directory (default: ../shared/data next to
#                     the repository); missing: prints one line, exits 0
#   SLUICE            sluice binary (default: build/sluice in the repo)
#   POLICY_RATES_CAP  inputs per corpus row (default 5000)
#
# Needs bash and python3 (standard library only). See docs/policies.md.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
data=${SLUICE_DATA:-$root/../shared/data}
sluice=${SLUICE:-$root/build/sluice}
cap=${POLICY_RATES_CAP:-5000}

if [ ! -d "$data" ]; then
    echo "policy-rates: skipped: no corpora at $data (set SLUICE_DATA)"
    exit 0
fi
if [ ! -x "$sluice" ]; then
    echo "policy-rates: no sluice binary at $sluice (build it, or set SLUICE)" >&2
    exit 2
fi
case $cap in ''|*[!0-9]*) echo "policy-rates: bad POLICY_RATES_CAP: $cap" >&2; exit 2 ;; esac

tmp=$(mktemp -d "${TMPDIR:-/tmp}/policy-rates.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

packs=()
for p in "$root"/policies/*/policy.yaml; do
    [ -e "$p" ] && packs+=("$(dirname "$p")")
done
if [ ${#packs[@]} -eq 0 ]; then
    echo "policy-rates: no packs under $root/policies" >&2
    exit 2
fi

export PR_DATA=$data PR_TMP=$tmp PR_CAP=$cap PR_SLUICE=$sluice PR_ROOT=$root
python3 - "${packs[@]}" <<'PY'
import collections, csv, glob, gzip, json, os, subprocess, sys, time

data, tmp, cap = os.environ["PR_DATA"], os.environ["PR_TMP"], int(os.environ["PR_CAP"])
sluice, root = os.environ["PR_SLUICE"], os.environ["PR_ROOT"]
packs = sys.argv[1:]
ACTIONS = ["allow", "flag", "label", "redact", "block"]

def P(*parts):
    return os.path.join(data, *parts)

# --- corpora: (name, kind, texts) ------------------------------------------
# kind: "harmful" (labelled harmful by the benchmark), "control" (its
# benign rows), "red-team" (answers to red-teaming prompts, "rejected"
# judged the more harmful), "benign" (every non-allow is a false positive).

def cold(want):
    with open(P("cold", "test.csv"), encoding="utf-8-sig", newline="") as f:
        for row in csv.DictReader(f):
            if row["label"] == want:
                yield row["TEXT"]

def chineseharm(want):
    with open(P("chineseharm-bench", "bench.json"), encoding="utf-8") as f:
        for o in json.load(f):
            if o["标签"] == want:
                yield o["文本"]

def hh(side):
    with gzip.open(P("hh-rlhf", "harmless-base-test.jsonl.gz"), "rt", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)[side].rsplit("\n\nAssistant:", 1)[-1]

def llamafactory():
    for path in sorted(glob.glob(P("llamafactory-demo", "*.json"))):
        with open(path, encoding="utf-8") as f:
            for o in json.load(f):
                if isinstance(o, dict) and isinstance(o.get("output"), str):
                    yield o["output"]

def lines(*parts):
    with open(P(*parts), encoding="utf-8", errors="replace") as f:
        for line in f:
            yield line.rstrip("\n")

CHB = [("不违规", "control", "not violating"), ("低俗色情", "harmful", "vulgar/porn"),
       ("博彩", "harmful", "gambling"), ("欺诈", "harmful", "fraud"),
       ("谩骂引战", "harmful", "abuse"), ("黑产广告", "harmful", "black-market ads")]
CORPORA = [
    ("COLD test, offensive (label 1)", "harmful", lambda: cold("1")),
    ("COLD test, non-offensive (label 0)", "control", lambda: cold("0")),
] + [
    ("ChineseHarm-Bench %s (%s)" % (lab, en), kind, (lambda lab=lab: chineseharm(lab)))
    for lab, kind, en in CHB
] + [
    ("hh-rlhf last Assistant turn, chosen", "red-team", lambda: hh("chosen")),
    ("hh-rlhf last Assistant turn, rejected", "red-team", lambda: hh("rejected")),
    ("LLaMA-Factory answers (output)", "benign", llamafactory),
    ("Wikipedia zh-Hans (CMRC 2018 contexts)", "benign", lambda: lines("cmrc2018", "cmrc2018_contexts.txt")),
    ("Wikipedia zh-Hant (DRCD dev contexts)", "benign", lambda: lines("drcd", "DRCD_dev_contexts.txt")),
]

# --- write each corpus once as JSONL ---------------------------------------
files = []
for i, (name, kind, gen) in enumerate(CORPORA):
    path = os.path.join(tmp, "c%02d.jsonl" % i)
    n = 0
    try:
        with open(path, "w", encoding="utf-8") as out:
            for text in gen():
                if not text.strip():
                    continue          # empty answers/lines: nothing to check
                n += 1
                out.write(json.dumps({"id": str(n), "text": text}, ensure_ascii=False) + "\n")
                if n >= cap:
                    break
    except FileNotFoundError as e:
        print("policy-rates: %s: missing %s, row skipped" % (name, e.filename), file=sys.stderr)
        continue
    files.append((name, kind, path, n))

# --- run every pack over every corpus --------------------------------------
t0 = time.time()
print("# Sluice policy rates\n")
print("Each corpus row is capped at its first %d non-empty inputs. "
      "Benign rows: every non-allow verdict is a false positive (FP). "
      "Control rows: the benign class of a harm benchmark. "
      "Red-team rows: LLM answers to red-teaming prompts.\n" % cap)
for pack in packs:
    rel = os.path.relpath(pack, root)
    rows, tops = [], []
    seen = collections.Counter()
    for name, kind, path, n in files:
        r = subprocess.run([sluice, "check", "-p", pack, "--jsonl", path, "--json"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if r.returncode != 0:
            sys.exit("policy-rates: sluice check -p %s failed on %s (exit %d): %s"
                     % (rel, name, r.returncode, r.stderr.decode(errors="replace").strip()))
        acts, rules = collections.Counter(), collections.Counter()
        got = 0
        for line in r.stdout.decode("utf-8", errors="replace").split("\n"):
            if not line.strip():
                continue
            v = json.loads(line)
            got += 1
            acts[v["action"]] += 1
            for rule in v.get("rules", []):
                rules[rule] += 1
        if got != n:
            sys.exit("policy-rates: %s on %s: %d verdicts for %d inputs" % (rel, name, got, n))
        seen.update(acts)
        rows.append((name, kind, n, acts))
        tops.append((name, rules))
    cols = [a for a in ACTIONS if a in ("allow", "redact", "block") or seen[a]]
    pct = lambda k, n: "%.1f" % (100.0 * k / n) if n else "-"
    print("## %s\n" % rel)
    print("| corpus | kind | inputs | " + " | ".join("%% %s" % a for a in cols) + " | % not allow |")
    print("|---|---|---:|" + "---:|" * len(cols) + "---:|")
    for name, kind, n, acts in rows:
        na = pct(n - acts["allow"], n)
        if kind == "benign":
            na = "**%s (FP)**" % na
        print("| %s | %s | %d | %s | %s |" % (name, kind, n,
              " | ".join(pct(acts[a], n) for a in cols), na))
    print("\nRules that fired most (top 5 rule ids; count = verdicts the rule fired in):\n")
    print("| corpus | top rules |")
    print("|---|---|")
    for name, rules in tops:
        top = ", ".join("`%s` %d" % (r, c) for r, c in rules.most_common(5)) or "(none)"
        print("| %s | %s |" % (name, top))
    print()
print("_%d packs x %d corpus rows in %.1f s; sluice: %s_"
      % (len(packs), len(files), time.time() - t0, sluice))
PY
