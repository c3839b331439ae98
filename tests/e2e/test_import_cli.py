"""`vigil import FILE --namespace NS`: uploads through the HTTP API, waits, prints a summary."""

from __future__ import annotations

import gzip
import subprocess

from tests.blobs.support import numbered_lines
from tests.helpers import VIGIL, query, vigil_env


def test_cli_import_prints_summary_and_results_url(backend, server, team, tmp_path):
    path = tmp_path / "objects.jsonl"
    path.write_bytes(numbered_lines(300, {7: b"{broken"}, prefix="cli"))
    env = vigil_env(backend.database_url, SAFETYKIT_API_KEY=team.key)
    done = subprocess.run(
        [*VIGIL, "import", str(path), "--namespace", "products", "--url", server.base_url],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    request_id = done.stdout.split()[0]
    assert f"{request_id} succeeded: 299 objects accepted, 1 lines rejected, 300 lines read" in done.stdout
    assert "line 7: not valid JSON" in done.stdout
    assert f"{server.base_url}/results/{request_id}.jsonl?" in done.stdout
    assert "uploading objects.jsonl" in done.stderr
    stored = query(
        backend.database_url, "SELECT count(*) AS n FROM object_versions WHERE request_id = :r", {"r": request_id}
    )
    assert stored[0].n == 299


def test_cli_import_of_a_gz_file_and_a_bad_key(backend, server, team, tmp_path):
    path = tmp_path / "objects.jsonl.gz"
    path.write_bytes(gzip.compress(numbered_lines(50, prefix="gz")))
    env = vigil_env(backend.database_url)
    args = [*VIGIL, "import", str(path), "--namespace", "products", "--url", server.base_url]
    done = subprocess.run([*args, "--key", team.key], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "succeeded: 50 objects accepted, 0 lines rejected" in done.stdout
    refused = subprocess.run([*args, "--key", "sk_nope"], env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1 and "401" in refused.stderr
