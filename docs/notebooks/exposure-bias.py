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
# # Teacher-forced and free-running loss of a character model
#
# This page is a notebook, run on every build of the site. It trains a small
# character-level language model with teacher forcing, as every model on this
# site is trained, and then measures on held-out text what the
# [Teacher forcing](../../teacher-forcing/) chapter describes: after reading
# the same 64 true characters, how well does the model predict each of the
# next 100 true characters
#
# * **teacher-forced**: having read the true characters before it, as in
#   training, or
# * **free-running**: having read its own output since the prime, as when it
#   generates (greedy: the most likely character; sampled: a draw from its
#   distribution at temperature 1)?
#
# Both are scored the same way, $-\ln \hat{y}^{(t)}_{y^{(t)}}$ in nats, with
# $y^{(t)}$ the true character; `rnn.exposure.exposure_losses` computes both.

# %%
import os

# small matrices: one BLAS thread is fastest (set before NumPy is imported)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import tempfile  # noqa: E402
import time  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import rnn  # noqa: E402
from rnn.exposure import exposure_losses  # noqa: E402
from rnn.train import TrainConfig, train  # noqa: E402

start = time.perf_counter()

# %% [markdown]
# ## A model trained with teacher forcing
#
# A vanilla RNN with $H = 128$, trained by `rnn.train.train` for 1,500 steps
# of $B = 32$ windows of $T = 64$ characters on the first 400,000 characters
# of the default corpus; the last 10 % of them are held out.

# %%
text, description = rnn.default_corpus()
text = text[:400_000]
config = TrainConfig(cell="rnn", hidden=128, steps=1500, seq_len=64, batch=32, val_fraction=0.1,
                     eval_every=0, sample_every=0, checkpoint_every=0, dtype="float32", seed=0,
                     out=tempfile.mkdtemp(prefix="rnn-exposure-"))
t0 = time.perf_counter()
result = train(config, text=text, progress=False, log=lambda message: None)
print(f"{description}: trained in {time.perf_counter() - t0:.1f} s, "
      f"validation loss {result.val_loss:.3f} nats per character")

# %% [markdown]
# ## The measurement
#
# 256 windows of the held-out text, each a prime of $P = 64$ characters
# followed by the $N = 100$ characters to predict. For reference, the loss of
# a model that ignores the past altogether and always predicts the character
# frequencies of the training text (the *unigram* loss).

# %%
vocab = result.vocab
ids = vocab.encode(text)
n_val = int(len(ids) * config.val_fraction)
train_ids, val_ids = ids[:-n_val], ids[-n_val:]
P, N, B = 64, 100, 256
starts = np.random.default_rng(0).integers(0, len(val_ids) - P - N, B)
windows = np.stack([val_ids[s:s + P + N] for s in starts], axis=1)  # (P + N, B)
params = {k: v.astype(np.float64) for k, v in result.params.items()}
teacher_forced, greedy = exposure_losses(params, windows, P, mode="greedy")
_, sampled = exposure_losses(params, windows, P, mode="sample", seed=1)
frequencies = np.bincount(train_ids, minlength=vocab.size) / len(train_ids)
unigram = float(-np.log(frequencies[val_ids] + 1e-12).mean())

fig, ax = plt.subplots()  # sized for the page by scripts/notebook_env/matplotlibrc
k = np.arange(1, N + 1)
ax.plot(k, teacher_forced, lw=1.5, label="teacher-forced (reads the true text)")
ax.plot(k, greedy, lw=1.5, label="free-running, greedy")
ax.plot(k, sampled, lw=1.5, label="free-running, sampled")
ax.axhline(unigram, color="0.45", ls="--", lw=1, label="unigram (ignores the past)")
ax.set_xlabel("characters after the prime")
ax.set_ylabel("loss of the true character (nats)")
ax.grid(alpha=0.3)
ax.legend(loc="center right", fontsize=10)
fig.tight_layout()
plt.show()
for name, curve in (("teacher-forced", teacher_forced), ("free-running, greedy", greedy),
                    ("free-running, sampled", sampled)):
    print(f"{name:22} first character {curve[0]:.2f}, characters 2-5 {curve[1:5].mean():.2f}, "
          f"21-100 {curve[20:].mean():.2f} nats")
print(f"{'unigram':22} {unigram:.2f} nats")
assert teacher_forced[0] == greedy[0] == sampled[0]  # the same state after the prime
assert greedy[20:].mean() > unigram and sampled[20:].mean() > unigram
assert abs(teacher_forced[20:].mean() - result.val_loss) < 0.3

# %% [markdown]
# ## Reading the plot
#
# The three curves start at the same point: after the prime all three have
# read the same characters. Teacher-forced, the loss stays where the
# validation loss is, character after character. Free-running, it climbs
# within a few characters, and settles *above* the unigram loss: the model
# predicts, confidently, the continuation of its own text, and the true
# character is usually not what that continuation needs. Knowing nothing
# would cost less than believing the wrong past.
#
# How much of this gap is exposure bias? Not all of it. Even a perfect model
# loses track of the true text when it reads its own samples, since its own
# text is a different, equally plausible continuation; the
# [chapter](../../teacher-forcing/#a-model-whose-answers-are-known) computes
# that unavoidable part exactly for a model whose probabilities are known,
# and it too rises above the unigram loss. On text, the two parts cannot be
# told apart. On a task with a single right answer they can: there a perfect
# model loses nothing by reading its own output, and the
# [reversal notebook](../seq2seq-attention/#teacher-forced-and-free-running)
# measures what is left, which is the model's own mistakes compounding.

# %%
print(f"this notebook ran for {time.perf_counter() - start:.1f} s")
