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
with a known answer), rnn.initializers (initialisation schemes).
"""

__version__ = "0.2.0"

from .checkpoint import Checkpoint, load_checkpoint, rng_from_state, save_checkpoint  # noqa: E402
from .config import TrainConfig  # noqa: E402
from .corpus import default_corpus, load_text, shakespeare_text, stdlib_text  # noqa: E402
from .data import StreamBatcher, Vocab, random_windows, split, validation_windows  # noqa: E402
from .gradcheck import check_gradients, numerical_gradient, relative_error  # noqa: E402
from .gru import GRUCache, gru_backward, gru_forward, gru_step, pack_gru, unpack_gru  # noqa: E402
from .losses import (log_softmax, output_backward, output_forward, softmax,  # noqa: E402
                     softmax_cross_entropy)
from .lstm import (LSTMCache, lstm_backward, lstm_forward, lstm_step, pack_lstm,  # noqa: E402
                   sigmoid, unpack_lstm)
from .model import (count_params, embed, forward, hidden_for_budget, init_params,  # noqa: E402
                    init_state, loss_and_grads, model_info, one_hot, param_shapes)
from .optim import (SGD, Adagrad, Adam, clip_elementwise, clip_global_norm,  # noqa: E402
                    make_optimizer)
from .rnn_cell import RNNCache, rnn_backward, rnn_forward, rnn_step  # noqa: E402
# rnn.sample.sample and rnn.train.train stay in their modules: importing the
# functions here would hide the submodules rnn.sample and rnn.train.
from .sample import beam_search, next_distribution  # noqa: E402
from .train import Record, TrainingDiverged, TrainResult, evaluate, train_step  # noqa: E402

__all__ = [
    "rnn_step", "rnn_forward", "rnn_backward", "RNNCache",
    "lstm_step", "lstm_forward", "lstm_backward", "LSTMCache", "pack_lstm", "unpack_lstm", "sigmoid",
    "gru_step", "gru_forward", "gru_backward", "GRUCache", "pack_gru", "unpack_gru",
    "softmax", "log_softmax", "softmax_cross_entropy", "output_forward", "output_backward",
    "numerical_gradient", "relative_error", "check_gradients",
    "init_params", "param_shapes", "count_params", "hidden_for_budget", "init_state", "forward",
    "loss_and_grads", "model_info", "one_hot", "embed",
    "Vocab", "split", "StreamBatcher", "random_windows", "validation_windows",
    "load_text", "default_corpus", "shakespeare_text", "stdlib_text",
    "SGD", "Adagrad", "Adam", "make_optimizer", "clip_elementwise", "clip_global_norm",
    "Checkpoint", "save_checkpoint", "load_checkpoint", "rng_from_state",
    "beam_search", "next_distribution",
    "TrainConfig", "TrainResult", "TrainingDiverged", "Record", "evaluate", "train_step",
]
