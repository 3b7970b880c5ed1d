"""``autoasr demo``: the whole flow on the embedded demo corpus, headless, ending in an HTML report."""
from __future__ import annotations

from pathlib import Path

from autoasr.data.load import load_dataset
from autoasr.results.report import write_report


def run_demo(output: str | Path = "autoasr_runs/demo", time_limit: float = 180, presets: str = "default",
             pretrained="auto") -> Path:
    """Synthesize the demo corpus (once), search within ``time_limit`` (from the pretrained listener where one is
    at hand, see :meth:`ASRPredictor.fit`), evaluate, write the report."""
    from autoasr.predictor import ASRPredictor

    train, test = load_dataset("demo", split=("train", "test"), domain="general")
    predictor = ASRPredictor(path=output, domain="commands")
    predictor.fit(train, time_limit=time_limit, presets=presets, pretrained=pretrained)
    result = predictor.evaluate(test, return_details=True)
    leaderboard = predictor.leaderboard()
    print(leaderboard[["trial_id", "model", "size", "val_wer", "status", "epochs", "stop_reason"]]
          .to_string(index=False, float_format=lambda value: f"{value:.3f}"))
    print(f"\ntest WER {result['wer']:.2%} (CER {result['cer']:.2%}) on {result['num_utterances']} utterances "
          "from voices never heard in training")
    return write_report(predictor, Path(output) / "report.html", result, title="autoasr demo")
