"""A worker killed with SIGKILL in the middle of an import, then restarted: the import resumes
from its last committed chunk, with no duplicate versions and no gaps.

`vigil api` and `vigil worker` run as separate real processes on one database; the worker is
killed while the import's cursor is part-way through the file.
"""

from __future__ import annotations

import time

import httpx
import pytest

from tests.blobs.support import create_upload, numbered_lines, wait_import
from tests.helpers import create_key, free_port, query, start, vigil_env


def _kill_mid_import(fresh_backend, lines: int, chunk_lines: int) -> None:
    url = fresh_backend.database_url
    port = free_port()
    env = vigil_env(
        url,
        VIGIL_PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        VIGIL_IMPORT_CHUNK_LINES=str(chunk_lines),
        VIGIL_JOB_LEASE_S="1",
        VIGIL_WORKER_POLL_INTERVAL_MS="20",
    )
    api = start(["api", "--port", str(port)], env, fresh_backend.workdir / "api.log", port)
    team = create_key(url, "crash")
    try:
        with httpx.Client(base_url=api.base_url, timeout=60) as client:
            created = create_upload(client, "products", team.headers)
            request_id = created["requestId"]
            assert httpx.put(created["upload_url"], content=numbered_lines(lines), timeout=120).status_code == 200

            worker = start(["worker", "--no-migrate"], env, fresh_backend.workdir / "worker1.log")
            deadline = time.monotonic() + 60
            read = 0
            while time.monotonic() < deadline:
                read = query(url, "SELECT lines_read FROM imports WHERE request_id = :r", {"r": request_id})[
                    0
                ].lines_read
                if read >= lines // 4:
                    break
                time.sleep(0.005)
            worker.kill()
            read_at_kill = query(
                url, "SELECT lines_read, read_at_ms FROM imports WHERE request_id = :r", {"r": request_id}
            )[0]
            assert 0 < read_at_kill.lines_read < lines and read_at_kill.read_at_ms is None, "not killed mid-import"
            committed = query(
                url, "SELECT count(*) AS n FROM object_versions WHERE request_id = :r", {"r": request_id}
            )[0].n
            assert committed == read_at_kill.lines_read  # the cursor moved with its chunk, never apart

            survivor = start(["worker", "--no-migrate"], env, fresh_backend.workdir / "worker2.log")
            try:
                done = wait_import(client, "products", request_id, team.headers, timeout_s=240)
            finally:
                survivor.stop()
            assert done["status"] == "succeeded", done
            assert (done["lines_read"], done["lines_accepted"], done["lines_rejected"]) == (lines, lines, 0)
            assert done["data_count"] == lines

        versions = query(
            url,
            "SELECT count(*) AS n, count(DISTINCT object_id) AS ids, max(version) AS v, min(request_idx) AS lo, "
            "max(request_idx) AS hi, count(DISTINCT request_idx) AS idx FROM object_versions WHERE request_id = :r",
            {"r": request_id},
        )[0]
        assert (versions.n, versions.ids, versions.v, versions.lo, versions.hi, versions.idx) == (
            lines, lines, 1, 0, lines - 1, lines
        )  # fmt: skip
        assert query(url, "SELECT count(*) AS n FROM objects WHERE version = 1")[0].n == lines
        assert query(url, "SELECT count(*) AS n FROM objects")[0].n == lines
        assert query(url, "SELECT count(*) AS n FROM decisions")[0].n == lines
        assert query(url, "SELECT count(*) AS n FROM jobs")[0].n == 0
        assert tuple(query(url, "SELECT total, pending FROM requests WHERE id = :r", {"r": request_id})[0]) == (
            lines,
            0,
        )
    finally:
        api.stop()


def test_worker_sigkill_mid_import_resumes_exactly(fresh_backend):
    _kill_mid_import(fresh_backend, lines=20_000, chunk_lines=200)


@pytest.mark.slow
def test_worker_sigkill_mid_100000_line_import_resumes_exactly(fresh_backend):
    _kill_mid_import(fresh_backend, lines=100_000, chunk_lines=1000)
