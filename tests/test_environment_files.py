"""Binder's environment cannot drift from the code again (issue 16): every third-party module that autoasr/,
widgets/ and the notebooks import is installed by binder/requirements.txt or binder/postBuild, and the
requirements file is exactly pyproject's runtime dependencies plus its notebook extra, with the same pins."""
import ast
import json
import re
import sys
from functools import lru_cache
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"
OURS = {"autoasr", "widgets"}
# imported only inside the function that needs them, from an extra that Binder leaves out on purpose
NOT_ON_BINDER = {"ray": ("ray", "Ray's backend needs more cores than Binder's one or two")}

try:
    import tomllib
except ImportError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")


def _imports(source: str) -> set[str]:
    """Dotted names of the absolute imports in ``source``."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def _notebook_source(path: Path) -> str:
    cells = [cell for cell in json.loads(path.read_text())["cells"] if cell["cell_type"] == "code"]
    lines = [line for cell in cells for line in "".join(cell["source"]).splitlines()]
    return "\n".join(line for line in lines if not line.lstrip().startswith(("%", "!")))  # IPython magics


def imported_modules() -> dict[str, set[str]]:
    """Third-party dotted module names, each with the files that import it."""
    sources = {path: path.read_text() for folder in OURS for path in (ROOT / folder).rglob("*.py")}
    sources.update({path: _notebook_source(path) for path in (ROOT / "notebooks").glob("*.ipynb")})
    modules: dict[str, set[str]] = {}
    for path, source in sources.items():
        for name in _imports(source):
            top = name.split(".")[0]
            if top not in OURS and top not in sys.stdlib_module_names:
                modules.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return modules


def requirements_file() -> list[Requirement]:
    lines = [line.split("#")[0].strip() for line in (BINDER / "requirements.txt").read_text().splitlines()]
    return [Requirement(line) for line in lines if line and not line.startswith("-")]


def postbuild_installs() -> set[str]:
    """What postBuild installs with pip besides requirements.txt: this package's extras, named packages."""
    names = set()
    for command in re.findall(r"pip install ([^\n]+)", (BINDER / "postBuild").read_text()):
        words = re.sub(r"(--(?:extra-)?index-url|-[irc])\s+\S+", "", command).split()  # options with a value
        for word in (word.strip("\"'") for word in words if not word.startswith("-")):
            extras = re.fullmatch(r"\.(?:\[([\w,-]+)\])?", word)
            if extras:
                names.add("autoasr")
                names.update(f"autoasr[{extra}]" for extra in (extras.group(1) or "").split(",") if extra)
            else:
                names.add(canonicalize_name(Requirement(word).name))
    return names


def brought_by(requirement: Requirement) -> set[str]:
    """``requirement``'s distribution and, for its extras, the distributions those extras add."""
    names = {canonicalize_name(requirement.name)}
    for text in metadata.requires(requirement.name) or []:
        needed = Requirement(text)
        if needed.marker and any(needed.marker.evaluate({"extra": extra}) for extra in requirement.extras):
            names.add(canonicalize_name(needed.name))
    return names


@lru_cache(maxsize=None)
def _packages_distributions() -> dict[str, list[str]]:
    return metadata.packages_distributions()  # scans every installed distribution: once


def distributions_of(module: str) -> set[str]:
    """The installed distributions that provide ``module``; for a namespace package (``autogluon``), the
    ones that hold its sub-package (``autogluon.core``)."""
    top = module.split(".")[0]
    candidates = _packages_distributions().get(top, [])
    if len(candidates) > 1 and "." in module:
        folder = "/".join(module.split(".")[:2])
        candidates = [name for name in candidates
                      if any(str(file).startswith(folder + "/") or str(file) == folder + ".py"
                             for file in metadata.files(name) or [])] or candidates
    return {canonicalize_name(name) for name in candidates}


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_binder_requirements_are_pyprojects_runtime_and_notebook_dependencies():
    project = pyproject()["project"]
    declared = project["dependencies"] + project["optional-dependencies"]["notebook"]

    def key(requirement: Requirement):
        return canonicalize_name(requirement.name), str(requirement.specifier), tuple(sorted(requirement.extras))

    expected = sorted(key(Requirement(text)) for text in declared)
    assert sorted(key(requirement) for requirement in requirements_file()) == expected


def test_everything_the_code_and_notebooks_import_is_installed_on_binder():
    postbuild = postbuild_installs()
    assert "autoasr[notebook]" in postbuild, "postBuild installs autoasr with its notebook extra"
    provided = {canonicalize_name(requirement.name) for requirement in requirements_file()}
    missing = []
    for module, files in sorted(imported_modules().items()):
        top = module.split(".")[0]
        if top in NOT_ON_BINDER:
            continue
        dists = distributions_of(module)
        assert dists, f"{module} (imported by {sorted(files)}) is not installed here: declare it in pyproject.toml"
        if not dists & provided:
            missing.append(f"{module} -> {sorted(dists)} (imported by {sorted(files)[:3]})")
    assert not missing, "add to pyproject.toml and binder/requirements.txt:\n" + "\n".join(missing)


def test_what_binder_leaves_out_is_an_extra_imported_only_where_it_is_used():
    extras = pyproject()["project"]["optional-dependencies"]
    modules = imported_modules()
    for top, (extra, _why) in NOT_ON_BINDER.items():
        brought = set().union(*(brought_by(Requirement(text)) for text in extras[extra]))
        assert distributions_of(top) <= brought, f"{top} is not what the {extra} extra installs"
        for path in {file for module, files in modules.items() if module.split(".")[0] == top for file in files}:
            tree = ast.parse((ROOT / path).read_text())
            module_level = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
            assert top not in {name.split(".")[0] for node in module_level for name in _imports(ast.unparse(node))}, \
                f"{path} imports {top} at module level: importing autoasr would fail on Binder"


def test_the_checker_sees_an_import_that_binder_does_not_install():
    assert distributions_of("autogluon.core") == {"autogluon-core"}
    assert "yaml" in {name.split(".")[0] for name in _imports("import yaml.loader\nfrom os import path")}
    assert not {"pyyaml"} & {canonicalize_name(r.name) for r in requirements_file()}  # so it would be reported


def test_binder_names_a_python_and_postbuild_is_executable():
    assert re.fullmatch(r"python-3\.\d+", (BINDER / "runtime.txt").read_text().strip())
    minor = int((BINDER / "runtime.txt").read_text().strip().split(".")[1])
    required = pyproject()["project"]["requires-python"]
    assert f"3.{minor}" in __import__("packaging.specifiers").specifiers.SpecifierSet(required)
    assert (BINDER / "postBuild").stat().st_mode & 0o111, "postBuild must be executable"


LEARNER_TARGETS = ["demo", "lab", "app"]
GNU_ONLY = re.compile(r"^\s*(ifeq|ifneq|ifdef|ifndef|define|override|vpath)\b|\$\((shell|wildcard|"
                      r"patsubst|subst|filter|foreach|call|eval|if|or|and|abspath|realpath|notdir|dir) ", re.M)


def test_the_learner_targets_use_posix_make_and_python_dash_m():
    """macOS's and BSD's make read them as GNU make does; ``python -m`` finds each tool on any OS."""
    makefile = (ROOT / "Makefile").read_text()
    assert not GNU_ONLY.search(makefile), GNU_ONLY.search(makefile).group(0)
    for target in LEARNER_TARGETS:
        recipe = re.search(rf"^{target}:.*\n((?:\t.*\n)+)", makefile, re.M).group(1)
        commands = [line.strip() for line in recipe.splitlines() if not line.strip().startswith("#")]
        assert commands and all(re.match(r"\$\(BIN\)/python -m ", command) for command in commands), commands


@pytest.mark.parametrize("make", ["bmake", "make"])
def test_make_dry_runs_the_learner_targets(make, tmp_path):
    import shutil
    import subprocess

    if not shutil.which(make):
        pytest.skip(f"{make} is not installed here")
    # a copy without a .venv, so every make plans the whole set-up from nothing
    (tmp_path / "Makefile").write_text((ROOT / "Makefile").read_text())
    for name in ("pyproject.toml", "autoasr/__init__.py", "widgets/__init__.py"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("")
    completed = subprocess.run([make, "-n", *LEARNER_TARGETS], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    assert any("-m venv .venv" in line for line in lines) and any("pip install" in line for line in lines)
    for tool in ("autoasr.cli demo", "jupyterlab", "voila notebooks/app.ipynb"):
        assert any(f".venv/bin/python -m {tool}" in line for line in lines), (tool, lines)
