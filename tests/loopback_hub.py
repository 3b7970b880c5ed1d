"""A stand-in for the Hugging Face hub on 127.0.0.1, for download tests that never leave this machine.

It answers the requests the real ``huggingface_hub`` client makes when ``HF_ENDPOINT`` points here:
``GET /api/models/<repo>[/revision/<rev>]`` (the file list) and ``HEAD``/``GET /<repo>/resolve/<rev>/<file>``
(the file, with ``ETag``, ``X-Repo-Commit`` and ``Range``). It records every request, and can cut a file's
first transfer short (``cut_after``) to test that a download resumes.
"""
from __future__ import annotations

import hashlib
import http.server
import json
import threading
import urllib.parse
from pathlib import Path

COMMIT = "0123456789abcdef0123456789abcdef01234567"


class LoopbackHub:
    """``with LoopbackHub({"openai/whisper-tiny.en": folder}) as hub: hub.endpoint`` -> ``http://127.0.0.1:PORT``."""

    def __init__(self, repos: dict[str, Path], cut_after: dict[str, int] | None = None):
        self.repos = {repo: Path(folder) for repo, folder in repos.items()}
        self.cut_after = dict(cut_after or {})  # file name -> bytes sent before the first GET of it is dropped
        self.requests: list[tuple[str, str, str]] = []  # (method, path, Range header)
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> "LoopbackHub":
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def downloads(self, name: str) -> list[str]:
        """The Range headers of every GET of file ``name`` ("" for a whole-file request)."""
        return [rng for method, path, rng in self.requests if method == "GET" and path.endswith("/" + name)]

    def _handler(self):
        hub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *_args):
                pass

            def _send(self, code: int, headers: dict, body: bytes = b"") -> None:
                self.send_response(code)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                if self.command == "GET" and body:
                    self.wfile.write(body)

            def _missing(self, path: str) -> None:
                code = "EntryNotFound" if "/resolve/" in path else "RepositoryNotFound"
                self._send(404, {"X-Error-Code": code, "Content-Length": "0"})

            def _file_list(self, repo: str) -> None:
                folder = hub.repos[repo]
                files = sorted(p.name for p in folder.iterdir() if p.is_file())
                body = json.dumps({"id": repo, "modelId": repo, "sha": COMMIT, "private": False, "gated": False,
                                   "siblings": [{"rfilename": name} for name in files], "tags": []}).encode()
                self._send(200, {"Content-Type": "application/json", "Content-Length": str(len(body))}, body)

            def _file(self, repo: str, name: str) -> None:
                file = hub.repos[repo] / name
                if ".." in name or not file.is_file():
                    return self._missing(self.path)
                data = file.read_bytes()
                start, end = 0, len(data) - 1
                requested = self.headers.get("Range", "")
                if requested.startswith("bytes="):
                    first, _, last = requested[6:].partition("-")
                    start, end = int(first or 0), int(last) if last else len(data) - 1
                headers = {"ETag": '"' + hashlib.sha256(data).hexdigest() + '"', "X-Repo-Commit": COMMIT,
                           "Accept-Ranges": "bytes", "Content-Length": str(end - start + 1)}
                if requested:
                    headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
                self.send_response(206 if requested else 200)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                if self.command != "GET":
                    return
                body = data[start:end + 1]
                cut = hub.cut_after.pop(name, None)
                if cut is not None:  # a dropped connection: part of the body, then nothing
                    self.wfile.write(body[:cut])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                self.wfile.write(body)

            def _route(self) -> None:
                path = urllib.parse.unquote(urllib.parse.urlparse(self.path).path).lstrip("/")
                hub.requests.append((self.command, path, self.headers.get("Range", "")))
                if path.startswith("api/models/"):
                    rest = path[len("api/models/"):]
                    repo = next((r for r in hub.repos if rest == r or rest.startswith(r + "/revision/")), None)
                    return self._file_list(repo) if repo else self._missing(path)
                if "/resolve/" in path:
                    repo, rest = path.split("/resolve/", 1)
                    _revision, _, name = rest.partition("/")
                    return self._file(repo, name) if repo in hub.repos else self._missing(path)
                return self._missing(path)

            do_GET = do_HEAD = _route

        return Handler
