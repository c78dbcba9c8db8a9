"""rnn: recurrent neural networks and backpropagation through time, from scratch in NumPy.

Notation follows Goodfellow, Bengio & Courville, *Deep Learning*, ch. 10.
See the documentation site for the derivations behind every function.
"""

from .checkpoint import Checkpoint, load_checkpoint, rng_from_state, save_checkpoint
from .data import (StreamBatcher, Vocab, default_corpus, load_text, random_windows,
                   shakespeare_text, split, stdlib_text, validation_windows)
from .gradcheck import check_gradients, numerical_gradient, relative_error
from .losses import log_softmax, output_backward, output_forward, softmax, softmax_cross_entropy
from .model import (count_params, embed, forward, hidden_for_budget, init_params, init_state,
                    loss_and_grads, model_info, one_hot)
from .gru import GRUCache, gru_backward, gru_forward, gru_step, pack_gru, unpack_gru
from .lstm import LSTMCache, lstm_backward, lstm_forward, lstm_step, pack_lstm, sigmoid, unpack_lstm
from .optim import (SGD, Adagrad, Adam, clip_elementwise, clip_global_norm,
                    make_optimizer)
from .rnn_cell import RNNCache, rnn_backward, rnn_forward, rnn_step
# rnn.sample.sample and rnn.train.train stay in their modules: importing the
# functions here would hide the submodules rnn.sample and rnn.train.
from .sample import beam_search, next_distribution
from .train import TrainConfig, TrainingDiverged, TrainResult, evaluate

__version__ = "0.1.0"

__all__ = [
    "rnn_step", "rnn_forward", "rnn_backward", "RNNCache",
    "lstm_step", "lstm_forward", "lstm_backward", "LSTMCache", "pack_lstm", "unpack_lstm", "sigmoid",
    "gru_step", "gru_forward", "gru_backward", "GRUCache", "pack_gru", "unpack_gru",
    "softmax", "log_softmax", "softmax_cross_entropy", "output_forward", "output_backward",
    "numerical_gradient", "relative_error", "check_gradients",
    "init_params", "count_params", "hidden_for_budget", "init_state", "forward",
    "loss_and_grads", "model_info", "one_hot", "embed",
    "Vocab", "load_text", "default_corpus", "shakespeare_text", "stdlib_text", "split",
    "StreamBatcher", "random_windows", "validation_windows",
    "SGD", "Adagrad", "Adam", "make_optimizer", "clip_elementwise", "clip_global_norm",
    "Checkpoint", "save_checkpoint", "load_checkpoint", "rng_from_state",
    "beam_search", "next_distribution",
    "TrainConfig", "TrainResult", "TrainingDiverged", "evaluate",
]
