"""Tests of rnn.config: every option is declared once, and both
TrainConfig.validate and the `rnn train` parser follow that declaration."""

import dataclasses

import pytest

from rnn.cli import build_parser, main
from rnn.config import TrainConfig, options
from rnn.initializers import SCHEMES
from rnn.model import CELLS
from rnn.optim import DEFAULT_LR, OPTIMIZERS

RUN_OPTIONS = {"steps", "minutes", "out", "eval_every", "sample_every", "sample_length",
               "sample_temperature", "checkpoint_every", "lr_decay"}


def _train_parser():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return sub.choices["train"]


def test_run_and_model_options():
    assert {f.name for f in options(run=True)} == RUN_OPTIONS
    assert {f.name for f in options(run=False)} == {f.name for f in dataclasses.fields(TrainConfig)} - RUN_OPTIONS


def test_choices_come_from_the_registries():
    meta = {f.name: f.metadata for f in options()}
    assert set(meta["cell"]["choices"]) == set(CELLS)
    assert set(meta["optim"]["choices"]) == set(OPTIMIZERS)
    assert set(meta["init"]["choices"]) == set(SCHEMES)
    assert all(f"{name} {lr:g}" in meta["lr"]["none"] for name, lr in DEFAULT_LR.items())


def test_every_option_has_one_flag_with_its_default_and_rules():
    actions = {a.dest: a for a in _train_parser()._actions}
    defaults = TrainConfig()
    for f in options():
        a = actions[f.name]
        assert a.option_strings == ["--" + f.name.replace("_", "-")]
        assert f.metadata["help"] in a.help and "default" in a.help
        default = getattr(defaults, f.name)
        if default is not None and not isinstance(default, float):
            assert f"default: {default})" in a.help, f.name
        if f.metadata["choices"] is not None:
            assert tuple(a.choices) == f.metadata["choices"]


@pytest.mark.parametrize("field,value", [("layers", True), ("hidden", 2.0), ("seq_len", "8"),
                                         ("lr", True), ("clip", float("nan")),
                                         ("minutes", float("inf")), ("seed", -1),
                                         ("val_fraction", 0.0), ("val_fraction", 1.0),
                                         ("data", 3), ("out", None)])
def test_validate_refuses_booleans_and_out_of_range_values(field, value):
    with pytest.raises(ValueError, match=f"TrainConfig: {field} must be"):
        TrainConfig(**{field: value}).validate()


@pytest.mark.parametrize("field,value", [("steps", None), ("lr", None), ("clip", None),
                                         ("clip", 0.0), ("data", None), ("val_fraction", 0.5)])
def test_validate_accepts_the_documented_special_values(field, value):
    TrainConfig(**{field: value}).validate()


@pytest.mark.parametrize("args,words", [
    (["--layers", "0"], "argument --layers: expected a positive integer, got '0'"),
    (["--hidden", "2.5"], "argument --hidden: expected a positive integer, got '2.5'"),
    (["--val-fraction", "1"], "argument --val-fraction: expected a finite number in (0, 1), got '1'"),
    (["--lr", "nan"], "argument --lr: expected a finite number > 0, got 'nan'"),
    (["--eval-every", "-1"], "argument --eval-every: expected a non-negative integer, got '-1'"),
])
def test_cli_errors_word_the_same_rules(capsys, args, words):
    assert main(["train", *args]) == 2
    assert words in capsys.readouterr().err


def test_version(capsys):
    import rnn
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"rnn {rnn.__version__}"
