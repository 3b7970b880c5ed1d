"""A self-contained HTML report of a run: leaderboard, plots, test results and example transcripts."""
from __future__ import annotations

import html
from pathlib import Path

from autoasr.core.storage import write_text
from autoasr.results import plots


def write_report(predictor, path: str | Path, test_result: dict | None = None, title: str = "autoasr report") -> Path:
    """Write ``path`` (HTML, plotly embedded once so it opens offline) and return it."""
    leaderboard = predictor.leaderboard()
    history = predictor.history()
    figures = [plots.search_race(history), plots.learning_curves(history)]
    if (leaderboard["status"] == "ok").any():
        figures += [plots.wer_vs_training_time(leaderboard), plots.wer_vs_size(leaderboard),
                    plots.hyperparameters(leaderboard)]
    parts = [f"<h1>{html.escape(title)}</h1>",
             f"<p>Domain <b>{html.escape(predictor.domain)}</b>, presets <b>{html.escape(str(predictor.presets))}</b>, "
             f"best trial <b>{html.escape(str(predictor.best_trial_id))}</b>, "
             f"fit took {predictor.fit_summary.get('fit_seconds', 0):.0f} s of "
             f"{predictor.fit_summary.get('time_limit', 0):.0f} s.</p>"]
    if test_result:
        parts.append(f"<h2>Test set</h2><p>WER <b>{test_result['wer']:.2%}</b>, CER {test_result['cer']:.2%} on "
                     f"{test_result['num_utterances']} utterances (substitutions {test_result['substitutions']}, "
                     f"deletions {test_result['deletions']}, insertions {test_result['insertions']}).</p>")
    shown = leaderboard.drop(columns=["config", "start_time", "end_time"], errors="ignore")
    parts.append("<h2>Leaderboard</h2>" + shown.to_html(index=False, float_format=lambda v: f"{v:.3f}", na_rep=""))
    for position, figure in enumerate(figures):
        parts.append(figure.to_html(full_html=False, include_plotlyjs=position == 0))
    if test_result and test_result.get("utterances"):
        rows = "".join(f"<tr><td>{html.escape(Path(u['audio']).name)}</td><td>{html.escape(u['reference'])}</td>"
                       f"<td>{html.escape(u['hypothesis'])}</td></tr>" for u in test_result["utterances"][:30])
        parts.append("<h2>Example transcripts</h2><table><tr><th>audio</th><th>reference</th><th>hypothesis</th></tr>"
                     f"{rows}</table>")
    document = ("<!doctype html><html><head><meta charset='utf-8'><title>" + html.escape(title) + "</title>"
                "<style>body{font-family:sans-serif;max-width:1100px;margin:auto} table{border-collapse:collapse}"
                "td,th{border:1px solid #ccc;padding:2px 6px}</style></head><body>" + "\n".join(parts) + "</body></html>")
    path = Path(path)
    write_text(path, document)
    return path
