# %% [markdown]
# # Gradient flow in the RNN, the LSTM and the GRU
#
# The [LSTM](../../lstm/) and [GRU](../../gru/) chapters argue that a gated,
# additive path lets the gradient reach further back in time than the vanilla
# RNN's product of Jacobians. This notebook measures it, on the Shakespeare
# corpus the site trains on, for four models with $H = 64$ hidden units each:
# the vanilla RNN, the LSTM with the package's forget-gate bias
# $\boldsymbol{b}_f = \boldsymbol{1}$, the same LSTM with
# $\boldsymbol{b}_f = \boldsymbol{0}$, and the GRU. (Same width, so not the
# same number of parameters; [Comparing the cells](../compare-cells/) trains
# them at equal parameter counts.) Each is measured at initialisation and again
# after a short training run.
#
# **The quantity.** Take a window of $\tau = 100$ characters, compute the loss
# at the last step only, $L^{(\tau)}$, and backpropagate it with the package's
# backward functions, with an upstream gradient at step $\tau$ and zero
# elsewhere. The gradient with respect to the input $\boldsymbol{x}^{(t)}$
# then says how strongly the prediction at step $\tau$ depends on the
# character $\tau - t$ steps earlier, through every path of the unrolled
# graph:
#
# $$
# \bigl\lVert \nabla_{\boldsymbol{x}^{(t)}} L^{(\tau)} \bigr\rVert
# \quad\text{for } \tau - t = 0, 1, \dots, 99,
# $$
#
# averaged over 32 windows of the validation text. It is the quantity the
# weights of step $t$ learn from: their gradient is built from the same
# backpropagated vector. Plotted on a log scale against $\tau - t$, a geometric
# decay is a straight line whose slope is the log of the factor lost per step.
#
# The whole notebook runs in well under a minute on two CPU cores; it is
# executed every time the site is built.

# %%
import os

# small matrices: one BLAS thread is fastest (set before NumPy is imported)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import time

import matplotlib.pyplot as plt
import numpy as np

import rnn
from rnn.corpus import default_corpus
from rnn.data import StreamBatcher, Vocab, split
from rnn.model import CELLS

start = time.perf_counter()
text, description = default_corpus()
vocab = Vocab.from_text(text)
K = vocab.size
train_ids, val_ids = split(vocab.encode(text), 0.05)
print(f"{description}; K = {K}")

H, TAU, B = 64, 100, 32
rng = np.random.default_rng(0)
starts = rng.integers(0, len(val_ids) - TAU - 1, size=B)
window = np.stack([val_ids[s:s + TAU + 1] for s in starts], axis=1)  # (TAU + 1, B)
x = rnn.one_hot(window[:-1], K)  # read 100 characters ...
y_last = window[-1]              # ... and predict the 101st


# %% [markdown]
# The measurement, for any cell of the model's registry `rnn.model.CELLS`
# (the same forward and backward functions `rnn.loss_and_grads` uses). It also
# returns the mean value of the gate that controls the direct path: the forget
# gate $\boldsymbol{f}$ of the LSTM, the update gate $\boldsymbol{z}$ of the
# GRU.

# %%
def input_gradient_norms(params):
    """||dL(tau)/dx(t)|| for tau - t = 0 .. TAU - 1 (mean over the windows),
    and the mean of the direct-path gate (None for the vanilla RNN)."""
    p = {k: v.astype(np.float64) for k, v in params.items()}  # measure in float64
    name = rnn.model_info(p).cell
    cell = CELLS[name]
    layer = {name: p[name] for name in cell.PARAM_NAMES}
    h, cache, _ = cell.layer_forward(x, np.zeros((cell.N_STATES, B, H)), layer)
    logits = rnn.output_forward(h[-1], p["V"], p["c"])
    _, do = rnn.softmax_cross_entropy(logits, y_last)
    dh = np.zeros_like(h)
    dh[-1] = rnn.output_backward(do, h[-1], p["V"])[0]  # upstream gradient at tau only
    dx, _, _ = cell.layer_backward(dh, cache)
    norms = np.linalg.norm(dx, axis=2).mean(axis=1)[::-1]  # entry k: k steps before tau
    # gate block 1 is f for the LSTM (i, f, g, o) and z for the GRU (r, z, n)
    gate = None if name == "rnn" else cache.gates[:, :, H:2 * H].mean()
    return norms, gate


def new_models():
    cells = {"rnn": "rnn", "lstm, b_f = 1": "lstm", "lstm, b_f = 0": "lstm",
             "gru": "gru"}
    models = {name: rnn.init_params(K, H, cell=cell, init="scaled", seed=1,
                                    dtype=np.float32)
              for name, cell in cells.items()}
    models["lstm, b_f = 0"]["b_f"][:] = 0.0  # same weights, forget bias 0
    return models


models = new_models()
at_init = {name: input_gradient_norms(p) for name, p in models.items()}
for name, (norms, gate) in at_init.items():
    n_params = rnn.count_params(models[name])
    shown = "-" if gate is None else f"{gate:.2f}"
    print(f"{name:14} {n_params:7,} parameters   mean gate {shown}")

# %% [markdown]
# All four start from the same kind of random weights (uniform in
# $\pm 1/\sqrt{H}$, as PyTorch draws them), and all biases zero except the
# LSTM's forget bias. The LSTM's forget gates therefore start near
# $\sigma(1) \approx 0.73$ or $\sigma(0) = 0.5$, the GRU's update gates near
# $0.5$.
#
# ## A short training run
#
# Each model is then trained for a few hundred steps of truncated BPTT on the
# training text: windows of 32 characters, 32 streams, Adam with the
# package's default learning rate, gradients clipped to $\pm 5$. Each step is
# `rnn.train_step`, the step `rnn train` takes; the loop around it only fetches
# the windows and carries the state. (`rnn.train.train(config, params=...)`
# would do the same from the given initial weights, with evaluation and
# checkpoints on top.)

# %%
STEPS, T_TRAIN, B_TRAIN = 300, 32, 32


def train_briefly(params, steps=STEPS):
    optimizer = rnn.make_optimizer("adam")
    batches = StreamBatcher(train_ids, T_TRAIN, B_TRAIN)
    state = None
    for _ in range(steps):
        inputs, targets, reset = batches.next()
        if reset:  # a stream wrapped around: start from a zero state
            state = None
        _, state = rnn.train_step(params, optimizer, inputs, targets, state, clip=5.0)
    return params


val_loss = {}
for name, params in models.items():
    t0 = time.perf_counter()
    train_briefly(params)
    val_loss[name] = rnn.evaluate(params, val_ids[:20_000])
    seconds = time.perf_counter() - t0
    print(f"{name:14} {STEPS} steps in {seconds:4.1f} s; "
          f"validation loss {val_loss[name]:.3f} nats/char")
after = {name: input_gradient_norms(p) for name, p in models.items()}

# %% [markdown]
# ## The measurement

# %%
lags = np.arange(TAU)
# two panels stacked: the page is narrow (scripts/notebook_env/matplotlibrc)
fig, axes = plt.subplots(2, 1, figsize=(5.5, 6), sharex=True, sharey=True)
styles = {"rnn": "-", "lstm, b_f = 1": "-", "lstm, b_f = 0": "--", "gru": "-"}
for ax, results, title in [(axes[0], at_init, "at initialisation"),
                           (axes[1], after, f"after {STEPS} training steps")]:
    for name, (norms, _) in results.items():
        ax.semilogy(lags, norms, styles[name], label=name)
    ax.set_title(title)
    ax.set_ylabel(r"$\|\nabla_{x(t)} L^{(\tau)}\|$")
    ax.grid(alpha=0.3, which="both")
axes[1].set_xlabel(r"$\tau - t$ (steps back from the loss)")
axes[1].legend()
fig.tight_layout()
plt.show()

# %%
def gate_text(gate):
    return "-" if gate is None else f"{gate:.2f}"


print("gradient k steps back, relative to k = 0")
print(" " * 26 + " k = 10  k = 50  k = 99  per step  mean gate")
for name in models:
    for label, results in (("init", at_init), ("trained", after)):
        norms, gate = results[name]
        r = norms / norms[0]
        print(f"{name:14} {label:10} {r[10]:7.0e} {r[50]:7.0e} {r[99]:7.0e} "
              f"{r[99] ** (1 / 99):9.2f} {gate_text(gate):>10}")


# %%
def kept(results, name):
    """The gradient 99 steps back, relative to the one at k = 0."""
    norms = results[name][0]
    return norms[99] / norms[0]


print("99 steps back, the gradient kept relative to the vanilla RNN's:")
for name in models:
    init = kept(at_init, name) / kept(at_init, "rnn")
    trained = kept(after, name) / kept(after, "rnn")
    print(f"  {name:14} at initialisation {init:7.0e}   "
          f"after {STEPS} steps {trained:7.0e}")

# %% [markdown]
# ## Reading the plots
#
# **At initialisation** (left), every curve is close to a straight line: the
# gradient decays geometrically with the distance. The vanilla RNN, the LSTM
# with $\boldsymbol{b}_f = \boldsymbol{0}$ and the GRU lose about the same
# factor per step (the "per step" column), and after a hundred steps almost
# nothing is left. The LSTM
# with $\boldsymbol{b}_f = \boldsymbol{1}$ decays far more slowly: its forget
# gates, near $\sigma(1) \approx 0.73$, pass most of the cell-state gradient on
# at every step; the last table says by how much it beats the others 99 steps
# back. The forget bias is the whole difference
# between the two LSTM curves, which start from the same weights. With a zero
# bias the gates sit at $1/2$, and the direct path halves the gradient at every
# step, no better than the RNN's Jacobians. The GRU, whose biases all start at
# zero, behaves like the LSTM with the zero forget bias.
#
# **After a short training run** (right), the gates have moved, and the table's
# "mean gate" column shows where to. In the LSTMs the forget gates open further,
# and both LSTMs keep far more of the long-range gradient than the RNN. The GRU
# goes the other way: in this first phase of training its update gates close,
# towards $\boldsymbol{z} = 0$, where the new state is just the candidate and the
# GRU computes what a vanilla RNN would (Exercise 2 of the
# [GRU chapter](../../gru/)), and its long-range gradient falls below even the
# RNN's. A plausible reading: what pays first is predicting the next character
# from the last few, and a closed update gate tracks those fastest. The gated
# path has not gone away, the gates can open again; but the gradient that would
# teach them to is now the small one.
#
# **The loss is a different question.** A larger gradient from far away is a
# *possibility* of learning long dependencies, not a lower loss. The training
# cell printed the validation losses after the same short training; on this
# corpus, whose next character depends mostly on the last few, the forget bias
# of 1 does not buy the LSTM a lower loss this early, and may even cost a
# little. Where it is meant to pay is on dependencies that span many steps,
# which a short run on short windows does not test.
#
# The slope of each line is the log of a per-step factor, which the table's
# "per step" column lists. For the LSTM at initialisation it is larger than
# the mean forget gate: besides the direct path through $\boldsymbol{f}$, the
# gradient also flows through $\boldsymbol{h}^{(t)}$ and the gates of the next
# step, and those paths add up. With the recurrent matrices set to zero they
# disappear, and the factor is exactly the product of the forget gates
# (Exercise 2 of the [LSTM chapter](../../lstm/)).

# %%
print(f"notebook run time: {time.perf_counter() - start:.1f} s")
