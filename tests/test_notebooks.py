"""Every guided notebook runs headless top to bottom (papermill), on the tiny corpus with short budgets."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
GUIDES = sorted(path.name for path in NOTEBOOKS.glob("0*.ipynb"))
SECONDS = 20
# notebook 06 needs spoken clips as its microphone: tests/test_recorder.py runs it with eSpeak NG words
RUN_ELSEWHERE = {"06_your_own_voice.ipynb"}


def _parameters(name: str, corpus: Path) -> dict:
    if name.startswith("02"):
        return {"time_limit": SECONDS, "source": str(corpus)}
    if name.startswith("04"):
        return {"time_limit": SECONDS, "data": str(corpus), "sweep": [0.5, 1.0]}
    return {"time_limit": SECONDS, "data": str(corpus)}


def _outputs(notebook: dict) -> list[dict]:
    return [output for cell in notebook["cells"] if cell["cell_type"] == "code" for output in cell.get("outputs", [])]


def test_the_six_guides_and_the_app_exist():
    assert [name[:2] for name in GUIDES] == ["01", "02", "03", "04", "05", "06"]
    assert (NOTEBOOKS / "app.ipynb").is_file()


@pytest.mark.parametrize("name", GUIDES + ["app.ipynb"])
def test_notebook_is_committed_clean_with_a_parameters_cell(name):
    notebook = json.loads((NOTEBOOKS / name).read_text())
    code_cells = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert all(not cell["outputs"] and cell["execution_count"] is None for cell in code_cells), "strip the outputs"
    if name != "app.ipynb":
        parameters = [cell for cell in code_cells if "parameters" in cell["metadata"].get("tags", [])]
        assert len(parameters) == 1 and "time_limit =" in "".join(parameters[0]["source"])
        assert sum(cell["cell_type"] == "markdown" for cell in notebook["cells"]) >= 3  # it teaches
        first_text = "".join(notebook["cells"][0]["source"])
        assert "](../docs/glossary.md)" in first_text and (NOTEBOOKS.parent / "docs" / "glossary.md").is_file()


def _build_notebooks_module():
    spec = importlib.util.spec_from_file_location("build_notebooks", NOTEBOOKS / "build_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_committed_notebook_is_what_build_notebooks_writes():
    """A change to build_notebooks.py without regenerating (or a hand edit of an .ipynb) fails here."""
    builder = _build_notebooks_module()
    assert sorted(builder.NOTEBOOKS) == sorted(path.name for path in NOTEBOOKS.glob("*.ipynb"))
    stale = []
    for name, cells in builder.NOTEBOOKS.items():
        expected = [(cell.cell_type, cell.source) for cell in cells()]
        committed = [(cell["cell_type"], "".join(cell["source"])) for cell in json.loads((NOTEBOOKS / name).read_text())["cells"]]
        if committed != expected:
            stale.append(name)
    assert not stale, f"regenerate with `python notebooks/build_notebooks.py`: {stale} differ from build_notebooks.py"


@pytest.mark.slow
@pytest.mark.parametrize("name", [name for name in GUIDES if name not in RUN_ELSEWHERE])
def test_notebook_runs_headless_top_to_bottom(name, tiny_corpus, tmp_path):
    papermill = pytest.importorskip("papermill")
    output = tmp_path / name
    papermill.execute_notebook(str(NOTEBOOKS / name), str(output), parameters=_parameters(name, tiny_corpus),
                               cwd=str(tmp_path), kernel_name="python3", progress_bar=False)
    notebook = json.loads(output.read_text())
    outputs = _outputs(notebook)
    assert not [o for o in outputs if o["output_type"] == "error"]
    code_cells = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert all(cell["execution_count"] is not None for cell in code_cells)
    kinds = {kind for o in outputs for kind in o.get("data", {})}
    if name[:2] in ("01", "02", "03", "04", "05"):
        assert "application/vnd.jupyter.widget-view+json" in kinds  # the live progress widget: no silent minute
    if name[:2] in ("03", "04"):
        assert "application/vnd.plotly.v1+json" in kinds  # plots render inline and in exported HTML
    if name.startswith("01"):  # tests/conftest.py keeps the hub offline: the learner reads why, whatever the verbosity
        said = "".join("".join(o.get("text", "")) for o in outputs if o["output_type"] == "stream")
        assert "autoasr: Training from scratch: no pretrained listener" in said
    if name.startswith("05"):
        text = "".join("".join(o["text"]) for o in outputs if o["output_type"] == "stream")
        assert "best trial:" in text and ("exported" in text or "not available" in text)
        assert "ready to download: report.html, use_and_export-best-model.zip" in text


@pytest.mark.slow
def test_app_notebook_builds_the_wizard(tmp_path):
    papermill = pytest.importorskip("papermill")
    output = tmp_path / "app.ipynb"
    papermill.execute_notebook(str(NOTEBOOKS / "app.ipynb"), str(output), cwd=str(tmp_path), kernel_name="python3",
                               progress_bar=False)
    outputs = _outputs(json.loads(output.read_text()))
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)
