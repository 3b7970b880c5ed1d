from __future__ import annotations

# share of the budget kept back for saving and the final evaluation of the winner
FINAL_RESERVE_SHARE, FINAL_RESERVE_SECONDS = 0.03, 2.0
MIN_EPOCHS_PER_TRIAL = 6
MAX_TRIAL_SHARE_OF_EXPLORATION = 0.4  # that floor never lets one trial crowd out the search
# no trial is pruned before it has trained this share of a trial's time: a quarter of it shows which
# models learn per second without letting a slow starter use up its whole turn
PRUNING_GRACE_SHARE = 0.25
