"""Uploads in a real browser: a file larger than the 10 MiB websocket limit reaches the kernel through
ChunkedUpload, in a page served by Voilà (headless Chromium through Playwright)."""
from __future__ import annotations

import os

import nbformat
import pytest
from browser_servers import chromium, free_port, screenshot, serving, voila_command
from nbformat.v4 import new_code_cell, new_notebook

pytestmark = pytest.mark.browser

MIB = 2**20


def test_a_file_over_the_websocket_limit_arrives_whole_through_the_chunked_upload(tmp_path):
    received = tmp_path / "received"
    notebook = tmp_path / "upload.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell(
        "from widgets.chunked_upload import ChunkedUpload\n"
        f"upload = ChunkedUpload(folder={str(received)!r}, max_bytes={20 * MIB})\n"
        "upload")], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}),
        notebook)
    port = free_port()
    payload = os.urandom(12 * MIB + 123)  # over the 10 MiB a FileUpload can carry (docs/uploads.md)
    with chromium() as browser, serving(voila_command(notebook, port), tmp_path, port, tmp_path / "voila.log"):
        page = browser.new_page()
        page.goto(f"http://127.0.0.1:{port}/", timeout=180_000)
        chooser = page.locator("input.autoasr-chunked-upload")
        chooser.wait_for(state="attached", timeout=180_000)
        chooser.set_input_files({"name": "big.zip", "mimeType": "application/zip", "buffer": payload})
        page.locator(".autoasr-upload-status", has_text="received big.zip").wait_for(timeout=120_000)
        chooser.set_input_files({"name": "huge.zip", "mimeType": "application/zip", "buffer": b"\0" * (21 * MIB)})
        page.locator(".autoasr-upload-status", has_text="more than the").wait_for(timeout=60_000)
        screenshot(page, "chunked_upload_refused")
    assert (received / "big.zip").read_bytes() == payload
    assert not (received / "huge.zip").exists()
