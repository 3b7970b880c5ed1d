"""Layer 6, what a run produced: the trial book and leaderboard, the run folder, model costs, evaluation,
cards, the HTML report, plots and off-the-shelf baselines."""
