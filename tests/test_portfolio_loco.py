"""The leave-one-corpus-out portfolio: chosen greedily on the other corpora, judged on the one left out."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def loco():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import portfolio_loco

    return portfolio_loco


def cell(corpus, name, tuning, test):
    return {"corpus": corpus, "candidate": name, "tuning_wer": tuning, "test_wer": test}


def matrix_of(rows):
    matrix = {}
    for corpus, name, tuning, test in rows:
        matrix.setdefault(corpus, {})[name] = cell(corpus, name, tuning, test)
    return matrix


def test_greedy_portfolio_starts_with_the_all_rounder_then_covers_its_weakest_corpus(loco):
    # p0 is best on a, p1 on b, p2 is fair on both; relative to the best on each corpus p2 is 4x off on a
    # and 2.5x off on b: after p2, the entry that helps most is a's specialist p0
    matrix = matrix_of([("a", "p0", 0.05, 0.06), ("a", "p1", 0.50, 0.5), ("a", "p2", 0.20, 0.2),
                        ("b", "p0", 0.60, 0.60), ("b", "p1", 0.10, 0.1), ("b", "p2", 0.25, 0.3)])
    assert loco.greedy_portfolio(matrix, ["a", "b"], 1) == ["p2"]
    assert loco.greedy_portfolio(matrix, ["a", "b"], 2) == ["p2", "p0"]
    assert loco.greedy_portfolio(matrix, ["b"], 1) == ["p1"]  # chosen on b alone, b's best


def test_the_left_out_corpus_is_judged_by_what_its_tuning_set_would_pick(loco):
    matrix = matrix_of([("a", "p0", 0.1, 0.1), ("a", "p1", 0.3, 0.3),
                        ("b", "p0", 0.1, 0.2), ("b", "p1", 0.3, 0.3),
                        ("c", "p0", 0.2, 0.9), ("c", "p1", 0.3, 0.1)])  # on c, tuning misleads
    assert loco.pick(matrix, "c", ["p0", "p1"])["candidate"] == "p0"
    table = loco.loco_table(matrix, 1)
    row_c = next(line for line in table.splitlines() if line.startswith("| c |"))
    assert "| p0 |" in row_c and "90.0% (p0)" in row_c and "10.0% (p1)" in row_c  # the hindsight best is p1
