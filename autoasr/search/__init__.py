"""Layer 7, the search: presets and portfolio, candidates, the budget plan, the stopping rule, the local and
Ray runners, the forecast, the decoder choice, and one ``SearchRun`` that ties them together."""
