"""The `vigil` command: keys create / list / revoke, migrate."""

from __future__ import annotations

import subprocess

import httpx

from tests.helpers import VIGIL, vigil_env


def vigil(backend, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*VIGIL, *args], env=vigil_env(backend.database_url), capture_output=True, text=True, timeout=60
    )


def test_keys_create_prints_the_key_last_and_it_works_until_revoked(backend, server):
    created = vigil(backend, "keys", "create", "--team", "cli-team", "--name", "ci")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("sk_") and len(key) == 43
    with httpx.Client(base_url=server.base_url) as http:
        headers = {"Authorization": f"Bearer {key}"}
        assert http.post("/v1/data/products", json={"data": {"id": "k"}}, headers=headers).status_code == 200

        listing = vigil(backend, "keys", "list")
        assert listing.returncode == 0
        line = next(row for row in listing.stdout.splitlines() if "cli-team" in row and key[:8] in row)
        assert key not in listing.stdout  # never the key itself
        assert "admin,data:read,data:write" in line and "active" in line

        key_id = line.split("\t")[0]
        revoked = vigil(backend, "keys", "revoke", key_id)
        assert revoked.returncode == 0
        # the session server trusts a key lookup for 0 s (VIGIL_AUTH_CACHE_TTL_S=0)
        assert http.post("/v1/data/products", json={"data": {"id": "k"}}, headers=headers).status_code == 401
    assert "revoked" in next(
        row for row in vigil(backend, "keys", "list").stdout.splitlines() if row.startswith(key_id)
    )


def test_keys_create_with_scopes_and_bad_scope(backend, server):
    created = vigil(backend, "keys", "create", "--team", "cli-team2", "--scopes", "data:read")
    key = created.stdout.strip().splitlines()[-1]
    with httpx.Client(base_url=server.base_url) as http:
        answer = http.post("/v1/data/p", json={"data": {"id": "k"}}, headers={"Authorization": f"Bearer {key}"})
        assert answer.status_code == 403
    bad = vigil(backend, "keys", "create", "--team", "x", "--scopes", "data:everything")
    assert bad.returncode == 2 and "unknown scope" in bad.stderr


def test_revoking_an_unknown_key_fails_clearly(backend, server):
    result = vigil(backend, "keys", "revoke", "key_nope")
    assert result.returncode == 2 and "no active key" in result.stderr


def test_migrate_command(fresh_backend):
    result = vigil(fresh_backend, "migrate")
    assert result.returncode == 0 and "newest schema" in result.stdout


def test_bad_setting_stops_start_up_naming_the_variable(backend):
    env = {**vigil_env(backend.database_url), "VIGIL_WORKER_CONCURRENCY": "0"}
    result = subprocess.run([*VIGIL, "migrate"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "VIGIL_WORKER_CONCURRENCY" in result.stderr and "greater than or equal to 1" in result.stderr


def test_unknown_vigil_variable_is_warned_about(fresh_backend):
    env = {**vigil_env(fresh_backend.database_url), "VIGIL_DATABSE_URL": "typo"}
    result = subprocess.run([*VIGIL, "migrate"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert "VIGIL_DATABSE_URL is not a Vigil setting" in result.stderr


def test_worker_serves_its_metrics_when_asked(fresh_backend):
    from tests.helpers import free_port, start

    port = free_port()
    worker = start(
        ["worker", "--metrics-port", str(port)], vigil_env(fresh_backend.database_url), fresh_backend.workdir / "w.log"
    )
    try:
        import time

        deadline = time.monotonic() + 20
        while True:
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=1).text
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, worker.log()
                time.sleep(0.05)
        assert "vigil_evaluations_total" in text and "vigil_decision_lag_seconds" in text
    finally:
        worker.stop()


def test_worker_stops_when_its_stdin_pipe_closes_and_ignores_stdin_that_is_not_a_pipe(fresh_backend, tmp_path):
    """`--stop-on-stdin-eof` (how `vigil serve` stops its worker child, worker/child.py)."""
    import time

    env = vigil_env(fresh_backend.database_url)
    log_path = tmp_path / "piped.log"
    with open(log_path, "wb") as log:
        piped = subprocess.Popen([*VIGIL, "worker", "--stop-on-stdin-eof"], env=env, stdin=subprocess.PIPE, stderr=log)
    with open(tmp_path / "null.log", "wb") as log:
        unpiped = subprocess.Popen(
            [*VIGIL, "worker", "--no-migrate", "--stop-on-stdin-eof"], env=env, stdin=subprocess.DEVNULL, stderr=log
        )
    try:
        deadline = time.monotonic() + 30
        while "needs stdin to be a pipe" not in (tmp_path / "null.log").read_text():
            assert unpiped.poll() is None and time.monotonic() < deadline, (tmp_path / "null.log").read_text()
            time.sleep(0.05)
        time.sleep(1.0)
        assert piped.poll() is None and unpiped.poll() is None  # both run
        assert piped.stdin is not None
        piped.stdin.close()
        assert piped.wait(30) == 0, log_path.read_text()
        assert unpiped.poll() is None  # /dev/null's end-of-file means nothing
    finally:
        for process in (piped, unpiped):
            if process.poll() is None:
                process.terminate()
                process.wait(30)
