"""The deliverables of a run for people who cannot reach its folder (a Binder or Voilà page): the best model
as one zip that ``ASRPredictor.load`` reopens after unzipping, and the HTML report."""
from __future__ import annotations

import zipfile
from pathlib import Path

from autoasr.inference.encoder_copy import ENCODERS_FOLDER
from autoasr.results.report import write_report

REPORT_NAME = "report.html"
# The run's own description and cards; the trial folders are left out except the best one, so the zip holds
# one model, not every model the search tried (and not the report: a separate download, several MB of plotly).
RUN_FILES = ("predictor.json", "leaderboard.csv", "MODEL_CARD.md", "model_card.json", "run_card.json")


def write_run_report(predictor, test_result: dict | None = None) -> Path:
    """Write ``report.html`` into the run's folder, always afresh: a resumed run or a newly chosen best model
    would otherwise be described by an old report."""
    path = Path(predictor.path) / REPORT_NAME
    return write_report(predictor, path, test_result, title=f"autoasr run {Path(predictor.path).name}")


def zip_best_model(predictor, path: str | Path | None = None) -> Path:
    """Write the run with only its best trial as a zip (default ``<run>/<run name>-best-model.zip``).

    Unzipped, it is a run folder: ``ASRPredictor.load(folder).transcribe([...])`` works there.
    """
    if predictor.best_trial_id is None:
        raise ValueError("the run has no finished model to package")
    run = Path(predictor.path)
    predictor.save()  # the leaderboard, best/ and the cards on disk are the current ones
    path = Path(path) if path is not None else run / f"{run.name}-best-model.zip"
    root = Path(run.name)
    members = [run / name for name in RUN_FILES if (run / name).is_file()]
    for folder in (run / "best", run / "trials" / str(predictor.best_trial_id), run / ENCODERS_FOLDER):
        members += sorted(p for p in folder.rglob("*") if p.is_file())
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for member in members:
            archive.write(member, root / member.relative_to(run))
    return path
