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
# # Reversing strings, with and without attention
#
# This page is a notebook, run from top to bottom on every build of the site:
# the numbers and plots below come from the code above them. It trains the
# [encoder-decoder](../../seq2seq/) of `rnn.seq2seq` to reverse strings, once
# with the plain handover of the encoder's last state and once with
# [additive attention](../../attention/), and measures
#
# * exact-match accuracy against the length of the string, greedy and beam
#   decoding;
# * where the attention model looks while it writes each character (a heat map
#   of the weights $\alpha_j^{(t)}$);
# * [exposure bias](../../teacher-forcing/) on a task with one right answer:
#   the accuracy of each output position when the decoder reads the true
#   previous characters (teacher forcing) and when it reads its own.
#
# The task: a string of $T_x$ letters from an alphabet of 8, lengths drawn
# uniformly from 1 to 12, and its reversal followed by the end token. All
# models see the same batches (seed 0), 64 strings a step, with Adam at a
# learning rate of $10^{-2}$ and gradients clipped to norm 1. The models are
# GRUs; $H$ is the number of hidden units of the encoder and of the decoder.

# %%
import os

# small matrices: one BLAS thread is fastest (set before NumPy is imported)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import functools  # noqa: E402
import time  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from rnn.seq2seq import (decode_beam, decode_greedy, exact_matches,  # noqa: E402
                         seq2seq_forward, train_seq2seq)
from rnn.tasks import reversal_batch  # noqa: E402

start = time.perf_counter()

LETTERS = ".abcdefgh"  # id 0 is the end token, shown as "."
MAX_LEN, ALPHABET = 12, 8
make_batch = functools.partial(reversal_batch, B=64, max_len=MAX_LEN, alphabet=ALPHABET)
src, src_lengths, tgt, tgt_lengths = make_batch(np.random.default_rng(0))
for n in range(3):
    print(f"{''.join(LETTERS[i] for i in src[:src_lengths[n], n]):>12} -> "
          f"{''.join(LETTERS[i] for i in tgt[:tgt_lengths[n], n])}")

# %% [markdown]
# ## Training
#
# Three models, 800 steps each: without attention at $H = 32$ and at
# $H = 64$ (twice the state to carry the string in), and with attention at
# $H = 32$. Every one is trained with teacher forcing by
# `rnn.seq2seq.train_seq2seq`.

# %%
STEPS, D = 800, ALPHABET + 1
models = {"no attention, H = 32": dict(hidden=32, attention=False),
          "no attention, H = 64": dict(hidden=64, attention=False),
          "attention, H = 32": dict(hidden=32, attention=True)}
params, losses, seconds = {}, {}, {}
for name, kw in models.items():
    t0 = time.perf_counter()
    params[name], losses[name] = train_seq2seq(make_batch, D, D, cell="gru", steps=STEPS,
                                               lr=1e-2, seed=0, **kw)
    seconds[name] = time.perf_counter() - t0
    print(f"{name:22} {seconds[name]:5.1f} s, loss {losses[name][0]:.2f} -> "
          f"{np.mean(losses[name][-50:]):.3f} nats per token (mean of the last 50 steps)")

fig, ax = plt.subplots()  # sized for the page by scripts/notebook_env/matplotlibrc
window = 25
for name, curve in losses.items():
    ax.plot(np.arange(window, STEPS + 1), np.convolve(curve, np.ones(window) / window, "valid"),
            lw=2, label=name)
ax.set_yscale("log")
ax.set_xlabel("training step")
ax.set_ylabel(f"loss (nats per token, {window}-step mean)")
ax.grid(alpha=0.3)
ax.legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Accuracy against length
#
# For every length from 1 to 12, 200 fresh strings, decoded greedily
# (`decode_greedy`); an output counts only if it is the exact reversal. The
# model without attention at $H = 32$ also decodes them by beam search
# (`decode_beam`, beam width 4).

# %%
rng = np.random.default_rng(123)
lengths = np.arange(1, MAX_LEN + 1)
tests = {L: reversal_batch(rng, B=200, min_len=L, max_len=L, alphabet=ALPHABET) for L in lengths}
accuracy = {name: [] for name in params}
for name, p in params.items():
    for L, (s, sl, t, tl) in tests.items():
        outputs, _ = decode_greedy(p, s, sl, max_len=L + 4)
        accuracy[name].append(exact_matches(outputs, t, tl).mean())
beam_name = "no attention, H = 32"
beam_accuracy = []
for L, (s, sl, t, tl) in tests.items():
    found = [decode_beam(params[beam_name], s[:, n], L + 4, beam_width=4)[0] for n in range(200)]
    beam_accuracy.append(exact_matches(found, t, tl).mean())
accuracy = {name: np.array(acc) for name, acc in accuracy.items()}
beam_accuracy = np.array(beam_accuracy)

print(f"{'length':30}" + " ".join(f"{L:4d}" for L in lengths))
for name, acc in accuracy.items():
    print(f"{name + ', greedy':30}" + " ".join(f"{a:4.0%}" for a in acc))
print(f"{beam_name + ', beam 4':30}" + " ".join(f"{a:4.0%}" for a in beam_accuracy))

fig, ax = plt.subplots()  # sized for the page by scripts/notebook_env/matplotlibrc
for name, acc in accuracy.items():
    ax.plot(lengths, 100 * acc, "o-", lw=2, label=f"{name}, greedy")
ax.plot(lengths, 100 * beam_accuracy, "s--", lw=1.5, color="C0",
        label=f"{beam_name}, beam width 4")
ax.set_xlabel("source length $T_x$ (characters)")
ax.set_ylabel("exact reversals (%)")
ax.set_xticks(lengths)
ax.set_ylim(-3, 103)
ax.grid(alpha=0.3)
ax.legend(loc="lower left")
fig.tight_layout()
plt.show()

# %%
att, plain32 = accuracy["attention, H = 32"], accuracy[beam_name]
plain64 = accuracy["no attention, H = 64"]
below = {name: next((int(L) for L, a in zip(lengths, acc) if a < 0.9), None)
         for name, acc in accuracy.items()}
for name, L in below.items():
    print(f"{name:22} first length with fewer than 90 % right: {L}")
print("beam search minus greedy, no attention, H = 32: "
      + " ".join(f"{d:+.0%}" for d in beam_accuracy - plain32))
assert att.min() >= 0.98  # attention: (almost) every string, at every length
assert plain32[-1] < 0.2 and plain64[-1] < 0.5  # the plain handover fails on long strings
assert below[beam_name] < below["no attention, H = 64"]  # more state moves the fall out
assert beam_accuracy[-1] < 0.5  # beam search cannot bring back what the state lost
assert (beam_accuracy >= plain32 - 0.02).all() and (beam_accuracy - plain32)[4:9].max() > 0.02

# %% [markdown]
# Without attention, every source character must pass through the $H$
# numbers of the handed-over state $\boldsymbol{C}$, and the decoder must
# take them out again in the reverse order. Short strings fit; from some
# length on, accuracy falls steeply, and doubling the state moves that length
# out without removing the fall. Beam search finds outputs that the model
# itself finds more likely, and that rescues some strings of middle length,
# but it cannot bring back what the state never held: on the longest strings
# it fails as greedy decoding does. With attention, the decoder reads the
# encoder state of the character it needs at each step, and length hardly
# matters over the lengths it was trained on.
#
# ## Where the attention model looks
#
# The weights $\alpha^{(t)}_j$ of one string of length 10: row $t$ is the
# output step (the character written, then the end token), column $j$ the
# source character. Reversal needs the character at the mirrored position,
# $j = T_x + 1 - t$, so the weight should sit on the anti-diagonal.

# %%
s, sl, t, tl = reversal_batch(np.random.default_rng(7), B=1, min_len=10, max_len=10,
                              alphabet=ALPHABET)
outputs, alpha = decode_greedy(params["attention, H = 32"], s, sl, max_len=14)
weights = alpha[:, :, 0]  # (output steps, T_x)
source = [LETTERS[i] for i in s[:, 0]]
written = [LETTERS[i] for i in outputs[0]] + ["."]
fig, ax = plt.subplots(figsize=(5.5, 5))
image = ax.imshow(weights, cmap="viridis", vmin=0, vmax=1)
ax.set_xticks(range(len(source)), source)
ax.set_yticks(range(len(written)), written)
ax.set_xlabel("source character $j$")
ax.set_ylabel("output step $t$ (character written)")
fig.colorbar(image, ax=ax, label=r"weight $\alpha_j^{(t)}$", shrink=0.8)
fig.tight_layout()
plt.show()
print(f"output {''.join(written)!r} for source {''.join(source)!r}")

# %% [markdown]
# Over 200 strings of length 10, the mean weight of the mirrored character
# $j = T_x + 1 - t$, and of its two neighbours:

# %%
s, sl, t, tl = reversal_batch(np.random.default_rng(8), B=200, min_len=10, max_len=10,
                              alphabet=ALPHABET)
_, alpha = decode_greedy(params["attention, H = 32"], s, sl, max_len=14)
k = np.arange(10)  # output steps t = 1 .. 10, 0-based; the mirrored source index is 9 - k
mirrored = alpha[k, 9 - k].mean()
before = alpha[k[:-1], 8 - k[:-1]].mean()  # j - 1: the source character before it
after = alpha[k[1:], 10 - k[1:]].mean()  # j + 1: the one after it
largest = (alpha[k, :, :].argmax(axis=1) == (9 - k)[:, None]).mean()
print(f"mean weight: mirrored character {mirrored:.2f}, the one after it {after:.2f}, "
      f"the one before it {before:.2f}")
print(f"the mirrored character has the largest weight at {largest:.0%} of the steps")
assert mirrored + after > 0.8 and before < 0.1 and min(mirrored, after) > 2 * before

# %% [markdown]
# Nearly all the weight sits on two encoder states: the one that has just
# read the mirrored character, and the one a step *later*, which still
# holds it. The state one step earlier has not read the character yet, and
# gets almost nothing. How the weight splits between the two good states is
# up to the run (a change in the last bits of the arithmetic moves it); that
# it avoids the state before is not. The model was never told where to look;
# the alignment is learnt from the loss alone.
#
# %% [markdown]
# ## Teacher-forced and free-running
#
# [Teacher forcing](../../teacher-forcing/) trains the decoder on the true
# previous characters; decoding feeds it its own. On this task a perfect
# model loses nothing by reading its own output, since its output *is* the
# true one, so any gap between the two is made by the model's own mistakes.
# For the model without attention at $H = 32$ and 1,000 strings of length 8,
# the accuracy of every output position, teacher-forced (the arg-max of the
# logits when the decoder has read the true characters before it) and
# free-running (the greedy output). Up to its first mistake, the decoder
# reads the same characters both ways, so the first mistake falls at the same
# position in both; the dashed lines compare the two on the positions after it.

# %%
L, name = 8, "no attention, H = 32"
s, sl, t, tl = reversal_batch(np.random.default_rng(11), B=1000, min_len=L, max_len=L,
                              alphabet=ALPHABET)
o, _, _ = seq2seq_forward(params[name], s, sl, t)
forced = np.argmax(o, axis=2)[:L] == t[:L]  # (L, B): right when reading the truth
outputs, _ = decode_greedy(params[name], s, sl, max_len=L + 1)
free = np.zeros((L, len(outputs)), bool)
for n, out in enumerate(outputs):
    k = min(len(out), L)
    free[:k, n] = out[:k] == t[:k, n]
after = np.cumsum(~forced, axis=0) - ~forced > 0  # (L, B): a position after the first mistake
assert np.array_equal(after, np.cumsum(~free, axis=0) - ~free > 0)  # the same positions both ways
positions = np.arange(1, L + 1)


def on(correct, where):
    return [100 * correct[k][where[k]].mean() if where[k].any() else np.nan for k in range(L)]


fig, ax = plt.subplots()  # sized for the page by scripts/notebook_env/matplotlibrc
ax.plot(positions, 100 * forced.mean(axis=1), "o-", lw=2, color="C0", label="teacher-forced")
ax.plot(positions, 100 * free.mean(axis=1), "s-", lw=2, color="C1", label="free-running (greedy)")
ax.plot(positions, on(forced, after), "o--", lw=1.5, color="C0",
        label="teacher-forced, after the first mistake")
ax.plot(positions, on(free, after), "s--", lw=1.5, color="C1",
        label="free-running, after the first mistake")
ax.set_xlabel("output position $t$")
ax.set_ylabel("correct characters (%)")
ax.set_ylim(-3, 103)
ax.grid(alpha=0.3)
ax.legend(loc="lower right", fontsize=10)
fig.tight_layout()
plt.show()
tf_after, fr_after = forced[after].mean(), free[after].mean()
print(f"per character: teacher-forced {forced.mean():.1%}, free-running {free.mean():.1%}")
print(f"after the first mistake ({after.sum()} positions): teacher-forced {tf_after:.1%}, "
      f"free-running {fr_after:.1%}")
print(f"strings with all {L} characters right: teacher-forced {forced.all(axis=0).mean():.1%}, "
      f"free-running {free.all(axis=0).mean():.1%}")
assert np.array_equal(forced.all(axis=0), free.all(axis=0))  # the same strings
assert fr_after < tf_after - 0.2  # its own mistakes derail the free-running decoder

# %% [markdown]
# A string is entirely right free-running exactly when it is entirely right
# teacher-forced: until the first mistake the two read the same characters.
# After it they part. Teacher-forced, the decoder is handed the true prefix
# again and a mistake costs one character; free-running, the wrong character
# becomes its next input, it continues from a prefix it never read in
# training, and the positions after a first mistake are right far less often.
# That difference is exposure bias, measured where nothing else can explain it.
#
# ## How long this took

# %%
print(f"training {sum(seconds.values()):.1f} s; the whole notebook "
      f"{time.perf_counter() - start:.1f} s")
