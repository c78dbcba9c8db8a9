"""Tests of the long-range memory tasks in rnn.tasks: the answers are right
(decoded from the inputs independently), the batches are seeded and of any
length, bad arguments are named, and a small model learns a short distance."""

import math

import numpy as np
import pytest

import rnn
from rnn.tasks import (TASKS, adding_problem, evaluate_task, first_symbol, recall_accuracy, recall_text,
                       train_on_task)


@pytest.mark.parametrize("distance,length", [(1, None), (7, None), (3, 50), (40, 41)])
def test_adding_problem_answers_are_the_sums_of_the_two_marked_digits(distance, length):
    m = 4
    b = adding_problem(200, distance, length=length, digits=m, seed=0)
    T = distance + 1 if length is None else length
    assert b.inputs.shape == b.targets.shape == b.loss_mask.shape == (T, 200)
    assert b.K == 2 * m and b.inputs.min() >= 0 and b.inputs.max() < 2 * m
    for n in range(200):
        col = b.inputs[:, n].tolist()
        marked = [t for t, v in enumerate(col) if v >= m]
        assert len(marked) == 2 and marked[0] == T - 1 - distance  # first: `distance` before the end
        assert b.answers[n] == sum(col[t] - m for t in marked)
    np.testing.assert_array_equal(b.targets[-1], b.answers)
    assert b.loss_mask[-1].all() and not b.loss_mask[:-1].any() and not b.targets[:-1].any()


def test_adding_problem_baseline_is_the_triangular_distribution():
    b = adding_problem(10, 3, digits=2, seed=0)  # sums 0, 1, 2 with probabilities 1/4, 1/2, 1/4
    assert b.baseline_loss == pytest.approx(-(0.5 * math.log(0.25) + 0.5 * math.log(0.5)))
    assert b.chance == 0.5
    big = adding_problem(20000, 5, digits=4, seed=1)  # and the answers follow it
    counts = np.bincount(big.answers, minlength=7) / 20000
    np.testing.assert_allclose(counts, [1, 2, 3, 4, 3, 2, 1] / np.array(16.0), atol=0.012)
    second = np.argmax(big.inputs[1:] >= 4, axis=0) + 1  # the later marker: uniform over 1..5
    np.testing.assert_allclose(np.bincount(second, minlength=6)[1:] / 20000, 0.2, atol=0.015)


@pytest.mark.parametrize("noise", [1, 4])
def test_first_symbol_answer_is_the_symbol_read_distance_steps_before(noise):
    b = first_symbol(300, 6, length=10, symbols=3, noise=noise, seed=2)
    assert b.K == 3 + noise and b.inputs.shape == (10, 300)
    np.testing.assert_array_equal(b.answers, b.inputs[10 - 1 - 6])
    others = np.delete(b.inputs, 3, axis=0)
    assert others.min() >= 3 and others.max() < 3 + noise  # noise everywhere else
    assert b.baseline_loss == pytest.approx(math.log(3)) and b.chance == pytest.approx(1 / 3)


@pytest.mark.parametrize("make", [adding_problem, first_symbol])
def test_batches_are_seeded(make):
    a, b, c = make(8, 5, seed=3), make(8, 5, seed=3), make(8, 5, seed=4)
    assert all(np.array_equal(x, y) for x, y in zip(a[:4], b[:4]))
    assert not np.array_equal(a.inputs, c.inputs)
    rng = np.random.default_rng(5)  # a generator goes on where it stopped
    assert not np.array_equal(make(8, 5, seed=rng).inputs, make(8, 5, seed=rng).inputs)


def test_recall_text_blocks():
    text = recall_text(50, 5, symbols=3, seed=0)
    assert len(text) == 50 * 7 and text == recall_text(50, 5, symbols=3, seed=0)
    for i in range(0, len(text), 7):
        block = text[i:i + 7]
        assert block[0] in "abc" and set(block[1:5]) <= set("0123") and block[5] == "?"
        assert block[6] == block[0].upper()  # the answer: the letter read 5 steps before the "?"
    answers = [i for i, ch in enumerate(text) if i and text[i - 1] == "?"]
    assert all(text[i] == text[i - 6].upper() for i in answers) and len(answers) == 50


def test_evaluate_task_is_the_masked_loss_and_argmax_accuracy():
    b = first_symbol(64, 4, seed=6)
    params = rnn.init_params(b.K, 8, init="scaled", seed=6)
    loss, acc = evaluate_task(params, b)
    expected, _, _ = rnn.loss_and_grads(params, b.inputs, b.targets, loss_mask=b.loss_mask,
                                        reduction="mean")
    assert loss == pytest.approx(expected, rel=1e-12)
    o, _ = rnn.forward(params, b.inputs)
    assert acc == np.mean(np.argmax(o[-1], axis=1) == b.answers)


def test_a_small_lstm_learns_to_remember_over_three_steps():
    result = train_on_task("first_symbol", 3, cell="lstm", hidden=16, steps=150, seed=0)
    assert result["accuracy"] > 0.95 and result["chance"] == 0.25
    assert result["loss"] < 0.2 * result["baseline_loss"]
    assert result["losses"].shape == (150,)


@pytest.mark.parametrize("call,message", [
    (lambda: adding_problem(4, 0), "adding_problem: distance must be a positive integer, got 0"),
    (lambda: first_symbol(4, -2), "first_symbol: distance must be a positive integer, got -2"),
    (lambda: adding_problem(4, 5, length=5), "length must be at least distance \\+ 1 = 6"),
    (lambda: adding_problem(4, 5, digits=1), "digits must be an integer >= 2, got 1"),
    (lambda: first_symbol(0, 5), "batch must be a positive integer, got 0"),
    (lambda: recall_text(3, 2, symbols=27), "symbols must be an integer in \\[1, 26\\], got 27"),
    (lambda: train_on_task("copy", 3), r"task must be one of \['adding', 'first_symbol'\]"),
])
def test_bad_arguments_are_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_tasks_registry():
    assert TASKS == {"adding": adding_problem, "first_symbol": first_symbol}


def test_recall_accuracy_scores_the_characters_after_each_cue():
    text = recall_text(30, 3, symbols=2, seed=1)
    vocab = rnn.Vocab.from_text(text)
    params = rnn.init_params(vocab.size, 4, init="scaled", seed=0)
    # a model whose logits favour one fixed character gets exactly the answers that are it
    params["V"][:] = 0.0
    params["c"][:] = 0.0
    params["c"][vocab.encode("A")[0]] = 5.0
    answers = [text[i + 1] for i, ch in enumerate(text[:-1]) if ch == "?"]
    assert recall_accuracy(params, vocab, text) == pytest.approx(answers.count("A") / len(answers))
    with pytest.raises(ValueError, match="holds no '\\?' cue"):
        recall_accuracy(params, rnn.Vocab.from_text(text + "x"), "aA0x")
