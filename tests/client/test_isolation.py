"""`import vigil.client` needs only httpx and the standard library: it never imports the server.

The fast tests run every time: a subprocess imports the client and lists what got loaded, and
every import statement under src/vigil/client is checked. The slow one builds a fresh
virtualenv holding only httpx (from PyPI) and runs the client there.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import venv
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
CLIENT = SRC / "vigil" / "client"
SERVER_PACKAGES = {
    "sqlalchemy", "starlette", "msgspec", "pydantic", "pydantic_settings", "structlog", "uvicorn", "alembic",
    "asyncpg", "aiosqlite", "aiohttp", "typer", "prometheus_client", "yaml", "numpy", "PIL",
}  # fmt: skip
CLIENT_DEPENDENCIES = {"httpx"}

PROBE = """
import json, sys
import vigil.client
from vigil.client import AsyncVigil, Vigil, webhooks
Vigil(api_key="sk_probe").close()
print(json.dumps(sorted(sys.modules)))
"""


def test_importing_the_client_loads_no_server_package() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    loaded = set(json.loads(done.stdout))
    assert {name.split(".")[0] for name in loaded} & SERVER_PACKAGES == set()
    ours = {name for name in loaded if name == "vigil" or name.startswith("vigil.")}
    assert {name for name in ours if not name.startswith("vigil.client")} == {"vigil"}  # only __version__


def _imports(path: Path) -> list[tuple[str, int]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module, node.lineno))
    return found


@pytest.mark.parametrize("path", sorted(CLIENT.rglob("*.py")), ids=lambda p: str(p.relative_to(SRC)))
def test_client_modules_import_only_the_stdlib_httpx_and_the_client(path: Path) -> None:
    def allowed(module: str) -> bool:
        top = module.split(".")[0]
        return (
            top in sys.stdlib_module_names
            or top in CLIENT_DEPENDENCIES
            or module == "vigil"  # its __init__ only sets __version__
            or module == "vigil.client"
            or module.startswith("vigil.client.")
        )

    assert [f"line {line}: {module}" for module, line in _imports(path) if not allowed(module)] == []


@pytest.mark.slow
def test_the_client_runs_in_a_virtualenv_with_only_httpx(tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, system_site_packages=False).create(env_dir)
    python = env_dir / "bin" / "python"
    subprocess.run([python, "-m", "pip", "install", "--quiet", "httpx"], check=True, timeout=300)
    installed = subprocess.run(
        [python, "-m", "pip", "list", "--format=json"], capture_output=True, text=True, check=True
    )
    names = {package["name"].lower() for package in json.loads(installed.stdout)}
    assert names.isdisjoint({"sqlalchemy", "starlette", "msgspec", "pydantic"})  # truly only the client's

    probe = (
        PROBE
        + """
import importlib.util
assert importlib.util.find_spec("sqlalchemy") is None and importlib.util.find_spec("starlette") is None
assert "sqlalchemy" not in sys.modules and "starlette" not in sys.modules
from vigil.client.webhooks import verify
import base64, hashlib, hmac, time
secret = "whsec_" + base64.b64encode(b"k" * 32).decode()
stamp = int(time.time())
sig = base64.b64encode(hmac.new(b"k" * 32, f"msg_1.{stamp}.{{}}".encode(), hashlib.sha256).digest()).decode()
headers = {"webhook-id": "msg_1", "webhook-timestamp": str(stamp), "webhook-signature": "v1," + sig}
assert verify(b"{}", headers, secret).to_dict() == {}
"""
    )
    done = subprocess.run(
        [python, "-c", probe], capture_output=True, text=True, env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"}
    )
    assert done.returncode == 0, done.stderr
    assert {name.split(".")[0] for name in json.loads(done.stdout.splitlines()[0])} & SERVER_PACKAGES == set()
