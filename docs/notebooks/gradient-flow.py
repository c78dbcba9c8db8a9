# %% [markdown]
# # Gradient flow, measured
#
# This notebook makes the measurements of
# [Vanishing and exploding gradients](../../vanishing-gradients/), on the
# Shakespeare corpus the site trains on, with the package's own code, every
# time the site is built:
#
# 1. how the gradient of a loss reaches back through the state of a vanilla
#    RNN whose recurrent matrix $\boldsymbol{W}$ is scaled to a spectral
#    radius $\rho(\boldsymbol{W})$ of 0.5, 0.9, 1, 1.5 and 3, and through an
#    [LSTM](../../lstm/) and a [GRU](../../gru/) at initialisation and after a
#    short training run;
# 2. a training run whose loss spikes because its gradient explodes, and the
#    same run with elementwise and with global-norm clipping.
#
# **The quantity.** Take a window of $\tau = 100$ characters of held-out text,
# compute the loss of the last prediction only, $L^{(\tau)}$, and
# backpropagate it. `rnn.dynamics.loss_gradient_norms` runs the layer one step
# at a time through the cell's layer protocol, so it sees the gradient on the
# recurrent state after every step:
#
# $$
# \bigl\lVert \nabla_{\boldsymbol{h}^{(\tau-k)}} L^{(\tau)} \bigr\rVert
# \quad\text{for } k = 0, 1, \dots, 100,
# $$
#
# where for the LSTM the state is the pair $(\boldsymbol{h}, \boldsymbol{s})$.
# It is measured in float64 on 32 windows, and their geometric mean is
# plotted against $k = \tau - t$ on a log scale, where a geometric decay is a
# straight line. `rnn.dynamics.decay_rate` fits that line; its slope gives the
# factor $r$ kept per step ($r < 1$ vanishes, $r > 1$ explodes).

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
from rnn.dynamics import decay_rate, loss_gradient_norms
from rnn.initializers import spectral_radius
from rnn.optim import clip_elementwise, clip_global_norm

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
inputs, target = window[:-1], window[-1]  # read 100 characters, predict the 101st


def probe(params):
    """Gradient norms k = 0 .. TAU steps back (geometric mean over the windows) and the
    fitted factor per step, measured in float64."""
    p64 = {k: v.astype(np.float64) for k, v in params.items()}
    norms = loss_gradient_norms(p64, inputs, target)  # (TAU + 1, B)
    return np.exp(np.log(norms).mean(axis=1)), decay_rate(norms)


# %% [markdown]
# ## The vanilla RNN at five spectral radii
#
# Same random weights each time (PyTorch's uniform $\pm 1/\sqrt{H}$, seed 1),
# with the recurrent matrix rescaled by `rnn.init_params(...,
# spectral_radius=rho)`. A random matrix is not normal, so its largest singular
# value $\lVert \boldsymbol{W} \rVert_2$, which the bound uses, is larger than
# its spectral radius; both are printed.

# %%
RADII = (0.5, 0.9, 1.0, 1.5, 3.0)
curves, rates = {}, {}
for rho in RADII:
    params = rnn.init_params(K, H, init="scaled", seed=1, spectral_radius=rho)
    name = rf"rnn, $\rho(W)$ = {rho:g}"
    curves[name], rates[name] = probe(params)
    print(f"rho(W) = {spectral_radius(params['W']):.3f}   ||W||_2 = "
          f"{np.linalg.norm(params['W'], 2):.2f}   factor per step r = {rates[name]:.3f}")
default_rho = spectral_radius(rnn.init_params(K, H, init="scaled", seed=1)["W"])
print(f"(the default 'scaled' initialisation draws rho(W) = {default_rho:.2f})")

# %% [markdown]
# ## Gated cells at initialisation and after training
#
# Four models with $H = 64$: the vanilla RNN (default initialisation), the
# LSTM with the package's forget-gate bias $\boldsymbol{b}_f = \boldsymbol{1}$,
# the same LSTM with $\boldsymbol{b}_f = \boldsymbol{0}$, and the GRU. Each is
# probed at initialisation, trained for 300 steps of truncated BPTT
# (`rnn.train_step`: windows of 32 characters, 32 streams, Adam, clipping at
# $\pm 5$), and probed again. The probe also reports the mean of the gate on
# the direct path: the forget gate $\boldsymbol{f}$ of the LSTM, the update
# gate $\boldsymbol{z}$ of the GRU.

# %%
STEPS, T_TRAIN, B_TRAIN = 300, 32, 32
MODELS = {"rnn": "rnn", "lstm": "lstm", "lstm, b_f = 0": "lstm", "gru": "gru"}


def new_models():
    models = {name: rnn.init_params(K, H, cell=cell, init="scaled", seed=1, dtype=np.float32)
              for name, cell in MODELS.items()}
    models["lstm, b_f = 0"]["b_f"][:] = 0.0  # same weights, forget bias 0
    return models


def mean_gate(params):
    """Mean forget gate (LSTM) or update gate (GRU) over the probe windows; None for the RNN."""
    cell = rnn.model_info(params).cell
    if cell == "rnn":
        return None
    module = rnn.model.CELLS[cell]
    layer = {n: params[n].astype(np.float64) for n in module.PARAM_NAMES}
    _, cache, _ = module.layer_forward(rnn.one_hot(inputs, K), np.zeros((module.N_STATES, B, H)),
                                       layer)
    return float(cache.gates[:, :, H:2 * H].mean())  # gate block 1: f (i, f, g, o) or z (r, z, n)


def train_briefly(params):
    optimizer = rnn.make_optimizer("adam")
    batches = StreamBatcher(train_ids, T_TRAIN, B_TRAIN)
    state = None
    for _ in range(STEPS):
        x, y, reset = batches.next()
        if reset:  # a stream wrapped around: start from a zero state
            state = None
        _, state = rnn.train_step(params, optimizer, x, y, state, clip=5.0)
    return params


models = new_models()
gates, val_loss = {}, {}
for name, params in models.items():
    for when in ("init", "trained"):
        if when == "trained":
            t0 = time.perf_counter()
            train_briefly(params)
            val_loss[name] = rnn.evaluate(params, val_ids[:20_000])
            print(f"{name:14} {STEPS} steps in {time.perf_counter() - t0:4.1f} s; "
                  f"validation loss {val_loss[name]:.3f} nats/char")
        key = f"{name}, {when}"
        curves[key], rates[key] = probe(params)
        gates[key] = mean_gate(params)

# %% [markdown]
# ## The measurement

# %%
fig, ax = plt.subplots(figsize=(7, 5))
lags = np.arange(TAU + 1)
ramp = plt.get_cmap("plasma")(np.linspace(0.3, 0.88, len(RADII)))
for colour, rho in zip(ramp, RADII):
    name = rf"rnn, $\rho(W)$ = {rho:g}"
    ax.semilogy(lags, curves[name], color=colour, lw=1.8, label=f"{name}: r = {rates[name]:.2f}")
for name, colour in (("lstm", "#009E73"), ("gru", "#56B4E9")):
    for when, style in (("init", "--"), ("trained", "-")):
        key = f"{name}, {when}"
        ax.semilogy(lags, curves[key], style, color=colour, lw=2,
                    label=f"{key}: r = {rates[key]:.2f}")
ax.set_xlabel(r"$k = \tau - t$: steps between the state and the loss")
ax.set_ylabel(r"$\|\partial L^{(\tau)} / \partial h^{(\tau - k)}\|$ (nats per unit of state)")
ax.set_title("Gradient reaching back k steps (geometric mean of 32 windows)")
ax.grid(which="major")
ax.legend(fontsize=9, loc="lower left", ncol=2)
fig.tight_layout()
plt.show()

# %% [markdown]
# The legend gives the fitted factor per step, $r$, of every line. All of
# them, with the gradient left after 10, 50 and 100 steps (relative to
# $k = 0$), the mean direct-path gate and, after training, the validation
# loss:

# %%
print(f"{'':24} {'r':>6} {'k = 10':>8} {'k = 50':>8} {'k = 100':>8} {'gate':>6} {'val loss':>9}")
for key, curve in curves.items():
    rel = curve / curve[0]
    gate = gates.get(key)
    loss = f"{val_loss[key.rsplit(', ', 1)[0]]:.3f}" if "trained" in key else ""
    shown = "" if gate is None else f"{gate:.2f}"
    label = key.replace("$\\rho(W)$", "rho(W)")
    print(f"{label:24} {rates[key]:6.3f} {rel[10]:8.0e} {rel[50]:8.0e} {rel[100]:8.0e} "
          f"{shown:>6} {loss:>9}")
small = [rates[rf"rnn, $\rho(W)$ = {rho:g}"] for rho in RADII]
assert all(a < b for a, b in zip(small, small[1:]))  # a larger radius keeps more, every time
assert small[0] < 1 and rates["lstm, init"] > rates["rnn, init"]

# %% [markdown]
# ## Reading the plot
#
# **The spectral radius sets the slope.** At initialisation every vanilla
# line is close to straight: the gradient changes by the same factor at
# every step, as the product of Jacobians
# $\prod_j \operatorname{diag}(1 - \boldsymbol{h}^{(j)2})\,\boldsymbol{W}$
# predicts. The factor grows with $\rho(\boldsymbol{W})$, and the table shows
# where it crosses 1: below about $\rho = 1$ the gradient vanishes
# geometrically, and well above it, at $\rho = 3$, it *grows* as it goes back.
# With the small inputs and zero biases of a freshly initialised model, the
# units are not saturated enough for their tanh derivatives to stop the
# growth; the chapter shows that a bias that pushes the units towards
# saturation makes the same $\rho = 3$ vanish instead. $\rho(\boldsymbol{W}) > 1$
# is necessary for the gradient to explode, not sufficient.
#
# **The gated cells.** With $\boldsymbol{b}_f = \boldsymbol{1}$ the LSTM's
# forget gates start near $\sigma(1) \approx 0.73$ and its cell-state path
# passes most of the gradient on at every step; it keeps far more than the
# vanilla RNN at its default radius. The GRU starts with its update gates near
# $\sigma(0) = 1/2$ and decays about as fast as the RNN. After 300 training
# steps the gates have moved (the "gate" column): in this early phase the GRU's
# update gates close, towards $\boldsymbol{z} = 0$, where it computes what a
# vanilla RNN would ([GRU, Exercise 2](../../gru/#exercises)), and its
# long-range gradient drops; the LSTM's forget gates open further. A gradient
# that reaches far is a *possibility* of learning long dependencies, not a
# lower loss: on this corpus the next character depends mostly on the last
# few, and the validation losses after such a short run do not follow the
# decay rates. [Long-range memory](../long-range-memory/) measures what the
# cells can learn when a dependency does span many steps.

# %% [markdown]
# ## Exploding gradients in training, and clipping
#
# A vanilla RNN ($H = 64$, $\boldsymbol{W}$ scaled to $\rho = 1$) trained with
# plain SGD at learning rate 1 on windows of $T = 64$ characters, 16 streams:
# three runs from the same initial weights on the same batches, one without
# clipping, one with every gradient entry clipped, one with the whole gradient
# rescaled to norm at most 1. The elementwise threshold is min-char-rnn's
# $\pm 5$ translated to the loss used here: min-char-rnn clips the gradient of a
# loss *summed* over its window, `rnn train` averages over the $T B$ = 1,024
# characters of a batch, so $\pm 5$ becomes $\pm 5 / 1024$.
#
# Each step measures the gradient $\boldsymbol{g}$ before clipping, its
# norm, and the cosine between $\boldsymbol{g}$ and the clipped step. The
# step is the package's: `rnn.loss_and_grads`, `rnn.clip_elementwise` or
# `rnn.clip_global_norm`, and the optimiser, the three calls inside
# `rnn.train_step`, made one by one so that the gradient can be measured
# between them.

# %%
CLIP_T, CLIP_B, CLIP_STEPS = 64, 16, 300
RUNS = {"no clipping": None, "elementwise, 5/(TB)": ("elementwise", 5 / (CLIP_T * CLIP_B)),
        "global norm, 1": ("norm", 1.0)}


def flat(grads):
    return np.concatenate([g.ravel() for g in grads.values()])


def clipping_run(clip):
    params = rnn.init_params(K, H, init="scaled", seed=0, spectral_radius=1.0)
    optimizer = rnn.make_optimizer("sgd", 1.0)
    batches = StreamBatcher(train_ids, CLIP_T, CLIP_B)
    state, out = None, {"loss": [], "norm": [], "cosine": [], "acted": 0}
    for _ in range(CLIP_STEPS):
        x, y, reset = batches.next()
        state = None if reset else state
        loss, grads, state = rnn.loss_and_grads(params, x, y, state, reduction="mean")
        g = flat(grads)
        if clip is not None:
            (clip_elementwise if clip[0] == "elementwise" else clip_global_norm)(grads, clip[1])
        step = flat(grads)
        out["acted"] += not np.array_equal(step, g)
        out["loss"].append(loss)
        out["norm"].append(np.linalg.norm(g))
        out["cosine"].append(g @ step / (np.linalg.norm(g) * np.linalg.norm(step)))
        optimizer.step(params, grads)
    return {k: np.array(v) for k, v in out.items()}


runs = {name: clipping_run(clip) for name, clip in RUNS.items()}
fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
for (name, r), colour in zip(runs.items(), ("#D55E00", "#0072B2", "#009E73")):
    top.plot(r["loss"], color=colour, lw=1.3, label=name)
    bottom.semilogy(r["norm"], color=colour, lw=1.0, label=name)
top.axhline(np.log(K), color="0.45", ls=":", lw=1, label=r"$\ln K$ (uniform guess)")
top.set_ylabel("training loss\n(nats/char)")
top.set_ylim(1.5, 16)
top.grid()
bottom.set_ylabel(r"$\|g\|$ before clipping")
bottom.set_xlabel("training step (SGD, learning rate 1)")
bottom.grid(which="major")
fig.legend(*top.get_legend_handles_labels(), loc="upper center", ncol=2, fontsize=10)
fig.tight_layout(rect=(0, 0, 1, 0.9))
plt.show()

# %%
print(f"{'':20} {'max loss':>9} {'last 50 steps':>14} {'max |g|':>8} {'clipped':>8} "
      f"{'min cos(g, step)':>17}")
for name, r in runs.items():
    print(f"{name:20} {r['loss'].max():9.2f} {r['loss'][-50:].mean():14.3f} {r['norm'].max():8.1f} "
          f"{r['acted']:8d} {r['cosine'].min():17.3f}")
assert runs["no clipping"]["loss"].max() > 2 * np.log(K)  # the unclipped run spikes ...
for name in list(RUNS)[1:]:
    assert runs[name]["loss"][1:].max() < runs["no clipping"]["loss"].max() / 2  # ... the others not
    assert runs[name]["cosine"].min() > 0  # every clipped step still points downhill
assert np.allclose(runs["global norm, 1"]["cosine"], 1.0)  # and norm clipping keeps the direction

# %% [markdown]
# **What the runs show.** Without clipping, the run follows the others for a
# few dozen steps, until a step with a large gradient (bottom panel) throws
# the weights to where the loss is far above $\ln K$, worse than guessing
# uniformly. It never settles again: every large gradient it meets there
# makes another jump, and after 300 steps it is still several nats behind.
# Both clipped runs take no such step and train smoothly, on the same
# batches from the same weights.
#
# **Descent, measured.** The last column is the smallest cosine, over the
# whole run, between the gradient and the step actually taken. Global-norm
# clipping only shortens the step: the cosine is exactly 1. Elementwise
# clipping turns it, by the angle whose cosine is printed, but it is positive
# at every step: the step is still a descent direction, as
# $\boldsymbol{g}^\top \operatorname{clip}(\boldsymbol{g}) = \sum_i |g_i| \min(|g_i|, g_{\max}) > 0$
# says it must be ([min-char-rnn, step by step](../../char-rnn/#clipping-the-gradient)).
# With threshold $5 / (TB)$ it acts on almost every step of this run, so the
# update is close to a scaled sign of the gradient. Which of the two clipped
# runs ends lower varies with the seed; both end far below the unclipped one.

# %%
print(f"notebook run time: {time.perf_counter() - start:.1f} s")
