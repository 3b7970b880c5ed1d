"""Uploads in a real browser: a file larger than the 10 MiB websocket limit reaches the kernel through
ChunkedUpload, in a page served by Voilà (headless Chromium through Playwright)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook
from test_browser import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS, _free_port, _wait_for_port

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
MIB = 2**20


def test_a_file_over_the_websocket_limit_arrives_whole_through_the_chunked_upload(tmp_path):
    voila = shutil.which("voila", path=str(Path(sys.executable).parent)) or shutil.which("voila")
    if voila is None or not Path(CHROMIUM).exists():
        pytest.skip("needs voila and Chromium (make browser-deps)")
    playwright_api = pytest.importorskip("playwright.sync_api")
    received = tmp_path / "received"
    notebook = tmp_path / "upload.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell(
        "from widgets.chunked_upload import ChunkedUpload\n"
        f"upload = ChunkedUpload(folder={str(received)!r}, max_bytes={20 * MIB})\n"
        "upload")], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}),
        notebook)
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    with open(tmp_path / "voila.log", "w") as log:
        process = subprocess.Popen([voila, str(notebook), "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1"],
                                   cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_for_port(port, process)
            payload = os.urandom(12 * MIB + 123)  # over the 10 MiB a FileUpload can carry (docs/uploads.md)
            with playwright_api.sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page()
                page.goto(f"http://127.0.0.1:{port}/", timeout=180_000)
                chooser = page.locator("input.autoasr-chunked-upload")
                chooser.wait_for(state="attached", timeout=180_000)
                chooser.set_input_files({"name": "big.zip", "mimeType": "application/zip", "buffer": payload})
                page.locator(".autoasr-upload-status", has_text="received big.zip").wait_for(timeout=120_000)
                chooser.set_input_files({"name": "huge.zip", "mimeType": "application/zip",
                                         "buffer": b"\0" * (21 * MIB)})
                page.locator(".autoasr-upload-status", has_text="more than the").wait_for(timeout=60_000)
                SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(SCREENSHOTS / "chunked_upload_refused.png"))
                browser.close()
            assert (received / "big.zip").read_bytes() == payload
            assert not (received / "huge.zip").exists()
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
