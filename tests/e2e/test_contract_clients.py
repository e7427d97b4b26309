"""The served contract through the tools client developers use (issue 16): Spectral's OAS
ruleset, the official AsyncAPI parser, and clients generated from `/schema/openapi.json`
(openapi-python-client; openapi-typescript + openapi-fetch compiled by `tsc --strict`), each
driving login -> family -> transfer -> history -> an error against a real api process.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from scripts.api_process import ApiProcess
from server.event_catalog import event_types
from tests.clients.node_tools import CLIENTS_DIR, run_node
from tests.e2e.api_factory import ApiFactory

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PASSWORD = "a long enough passphrase"
SETTINGS: dict[str, Any] = {"wallet_require_verified_email": False}


@pytest.fixture(scope="module")
def api(module_apis: ApiFactory) -> ApiProcess:
    return module_apis.start_sync(**SETTINGS)


@pytest.fixture(scope="module")
def documents(api: ApiProcess, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("contract")
    out = {}
    for name in ("openapi", "asyncapi"):
        response = httpx.get(f"{api.base}/schema/{name}.json", timeout=30)
        assert response.status_code == 200
        out[name] = folder / f"{name}.json"
        out[name].write_text(response.text)
    return out


def _register(api: ApiProcess) -> str:
    name = f"u{uuid.uuid4().hex[:10]}"
    body = {"username": name, "email": f"{name}@example.com", "password": PASSWORD}
    response = httpx.post(f"{api.base}/api/v1/auth/register", json=body, timeout=30)
    assert response.status_code == 201, response.text
    return name


def _cli_mint(module_apis: ApiFactory, username: str, amount: int) -> dict[str, Any]:
    """`wallet mint` on the api's database: funds without HTTP (issue 16's CLI mint)."""
    command = [
        str(BIN / "litestar"),
        "--app",
        "server.app:create_app",
        "wallet",
        "mint",
        "--to",
        username,
        "--amount",
        str(amount),
        "--reason",
        "contract test",
    ]
    env = module_apis.env(**SETTINGS)
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr + done.stdout
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_spectral_oas_ruleset_reports_nothing(documents: dict[str, Path]) -> None:
    """Bug: the document had no error bodies, no security schemes, colliding titles."""
    spectral = "node_modules/@stoplight/spectral-cli/dist/index.js"
    args = ["lint", "--ruleset", ".spectral.yaml", "-f", "json", "-q", str(documents["openapi"])]
    done = run_node("contract", spectral, *args, timeout=300)
    findings = json.loads(done.stdout or "[]")
    assert [f for f in findings if f["severity"] == 0] == [], done.stderr
    assert findings == []  # not even a warning
    assert done.returncode == 0


def test_asyncapi_validates_with_the_official_parser_and_holds_every_type(
    documents: dict[str, Path],
) -> None:
    done = run_node("contract", "validate_asyncapi.mjs", str(documents["asyncapi"]))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["valid"] and report["errors"] == []
    assert set(event_types()) <= set(report["messages"])


def test_generated_python_client_drives_the_journey(
    api: ApiProcess, module_apis: ApiFactory, documents: dict[str, Path], tmp_path: Path
) -> None:
    """Bug: generators dropped models and operations (colliding titles) and could not attach
    tokens (no security schemes); errors were untyped."""
    config = tmp_path / "config.yaml"
    config.write_text("post_hooks: []\n")
    done = subprocess.run(
        [
            str(BIN / "openapi-python-client"),
            "generate",
            "--path",
            str(documents["openapi"]),
            "--meta",
            "none",
            "--output-path",
            str(tmp_path / "sbclient"),
            "--config",
            str(config),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    assert "Warning" not in done.stdout + done.stderr, done.stdout + done.stderr
    sys.path.insert(0, str(tmp_path))
    try:
        _python_journey(api, module_apis)
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m == "sbclient" or m.startswith("sbclient.")]:
            del sys.modules[name]


def _python_journey(api: ApiProcess, module_apis: ApiFactory) -> None:
    client_mod = importlib.import_module("sbclient.client")
    login = importlib.import_module("sbclient.api.auth.auth_login")
    create_family = importlib.import_module("sbclient.api.family.family_create_group")
    transfer = importlib.import_module("sbclient.api.wallet.wallet_transfer")
    history = importlib.import_module("sbclient.api.wallet.wallet_list_transfers")
    models = importlib.import_module("sbclient.models")

    alice, bob = _register(api), _register(api)
    minted = _cli_mint(module_apis, alice, 100)
    assert minted["balance"] == 100

    public = client_mod.Client(base_url=api.base)
    auth = login.sync(client=public, body=models.LoginRequest(login=alice, password=PASSWORD))
    assert isinstance(auth, models.AuthResponse)
    me = client_mod.AuthenticatedClient(base_url=api.base, token=auth.access_token)

    family = create_family.sync(client=me, body=models.GroupCreate(name="Generated family"))
    assert isinstance(family, models.GroupView) and family.my_role == "admin"

    key = uuid.uuid4().hex
    body = models.TransferRequest(to=models.Party(username=bob), amount=7, memo="generated")
    sent = transfer.sync_detailed(client=me, body=body, idempotency_key=key)
    assert sent.status_code == 201 and isinstance(sent.parsed, models.TransferResponse)
    assert sent.parsed.balance == 93
    again = transfer.sync_detailed(client=me, body=body, idempotency_key=key)
    assert again.headers["idempotent-replayed"] == "true"

    page = history.sync(client=me, limit=10)
    assert isinstance(page, models.TransferPage)
    assert [t.amount for t in page.items] == [7, 100]

    too_much = models.TransferRequest(to=models.Party(username=bob), amount=10_000)
    refused = transfer.sync_detailed(client=me, body=too_much, idempotency_key=uuid.uuid4().hex)
    assert refused.status_code == 409
    assert isinstance(refused.parsed, models.ErrorResponse)
    assert refused.parsed.error.code == "INSUFFICIENT_FUNDS"
    assert refused.parsed.error.request_id == refused.headers["x-request-id"]


def test_generated_typescript_client_builds_strictly_and_drives_the_journey(
    api: ApiProcess, module_apis: ApiFactory, documents: dict[str, Path]
) -> None:
    generated = run_node("contract", "generate_ts.mjs", str(documents["openapi"]))
    assert generated.returncode == 0, generated.stderr
    assert json.loads(generated.stdout) == {"warnings": []}
    tsc = run_node("contract", "node_modules/typescript/bin/tsc", "-p", ".", timeout=300)
    assert tsc.returncode == 0, tsc.stdout + tsc.stderr
    assert (CLIENTS_DIR / "contract" / "build" / "journey.js").is_file()

    alice, bob = _register(api), _register(api)
    _cli_mint(module_apis, alice, 50)
    done = run_node("contract", "build/journey.js", api.base, alice, PASSWORD, bob)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["family"] == "TS family" and result["transferred"] == 3
    assert result["history"] == [3, 50]
    assert (result["errorStatus"], result["errorCode"]) == (409, "INSUFFICIENT_FUNDS")
    assert result["requestId"]
