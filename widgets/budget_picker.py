"""Step 2a: how much time the search may use, on what hardware, and roughly how many trials that buys."""
from __future__ import annotations

import ipywidgets as ui

from autoasr.core.resources import machine
from autoasr.search.budget import estimate_trials
from autoasr.search.presets import PRESETS, get_preset
from widgets.session import Session
from widgets.style import escape, note

def detect_hardware() -> dict:
    """CPU cores this process may use and whether a CUDA GPU is visible (``torch.cuda.is_available``)."""
    import torch

    cores = machine().cores  # affinity and the container's CPU quota, not the host's cores
    gpu = torch.cuda.is_available()
    return {"cores": cores, "gpu": gpu, "gpu_name": torch.cuda.get_device_name(0) if gpu else None}


class BudgetPicker:
    """A minutes slider and a presets menu; shows the hardware found and a trials estimate."""

    def __init__(self, session: Session, minutes: float | None = None, presets: str | None = None):
        self.session = session
        self.hardware = detect_hardware()
        self.minutes = ui.FloatSlider(value=minutes or session.time_limit / 60, min=0.25, max=60, step=0.25,
                                      description="Minutes", readout_format=".2f", continuous_update=False,
                                      layout=ui.Layout(width="480px"))
        self.presets = ui.Dropdown(options=[(f"{name}: {preset.description}", name) for name, preset in PRESETS.items()],
                                   value=presets or session.presets, description="Presets",
                                   layout=ui.Layout(width="620px"))
        self.hardware_info = ui.HTML(self._hardware_html())
        self.estimate = ui.HTML()
        self.minutes.observe(self._update, names="value")
        self.presets.observe(self._update, names="value")
        session.on("data", lambda dataset: self._update())
        explanation = note(
            "<b>Why budgets matter.</b> AutoML spends a fixed amount of time: more minutes mean more models "
            "tried and each trained longer, so usually a lower error rate — with diminishing returns. The "
            "budget covers everything (preparing features, training, the final check), so the run ends on time.")
        self.widget = ui.VBox([ui.HTML("<h3>Time budget</h3>"), ui.HTML(explanation), self.minutes, self.presets,
                               self.hardware_info, self.estimate])
        self._update()

    def _hardware_html(self) -> str:
        hardware = self.hardware
        gpu = (f"GPU: <b>{escape(hardware['gpu_name'])}</b> (training runs there)" if hardware["gpu"]
               else "no GPU found: training runs on the CPU (fine for small corpora)")
        return note(f"Hardware: <b>{hardware['cores']}</b> CPU core{'s' if hardware['cores'] != 1 else ''}; {gpu}.")

    def _update(self, change=None) -> None:
        self.session.time_limit = float(self.minutes.value) * 60
        self.session.presets = self.presets.value
        hours = self.session.dataset.hours if self.session.dataset is not None else 0.0
        fewest, most = estimate_trials(self.session.time_limit, self.presets.value, hours)
        if fewest == 0:
            text = "This budget is very small: raise it so that at least one model can finish."
        elif fewest == most:
            text = f"This budget buys about <b>{fewest}</b> trial{'s' if fewest != 1 else ''}."
        else:
            text = (f"This budget buys roughly <b>{fewest}–{most} trials</b>: each may use up to "
                    f"{max(get_preset(self.presets.value).min_trial_seconds, get_preset(self.presets.value).trial_share * self.session.time_limit):.0f} s, "
                    "and trials that stall or fall behind stop early to make room for new ones.")
        train = self.session.train
        if train is not None and len(train):
            try:
                from autoasr.search.forecast import forecast_budget

                audio_seconds = sum(u.duration or 0.0 for u in train)
                forecast = forecast_budget(audio_seconds, self.session.time_limit, cpu_count=self.hardware["cores"])
                text += f"<br>Forecast for this data: {escape(forecast.describe())}."
            except Exception:  # a forecast is a nicety; the picker works without it
                pass
        self.estimate.value = note(text)
