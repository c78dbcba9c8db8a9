"""rnn: recurrent neural networks and backpropagation through time, from scratch in NumPy.

Notation follows Goodfellow, Bengio & Courville, *Deep Learning*, ch. 10.
See the documentation site for the derivations behind every function.

The data path, one module a step::

    text          rnn.corpus      load_text, default_corpus
    ids, batches  rnn.data        Vocab, split, StreamBatcher, random_windows
    cell          rnn.rnn_cell, rnn.lstm, rnn.gru   (one layer protocol)
    output, loss  rnn.losses      output_forward, softmax_cross_entropy
    model, BPTT   rnn.model       init_params, loss_and_grads
    optimiser     rnn.optim       Adam, Adagrad, SGD, clipping
    step, loop    rnn.train       train_step, train   (options: rnn.config)
    sampling      rnn.sample      sample, beam_search

Around it: rnn.truncation (what truncated BPTT keeps, and its variants),
rnn.dynamics (how far back the gradient reaches), rnn.tasks (synthetic tasks
with a known answer), rnn.initializers (initialisation schemes), rnn.export
(a model as one file a web page runs), rnn.units (what single hidden units
track).

Beyond the language model, on the same layer protocol::

    variable lengths    rnn.masking        pad, mask_from_lengths, forward_to_lengths
    many-to-one         rnn.classify       train_classifier
    bidirectional       rnn.bidirectional  bidirectional_forward, train_tagger
    encoder-decoder     rnn.seq2seq        seq2seq_loss_and_grads, decode_greedy, decode_beam
    attention           rnn.attention      attention_forward
    beam search         rnn.beam           beam_decode (any step function, with an end token)
    exposure bias       rnn.exposure       exposure_losses
    tasks               rnn.tasks          parity_batch, seen_later_batch, reversal_batch
    command line        rnn.demos          python -m rnn.demos parity|tagging|reverse
"""

__version__ = "0.2.0"

import importlib

# The public names and the module each comes from. They are imported when
# first used (PEP 562), so `import rnn` and the `rnn` command start without
# NumPy: Ctrl-C during start-up then reaches rnn.cli.main, which reports it
# in one line. rnn.sample.sample and rnn.train.train stay in their modules:
# exporting the functions here would hide the submodules rnn.sample and
# rnn.train.
_EXPORTS = {
    "rnn_cell": ["rnn_step", "rnn_forward", "rnn_backward", "RNNCache"],
    "lstm": ["lstm_step", "lstm_forward", "lstm_backward", "LSTMCache", "pack_lstm",
             "unpack_lstm", "sigmoid"],
    "gru": ["gru_step", "gru_forward", "gru_backward", "GRUCache", "pack_gru", "unpack_gru"],
    "losses": ["softmax", "log_softmax", "softmax_cross_entropy", "output_forward",
               "output_backward"],
    "gradcheck": ["numerical_gradient", "relative_error", "check_gradients"],
    "model": ["init_params", "param_shapes", "count_params", "hidden_for_budget", "init_state",
              "forward", "loss_and_grads", "model_info", "one_hot", "embed"],
    "data": ["Vocab", "split", "StreamBatcher", "random_windows", "validation_windows"],
    "corpus": ["load_text", "default_corpus", "shakespeare_text", "stdlib_text"],
    "optim": ["SGD", "Adagrad", "Adam", "make_optimizer", "clip_elementwise", "clip_global_norm"],
    "checkpoint": ["Checkpoint", "CheckpointError", "save_checkpoint", "load_checkpoint",
                   "rng_from_state"],
    "sample": ["beam_search", "next_distribution"],
    "config": ["TrainConfig"],
    "train": ["TrainResult", "TrainingDiverged", "Record", "evaluate", "train_step"],
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = list(_MODULE_OF)
# Submodules, also reachable as attributes (rnn.model.CELLS) after a bare `import rnn`.
_SUBMODULES = {"rnn_cell", "lstm", "gru", "losses", "gradcheck", "model", "data", "corpus",
               "optim", "checkpoint", "sample", "config", "train", "run_state", "run_folder",
               "progress", "initializers", "cli", "truncation", "dynamics",
               # beyond the language model
               "masking", "classify", "bidirectional", "attention", "seq2seq", "beam", "exposure",
               "tasks", "demos",
               # the interactive pages: models for the browser, what units track
               "export", "units",
               # to and from PyTorch (imports torch only when one of its functions runs)
               "torch_bridge"}


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'rnn' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # the next access is a plain lookup
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
