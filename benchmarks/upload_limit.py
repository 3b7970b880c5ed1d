"""Measure the largest file an ipywidgets ``FileUpload`` hands to the kernel, in JupyterLab and in Voilà.

The browser sends the whole file in one comm message over the kernel's websocket; the server (tornado)
closes a websocket whose incoming message exceeds ``websocket_max_message_size`` (10 MiB by default), and
the kernel never hears of the file. This drives headless Chromium (Playwright, Debian's /usr/bin/chromium)
through uploads of growing size and records which sizes arrive::

    python benchmarks/upload_limit.py            # prints one line per server and size

The result is written down in docs/uploads.md.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

MIB = 2**20
SIZES = [9 * MIB, 10 * MIB - 4096, 10 * MIB - 1024, 10 * MIB - 512, 10 * MIB - 256, 10 * MIB, 10 * MIB + 1024,
         11 * MIB]
CHROMIUM = os.environ.get("AUTOASR_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _notebook(folder: Path, log: Path) -> Path:
    source = f"""
import ipywidgets
upload = ipywidgets.FileUpload(description="measure")
def arrived(change):
    if change["new"]:
        with open({str(log)!r}, "a") as handle:
            handle.write(f"{{len(change['new'][0]['content'])}}\\n")
upload.observe(arrived, names="value")
display(upload)
"""
    path = folder / "upload.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell(source.strip())],
                                metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                         "language": "python"}}), path)
    return path


def _serve(kind: str, folder: Path, notebook: Path, port: int) -> tuple[subprocess.Popen, str]:
    if kind == "jupyterlab":
        command = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
                   "--allow-root", "--IdentityProvider.token=", "--ServerApp.password=",
                   f"--ServerApp.root_dir={folder}", f"--LabApp.workspaces_dir={folder / 'workspaces'}",
                   f"--LabApp.user_settings_dir={folder / 'settings'}", "--LabApp.news_url="]
        url = f"http://127.0.0.1:{port}/lab/tree/{notebook.name}"
    else:
        voila = shutil.which("voila", path=str(Path(sys.executable).parent))
        command = [voila, str(notebook), "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1"]
        url = f"http://127.0.0.1:{port}/"
    process = subprocess.Popen(command, cwd=folder, stdout=open(folder / f"{kind}.log", "w"), stderr=subprocess.STDOUT)
    for _ in range(240):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process, url
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"{kind} did not start")


def _open(page, kind: str, url: str) -> None:
    page.goto(url, timeout=180_000)
    if kind == "jupyterlab":
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=180_000)
        page.wait_for_timeout(3000)
        select_kernel = page.locator(".jp-Dialog button:has-text('Select')")
        if select_kernel.count():  # JupyterLab may ask which kernel to start
            select_kernel.first.click()
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=180_000)
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_text("Run All Cells", exact=True).click()
    page.locator("button.jupyter-widgets", has_text="measure").wait_for(timeout=180_000)


def measure(kind: str) -> list[tuple[int, bool]]:
    from playwright.sync_api import sync_playwright

    folder = Path(tempfile.mkdtemp(prefix=f"upload-{kind}-"))
    log = folder / "arrived.txt"
    notebook = _notebook(folder, log)
    process, url = _serve(kind, folder, notebook, _port())
    results = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page()
            try:
                _open(page, kind, url)
            except Exception:
                page.screenshot(path=str(folder / "failed.png"))
                raise
            for size in SIZES:
                before = log.read_text().split() if log.exists() else []
                # FileUpload's <input type=file> is not in the page: it opens a file chooser on click
                with page.expect_file_chooser() as chooser:
                    page.locator("button.jupyter-widgets", has_text="measure").click()
                chooser.value.set_files(
                    {"name": f"{size}.bin", "mimeType": "application/octet-stream", "buffer": b"\0" * size})
                deadline = time.time() + 30
                arrived = False
                while time.time() < deadline and not arrived:
                    time.sleep(0.5)
                    arrived = str(size) in (log.read_text().split() if log.exists() else [])[len(before):]
                results.append((size, arrived))
                print(json.dumps({"server": kind, "bytes": size, "MiB": round(size / MIB, 4), "arrived": arrived}),
                      flush=True)
                if not arrived:  # the websocket was closed; later sizes would not arrive either
                    break
            browser.close()
    finally:
        process.terminate()
        process.wait(timeout=20)
    return results


if __name__ == "__main__":
    for server in sys.argv[1:] or ["jupyterlab", "voila"]:
        measure(server)
