#!/usr/bin/python3
"""python_bench.py - what the Python binding costs per check, against C.

The same outputs (examples/outputs.jsonl, one line each) are checked on
the baseline policy, round after round, by:

  C          plugins/python/bench/check_loop.c: sluice_check, read the
             action and output, sluice_verdict_free (built by
             `make python-bench`, or here with cc if missing);
  ctypes     the same three calls through ctypes from Python: the floor
             of any ctypes binding;
  Engine     sluice.Engine.check: the whole Verdict dataclass (rules,
             categories, spans, policy, label ...);
  session    Engine.session(): the output fed in 16-byte chunks, then
             finish(): cost per output, and per chunk.

Each is timed over ROUNDS x the examples after a warm-up, REPS times; the
median is printed, with Python's overhead over C per check.

Usage: nice /usr/bin/python3 bench/python_bench.py [--build DIR]
           [--rounds N] [--reps N] [--policy DIR]
"""

import argparse
import ctypes
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def build_c_loop(build):
    exe = os.path.join(build, "python", "check_loop")
    if os.access(exe, os.X_OK):
        return exe
    os.makedirs(os.path.dirname(exe), exist_ok=True)
    src = os.path.join(ROOT, "plugins", "python", "bench", "check_loop.c")
    libs = subprocess.run(
        ["pkg-config", "--libs", "libpcre2-8", "icu-uc", "icu-i18n",
         "libsodium", "yaml-0.1", "libhs", "hiredis"],
        capture_output=True, text=True, check=True).stdout.split()
    subprocess.run(["cc", "-O2", "-std=c11", "-D_GNU_SOURCE",
                    "-I" + os.path.join(ROOT, "include"), "-o", exe, src,
                    os.path.join(build, "libsluice.a")] + libs +
                   ["-lstdc++", "-lpthread", "-lm"], check=True)
    return exe


def time_c(exe, policy, path, rounds):
    out = subprocess.run([exe, policy, path, str(rounds)],
                         capture_output=True, text=True, check=True).stdout
    f = out.split()
    return float(f[f.index("us_per_check") + 1])


def time_py(fn, texts, rounds):
    for t in texts:
        fn(t)                                   # warm-up
    t0 = time.perf_counter()
    for _ in range(rounds):
        for t in texts:
            fn(t)
    return (time.perf_counter() - t0) * 1e6 / (rounds * len(texts))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--rounds", type=int, default=400)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--policy",
                    default=os.path.join(ROOT, "policies", "baseline"))
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    os.environ.setdefault("SLUICE_LIBRARY",
                          os.path.join(build, "libsluice.so"))
    sys.path.insert(0, os.path.join(ROOT, "plugins", "python"))
    import sluice
    from sluice import _lib

    with open(os.path.join(ROOT, "examples", "outputs.jsonl"),
              encoding="utf-8") as f:
        texts = [json.loads(line)["text"] for line in f if line.strip()]
    tmp = tempfile.mkdtemp(prefix="sluice-pybench.")
    path = os.path.join(tmp, "texts.txt")
    with open(path, "w", encoding="utf-8") as f:
        for t in texts:
            f.write(t.replace("\n", "\\n") + "\n")
    exe = build_c_loop(build)

    engine = sluice.Engine(args.policy)
    L = _lib.lib()
    eh = engine._h
    encoded = [t.encode() for t in texts]

    def raw_ctypes(data):
        v = ctypes.c_void_p()
        n = ctypes.c_size_t()
        if L.sluice_check(eh, data, len(data), None, ctypes.byref(v), None):
            raise RuntimeError("check failed")
        L.sluice_verdict_action(v.value)
        L.sluice_verdict_output(v.value, ctypes.byref(n))
        L.sluice_verdict_free(v.value)

    def streamed(text):
        with engine.session() as s:
            for i in range(0, len(text), 16):
                s.feed(text[i:i + 16])
                if s.stopped:
                    break
            s.finish()

    chunks = sum((len(t.encode()) + 15) // 16 for t in texts) / len(texts)
    results = {"C": [], "ctypes": [], "Engine.check": [], "session": []}
    for _ in range(args.reps):
        results["C"].append(time_c(exe, args.policy, path, args.rounds))
        results["ctypes"].append(time_py(raw_ctypes, encoded, args.rounds))
        results["Engine.check"].append(time_py(engine.check, texts,
                                               args.rounds))
        results["session"].append(time_py(streamed, texts,
                                          max(1, args.rounds // 4)))
    med = {k: statistics.median(v) for k, v in results.items()}
    avg_bytes = sum(len(e) for e in encoded) / len(encoded)
    print("python_bench: %d outputs (avg %.0f bytes), %d rounds, median of "
          "%d; libsluice %s" % (len(texts), avg_bytes, args.rounds,
                                args.reps, sluice.library_path()))
    print("%-34s %12s %14s" % ("path", "us/check", "over C (us)"))
    for name, label in (("C", "C sluice_check (check_loop)"),
                        ("ctypes", "ctypes, 3 calls (the floor)"),
                        ("Engine.check", "sluice.Engine.check -> Verdict")):
        print("%-34s %12.2f %14.2f" % (label, med[name], med[name] - med["C"]))
    print("%-34s %12.2f %14s   (%.1f chunks/output, %.2f us/chunk)"
          % ("session, 16-byte chunks", med["session"], "-", chunks,
             med["session"] / chunks))
    engine.close()


if __name__ == "__main__":
    main()
