"""The README's curl example, run as written against a running Vigil."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

README = Path(__file__).parents[2] / "README.md"


def test_readme_curl_adds_an_object_that_reaches_succeeded(server, team):
    text = README.read_text()
    block = re.search(r"```sh\nKEY=.*?\n(curl -s -X POST .*?)\n# ", text, re.S)
    assert block, "README lost its curl example"
    command = block.group(1).replace("http://127.0.0.1:8000", server.base_url)
    added = subprocess.run(
        ["bash", "-c", command],
        env={"KEY": team.key, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    answer = json.loads(added.stdout)
    assert answer["status"] == "accepted"
    status_command = re.search(r"\n(curl -s http://127.0.0.1:8000/v1/data/products/requests/.*?)\n", text).group(1)
    status_command = status_command.replace("http://127.0.0.1:8000", server.base_url).replace(
        "req_01…", answer["requestId"]
    )
    deadline = time.monotonic() + 30
    while True:
        out = subprocess.run(
            ["bash", "-c", status_command],
            env={"KEY": team.key, "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            check=True,
        )
        status = json.loads(out.stdout)
        if status["status"] == "succeeded" or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert status["status"] == "succeeded"
    assert [item["id"] for item in status["data"]] == ["product_12345"]
