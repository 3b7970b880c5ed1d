"""The glossary (docs/glossary.md) inside the wizard: one collapsed section, so a learner looks a word up
without leaving the page (a Voilà page serves no docs folder to link to)."""
from __future__ import annotations

from pathlib import Path

import ipywidgets as ui
import mistune

from widgets.style import note

GLOSSARY_PATH = Path(__file__).resolve().parents[1] / "docs" / "glossary.md"
TITLE = "Words used here (glossary: WER, CER, epoch, tuning set, pruned, …)"


def glossary_terms(path: Path = GLOSSARY_PATH) -> dict[str, str]:
    """Each ``## term`` heading of the glossary with its Markdown text."""
    terms, current = {}, None
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            current = line[3:].strip()
            terms[current] = ""
        elif current is not None:
            terms[current] += line + "\n"
    return {term: text.strip() for term, text in terms.items()}


def glossary_html(path: Path = GLOSSARY_PATH) -> str:
    """The glossary as a definition list (Markdown rendered by mistune, which nbconvert already brings)."""
    if not path.is_file():  # an installed copy without the repository's docs folder
        return note("The glossary is docs/glossary.md in the autoasr repository.")
    render = mistune.create_markdown(escape=True)
    items = "".join(f"<dt><b>{term}</b></dt><dd style='margin:0 0 8px 16px'>{render(text)}</dd>"
                    for term, text in glossary_terms(path).items())
    return f"<dl class='autoasr-note'>{items}</dl>"


def glossary_widget() -> ui.Accordion:
    """A collapsed accordion holding the glossary."""
    accordion = ui.Accordion(children=[ui.HTML(glossary_html())], titles=(TITLE,))
    accordion.selected_index = None
    return accordion
