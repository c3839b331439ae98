"""`vigil serve` runs its worker as a child process (worker/child.py): woken by commits, its
metrics merged into `vigil serve`'s, restarted when it dies, gone when `vigil serve` is."""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

import httpx

from tests.helpers import Process, create_key, free_port, query, start, vigil_env, wait_status


def worker_children(process: Process) -> list[int]:
    pid = process.popen.pid
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            try:
                command = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
            except FileNotFoundError:
                continue
            if b"worker" in command and _alive(int(child)):
                found.append(int(child))
    return found


def _alive(pid: int) -> bool:
    """Running, and not a zombie (an orphan waits for its reaper, which may be slow here)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def wait_for(condition, timeout_s: float = 20.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def metric(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = rf"^{re.escape(name)}{re.escape('{' + wanted + '}') if wanted else ''} (\S+)$"
    found = re.search(pattern, text, re.M)
    return float(found.group(1)) if found else 0.0


def start_serve(backend, **extra: str) -> Process:
    port = free_port()
    # A poll of two minutes: what the child decides in time it was woken to decide.
    env = vigil_env(backend.database_url, VIGIL_WORKER_POLL_INTERVAL_MS="120000", **extra)
    return start(["serve", "--port", str(port)], env, backend.workdir / "serve.log", port)


def decide(serve: Process, team, object_id: str) -> None:
    with httpx.Client(base_url=serve.base_url, timeout=30) as client:
        answer = client.post("/v1/data/products", json={"data": {"id": object_id}}, headers=team.headers)
        assert answer.status_code == 200, answer.text
        status = wait_status(client, "products", answer.json()["requestId"], team.headers, timeout_s=20)
    assert status["status"] == "succeeded", status


def test_the_worker_child_decides_and_its_metrics_are_served_by_serve(fresh_backend):
    serve = start_serve(fresh_backend)
    team = create_key(fresh_backend.database_url, "child")
    try:
        wait_for(lambda: len(worker_children(serve)) == 1, what="one worker child")
        child = worker_children(serve)[0]
        for n in range(3):
            decide(serve, team, f"c{n}")
        rows = query(fresh_backend.database_url, "SELECT object_id FROM decisions ORDER BY object_id")
        assert [row.object_id for row in rows] == ["c0", "c1", "c2"]

        text = httpx.get(f"{serve.base_url}/metrics", timeout=10).text
        # Counted by the child, answered by `vigil serve`, beside the API's own series.
        assert metric(text, "vigil_evaluations_total", outcome="succeeded") == 3
        assert metric(text, "vigil_decision_lag_seconds_count") == 3
        assert metric(text, "vigil_objects_ingested_total", kind="add") == 3
        # One family per name: the child's process and Python series are left out.
        types = re.findall(r"^# TYPE (\S+) ", text, re.M)
        assert len(types) == len(set(types)) and "process_cpu_seconds_total" in types
    finally:
        serve.stop()
    assert serve.popen.returncode == 0, serve.log()
    assert not _alive(child)  # stopped before `vigil serve` exited


def test_a_worker_child_that_dies_is_started_again(fresh_backend):
    serve = start_serve(fresh_backend)
    team = create_key(fresh_backend.database_url, "restart")
    try:
        wait_for(lambda: len(worker_children(serve)) == 1, what="one worker child")
        first = worker_children(serve)[0]
        os.kill(first, signal.SIGKILL)
        wait_for(lambda: worker_children(serve) not in ([], [first]), what="a new worker child")
        decide(serve, team, "after-restart")
        assert "serve.worker_exited" in serve.log()
    finally:
        serve.stop()


def test_a_killed_serve_takes_its_worker_child_with_it(fresh_backend):
    """SIGKILL leaves no chance to stop the child: it stops when its stdin (a pipe from
    `vigil serve`) closes, and anything it held returns to the queue for the next start."""
    serve = start_serve(fresh_backend)
    wait_for(lambda: len(worker_children(serve)) == 1, what="one worker child")
    child = worker_children(serve)[0]
    serve.kill()
    wait_for(lambda: not _alive(child), what="the orphaned worker child to stop")


def test_an_inline_worker_when_asked(fresh_backend):
    serve = start_serve(fresh_backend, VIGIL_SERVE_WORKER="inline")
    team = create_key(fresh_backend.database_url, "inline")
    try:
        decide(serve, team, "inline")
        assert worker_children(serve) == []
        text = httpx.get(f"{serve.base_url}/metrics", timeout=10).text
        assert metric(text, "vigil_evaluations_total", outcome="succeeded") == 1
    finally:
        serve.stop()
