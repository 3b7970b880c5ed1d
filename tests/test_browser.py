"""The wizard in a real browser: Voilà serves notebooks/app.ipynb, headless Chromium clicks through it.

Screenshots land in ``artifacts/screenshots/`` (gitignored): look at them after a change to the UI.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from browser_servers import (
    ROOT,
    chromium,
    free_port,
    jupyterlab_command,
    screenshot,
    serving,
    voila_command,
)

pytestmark = pytest.mark.browser

SEARCH_SECONDS = float(os.environ.get("AUTOASR_BROWSER_SECONDS", 25))


@pytest.fixture(scope="module")
def voila_app(tiny_corpus, tmp_path_factory):
    """URL of the wizard served by Voilà on a free loopback port, on the tiny corpus with a short budget."""
    port = free_port()
    runs = tmp_path_factory.mktemp("wizard_runs")
    data = os.environ.get("AUTOASR_BROWSER_DATA", str(tiny_corpus))  # e.g. "demo" for README screenshots
    with serving(voila_command(ROOT / "notebooks" / "app.ipynb", port), ROOT / "notebooks", port, runs / "voila.log",
                 AUTOASR_APP_DATA=data, AUTOASR_APP_MINUTES=str(SEARCH_SECONDS / 60), AUTOASR_APP_OUTPUT=str(runs)):
        yield f"http://127.0.0.1:{port}/"


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


def _shot(page, name: str) -> Path:
    """Screenshot the whole wizard: Voilà scrolls inside the page, so grow the viewport to fit it first."""
    height = page.evaluate("""() => {
        const tabs = document.querySelector('.jupyter-widget-tab, .widget-tab');
        return tabs ? Math.ceil(tabs.getBoundingClientRect().bottom + 40) : 900; }""")
    width = page.viewport_size["width"]
    page.set_viewport_size({"width": width, "height": max(900, min(height, 6000))})
    page.wait_for_timeout(300)
    path = screenshot(page, name, full_page=True)
    page.set_viewport_size({"width": width, "height": 900})
    return path


def _open_step(page, title: str) -> None:
    page.get_by_role("tab", name=title).click()
    page.wait_for_timeout(500)


def test_wizard_runs_a_search_and_shows_the_leaderboard_and_plots(voila_app, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    messages = []
    page.on("console", lambda message: messages.append(f"{message.type}: {message.text}"))
    page.goto(voila_app, timeout=120_000)

    # step 1: the data given to the app is loaded at once, with its summary and duration histogram
    page.wait_for_selector("text=/Loaded \\d+ utterances/", timeout=120_000)
    page.wait_for_selector(".js-plotly-plot", timeout=60_000)
    assert page.locator("text=character set").count() >= 1
    _shot(page, "1_data")

    _open_step(page, "2 · Budget & domain")
    page.wait_for_selector("text=Hardware:")
    _shot(page, "2_budget_and_domain")

    # step 3: Start; the trials table and the learning curves fill while the search runs
    _open_step(page, "3 · Run")
    page.get_by_role("button", name="Start search").click()
    page.wait_for_selector(".autoasr-table td >> text=running", timeout=90_000)
    page.wait_for_function(
        "() => [...document.querySelectorAll('.js-plotly-plot .scatterlayer .trace')].length > 0", timeout=90_000)
    # a few epochs drawn (or the search already over) make a screenshot worth looking at
    page.wait_for_function(
        """() => document.querySelectorAll('.js-plotly-plot .scatterlayer .point').length >= 3
                 || document.querySelector('table.autoasr-leaderboard') !== null""", timeout=(SEARCH_SECONDS + 60) * 1000)
    if SEARCH_SECONDS >= 120:  # a long run (README screenshots): show the race with a few trials in it
        page.wait_for_function(
            """() => document.querySelectorAll('.js-plotly-plot .scatterlayer .trace').length >= 4
                     || document.querySelector('table.autoasr-leaderboard') !== null""", timeout=SEARCH_SECONDS * 1000)
    _shot(page, "3_run_live")

    # the search ends within its budget; the wizard moves to the results: leaderboard and plots
    leaderboard = page.wait_for_selector("table.autoasr-leaderboard", timeout=(SEARCH_SECONDS + 90) * 1000,
                                         state="visible")
    assert leaderboard.query_selector("tr.autoasr-best") is not None
    page.wait_for_function(
        "() => [...document.querySelectorAll('.js-plotly-plot')].filter(p => p.offsetParent !== null).length >= 3",
        timeout=60_000)
    page.wait_for_timeout(1500)  # let plotly finish drawing before the screenshot
    _shot(page, "4_results")

    _open_step(page, "5 · Errors")
    page.wait_for_selector("table.autoasr-align", timeout=30_000)
    assert page.locator("audio").count() >= 1
    page.wait_for_function("() => document.querySelector('audio').duration > 0", timeout=10_000)  # playable
    _shot(page, "5_errors")

    _open_step(page, "6 · Transcribe")
    page.get_by_role("button", name="Transcribe").click()
    page.wait_for_selector("text=Reference:", timeout=30_000)
    _shot(page, "6_transcribe")

    errors = [m for m in messages if m.startswith("error") and "favicon" not in m]
    assert not [m for m in errors if "Traceback" in m or "Failed to render" in m], errors


@pytest.fixture(scope="module")
def jupyter_lab(tiny_corpus, tmp_path_factory):
    """(URL, folder) of JupyterLab on a free loopback port, serving a copy of the quickstart whose
    parameters point at the tiny corpus with a short budget (papermill --prepare-only)."""
    papermill = pytest.importorskip("papermill")
    folder = tmp_path_factory.mktemp("lab")
    papermill.execute_notebook(str(ROOT / "notebooks" / "01_quickstart.ipynb"), str(folder / "01_quickstart.ipynb"),
                               parameters={"time_limit": 20, "data": str(tiny_corpus)}, prepare_only=True)
    port = free_port()
    command = jupyterlab_command(port, folder, tmp_path_factory.mktemp("lab_settings"))
    with serving(command, folder, port, folder / "lab.log"):
        yield f"http://127.0.0.1:{port}/lab/tree/01_quickstart.ipynb"


def test_quickstart_runs_in_jupyterlab_with_live_widgets_and_plots(jupyter_lab, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    try:
        _run_quickstart_in_lab(page, jupyter_lab)
    except Exception:
        screenshot(page, "failed_quickstart_in_jupyterlab")
        raise


def _run_quickstart_in_lab(page, jupyter_lab: str) -> None:
    page.goto(jupyter_lab, timeout=120_000)
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
    page.wait_for_timeout(2000)
    select_kernel = page.locator(".jp-Dialog button:has-text('Select')")
    if select_kernel.count():  # a notebook written by papermill may ask which kernel to start
        select_kernel.first.click()
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000)  # kernel ready
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_text("Run All Cells", exact=True).click()
    # the live progress widget renders while fit runs, then the leaderboard, test WER and the wizard follow
    page.wait_for_selector(".jp-OutputArea .widget-hprogress", timeout=120_000)
    page.locator(".jp-OutputArea-output", has_text="test WER").first.wait_for(timeout=180_000)
    page.wait_for_selector(".jp-OutputArea table.dataframe", timeout=30_000)
    page.wait_for_selector(".jp-OutputArea .js-plotly-plot", timeout=60_000)  # the live learning curves
    page.wait_for_function("() => document.querySelector('.jp-OutputArea .js-plotly-plot .scatterlayer .trace') !== null",
                           timeout=30_000)
    # live trials table: a finished trial shows "ok", or "learned nothing" when 20 s taught it no word
    finished = page.locator(".jp-OutputArea table.autoasr-table td .autoasr-badge", has_text=re.compile("^(ok|learned nothing)$"))
    assert finished.count() >= 1
    page.locator(".jp-OutputArea-output", has_text="train and compare speech recognisers").first.wait_for(
        timeout=120_000)
    page.locator(".jp-OutputArea .js-plotly-plot").first.scroll_into_view_if_needed()
    page.wait_for_timeout(1000)
    screenshot(page, "7_quickstart_in_jupyterlab")
    assert page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr'] >> text=Traceback").count() == 0
