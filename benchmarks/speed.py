"""Training throughput of the package against PyTorch and a min-char-rnn loop.

One training step is the same for every implementation: read a window of
token ids (T, B) from a vocabulary of K = 65 characters, run the recurrent
layer, the output layer o = c + V h and the mean cross-entropy, backpropagate
through time, clip every gradient entry to [-5, 5], and take one optimiser
step. The three implementations:

* **package**: ``rnn.train.train_step`` with ``rnn.make_optimizer("adam")``,
  exactly what ``rnn train`` runs;
* **torch**: ``torch.nn.RNN`` / ``LSTM`` / ``GRU`` on one-hot inputs,
  ``torch.nn.Linear``, ``F.cross_entropy``, ``clip_grad_value_`` and
  ``torch.optim.Adam`` (the way a reader writes it with standard modules);
* **min-char-rnn**: the loop of Karpathy's min-char-rnn.py (column vectors,
  one dict entry per step, one-hot inputs, Adagrad), rewritten here from its
  recipe; vanilla cell and B = 1 only, since that is all it does.

For every row of the table (cell, B, T, H, dtype, threads) the script prints
tokens per second (T * B / seconds per step) of each, the ratios, the share
of the measured one-thread (or two-thread) GEMM peak that the package's step
reaches, and the package's peak memory for one step (numpy allocations,
measured with tracemalloc). BLAS threads are set explicitly for NumPy
(threadpoolctl) and for torch (``torch.set_num_threads``). Timings are the
fastest of several interleaved rounds, so that a burst of load from another
program on the machine does not favour one side.

    python benchmarks/speed.py              # the full table, about 3 minutes
    python benchmarks/speed.py --tiny       # a few seconds: proves it runs
    python benchmarks/speed.py --cells rnn --sizes 1x25x100,64x128x512 --threads 1,2
    python benchmarks/speed.py --json speed.json    # also write the rows as JSON
    python benchmarks/speed.py --clock cpu --rounds 15     # on a machine others keep busy

Timings on a shared machine are noisy: read ratios, and rerun on a quiet one
(the script prints the load average before and after). Where that is not
possible, ``--clock cpu`` times the one-thread rows with this process's CPU
time, which waiting for a busy core does not inflate (cache and memory
traffic from other programs still can), and more rounds give the fastest one
more chances to fall in a quiet moment.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

K = 65  # the vocabulary of the measurements (tiny-shakespeare's size)
CLIP, LR_ADAM, LR_ADAGRAD = 5.0, 2e-3, 0.1
GATES = {"rnn": 1, "lstm": 4, "gru": 3}

#: The default table: (cell, B, T, H, dtype, threads).
DEFAULT_ROWS = [
    ("rnn", 1, 25, 100, "float64", 1),  # min-char-rnn's size and dtype
    ("rnn", 1, 25, 100, "float32", 1),
    ("rnn", 32, 64, 128, "float32", 1),  # the `rnn train` default model
    ("rnn", 32, 64, 256, "float32", 1),
    ("rnn", 32, 64, 256, "float32", 2),
    ("rnn", 64, 128, 512, "float32", 1),
    ("rnn", 64, 128, 512, "float32", 2),
    ("lstm", 1, 25, 100, "float32", 1),
    ("lstm", 32, 64, 256, "float32", 1),
    ("gru", 1, 25, 100, "float32", 1),
    ("gru", 32, 64, 256, "float32", 1),
]
TINY_ROWS = [("rnn", 1, 5, 8, "float64", 1), ("lstm", 2, 4, 8, "float32", 1),
             ("gru", 2, 4, 8, "float32", 1)]


def setup_path():
    src = str(Path(__file__).resolve().parents[1] / "src")
    if src not in sys.path:
        sys.path.insert(0, src)


# ----------------------------------------------------------------------------- the three steps

class Windows:
    """Consecutive (inputs, targets) windows (T, B) cut from one long stream of random ids.

    No window repeats within a measurement, so no model can memorise them
    (a handful of repeated random batches is learnt by heart, and a model
    that keeps training on them eventually diverges).
    """

    def __init__(self, B, T, seed=0, windows=4096):
        self.T, self.B = T, B
        self.n = max(1, min(windows, (1 << 20) // (T * B)))  # at most ~1M ids (8 MB)
        self.ids = np.random.default_rng(seed).integers(0, K, size=self.n * T * B + 1)
        self.i = 0

    def next(self):
        start = (self.i % self.n) * self.T * self.B
        self.i += 1
        chunk = self.ids[start:start + self.T * self.B + 1]
        return chunk[:-1].reshape(self.T, self.B), chunk[1:].reshape(self.T, self.B)


def package_step(cell, B, T, H, dtype):
    """A closure running one `rnn train` step; returns it and the parameter dict."""
    import rnn
    from rnn.train import train_step

    params = rnn.init_params(K, H, cell=cell, init="scaled", seed=0, dtype=dtype)
    optimizer = rnn.make_optimizer("adam", LR_ADAM)
    data = Windows(B, T)
    box = {"state": None}

    def step():
        inputs, targets = data.next()
        _, box["state"] = train_step(params, optimizer, inputs, targets, box["state"], clip=CLIP)

    return step


def torch_model(cell, H, dtype, params=None, seed=0, vocab=K):
    """torch's RNN/LSTM/GRU and Linear for the model (``vocab`` inputs and outputs, H units).

    Without ``params`` torch initialises them. With a parameter dict of the
    package (one layer) they get its weights, and the same parametrisation:
    torch keeps two biases per gate where the package keeps their sum (and,
    for the GRU candidate, ``bh_n`` apart), so the extra torch biases start at
    0 and a gradient hook keeps them there; with two trained copies of one
    bias Adam would move their sum twice as fast.
    """
    import torch

    torch.manual_seed(seed)
    tdtype = getattr(torch, dtype)
    mod = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](vocab, H,
                                                                                 dtype=tdtype)
    lin = torch.nn.Linear(H, vocab, dtype=tdtype)
    if params is not None:
        gates = {"rnn": [""], "lstm": ["_i", "_f", "_g", "_o"], "gru": ["_r", "_z", "_n"]}[cell]
        cat = lambda name: torch.tensor(np.concatenate([params[name + g] for g in gates]))  # noqa: E731
        keep = torch.zeros(len(gates) * H, dtype=tdtype)  # entries of bias_hh that train
        with torch.no_grad():
            mod.weight_ih_l0.copy_(cat("U"))
            mod.weight_hh_l0.copy_(cat("W"))
            mod.bias_ih_l0.copy_(cat("b"))
            mod.bias_hh_l0.zero_()
            if cell == "gru":  # the candidate's hidden-side bias is a parameter of its own
                mod.bias_hh_l0[2 * H:] = torch.tensor(params["bh_n"])
                keep[2 * H:] = 1
            lin.weight.copy_(torch.tensor(params["V"]))
            lin.bias.copy_(torch.tensor(params["c"]))
        mod.bias_hh_l0.register_hook(lambda g: g * keep)
    return mod, lin


def params_from_torch(mod, lin, cell):
    """The package's parameter dict of the torch model (to evaluate it with rnn.train.evaluate)."""
    get = lambda t: t.detach().numpy().copy()  # noqa: E731
    H = mod.hidden_size
    w_ih, w_hh, b_ih, b_hh = (get(getattr(mod, f"{n}_l0"))
                              for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
    gates = {"rnn": [""], "lstm": ["_i", "_f", "_g", "_o"], "gru": ["_r", "_z", "_n"]}[cell]
    params = {}
    for k, g in enumerate(gates):
        rows = slice(k * H, (k + 1) * H)
        params["U" + g], params["W" + g], params["b" + g] = w_ih[rows], w_hh[rows], b_ih[rows] + b_hh[rows]
    if cell == "gru":
        params["b_n"], params["bh_n"] = b_ih[2 * H:], b_hh[2 * H:]
    params["V"], params["c"] = get(lin.weight), get(lin.bias)
    return params


def torch_trainer(mod, lin, cell, lr=LR_ADAM, clip=CLIP):
    """``step(inputs, targets, state) -> (loss, state)``: one training step in torch (ids as numpy)."""
    import torch
    import torch.nn.functional as F

    params = list(mod.parameters()) + list(lin.parameters())
    optimizer = torch.optim.Adam(params, lr=lr)
    dtype, vocab = lin.weight.dtype, lin.out_features

    def step(inputs, targets, state):
        x = F.one_hot(torch.from_numpy(inputs), vocab).to(dtype)  # (T, B, K)
        out, state = mod(x, state)
        loss = F.cross_entropy(lin(out).reshape(-1, vocab), torch.from_numpy(targets).reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_value_(params, clip)
        optimizer.step()
        state = tuple(s.detach() for s in state) if cell == "lstm" else state.detach()
        return loss.item(), state

    step.optimizer = optimizer  # for a learning-rate schedule (time_to_quality.py)
    return step


def torch_step(cell, B, T, H, dtype):
    """The same step with torch's standard modules (one-hot input, as the model reads)."""
    train = torch_trainer(*torch_model(cell, H, dtype), cell)
    data = Windows(B, T)
    box = {"state": None}

    def step():
        _, box["state"] = train(*data.next(), box["state"])

    return step


def minchar_step(cell, B, T, H, dtype):
    """min-char-rnn's loss function and Adagrad update (vanilla cell, B = 1)."""
    import numpy as np

    if cell != "rnn" or B != 1:
        return None
    rng = np.random.default_rng(0)
    Wxh, Whh, Why = (rng.standard_normal(s).astype(dtype) * 0.01 for s in ((H, K), (H, H), (K, H)))
    bh, by = np.zeros((H, 1), dtype), np.zeros((K, 1), dtype)
    params = [Wxh, Whh, Why, bh, by]
    memory = [np.zeros_like(p) for p in params]
    data = Windows(1, T)
    box = {"h": np.zeros((H, 1), dtype)}

    def loss_fun(inputs, targets, hprev):
        xs, hs, ps = {}, {-1: hprev}, {}
        loss = 0.0
        for t, k in enumerate(inputs):  # forward: one column vector per step
            xs[t] = np.zeros((K, 1), dtype)
            xs[t][k] = 1
            hs[t] = np.tanh(Wxh @ xs[t] + Whh @ hs[t - 1] + bh)
            scores = Why @ hs[t] + by
            ps[t] = np.exp(scores) / np.sum(np.exp(scores))
            loss -= math.log(ps[t][targets[t], 0])
        grads = [np.zeros_like(p) for p in params]
        dWxh, dWhh, dWhy, dbh, dby = grads
        dh_next = np.zeros_like(hprev)
        for t in reversed(range(len(inputs))):  # backward, one step at a time
            dy = ps[t].copy()
            dy[targets[t]] -= 1
            dWhy += dy @ hs[t].T
            dby += dy
            dh = Why.T @ dy + dh_next
            draw = (1 - hs[t] * hs[t]) * dh
            dbh += draw
            dWxh += draw @ xs[t].T
            dWhh += draw @ hs[t - 1].T
            dh_next = Whh.T @ draw
        for g in grads:
            np.clip(g, -CLIP, CLIP, out=g)
        return loss, grads, hs[len(inputs) - 1]

    def step():
        inputs, targets = (a[:, 0].tolist() for a in data.next())
        _, grads, box["h"] = loss_fun(inputs, targets, box["h"])
        for p, g, m in zip(params, grads, memory):  # Adagrad
            m += g * g
            p += -LR_ADAGRAD * g / np.sqrt(m + 1e-8)

    return step


# ----------------------------------------------------------------------------- measuring

#: The clock of every measurement: wall-clock time, or this process's CPU time (``--clock cpu``).
CLOCK = {"wall": time.perf_counter, "cpu": time.process_time}
clock = CLOCK["wall"]


def timed(step, n):
    t0 = clock()
    for _ in range(n):
        step()
    return (clock() - t0) / n


def compare(steps: dict, seconds: float, rounds: int = 5) -> dict:
    """Seconds per step of each closure: the fastest of ``rounds`` interleaved rounds."""
    n = {}
    for name, step in steps.items():  # warm up, and size a round to seconds / rounds
        step()
        per = timed(step, 2)
        n[name] = max(1, int(seconds / rounds / max(per, 1e-7)))
    best = {name: math.inf for name in steps}
    for _ in range(rounds):
        for name, step in steps.items():
            best[name] = min(best[name], timed(step, n[name]))
    return best


def peak_memory(step) -> int:
    """Peak bytes NumPy allocated during one call of ``step`` (beyond what was held before)."""
    step()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        step()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def gemm_peak(dtype: str, threads: int, seconds: float = 0.6, n: int = 1024) -> float:
    """Measured GEMM throughput (FLOP/s) of an n x n x n product, best of a few runs."""
    import numpy as np

    a, b = (np.random.default_rng(i).standard_normal((n, n)).astype(dtype) for i in (1, 2))
    c = np.empty((n, n), dtype)
    per = compare({"gemm": lambda: np.dot(a, b, out=c)}, seconds)["gemm"]
    return 2 * n ** 3 / per


def step_flops(cell, B, T, H) -> float:
    """Matrix-product FLOPs of one training step, not counting the input product.

    Per position: the recurrent product h(t-1) W^T forward, its two backward
    products (dL/dh(t-1) and dW), and the three products of the output layer
    (o, dV, dL/dh). The input product x(t) U^T with one-hot x is a gather in
    the package (no FLOPs); torch multiplies the one-hot vectors, which this
    count leaves out, so the share of peak is the package's.
    """
    n = GATES[cell] * H
    return T * B * (3 * 2 * H * n + 3 * 2 * H * K)


def machine_info(threads) -> dict:
    import numpy as np

    info = {"python": platform.python_version(), "numpy": np.__version__,
            "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count()}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    from threadpoolctl import threadpool_info

    blas = [p for p in threadpool_info() if p["user_api"] == "blas"]
    info["blas"] = ", ".join(f"{p['internal_api']} {p.get('version') or ''} "
                             f"({p.get('architecture') or '?'} kernels)" for p in blas) or "unknown"
    info["openblas_coretype"] = os.environ.get("OPENBLAS_CORETYPE")
    flags = ""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line for line in f if line.startswith("flags")), "")
    except OSError:
        pass
    info["avx512"] = " avx512f " in f" {flags.split(':', 1)[-1].strip()} "
    try:
        import torch

        info["torch"] = torch.__version__
    except ImportError:
        info["torch"] = None
    info["threads"] = threads
    return info


def load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"


# ----------------------------------------------------------------------------- the table

def parse_rows(args):
    if args.tiny:
        return TINY_ROWS
    if not (args.cells or args.sizes or args.dtypes or args.threads):
        return DEFAULT_ROWS
    cells = (args.cells or "rnn,lstm,gru").split(",")
    sizes = [tuple(int(v) for v in s.lower().split("x")) for s in
             (args.sizes or "1x25x100,32x64x256").split(",")]
    dtypes = (args.dtypes or "float32").split(",")
    threads = [int(t) for t in (args.threads or "1").split(",")]
    return [(c, B, T, H, d, n) for c in cells for (B, T, H) in sizes for d in dtypes for n in threads]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tiny", action="store_true", help="three tiny rows, a few seconds in all")
    p.add_argument("--cells", help="comma-separated cells (default: the table's rows)")
    p.add_argument("--sizes", help="comma-separated BxTxH, e.g. 1x25x100,32x64x256")
    p.add_argument("--dtypes", help="comma-separated dtypes, e.g. float32,float64")
    p.add_argument("--threads", help="comma-separated BLAS thread counts, e.g. 1,2")
    p.add_argument("--seconds", type=float, default=None,
                   help="measuring time per implementation and row (default 2, tiny 0.05)")
    p.add_argument("--no-torch", action="store_true", help="skip torch even if it is installed")
    p.add_argument("--rounds", type=int, default=None,
                   help="interleaved rounds per row, the fastest counts (default 5; on a busy "
                        "machine more, shorter rounds catch its quiet moments)")
    p.add_argument("--clock", choices=sorted(CLOCK), default="wall",
                   help="wall-clock time (default), or this process's CPU time: on a machine "
                        "other programs keep busy, CPU time is what the step itself costs "
                        "(rows with 2 threads always use wall-clock time)")
    p.add_argument("--json", help="also write the rows and machine facts to this JSON file")
    args = p.parse_args(argv)
    setup_path()
    rows = parse_rows(args)
    seconds = args.seconds if args.seconds is not None else (0.05 if args.tiny else 2.0)
    result = measure_table(rows, seconds, use_torch=not args.no_torch, rounds=args.rounds or 5,
                           clock_name=args.clock)
    print_table(result)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
        print(f"rows written to {args.json}")
    return result


def measure_table(rows, seconds, use_torch=True, log=print, rounds=5, clock_name="wall") -> dict:
    """Measure ``rows`` [(cell, B, T, H, dtype, threads)]; return the machine facts and rows."""
    global clock
    from threadpoolctl import threadpool_limits

    try:
        if not use_torch:
            raise ImportError
        import torch
    except ImportError:
        torch = None
    start_load = load()
    threads_used = sorted({r[5] for r in rows})
    out = {"machine": machine_info(threads_used), "load_before": start_load, "rows": [],
           "gemm_peak": {}, "clock": clock_name, "rounds": rounds}
    for n in threads_used:
        clock = CLOCK[clock_name if n == 1 else "wall"]
        with threadpool_limits(n):
            if torch is not None:
                torch.set_num_threads(n)
            for dtype in sorted({r[4] for r in rows if r[5] == n}):
                out["gemm_peak"][f"{dtype}/{n}"] = gemm_peak(dtype, n, seconds=min(0.6, seconds * 3))
    for cell, B, T, H, dtype, n in rows:
        clock = CLOCK[clock_name if n == 1 else "wall"]
        with threadpool_limits(n):
            if torch is not None:
                torch.set_num_threads(n)
            steps = {"package": package_step(cell, B, T, H, dtype)}
            if torch is not None:
                steps["torch"] = torch_step(cell, B, T, H, dtype)
            mc = minchar_step(cell, B, T, H, dtype)
            if mc is not None:
                steps["min-char-rnn"] = mc
            per = compare(steps, seconds, rounds)
            mem = peak_memory(steps["package"])
        tps = {name: T * B / s for name, s in per.items()}
        peak = out["gemm_peak"][f"{dtype}/{n}"]
        row = {"cell": cell, "B": B, "T": T, "H": H, "dtype": dtype, "threads": n,
               "tokens_per_s": tps, "peak_share": step_flops(cell, B, T, H) / per["package"] / peak,
               "peak_memory": mem}
        out["rows"].append(row)
        if log:
            log(f"  measured {cell} B={B} T={T} H={H} {dtype} threads={n}: "
                + ", ".join(f"{k} {v:,.0f} tok/s" for k, v in tps.items()), flush=True)
    out["load_after"] = load()
    return out


def print_table(result):
    m = result["machine"]
    print(f"\nCPU {m['cpu']} ({m['cores']} cores); Python {m['python']}, NumPy {m['numpy']} "
          f"({m['blas']}), torch {m['torch'] or 'not installed'}; BLAS threads as in the table")
    print("GEMM peak (1024^3 product): " + ", ".join(
        f"{k.replace('/', ', ')} thread(s) {v / 1e9:.0f} GFLOP/s" for k, v in result["gemm_peak"].items()))
    print(f"load average (1, 5, 15 min): before {result['load_before']}, after {result['load_after']}; "
          f"clock: {result['clock']} (1-thread rows), fastest of {result['rounds']} rounds")
    if m.get("openblas_coretype"):
        print(f"OPENBLAS_CORETYPE={m['openblas_coretype']} is set in the environment: it chooses "
              f"OpenBLAS's kernels (CPU has AVX-512: {m.get('avx512')})")
    head = (f"{'cell':<5} {'B':>3} {'T':>4} {'H':>4} {'dtype':<7} {'thr':>3} | {'package':>9} "
            f"{'torch':>9} {'min-char':>9} | {'x torch':>7} {'x m-c':>6} | {'% peak':>6} "
            f"{'peak MiB':>8}")
    print("\ntokens per second (higher is better)\n" + head + "\n" + "-" * len(head))
    for r in result["rows"]:
        t = r["tokens_per_s"]
        pkg, tor, mc = t["package"], t.get("torch"), t.get("min-char-rnn")
        fmt = lambda v: f"{v:>9,.0f}" if v else f"{'-':>9}"  # noqa: E731
        ratio = lambda v, w: f"{v / w:.2f}" if w else "-"  # noqa: E731
        print(f"{r['cell']:<5} {r['B']:>3} {r['T']:>4} {r['H']:>4} {r['dtype']:<7} {r['threads']:>3} | "
              f"{fmt(pkg)} {fmt(tor)} {fmt(mc)} | {ratio(pkg, tor):>7} {ratio(pkg, mc):>6} | "
              f"{100 * r['peak_share']:>5.0f}% {r['peak_memory'] / 2**20:>8.2f}")


if __name__ == "__main__":
    main()
