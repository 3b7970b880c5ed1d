"""Shared look: one CSS block for the wizard's HTML tables and messages, and small HTML helpers."""
from __future__ import annotations

import html

CSS = """
<style>
.autoasr-table {border-collapse: collapse; font-size: 13px; margin: 4px 0;}
.autoasr-table th {background: #f0f2f5; text-align: left; padding: 3px 8px; border-bottom: 2px solid #c9ced6;
                   white-space: nowrap;}
.autoasr-table td:first-child {white-space: nowrap;}
.autoasr-table td {padding: 3px 8px; border-bottom: 1px solid #e3e6ea; font-variant-numeric: tabular-nums;}
.autoasr-table tr.autoasr-best td {background: #dff5e1; font-weight: 600;}
.autoasr-badge {display: inline-block; padding: 0 6px; border-radius: 8px; font-size: 12px; color: white;}
.autoasr-note {color: #555; font-size: 13px; line-height: 1.45; max-width: 900px;}
.autoasr-ok {color: #1b7f3b;} .autoasr-error {color: #b00020; font-weight: 600;}
.autoasr-align {border-collapse: collapse; font-family: monospace; font-size: 14px; margin: 6px 0;}
.autoasr-align td {padding: 2px 6px; text-align: center; border: 1px solid #eee;}
.autoasr-align td.label {text-align: right; color: #666; font-family: sans-serif; font-size: 12px; border: none;}
.autoasr-align .equal {background: #ffffff;}
.autoasr-align .substitute {background: #ffe0b2;}
.autoasr-align .delete {background: #ffcdd2; text-decoration: line-through;}
.autoasr-align .insert {background: #c8e6c9;}
.autoasr-chip {display: inline-block; border: 1px solid #ccc; border-radius: 4px; padding: 0 5px; margin: 1px;
               font-family: monospace;}
</style>
"""

STATUS_COLOURS = {"running": "#1565c0", "ok": "#2e7d32", "failed": "#b00020", "pruned": "#8d6e63",
                  "stopped": "#6a1b9a", "learned nothing": "#e65100", "pretrained": "#2e7d32",
                  "from scratch": "#e65100"}


def escape(value) -> str:
    return html.escape("" if value is None else str(value))


def badge(status: str, reason: str = "") -> str:
    """A coloured status label; ``reason`` becomes its tooltip."""
    colour = STATUS_COLOURS.get(status, "#555")
    title = f" title='{escape(reason)}'" if reason else ""
    return f"<span class='autoasr-badge' style='background:{colour}'{title}>{escape(status)}</span>"


def note(text: str) -> str:
    """A paragraph of explanation (``text`` is trusted HTML written in this package)."""
    return f"<div class='autoasr-note'>{text}</div>"


def message(text: str, kind: str = "ok") -> str:
    return f"<span class='autoasr-{kind}'>{escape(text)}</span>"


def percent(value) -> str:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return ""
    return "" if value != value else f"{value:.1%}"


def table(header: list[str], rows: list[list[str]], css_class: str = "autoasr-table",
          row_classes: list[str] | None = None) -> str:
    """An HTML table; cells are trusted HTML (escape user text with :func:`escape` first)."""
    head = "".join(f"<th>{cell}</th>" for cell in header)
    body = []
    for position, row in enumerate(rows):
        row_class = f" class='{row_classes[position]}'" if row_classes and row_classes[position] else ""
        body.append(f"<tr{row_class}>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>")
    return f"<table class='{css_class}'><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
