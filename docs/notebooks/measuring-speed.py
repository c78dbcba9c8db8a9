# %% [markdown]
# # Measuring the speed
#
# The chapter [Making it fast](../../making-it-fast/) explains what the fast
# path of the package changes and why each change should pay. This page
# measures it: every number below comes from the run made when this site
# was built, on whatever machine built it, with whatever else that machine
# was doing. Absolute timings vary from machine to machine and from minute
# to minute; the ratios, measured side by side in one run, are what carry
# over. Every measurement is the fastest of a few interleaved rounds, on one
# BLAS thread unless said otherwise.
#
# A training step is the one `rnn train` runs: forward through the
# recurrent layer, the output layer $\boldsymbol{o} = \boldsymbol{c} + \boldsymbol{V}\boldsymbol{h}$
# and the mean cross-entropy, backpropagation through time, every gradient
# entry clipped to $[-5, 5]$, one Adam update; $K = 65$ characters.
# `benchmarks/speed.py` in the repository runs the same comparisons at more
# sizes, with a faithful min-char-rnn loop too; `benchmarks/time_to_quality.py`
# trains the package and PyTorch for the same five minutes.

# %%
import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

import rnn
from rnn.model import CELLS

start = time.perf_counter()
ROOT = next(p for p in (Path.cwd().parents[1], Path(rnn.__file__).resolve().parents[2])
            if (p / "benchmarks" / "speed.py").is_file())
sys.path.insert(0, str(ROOT / "benchmarks"))
import speed  # noqa: E402  (the benchmark script: its steps, timer and data)

HAVE_TORCH = importlib.util.find_spec("torch") is not None
if HAVE_TORCH:
    import torch

    torch.set_num_threads(1)
threadpool_limits(1)
blas = [p for p in threadpool_info() if p["user_api"] == "blas"]
info = speed.machine_info([1])
print(f"CPU: {info['cpu']}, {info['cores']} cores; NumPy {info['numpy']}, BLAS: {info['blas']} "
      f"({', '.join(p.get('architecture') or '?' for p in blas)} kernels); "
      f"torch {info['torch'] or 'not installed: the comparisons with torch are skipped'}")
print(f"load average when the page was built (1, 5, 15 min): {speed.load()}")
peak = speed.gemm_peak("float32", 1, seconds=0.3)
print(f"one-thread float32 GEMM rate (1024 x 1024 x 1024): {peak / 1e9:.0f} GFLOP/s")

# what one NumPy call costs, against the arithmetic of min-char-rnn's product
v = np.ones((1, 100), np.float32)
W100 = np.ones((100, 100), np.float32)
out100 = np.empty((1, 100), np.float32)
calls = speed.compare({"add": lambda: np.add(v, v, out=out100),
                       "tanh": lambda: np.tanh(v, out=out100),
                       "product": lambda: np.dot(v, W100, out=out100)}, 0.3, 3)
print(f"B = 1, H = 100: one np.add on 100 numbers {calls['add'] * 1e6:.2f} us, one np.tanh "
      f"{calls['tanh'] * 1e6:.2f} us, the product h(t-1) W^T {calls['product'] * 1e6:.2f} us, of "
      f"which its 20,000 FLOPs at the GEMM rate above would take {2e4 / peak * 1e6:.2f} us")

# %% [markdown]
# ## Where a step's time goes, before and after
#
# The same step, taken apart into its phases and each phase timed on its
# own, with the reference functions of the chapters (one-hot inputs,
# `rnn_forward`/`rnn_backward`, `softmax_cross_entropy`, the optimiser
# array by array: `rnn.loss_and_grads(..., fast=False)`) and with the fast
# path that training runs. Two sizes: min-char-rnn's (one sequence,
# $T = 25$, $H = 100$) and a batched one ($B = 32$, $T = 64$, $H = 256$).

# %%
from rnn.losses import output_backward, output_cross_entropy, output_forward, softmax_cross_entropy
from rnn._flat import FlatDict
from rnn.optim import Adam, clip_elementwise


def best(fn, seconds=0.25, rounds=3):
    """Seconds per call of fn: the fastest of a few rounds."""
    return speed.compare({"f": fn}, seconds, rounds)["f"]


def phases(cell, B, T, H, fast):
    """Seconds per step of each phase of a training step."""
    K, module = speed.K, CELLS[cell]
    params = rnn.init_params(K, H, cell=cell, init="scaled", seed=0, dtype=np.float32)
    inputs, targets = speed.Windows(B, T).next()
    layer = {n: params[n] for n in module.PARAM_NAMES}
    state0 = np.zeros((module.N_STATES, B, H), np.float32)
    if fast:
        fwd, bwd = module.layer_forward, module.layer_backward
        x = inputs
    else:
        fwd, bwd = module.reference_layer_forward, module.reference_layer_backward
        x = rnn.one_hot(inputs, K, np.float32)
    h, cache, _ = fwd(x, state0, layer)
    V, c = params["V"], params["c"]
    if fast:
        out = lambda: output_cross_entropy(h, V, c, targets, "mean")  # noqa: E731
    else:
        def out():
            loss, do = softmax_cross_entropy(output_forward(h, V, c), targets, reduction="mean")
            return output_backward(do, h, V)
    dh = out()[1] if fast else out()[0]
    grads = rnn.loss_and_grads(params, inputs, targets, reduction="mean", fast=fast)[1]
    if not fast:
        grads = dict(grads)  # array by array, as before the one-buffer path
    trial = FlatDict(params) if fast else dict(params)

    def update():
        clip_elementwise(grads, 5.0)
        opt.step(trial, grads)

    opt = Adam(1e-9)  # a tiny rate: the weights barely move while we time
    prepare = (lambda: x) if fast else (lambda: rnn.one_hot(inputs, K, np.float32))  # noqa: E731
    times = {"inputs": best(prepare), "layer forward": best(lambda: fwd(x, state0, layer)),
             "layer backward": best(lambda: bwd(dh, cache)), "output and loss": best(out),
             "clip and Adam": best(update)}
    step = speed.package_step(cell, B, T, H, "float32") if fast else None
    if step is None:
        def step():
            loss, g, _ = rnn.loss_and_grads(params, inputs, targets, reduction="mean", fast=False)
            clip_elementwise(dict(g), 5.0)
            opt.step(trial, dict(g))
    total = best(step)
    times["checks and glue"] = max(0.0, total - sum(times.values()))
    return times, total


profile = {}
for size in [(1, 25, 100), (32, 64, 256)]:
    for fast in (False, True):
        profile[size, fast] = phases("rnn", *size, fast)

names = list(profile[(1, 25, 100), True][0])
fig, axes = plt.subplots(1, 2, figsize=(6.8, 3.3))
for ax, size in zip(axes, [(1, 25, 100), (32, 64, 256)]):
    left = np.zeros(2)
    for name in names:
        w = np.array([profile[size, f][0][name] * 1e3 for f in (False, True)])
        ax.barh(["reference", "fast"], w, left=left, label=name)
        left += w
    B, T, H = size
    ax.set_title(f"vanilla RNN, B = {B}, T = {T}, H = {H}", fontsize=10)
    ax.set_xlabel("milliseconds per training step")
axes[1].legend(fontsize=8, loc="lower right")
fig.tight_layout()
plt.show()

for size in [(1, 25, 100), (32, 64, 256)]:
    (ref, t_ref), (fast, t_fast) = profile[size, False], profile[size, True]
    B, T, H = size
    print(f"B = {B}, T = {T}, H = {H}: {t_ref * 1e3:.2f} ms -> {t_fast * 1e3:.2f} ms per step, "
          f"{t_ref / t_fast:.1f}x faster ({B * T / t_fast:,.0f} tokens/s)")
    for name in names:
        print(f"    {name:16} {ref[name] * 1e6:9.0f} us -> {fast[name] * 1e6:8.0f} us")

# %% [markdown]
# At $B = 1$ every phase is a few dozen NumPy calls on arrays of a hundred
# numbers, and the reference spends most of its time on them, not on
# arithmetic; at $B = 32$ the products have work to do and the gain is
# smaller. Before the fast path, the one-hot inputs, the per-step weight
# gradients and the optimiser going array by array were all visible.
#
# ## Each optimisation on its own
#
# The techniques of the chapter, each timed on the operation it changes
# ($B = 32$, $T = 64$, $H = 256$, float32 unless said otherwise).

# %%
rng = np.random.default_rng(0)
B, T, H, K = 32, 64, 256, speed.K
f32 = np.float32
ids = rng.integers(0, K, (T, B))
U = rng.standard_normal((H, K)).astype(f32)
UT = np.ascontiguousarray(U.T)
dA = rng.standard_normal((T * B, H)).astype(f32)
h_prev = rng.standard_normal((T, B, H)).astype(f32)
da = rng.standard_normal((T, B, H)).astype(f32)
onehot = rnn.one_hot(ids, K, f32).reshape(T * B, K)
xu = np.empty((T * B, H), f32)


def add_at():
    dUT = np.zeros((K, H), f32)
    np.add.at(dUT, ids.reshape(-1), dA)  # the scatter-add, literally
    return dUT.T


def per_step_dW():
    dW = np.zeros((H, H), f32)
    for t in range(T):
        dW += da[t].T @ h_prev[t]
    return dW


gates = rng.standard_normal((B, 4 * H)).astype(f32)
scale = np.repeat(np.array([0.5, 0.5, 1, 0.5], f32), H)
offset = np.repeat(np.array([0.5, 0.5, 0, 0.5], f32), H)


def four_nonlinearities():
    out = np.empty_like(gates)
    out[:, :2 * H] = rnn.sigmoid(gates[:, :2 * H])
    out[:, 2 * H:3 * H] = np.tanh(gates[:, 2 * H:3 * H])
    out[:, 3 * H:] = rnn.sigmoid(gates[:, 3 * H:])
    return out


def one_tanh():
    z = gates * scale  # (the halving is folded into the weights in the package)
    np.tanh(z, out=z)
    z *= scale
    z += offset
    return z


assert np.allclose(four_nonlinearities(), one_tanh(), atol=1e-6)
assert np.allclose(add_at(), dA.T @ onehot, atol=1e-3)
assert np.allclose(per_step_dW(), da.reshape(-1, H).T @ h_prev.reshape(-1, H), atol=1e-2)

hh, VV, cc = (rng.standard_normal(s).astype(f32) for s in ((T, B, H), (K, H), (K,)))


def output_three_steps():
    loss, do = softmax_cross_entropy(output_forward(hh, VV, cc), ids, reduction="mean")
    return output_backward(do, hh, VV)


small = rnn.init_params(K, 100, seed=0, dtype=f32)  # min-char-rnn's model: 5 arrays
small_grads = rnn.loss_and_grads(small, ids[:25, :1], ids[1:26, :1])[1]
plain_params, plain_grads = dict(small), dict(small_grads)
adam_plain, adam_flat = Adam(1e-9), Adam(1e-9)

comparisons = [
    ("input term: one-hot product -> gather", lambda: onehot @ U.T,
     lambda: np.take(UT, ids.reshape(-1), axis=0, out=xu, mode="clip")),
    ("dL/dU: np.add.at scatter-add -> one-hot product", add_at, lambda: dA.T @ onehot),
    ("dL/dW: a product per step -> one product after the loop", per_step_dW,
     lambda: da.reshape(-1, H).T @ h_prev.reshape(-1, H)),
    ("LSTM gates: sigmoid, tanh, sigmoid -> one tanh", four_nonlinearities, one_tanh),
    ("output layer and loss: three functions -> one pass", output_three_steps,
     lambda: output_cross_entropy(hh, VV, cc, ids, "mean")),
    ("Adam, B = 1 model: array by array -> one buffer",
     lambda: adam_plain.step(plain_params, plain_grads), lambda: adam_flat.step(small, small_grads)),
]
speedups = {}
for name, before, after in comparisons:
    t = speed.compare({"before": before, "after": after}, 0.3, 3)
    speedups[name] = t["before"] / t["after"]
    print(f"{name:56} {t['before'] * 1e6:9.0f} us -> {t['after'] * 1e6:7.0f} us  "
          f"x{speedups[name]:.1f}")

# %% [markdown]
# The whole recurrent layer, reference against fast, forward and backward
# together, for each cell at the two sizes (the fast layer reads token ids,
# the reference one-hot vectors):

# %%
def layer_pass(module, fast, x, state0, layer, G):
    fwd = module.layer_forward if fast else module.reference_layer_forward
    bwd = module.layer_backward if fast else module.reference_layer_backward

    def run():
        _, cache, _ = fwd(x, state0, layer)
        bwd(G, cache)

    return run


for cell, module in CELLS.items():
    row = []
    for B_, T_, H_ in [(1, 25, 100), (32, 64, 256)]:
        layer = module.init_layer(K, H_, np.random.default_rng(0), "scaled", f32)
        ids_ = rng.integers(0, K, (T_, B_))
        state0 = np.zeros((module.N_STATES, B_, H_), f32)
        G = rng.standard_normal((T_, B_, H_)).astype(f32)
        t = speed.compare({"reference": layer_pass(module, False, rnn.one_hot(ids_, K, f32), state0,
                                                   layer, G),
                           "fast": layer_pass(module, True, ids_, state0, layer, G)}, 0.3, 3)
        row.append(f"B = {B_:2}: {t['reference'] * 1e3:6.2f} ms -> {t['fast'] * 1e3:6.2f} ms "
                   f"(x{t['reference'] / t['fast']:.1f})")
    print(f"{cell:4}  " + "   ".join(row))

# %% [markdown]
# ## Throughput against the batch and the width
#
# Tokens per second of a whole training step ($T = 32$), the package
# against PyTorch's standard modules (`nn.RNN`, `nn.LSTM`, `nn.GRU`, one-hot
# inputs, `nn.Linear`, `cross_entropy`, `clip_grad_value_`, `optim.Adam`),
# measured side by side; left, against the batch size at $H = 128$, right,
# against the width at $B = 32$.

# %%
BS, HS, T_SWEEP = [1, 4, 16, 64], [64, 128, 256, 512], 32
sweep = {}
for cell in CELLS:
    for B_ in BS:
        sweep[cell, "B", B_] = (B_, T_SWEEP, 128)
    for H_ in HS:
        sweep[cell, "H", H_] = (32, T_SWEEP, H_)
results = {}
for key, (B_, T_, H_) in sweep.items():
    if key in results:
        continue
    steps = {"package": speed.package_step(key[0], B_, T_, H_, "float32")}
    if HAVE_TORCH:
        steps["torch"] = speed.torch_step(key[0], B_, T_, H_, "float32")
    t = speed.compare(steps, 0.2, 3)
    results[key] = {name: B_ * T_ / s for name, s in t.items()}
    for other in sweep:  # the same size appears in both sweeps (B = 32, H = 128)
        if other[0] == key[0] and sweep[other] == sweep[key]:
            results[other] = results[key]

fig, axes = plt.subplots(1, 2, figsize=(6.8, 3.5))
colors = {"rnn": "C0", "lstm": "C1", "gru": "C2"}
for ax, axis, values in ((axes[0], "B", BS), (axes[1], "H", HS)):
    for cell in CELLS:
        for impl, style in (("package", "-o"), ("torch", "--s")):
            if impl in results[cell, axis, values[0]]:
                ax.plot(values, [results[cell, axis, v][impl] for v in values], style,
                        color=colors[cell], label=f"{cell}, {impl}", markersize=4)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("batch size B (H = 128)" if axis == "B" else "hidden size H (B = 32)")
    ax.grid(alpha=0.3)
axes[0].set_ylabel("tokens per second")
axes[1].legend(fontsize=7, ncol=2)
fig.tight_layout()
plt.show()
if HAVE_TORCH:
    for cell in CELLS:
        r = [results[cell, "B", b]["package"] / results[cell, "B", b]["torch"] for b in BS]
        q = [results[cell, "H", h]["package"] / results[cell, "H", h]["torch"] for h in HS]
        print(f"{cell:4} package / torch: B = {BS}: " + ", ".join(f"{v:.2f}" for v in r)
              + f";  H = {HS}: " + ", ".join(f"{v:.2f}" for v in q))

# %% [markdown]
# ## When a second thread helps
#
# Only the matrix products use BLAS threads; every elementwise operation
# and every Python line runs on one core. So a second thread can at best
# halve the time spent in products, and it has a cost of its own: the two
# threads synchronise on every product, dozens of times per step. The same
# step on one and on two threads (in a fresh process, since the thread count
# is fixed when NumPy's BLAS starts):

# %%
code = """
import sys, json, math
sys.path.insert(0, sys.argv[1])
import speed
from threadpoolctl import threadpool_limits
out = {}
for B, T, H in [(1, 25, 100), (32, 64, 256), (64, 64, 512)]:
    step = speed.package_step("rnn", B, T, H, "float32")
    best = {1: math.inf, 2: math.inf}
    for n in (1, 2):  # warm up, and size a round
        with threadpool_limits(n):
            step()
            per = speed.timed(step, 2)
    k = max(1, int(0.25 / per))
    for _ in range(3):  # rounds alternate between one and two threads
        for n in (1, 2):
            with threadpool_limits(n):
                best[n] = min(best[n], speed.timed(step, k))
    out[f"{B}x{T}x{H}"] = best[1] / best[2]
print(json.dumps(out))
"""
env = dict(os.environ, OPENBLAS_NUM_THREADS="2", OMP_NUM_THREADS="2", MKL_NUM_THREADS="2")
res = subprocess.run([sys.executable, "-c", code, str(ROOT / "benchmarks")], env=env,
                     capture_output=True, text=True, check=True)
import json  # noqa: E402

two = json.loads(res.stdout)
for size, gain in two.items():
    print(f"B x T x H = {size:11}: two threads are x{gain:.2f} the speed of one")

# %% [markdown]
# With $H = 512$ and $B = 64$ each product is large enough to split; at
# $B = 1$ there is nothing to split and the synchronisation costs more than
# it saves. On a machine where other programs use the cores, a second BLAS
# thread that has to wait for a busy core can make every product slower:
# `rnn train` uses one thread unless told otherwise (`--threads`).
#
# ## Sampling
#
# Generation reads one character at a time, $B = 1$, $T = 1$: nothing but
# call overhead. `rnn.sample.sample` prepares each layer's weights once
# (`rnn.model.stepper`); reading every character through `rnn.forward`, as
# it did before, checks and lays out the weights again for each one.

# %%
from rnn.sample import next_distribution  # noqa: E402

text = "to be or not to be, that is the question\n" * 3
vocab = rnn.Vocab.from_text(text)
model = rnn.init_params(vocab.size, 128, init="scaled", seed=0, dtype=np.float32)
N = 2000


def sample_forward():  # the sampling loop of rnn.sample, each character through rnn.forward
    g = np.random.default_rng(0)
    o, state = rnn.forward(model, np.array([[0]]))
    logits = o[-1, 0]
    for _ in range(N):
        p = next_distribution(logits)
        k = min(int(np.searchsorted(np.cumsum(p), g.random() * p.sum(), side="right")), vocab.size - 1)
        o, state = rnn.forward(model, np.array([[k]]), state)
        logits = o[-1, 0]


t = speed.compare({"forward": sample_forward,
                   "stepper": lambda: rnn.sample.sample(model, vocab, N, seed=0)}, 0.5, 3)
print(f"default model (H = 128): {N / t['forward']:,.0f} characters/s through rnn.forward, "
      f"{N / t['stepper']:,.0f} with rnn.sample.sample")
print(f"(page built in {time.perf_counter() - start:.0f} s)")
