"""Real speech end to end: a 60 s search on the official FSDD training takes, scored on its test takes."""
import time

import pytest

from autoasr import ASRPredictor, load_dataset


@pytest.mark.slow
def test_sixty_second_search_on_fsdd_learns_real_spoken_digits(fsdd_dir, tmp_path):
    train, test = load_dataset(fsdd_dir, split=("train", "test"), domain="digits")
    predictor = ASRPredictor(path=tmp_path / "fsdd", domain="digits", verbosity=0)
    started = time.time()
    predictor.fit(train, time_limit=60)
    assert time.time() - started <= 60 * 1.1 + 10
    result = predictor.evaluate(test)
    assert result["num_utterances"] == 250
    # chance is 90% for ten words; a working recogniser is far below it even on a loaded machine
    assert result["wer"] < 0.35, result
    assert len(predictor.leaderboard()) >= 2
