# %% [markdown]
# # Truncated BPTT, measured
#
# The measurements of [What truncated BPTT computes](../../truncated-bptt/),
# made with the package's own code on every build:
#
# 1. which terms $\partial L^{(s)} / \partial \boldsymbol{W}^{(t)}$ of the full
#    gradient each scheme keeps (`rnn.truncation.term_weights`);
# 2. how much of the gradient of each loss a window of $T = 8$ steps loses,
#    by position, for an untrained and a trained model;
# 3. which dependency lengths each scheme can learn, on a text whose answers
#    depend on a character exactly $d$ steps back (`rnn.tasks.recall_text`);
# 4. on the default corpus: what each scheme costs per character, and the
#    validation loss it reaches in the same wall-clock time.
#
# The schemes, as `rnn train` options, all with windows of $T$ (= $k_2$)
# steps:
#
# | scheme | `rnn train` | state at the window start | gradient of the loss at step $s$ |
# | --- | --- | --- | --- |
# | window (the default) | `--truncation window` | carried | back to the window start |
# | zero state | `--batching random` | zero | back to the window start |
# | TBPTT($k_1$, $k_2$) | `--truncation overlap --truncation-stride K1` | carried | at least $k_2 - k_1$ steps back; loss on the $k_1$ new steps |
# | randomised | `--truncation random --truncation-keep KAPPA` | carried | each step crossed with probability $\kappa$, weight $1/\kappa$ |

# %%
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import tempfile
import time

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import LogNorm

import rnn
from rnn.config import TrainConfig
from rnn.run_state import Corpus, RunState
from rnn.tasks import recall_accuracy, recall_text
from rnn.train import train, train_step
from rnn.truncation import random_keep, term_weights

start = time.perf_counter()
OUT = tempfile.mkdtemp()  # every run below writes its checkpoint in a folder of its own here

# %% [markdown]
# ## 1. Which gradient paths each scheme keeps
#
# A stream of $N = 24$ steps, windows of $T = 8$. Row $s$ is the loss at step
# $s$, column $t$ the step whose use of the weights it is differentiated
# through; a coloured cell is a term the scheme keeps, a blank one a term it
# drops. Full BPTT keeps the whole lower triangle. The window scheme keeps the
# same terms whether the state is carried or zeroed at the window start (the
# difference is in the forward pass). Randomised truncation is shown for one
# draw of its factors; a kept term's colour is its weight $\kappa^{-(s-t)}$.

# %%
N, T, K1, KAPPA = 24, 8, 4, 0.8
draw = random_keep(N, 1, KAPPA, np.random.default_rng(3))[:, 0]  # (N - 1,): one draw
schemes = {"full BPTT": np.tril(np.ones((N, N))),
           f"windows, T = {T}": term_weights(N, T),
           f"TBPTT(k1 = {K1}, k2 = {T})": term_weights(N, T, stride=K1),
           rf"randomised, $\kappa$ = {KAPPA}, T = {T}": term_weights(N, T, keep=draw)}
norm = LogNorm(vmin=1.0, vmax=max(w.max() for w in schemes.values()))
fig, axes = plt.subplots(2, 2, figsize=(7, 6.6), sharex=True, sharey=True, layout="constrained")
for ax, (name, w) in zip(axes.ravel(), schemes.items()):
    image = ax.imshow(np.ma.masked_equal(w, 0.0), cmap="cool", norm=norm,  # dropped: transparent
                      interpolation="nearest")
    ax.set_title(name, fontsize=10)
    kept = (w[np.tril_indices(N)] != 0).mean()
    ax.text(N - 1, 1, f"keeps {kept:.0%}\nof the terms", ha="right", va="top", fontsize=10)
for ax in axes[1]:
    ax.set_xlabel("t: step of the weights used")
for ax in axes[:, 0]:
    ax.set_ylabel("s: step of the loss")
fig.colorbar(image, ax=axes, shrink=0.7, label="weight of the term (1 = kept as is)")
plt.show()

# %%
for name, w in schemes.items():
    lower = w[np.tril_indices(N)]
    label = name.replace("$\\kappa$", "kappa")
    print(f"{label:32} keeps {np.mean(lower != 0):5.1%} of the {lower.size} terms; "
          f"terms per loss: {int((w != 0).sum(axis=1).min())} to {int((w != 0).sum(axis=1).max())}")
assert np.array_equal(np.diag(schemes[f"windows, T = {T}"]), np.ones(N))  # every loss keeps its own step

# %% [markdown]
# ## 2. How much of each loss's gradient a window loses
#
# For the loss at position $p$ of a window (0-based), the gradient the window
# computes keeps the $p + 1$ terms of its own window and drops the rest. How
# large is the rest? Take windows of $T = 8$ that start 64 characters into the
# text, and compare, loss by loss, $\nabla_{\boldsymbol{W}} L^{(s)}$ from the
# window (state carried in, gradient stopped at the window start) with the one
# from backpropagating through all the 64 steps before it. The vanilla model
# of `rnn train` ($H = 128$), untrained and after 400 steps of training.

# %%
text, description = rnn.default_corpus()
vocab = rnn.Vocab.from_text(text)
ids = vocab.encode(text)
train_ids, val_ids = rnn.split(ids, 0.05)
print(description)


def share_lost(params, T=8, start=64, B=32):
    """Per position p of a window: ||dL(s)/dW full - truncated|| / ||full||, B windows."""
    params = {k: v.astype(np.float64) for k, v in params.items()}
    starts = np.random.default_rng(0).integers(0, len(val_ids) - start - T - 1, size=B)
    streams = np.stack([val_ids[s:s + start + T + 1] for s in starts], axis=1)
    inputs, targets = streams[:-1], streams[1:]
    _, carried = rnn.forward(params, inputs[:start])
    lost = []
    for p in range(T):
        s = start + p
        mask = np.zeros((s + 1, B), bool)
        mask[s] = True
        _, full, _ = rnn.loss_and_grads(params, inputs[:s + 1], targets[:s + 1], loss_mask=mask)
        _, cut, _ = rnn.loss_and_grads(params, inputs[start:s + 1], targets[start:s + 1], carried,
                                       loss_mask=mask[start:])
        lost.append(np.linalg.norm(full["W"] - cut["W"]) / np.linalg.norm(full["W"]))
    return np.array(lost)


model = rnn.init_params(vocab.size, 128, init="scaled", seed=0, dtype=np.float32)
lost = {"untrained": share_lost(model)}
optimizer, batcher, state = rnn.make_optimizer("adam"), rnn.StreamBatcher(train_ids, 64, 32), None
for _ in range(400):
    x, y, reset = batcher.next()
    _, state = train_step(model, optimizer, x, y, None if reset else state)
lost["after 400 steps"] = share_lost(model)
print("share of dL(s)/dW a window of 8 loses, by position p of the loss:")
for name, v in lost.items():
    print(f"  {name:16} " + " ".join(f"{x:4.0%}" for x in v))
assert all(v[0] > 0.5 and v[-1] < v[0] for v in lost.values())

# %% [markdown]
# The first loss of every window loses most of its $\nabla_{\boldsymbol{W}}$,
# and the share falls with the position, as fewer and fewer of the loss's
# terms lie before the window. Training makes it worse: a trained model uses a
# longer past, so more of each loss's gradient comes from further back, and
# truncation drops more of it.
#
# ## 3. Which dependency lengths each scheme can learn
#
# `rnn.tasks.recall_text(n, d)` writes blocks of $d + 2$ characters: a letter
# among `a`–`d`, $d - 1$ filler characters, a `?`, and the letter again in
# upper case. The character after a `?` can be predicted only by remembering
# the letter read exactly $d$ steps before; everything else is noise or
# counting. Each scheme trains an LSTM ($H = 32$) on a 24,000-character text of
# this kind with `rnn.train.train` and its options, windows of $T = 8$, 300
# steps of 32 streams (Adam, learning rate 0.01, global-norm clipping at 1),
# and is then scored on the answers of a fresh text, read from start to end.
#
# First, exactly, from the term weights: the fraction of the answer losses
# that receive *any* gradient from the step $d$ back (for randomised
# truncation, the probability that a given one does).

# %%
def reach(w, d):
    """Fraction of the losses s >= d whose gradient has a nonzero term for step s - d
    (every scheme trains each loss once, so every row counts once)."""
    s = np.arange(d, len(w))
    return np.mean(w[s, s - d] != 0)


T_TASK, K1_TASK, KAPPA_TASK, N_LONG = 8, 4, 0.8, 4000
DISTANCES = (2, 4, 6, 7, 8, 12)
keep_draw = random_keep(N_LONG, 1, KAPPA_TASK, np.random.default_rng(0))[:, 0]
weights = {"window": term_weights(N_LONG, T_TASK),
           "zero state": term_weights(N_LONG, T_TASK),
           f"TBPTT({K1_TASK}, {T_TASK})": term_weights(N_LONG, T_TASK, stride=K1_TASK),
           f"randomised, kappa = {KAPPA_TASK}": term_weights(N_LONG, T_TASK, keep=keep_draw)}
signal = {name: [reach(w, d) for d in DISTANCES] for name, w in weights.items()}
print(f"{'share of losses with a gradient from d steps back':52}" + "".join(f"{d:>6}" for d in DISTANCES))
for name, row in signal.items():
    print(f"{name:52}" + "".join(f"{v:6.2f}" for v in row))
assert all(row[DISTANCES.index(8)] == 0 for row in signal.values())  # d >= T: nothing, ever

# %% [markdown]
# Now trained, with the same budget in steps for every scheme:

# %%
MODES = {"window": dict(),
         "zero state": dict(batching="random"),
         f"TBPTT({K1_TASK}, {T_TASK})": dict(truncation="overlap", truncation_stride=K1_TASK),
         f"randomised, kappa = {KAPPA_TASK}": dict(truncation="random", truncation_keep=KAPPA_TASK)}
accuracy = {}
for name, options in MODES.items():
    t0 = time.perf_counter()
    for d in DISTANCES:
        cfg = TrainConfig(cell="lstm", hidden=32, seq_len=T_TASK, batch=32, steps=300, lr=5e-3,
                          clip=1.0, clip_mode="norm", eval_every=0, sample_every=0,
                          checkpoint_every=0, out=tempfile.mkdtemp(dir=OUT), **options)
        run = train(cfg, text=recall_text(24_000 // (d + 2), d, seed=0), progress=False,
                    log=lambda *a: None)
        accuracy[name, d] = recall_accuracy(run.params, run.vocab, recall_text(400, d, seed=1))
    print(f"{name:22} trained {len(DISTANCES)} models in {time.perf_counter() - t0:4.1f} s")

fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 6.5), sharex=True)
STYLES = {"window": ("#0072B2", "o-"), "zero state": ("#D55E00", "s--"),
          f"TBPTT({K1_TASK}, {T_TASK})": ("#009E73", "^-"),
          f"randomised, kappa = {KAPPA_TASK}": ("#CC79A7", "D:")}
full = [reach(np.tril(np.ones((200, 200))), d) for d in DISTANCES]  # every term kept
top.plot(DISTANCES, full, "-", color="0.45", lw=1.2, label="full BPTT (gradient only)")
for name, (colour, style) in STYLES.items():
    top.plot(DISTANCES, signal[name], style, color=colour, lw=1.8, ms=6, label=name)
    bottom.plot(DISTANCES, [accuracy[name, d] for d in DISTANCES], style, color=colour, lw=1.8,
                ms=6, label=name)
for ax in (top, bottom):
    ax.axvline(T_TASK, color="0.45", ls=":", lw=1)
    ax.grid()
top.set_ylabel("share of answers with\na gradient from d back")
bottom.axhline(0.25, color="0.45", ls="--", lw=1)
bottom.text(DISTANCES[-1], 0.27, "chance", ha="right", va="bottom", fontsize=10)
bottom.set_ylabel("answers right after\n300 steps (accuracy)")
bottom.set_xlabel(f"dependency length d (steps); dotted: the window length T = {T_TASK}")
bottom.set_ylim(-0.05, 1.05)
fig.legend(*top.get_legend_handles_labels(), loc="upper center", ncol=2, fontsize=10)
fig.tight_layout(rect=(0, 0, 1, 0.9))
plt.show()

# %%
print(f"{'accuracy on the answers':22}" + "".join(f"{d:>6}" for d in DISTANCES))
for name in MODES:
    print(f"{name:22}" + "".join(f"{accuracy[name, d]:6.2f}" for d in DISTANCES))
assert all(accuracy[name, 2] > 0.9 for name in MODES)  # every scheme learns d = 2
assert all(accuracy[name, 12] < 0.5 for name in MODES)  # and none d = 12 > T

# %% [markdown]
# Full BPTT, in grey, gives every answer its gradient from every distance;
# it is not trained here, since backpropagating through a 24,000-character
# stream means storing all its states, which is what truncation avoids.
#
# **The window length is the limit, for every scheme.** No scheme gives any
# loss a gradient from $T$ or more steps back, so a dependency of $d \ge T$
# cannot be learnt, whatever the state carries: the accuracy stays at chance.
# Below $T$, a window gives the signal to the $T - d$ of its $T$ positions
# that lie at least $d$ steps after its start: the closer $d$ gets to $T$, the
# fewer the answers that teach anything, and the slower the learning. That is
# why, in this budget, the schemes lose the task before $d$ reaches $T$, where
# the top panel still shows some signal.
#
# **Overlap.** TBPTT($k_1$, $k_2$) trains only the last $k_1$ steps of each
# window, and every one of them has at least $k_2 - k_1$ steps of history: for
# $d \le k_2 - k_1$ every answer it trains on carries the signal. It pays for
# this with $k_2 / k_1$ times the computation per character trained (below),
# and in the same number of steps it sees $k_1 / k_2$ as many new characters.
#
# **Randomised truncation** keeps, in expectation, exactly the window's
# gradient, but a given answer gets its gradient only if no cut falls between
# it and the letter ($\kappa^d$), multiplied by $\kappa^{-d}$ when it does: the
# same signal on average, arriving in fewer and larger pieces. It cannot reach
# past the window either.
#
# **Zero state** differs from the window in the forward pass, not in the terms
# it keeps: every window starts from $\boldsymbol{h}^{(0)} = \boldsymbol{0}$,
# so an answer whose letter lies before the window start cannot be given even
# by a model that has learnt the task, and the model never practises carrying
# a state across the window boundary.

# %% [markdown]
# ## 4. The default corpus: cost per character and loss in the same time
#
# The `rnn train` defaults (vanilla RNN, $H = 128$, windows of $T = 64$, 32
# streams, Adam, float32) with each scheme. **Cost.** Each scheme runs the
# training step of `rnn train` (`RunState.next_batch` and `train_step`) 40
# times, one step of each scheme in turn, so that a change in the machine's
# load hits every scheme alike; the median time per character trained counts
# (a character counts once, when its loss first trains the model).
#
# **Loss in the same time.** Each scheme then trains with `rnn.train.train`
# for as many steps as its measured cost fits into the same 4 seconds, and
# the validation loss of the result is measured on the held-out 5% of the
# text. Fixing the steps from the interleaved cost, rather than stopping each
# run on the clock, keeps a burst of load on a shared machine during one run
# from deciding the comparison.

# %%
CORPUS_MODES = {"window": dict(),
                "zero state": dict(batching="random"),
                "TBPTT(16, 64)": dict(truncation="overlap", truncation_stride=16),
                "randomised, kappa = 0.9": dict(truncation="random", truncation_keep=0.9)}
SECONDS = 4.0
configs = {name: TrainConfig(eval_every=0, sample_every=0, checkpoint_every=0,
                             out=tempfile.mkdtemp(dir=OUT),
                             **options).validate() for name, options in CORPUS_MODES.items()}
corpus = Corpus.prepare(configs["window"], text)
runs = {name: RunState.new(cfg, corpus) for name, cfg in configs.items()}
step_costs = {name: [] for name in configs}
for _ in range(40):  # one step of each scheme in turn: a burst of load hits them alike
    for name, cfg in configs.items():
        run = runs[name]
        t0 = time.perf_counter()
        x, y, state0, plan = run.next_batch(corpus, cfg)
        _, run.state = train_step(run.params, run.optimizer, x, y, state0, clip=cfg.clip, plan=plan)
        chars = x.size if plan is None or plan.loss_mask is None else int(plan.loss_mask.sum())
        step_costs[name].append((time.perf_counter() - t0) / chars)
per_char = {name: float(np.median(c[5:])) for name, c in step_costs.items()}  # after warm-up

results, new_chars = {}, {}
for name, cfg in configs.items():
    new_chars[name] = cfg.batch * (cfg.truncation_stride or cfg.seq_len)  # per step
    cfg.steps = max(1, int(SECONDS / (per_char[name] * new_chars[name])))  # what fits in SECONDS
    results[name] = train(cfg, text=text, progress=False, log=lambda *a: None)
print(f"{'':24} {'us/char':>8} {'vs window':>10} {'steps':>6} {'new chars/step':>15} "
      f"{'val loss':>9}")
for name, r in results.items():
    print(f"{name:24} {1e6 * per_char[name]:8.2f} {per_char[name] / per_char['window']:9.1f}x "
          f"{r.step:6d} {new_chars[name]:15,d} {r.val_loss:9.3f}")
best = min(results, key=lambda n: results[n].val_loss)
print(f"lowest validation loss after {SECONDS:g} s: {best}")
assert per_char["TBPTT(16, 64)"] > 2 * per_char["window"]  # it computes each step 4 times
cheap, dear = ("window", "zero state"), ("TBPTT(16, 64)", "randomised, kappa = 0.9")
assert max(results[n].val_loss for n in cheap) < min(results[n].val_loss for n in dear)

# %% [markdown]
# **Cost.** The window scheme is the cheapest per character: every step is
# computed once forward and once backward. TBPTT(16, 64) computes every step
# $k_2 / k_1 = 4$ times, so it costs about four times as much per character
# trained. Randomised truncation does the same arithmetic as the window, but
# runs the layer one segment at a time through the layer protocol (a cut can
# fall after any step), which adds Python overhead per step. Random windows
# from a zero state cost the same as the window scheme, give or take the
# gathering of the windows.
#
# **What the table shows.** With a budget of a few seconds, what counts is
# how many characters a scheme trains on, and the two cheap schemes, windows
# with the state carried or zeroed, train on the most. On this corpus the next character depends mostly on the last few, so
# the extra history that TBPTT gives each loss, or the unbiasedness of
# randomised truncation, buys little, while their cost per character is real.
# Wall-clock comparisons depend on the machine and its load: the table is
# what this build measured, and the ranking of schemes whose losses differ by
# a few hundredths of a nat can change from build to build.

# %%
print(f"notebook run time: {time.perf_counter() - start:.1f} s")
