"""ipywidgets panels for autoasr: a wizard from data to a trained, compared and explained model.

Each panel lives in its own module and only *listens* to the engine (fit callbacks) and *calls* it;
``autoasr`` never imports anything from here.

>>> from widgets import build_app          # doctest: +SKIP
>>> build_app(data="demo", minutes=3)      # in a notebook cell: the whole wizard  # doctest: +SKIP
"""
from widgets.app import WizardApp, build_app
from widgets.live_progress import LiveProgress
from widgets.session import Session

__all__ = ["LiveProgress", "Session", "WizardApp", "build_app"]
