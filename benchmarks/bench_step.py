"""One training step of the classic VAE: minivae against PyTorch, and both against the BLAS peak.

    python benchmarks/bench_step.py                  # 1 and 2 threads, batch 128 and 1024
    python benchmarks/bench_step.py --rounds 3 --seconds 1 --threads 1 --batch 128
    python benchmarks/bench_step.py --baseline ../before   # also time the minivae of another
                                                           # checkout (a git worktree), interleaved

A step is what a training loop does per mini-batch: draw the noise, forward pass, loss,
backward pass, Adam update. The model is 784-400-20 with ReLU, a Bernoulli likelihood on
logits, the closed-form KL, float32, batch B of fixed random grey levels, or with ``--data mnist``
sixteen batches of MNIST training digits drawn once and taken in turn (the input ``minivae train``
sees; the same batches for every implementation).

Every implementation runs in its own process, started once per thread count with
OMP/OPENBLAS/MKL_NUM_THREADS set before NumPy or PyTorch load, and kept alive: the driver asks
each in turn, round after round, to run steps for a few seconds, so the implementations see the
same machine load. The same rounds also time a large float32 matrix product through NumPy (the
"peak"). Reported figures are medians over the rounds.

minivae runs the step ``minivae train`` runs: with two threads, each mini-batch is split between
two threads that multiply on their own cores (``minivae.parallel``); PyTorch splits each
operation across its two threads.

FLOPs: 2 m n k per matrix product, counting every product of the step: each layer's forward
product and weight gradient, and the input gradient of every layer except the encoder's first
(nobody needs dL/dx), exactly what both implementations compute.

PyTorch is imported only if it is installed; otherwise the benchmark says so and times minivae
and the peak alone. With ``--baseline DIR`` the minivae of another checkout (for example a git
worktree of the commit before a change) runs as one more implementation in the same rounds, so
"before" and "after" see the same machine load.

Every report starts with the CPU model and what threadpoolctl says of NumPy's BLAS (library,
version, the kernel it chose, threads): a figure without its machine misleads.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
IMPLS = ("minivae", "baseline", "torch", "torch-fused")
ENCODER = [(784, 400), (400, 40)]
DECODER = [(20, 400), (400, 784)]
PEAK_N = 2048
PEAK_SETTLE_S = 0.3


def step_flops(batch):
    """Matrix-multiply FLOPs of one training step: 2 m n k per product."""
    layers = ENCODER + DECODER
    fwd = sum(2 * batch * i * o for i, o in layers)
    weight_grads = fwd
    input_grads = fwd - 2 * batch * ENCODER[0][0] * ENCODER[0][1]
    return fwd + weight_grads + input_grads


# ------------------------------------------------------------------------------------------------
# worker side: one process per implementation and thread count
# ------------------------------------------------------------------------------------------------
def _worker(impl, threads):
    import numpy as np
    rng = np.random.default_rng(0)
    steps = {}

    if impl.startswith("torch"):
        import torch
        torch.set_num_threads(threads)
        sys.path.insert(0, HERE)
        from torch_vae import TorchVAE, make_step

    def inputs(batch):
        """The batches a step takes in turn: one of random grey levels, or sixteen of MNIST."""
        if os.environ.get("MINIVAE_BENCH_DATA", "random") == "random":
            return [rng.random((batch, 784), dtype=np.float32)]
        sys.path.insert(0, ROOT)
        from minivae import datasets
        images = datasets.load("mnist", "train").x
        pick = np.random.default_rng(0)
        return [np.ascontiguousarray(images[pick.choice(len(images), batch, replace=False)], dtype=np.float32)
                for _ in range(16)]

    def cycle(step, xs):
        batches = itertools.cycle(xs)
        return lambda: step(next(batches))

    def build(batch):
        xs = inputs(batch)
        if impl in ("minivae", "baseline"):
            sys.path.insert(0, os.environ["MINIVAE_BENCH_BASELINE"] if impl == "baseline" else ROOT)
            import minivae
            from minivae.parallel import DataParallel
            model = minivae.VAE(784, 20, (400,), "relu", "bernoulli", seed=0)
            opt = minivae.Adam(model.params, lr=1e-3)
            noise = np.random.default_rng(1)
            # the step `minivae train` runs with this many threads: the batch split among them
            # when there are several (minivae.parallel), else one thread and the BLAS's own
            step = DataParallel(model, threads) if DataParallel.usable(model, threads) else model
            return cycle(lambda x: step.train_step(x, opt, noise), xs)
        torch.manual_seed(0)
        model = TorchVAE()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=(impl == "torch-fused"))
        step = make_step(model, opt)
        return cycle(step, [torch.from_numpy(x) for x in xs])

    if impl == "peak":
        a = rng.random((PEAK_N, PEAK_N), dtype=np.float32)
        b = rng.random((PEAK_N, PEAK_N), dtype=np.float32)
        c = np.empty_like(a)
        np.matmul(a, b, out=c)

    for line in sys.stdin:
        req = json.loads(line)
        seconds = req["seconds"]
        if impl == "peak":
            n = 0
            t0, c0 = time.perf_counter(), time.process_time()
            while True:
                np.matmul(a, b, out=c)
                n += 1
                dt = time.perf_counter() - t0
                if dt >= seconds:
                    break
            cpu = time.process_time() - c0
            print(json.dumps({"gflops": 2 * PEAK_N ** 3 * n / dt / 1e9,
                              "gflops_cpu": 2 * PEAK_N ** 3 * n / cpu / 1e9}), flush=True)
            continue
        batch = req["batch"]
        if batch not in steps:
            steps[batch] = build(batch)
            for _ in range(10):                    # warm-up: allocations, caches, thread pools
                steps[batch]()
        step = steps[batch]
        n = 0
        t0, c0 = time.perf_counter(), time.process_time()
        while True:
            step()
            n += 1
            dt = time.perf_counter() - t0
            if dt >= seconds:
                break
        cpu = time.process_time() - c0
        print(json.dumps({"steps_per_s": n / dt, "steps_per_cpu_s": n / cpu}), flush=True)


# ------------------------------------------------------------------------------------------------
# driver side
# ------------------------------------------------------------------------------------------------
class Worker:
    def __init__(self, impl, threads):
        env = dict(os.environ)
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(threads)
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--worker", impl,
                                      "--worker-threads", str(threads)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)

    def ask(self, **req):
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("a benchmark worker died; run it alone to see its error")
        return json.loads(line)

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()


def torch_available():
    try:
        import importlib.util
        return importlib.util.find_spec("torch") is not None
    except ValueError:
        return False


def machine():
    """The CPU model and what threadpoolctl reports of NumPy's BLAS, as one line each."""
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            info = {}
            for line in f:
                key, _, value = line.partition(":")
                info.setdefault(key.strip(), value.strip())
        # a virtual machine may name only the vendor ("AMD EPYC"): the family and model numbers
        # and the widest vector extension tell the generations apart
        flags = info.get("flags", "").split()
        simd = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
        model = (f"{info.get('model name', 'unknown CPU')} (family {info.get('cpu family', '?')}, "
                 f"model {info.get('model', '?')}, {simd})")
    except OSError:
        pass
    import numpy  # noqa: F401  (loads the BLAS threadpoolctl looks for)
    from threadpoolctl import threadpool_info
    blas = [f"{i.get('internal_api')} {i.get('version')} kernel {i.get('architecture')} "
            f"({i.get('num_threads')} threads, {os.path.basename(i.get('filepath', ''))})"
            for i in threadpool_info() if i.get("user_api") == "blas"]
    env = ", ".join(f"{k}={os.environ[k]}" for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if k in os.environ)
    return [f"CPU: {model}, {os.cpu_count()} logical cores", "NumPy BLAS: " + "; ".join(blas)
            + (f" (environment: {env})" if env else "")]


def run(threads_list, batches, rounds, seconds, out=sys.stdout, baseline=None):
    impls = ["minivae"] + (["baseline"] if baseline else [])
    if torch_available():
        impls += ["torch", "torch-fused"]
    else:
        print("PyTorch is not installed: timing minivae and the BLAS peak only", file=out)
    results = []
    for threads in threads_list:
        workers = {name: Worker(name, threads) for name in impls + ["peak"]}
        try:
            samples = {(b, name): [] for b in batches for name in impls}
            cpu_samples = {(b, name): [] for b in batches for name in impls}
            peaks, cpu_peaks = [], []
            for r in range(rounds):
                for b in batches:
                    order = impls[r % len(impls):] + impls[:r % len(impls)]   # rotate who goes first
                    res = workers["peak"].ask(seconds=seconds / 2)
                    peaks.append(res["gflops"])
                    cpu_peaks.append(res["gflops_cpu"])
                    # After its last product, each of the peak process's BLAS helper threads spins
                    # for about a tenth of a second before it sleeps; whoever ran next lost part of
                    # a core (a two-thread minivae step: 289 steps/s in the first 0.3 s after the
                    # peak, 311 after a pause). Let them fall asleep first.
                    time.sleep(PEAK_SETTLE_S if threads > 1 else 0)
                    for name in order:
                        res = workers[name].ask(batch=b, seconds=seconds)
                        samples[(b, name)].append(res["steps_per_s"])
                        cpu_samples[(b, name)].append(res["steps_per_cpu_s"])
                print(f"  threads={threads} round {r + 1}/{rounds} done", file=sys.stderr, flush=True)
        finally:
            for w in workers.values():
                w.close()
        peak = statistics.median(peaks)
        cpu_peak = statistics.median(cpu_peaks)
        for b in batches:
            row = {"threads": threads, "batch": b, "peak_gflops": peak,
                   "peak_spread": [min(peaks), max(peaks)], "rounds": rounds, "cpu_peak_gflops": cpu_peak}
            for name in impls:
                sps = statistics.median(samples[(b, name)])
                cps = statistics.median(cpu_samples[(b, name)])
                row[name] = {"steps_per_s": sps, "all": samples[(b, name)],
                             "gflops": step_flops(b) * sps / 1e9,
                             "share_of_peak": step_flops(b) * sps / 1e9 / peak,
                             "steps_per_cpu_s": cps, "all_cpu": cpu_samples[(b, name)],
                             "share_of_cpu_peak": step_flops(b) * cps / 1e9 / cpu_peak}
            refs = [r for r in ("baseline", "torch", "torch-fused") if r in row]
            if refs:
                # ratio of medians, and the median of the per-round ratios (same-round pairs)
                for ref in refs:
                    per_round = [m / t for m, t in zip(samples[(b, "minivae")], samples[(b, ref)])]
                    row[f"ratio_vs_{ref}"] = row["minivae"]["steps_per_s"] / row[ref]["steps_per_s"]
                    row[f"ratio_vs_{ref}_per_round_median"] = statistics.median(per_round)
            results.append(row)
    return results


def report(results, out=sys.stdout):
    print(f"\nfloat32 matrix-multiply peak: NumPy matmul of two {PEAK_N}x{PEAK_N} matrices, median "
          f"over the rounds. Step FLOPs count every matrix product (2mnk).", file=out)
    for row in results:
        print(f"\nthreads={row['threads']}  batch={row['batch']}  peak {row['peak_gflops']:.1f} GFLOP/s "
              f"(rounds ranged {row['peak_spread'][0]:.1f}-{row['peak_spread'][1]:.1f})  "
              f"{step_flops(row['batch']) / 1e9:.3f} GFLOP per step", file=out)
        print(f"  {'implementation':<22}{'steps/s':>10}{'GFLOP/s':>10}{'% of peak':>11}", file=out)
        labels = {"minivae": "minivae", "baseline": "minivae (baseline)", "torch": "PyTorch, Adam",
                  "torch-fused": "PyTorch, Adam fused"}
        for name in IMPLS:
            if name in row:
                r = row[name]
                print(f"  {labels[name]:<22}{r['steps_per_s']:>10.1f}{r['gflops']:>10.1f}"
                      f"{100 * r['share_of_peak']:>10.1f}%", file=out)
        if "ratio_vs_torch" in row:
            print(f"  minivae / PyTorch: {row['ratio_vs_torch']:.2f}x (default Adam), "
                  f"{row['ratio_vs_torch-fused']:.2f}x (fused Adam); per-round medians "
                  f"{row['ratio_vs_torch_per_round_median']:.2f}x / "
                  f"{row['ratio_vs_torch-fused_per_round_median']:.2f}x", file=out)
        if "ratio_vs_baseline" in row:
            print(f"  minivae / baseline: {row['ratio_vs_baseline']:.3f}x (per-round median "
                  f"{row['ratio_vs_baseline_per_round_median']:.3f}x)", file=out)
        if row["threads"] == 1:
            # With one thread, a process's CPU time is the time it actually computed, whatever
            # else the machine runs; a cross-check of the wall-clock figures on a busy machine.
            parts = [f"{labels[n]} {row[n]['steps_per_cpu_s']:.1f} ({100 * row[n]['share_of_cpu_peak']:.0f}%)"
                     for n in IMPLS if n in row]
            line = (f"  per CPU-second (share of the CPU-time peak {row['cpu_peak_gflops']:.1f} GFLOP/s): "
                    + ", ".join(parts))
            if "torch" in row:
                m = row["minivae"]["steps_per_cpu_s"]
                line += (f"; ratios {m / row['torch']['steps_per_cpu_s']:.2f}x / "
                         f"{m / row['torch-fused']['steps_per_cpu_s']:.2f}x")
            print(line, file=out)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--batch", type=int, nargs="+", default=[128, 1024])
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--seconds", type=float, default=2.0, help="timing per implementation per round")
    p.add_argument("--json", default=None, help="also write the results to this JSON file")
    p.add_argument("--baseline", default=None,
                   help="a checkout of minivae (the folder holding its minivae/ package) to time beside this one")
    p.add_argument("--data", choices=("random", "mnist"), default="random",
                   help="the input: fixed random grey levels (default) or MNIST training batches (needs MINIVAE_DATA "
                        "or the download cache)")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    p.add_argument("--worker-threads", type=int, default=1, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return _worker(args.worker, args.worker_threads)
    if args.baseline:
        root = os.path.abspath(args.baseline)
        if not os.path.isfile(os.path.join(root, "minivae", "__init__.py")):
            p.error(f"--baseline: expected a folder holding a minivae/ package, got {args.baseline}")
        os.environ["MINIVAE_BENCH_BASELINE"] = root
    os.environ["MINIVAE_BENCH_DATA"] = args.data
    t0 = time.time()
    for line in machine():
        print(line)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"bench_step: {args.rounds} rounds x {args.seconds:g} s, threads {args.threads}, "
          f"batch {args.batch}, input {args.data}; load average at start {load:.2f}")
    results = run(args.threads, args.batch, args.rounds, args.seconds, baseline=args.baseline)
    report(results)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\n{time.time() - t0:.0f} s; load average at end {load:.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
