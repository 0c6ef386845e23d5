"""optuna-dashboard in a test: its WSGI app on a local port and plain HTTP GETs (shared by the
report and study tests; pytest puts this folder, the tests' root, on sys.path)."""
from __future__ import annotations

import contextlib
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterator


@contextlib.contextmanager
def dashboard(storage_url: str, artifact_dir: Path) -> Iterator[str]:
    """optuna-dashboard's WSGI app (``optuna_dashboard.wsgi``, as ``optuna-dashboard URL --artifact-dir DIR``
    builds it) served by wsgiref on a free local port in a thread; yields its base URL."""
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    import optuna_dashboard
    from optuna.artifacts import FileSystemArtifactStore

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    app = optuna_dashboard.wsgi(storage_url, artifact_store=FileSystemArtifactStore(artifact_dir))
    server = make_server("127.0.0.1", 0, app, handler_class=Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def http_get(url: str) -> tuple[int, str, bytes]:
    """``(status, content type, body)`` of a GET (error statuses returned, not raised)."""
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            return resp.status, resp.headers.get("Content-Type", ""), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type", ""), exc.read()
