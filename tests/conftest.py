"""Shared pytest fixtures (generic: no module's logic lives here)."""

import functools
import http.server
import threading
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """The offline copies of public datasets (`<repo>/../shared/data`); skip where absent."""
    path = (REPO / ".." / "shared" / "data").resolve()
    if not path.is_dir():
        pytest.skip(f"offline dataset copies not found at {path}")
    return path


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # keep pytest output clean
        pass


class _QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # clients that hang up early (e.g. a HEAD-like probe) are not errors


@pytest.fixture
def http_mirror():
    """Factory: `http_mirror(directory) -> "http://127.0.0.1:PORT/"` serving `directory`
    from a thread until the test ends."""
    servers = []

    def serve(directory) -> str:
        handler = functools.partial(_QuietHandler, directory=str(directory))
        server = _QuietServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def tiny_workflow_run(tmp_path_factory) -> Path:
    """The real workflow run once on configs/test.yaml in a fresh copy of the project.

    Tests that change its results work on a copy (workflow_helpers.clone_results).
    """
    from workflow_helpers import run_tiny_workflow

    return run_tiny_workflow(tmp_path_factory.mktemp("tiny-workflow"))


@pytest.fixture(scope="session")
def digits_classifier(tmp_path_factory) -> dict:
    """digits.pt and its FID classifier trained by the CLI with default settings, once per session:
    {"data_path", "data", "dir", "extract"}."""
    import json

    from reconloss.evaluation import classifier
    from reconloss.data.datasets import load_dataset, prepare
    from torch_helpers import one_thread

    root = tmp_path_factory.mktemp("digits-classifier")
    prepare("digits", root / "digits.pt", root / "raw")
    out = root / "classifier"
    with one_thread():
        classifier.main(["--data", str(root / "digits.pt"), "--out-dir", str(out),
                         "--settings", json.dumps({"seed": 0, "device": "cpu"})])
    return {"data_path": root / "digits.pt", "data": load_dataset(root / "digits.pt"),
            "dir": out, "extract": classifier.load_feature_extractor(out, "cpu")}
