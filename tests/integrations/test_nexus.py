"""The deployment's channels over real HTTP: auth (401) and RBAC (403) on API, CLI and MCP; 422s; probes;
metrics; OpenAPI; and 2,000 concurrent requests with zero errors and zero lost execution records."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from kaizen_lab.errors import ConfigError, MCPError, UserError

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.services


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def post(deployment, agent: str, body, headers=None) -> httpx.Response:
    kwargs = {"content": body} if isinstance(body, bytes) else {"json": body}
    return httpx.post(deployment.url_for(agent), headers=headers or {}, timeout=30, **kwargs)


# ------------------------------------------------------------------------------------------ API channel


def test_api_runs_the_agent_for_an_operator(deployment, keys) -> None:
    response = post(deployment, "qa", {"inputs": {"question": "paris"}}, bearer(keys.operator))
    assert response.status_code == 200, response.text
    outputs = response.json()["outputs"]["agent"]
    assert outputs["answer"] == "PARIS" and outputs["confidence"] == 0.5
    assert deployment.api_endpoint.startswith("http://127.0.0.1:")


def test_api_without_credentials_is_401_except_the_probes(deployment) -> None:
    base = deployment.api_endpoint
    assert post(deployment, "qa", {"inputs": {"question": "x"}}).status_code == 401
    for path in ("/metrics", "/openapi.json", "/workflows", "/docs"):
        response = httpx.get(base + path)
        assert response.status_code == 401, path
        assert "authentication required" in response.json()["detail"]
    assert httpx.get(base + "/health").json() == {"status": "healthy"}  # no agent ids for strangers
    ready = httpx.get(base + "/ready")
    assert ready.status_code == 200 and ready.json() == {"ready": True}


def test_probe_details_need_credentials(deployment, keys) -> None:
    base = deployment.api_endpoint
    health = httpx.get(base + "/health", headers=bearer(keys.viewer)).json()
    assert health == {"status": "healthy", "agents": ["qa", "summarizer"]}
    ready = httpx.get(base + "/ready", headers=bearer(keys.viewer)).json()
    assert ready["checks"]["store:sqlite"]["ok"] is True
    assert httpx.get(base + "/health", headers=bearer("kz_000000000000_" + "x" * 40)).json() == {"status": "healthy"}


def test_hostile_bodies_get_4xx_on_every_route(deployment, keys) -> None:
    nested = b"[" * 100_000 + b"]" * 100_000
    json_headers = {"content-type": "application/json", **bearer(keys.admin)}
    execute = httpx.post(deployment.url_for("qa"), content=nested, headers=json_headers, timeout=30)
    assert execute.status_code == 400 and "nests deeper than 64" in execute.text
    # admin routes behind the gate (Nexus's own endpoints) get the same limits
    admin = httpx.post(deployment.api_endpoint + "/workflows/qa/workflow/info", content=nested,
                       headers=json_headers, timeout=30)
    assert admin.status_code == 400
    huge = httpx.post(deployment.api_endpoint + "/workflows/qa/anything", content=b"x" * (2 << 20),
                      headers=bearer(keys.admin), timeout=30)
    assert huge.status_code == 413
    mcp = httpx.post(deployment.mcp_server.url, content=nested,
                     headers={**_MCP_HEADERS, "content-type": "application/json", **bearer(keys.operator)},
                     timeout=30)
    assert mcp.status_code == 400 and mcp.json()["error"]["code"] == -32700


def test_api_rejects_wrong_and_forged_credentials(deployment, keys, security) -> None:
    assert post(deployment, "qa", {"inputs": {"question": "x"}}, bearer("kz_not_a_real_key_at_all")).status_code == 401
    assert post(deployment, "qa", {"inputs": {"question": "x"}}, {"Authorization": "Basic abc"}).status_code == 401
    token = security.issue_token("olga", roles=["operator"])
    with_jwt = post(deployment, "qa", {"inputs": {"question": "jwt"}}, bearer(token))
    assert with_jwt.status_code == 200, with_jwt.text
    from kaizen_lab.security import JWTAuthority

    forged = JWTAuthority("f" * 40, issuer="kaizen-lab", audience="kaizen-lab").issue("olga", roles=["admin"])
    assert post(deployment, "qa", {"inputs": {"question": "x"}}, bearer(forged)).status_code == 401
    assert post(deployment, "qa", {"inputs": {"question": "x"}}, {"X-API-Key": keys.operator}).status_code == 200


def test_api_without_permission_is_403(deployment, keys) -> None:
    response = post(deployment, "qa", {"inputs": {"question": "x"}}, bearer(keys.viewer))
    assert response.status_code == 403
    assert "victor may not execute agent/qa" in response.json()["detail"]
    # viewers may read metrics but not run agents; audit recorded the denial
    assert httpx.get(deployment.api_endpoint + "/metrics", headers=bearer(keys.viewer)).status_code == 200
    denied = [r for r in deployment.security.audit.records() if r.result == "denied"]
    assert any(r.resource == "agent/qa" and r.user_id == "victor" for r in denied)


@pytest.mark.parametrize(("body", "loc", "message"), [
    (b"{not json", ["body"], "not valid JSON"),
    (b"[1, 2]", ["body"], "must be a JSON object"),
    ({"input": {"question": "x"}}, ["body", "input"], "did you mean 'inputs'"),
    ({"inputs": {"questoin": "x"}}, ["body", "inputs", "questoin"], "did you mean 'question'"),
    ({"inputs": {}}, ["body", "inputs", "question"], "missing input 'question'"),
    ({"inputs": {"question": "x", "detail": "lots"}}, ["body", "inputs", "detail"], "valid integer"),
    ({"inputs": "question=x"}, ["body", "inputs"], "must be an object"),
    ({"inputs": {"question": "x"}, "session": 5}, ["body", "session"], "must be a string"),
])
def test_bad_inputs_are_422_naming_the_field(deployment, keys, body, loc, message) -> None:
    response = post(deployment, "qa", body, bearer(keys.operator))
    assert response.status_code == 422, response.text
    (detail,) = response.json()["detail"]
    assert detail["loc"] == loc
    assert message in detail["msg"]


def test_openapi_describes_each_agent(deployment, keys) -> None:
    schema = httpx.get(deployment.api_endpoint + "/openapi.json", headers=bearer(keys.viewer)).json()
    post_op = schema["paths"]["/workflows/qa/execute"]["post"]
    assert set(post_op["responses"]) >= {"200", "401", "403", "422"}
    inputs = schema["components"]["schemas"]["qa_inputs"]
    assert inputs["required"] == ["question"]
    assert set(inputs["properties"]) == {"question", "detail"}
    assert "/workflows/summarizer/execute" in schema["paths"]
    assert "bearer" in schema["components"]["securitySchemes"]


def _metric(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_count_runs_latency_tokens_and_errors(deployment, keys) -> None:
    url = deployment.api_endpoint + "/metrics"
    before = httpx.get(url, headers=bearer(keys.admin)).text
    for i in range(3):
        assert post(deployment, "summarizer", {"inputs": {"text": f"t{i}"}}, bearer(keys.operator)).status_code == 200
    assert post(deployment, "summarizer", {"inputs": {"txt": "x"}}, bearer(keys.operator)).status_code == 422
    after = httpx.get(url, headers=bearer(keys.admin)).text
    runs = dict(agent="summarizer", channel="api", status="ok")
    assert _metric(after, "kaizen_agent_runs_total", **runs) - _metric(before, "kaizen_agent_runs_total", **runs) == 3
    assert _metric(after, "kaizen_agent_run_latency_seconds_count", agent="summarizer") - \
        _metric(before, "kaizen_agent_run_latency_seconds_count", agent="summarizer") == 3
    assert _metric(after, "kaizen_agent_tokens_total", agent="summarizer", direction="input") > \
        _metric(before, "kaizen_agent_tokens_total", agent="summarizer", direction="input")
    assert _metric(after, "kaizen_agent_errors_total", agent="summarizer", code="422") - \
        _metric(before, "kaizen_agent_errors_total", agent="summarizer", code="422") == 1


def test_sessions_reach_the_agents_memory(deployment, keys) -> None:
    for text in ("I like jazz", "and what else?"):
        body = {"inputs": {"text": text}, "session": "api-s1"}
        assert post(deployment, "summarizer", body, bearer(keys.operator)).status_code == 200
    history = deployment.agents["summarizer"].history("api-s1")
    assert [m.role for m in history] == ["user", "assistant", "user", "assistant"]
    assert "I like jazz" in history[0].content


def test_two_thousand_concurrent_requests_no_errors_no_lost_records(deployment, keys) -> None:
    store = deployment.stores[0]
    before = store.count_executions("qa")
    failures: list[str] = []
    local = threading.local()

    def one(i: int) -> str:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = httpx.Client(headers=bearer(keys.operator), timeout=60)
        response = client.post(deployment.url_for("qa"), json={"inputs": {"question": f"q{i}"}})
        if response.status_code != 200:
            failures.append(f"{response.status_code}: {response.text[:200]}")
            return ""
        return response.json()["outputs"]["agent"]["answer"]

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(one, range(2000)))
    assert failures == []
    assert answers == [f"Q{i}" for i in range(2000)]
    assert store.count_executions("qa") - before == 2000


# ------------------------------------------------------------------------------------------ CLI channel


def _cli(*args: str, env_key: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("KAIZEN_API_KEY", None)
    if env_key:
        env["KAIZEN_API_KEY"] = env_key
    return subprocess.run([sys.executable, "-m", "kaizen_lab.cli", *args], capture_output=True, text=True,
                          env=env, timeout=60)


def test_cli_channel_enforces_auth_and_rbac(deployment, keys) -> None:
    assert deployment.cli_command.startswith(f"kaizen-lab call {deployment.api_endpoint} qa --input question=")
    args = ["call", deployment.api_endpoint, "qa", "--input", "question=tokyo"]
    denied = _cli(*args)
    assert denied.returncode == 1 and "401 Unauthorized" in denied.stderr
    forbidden = _cli(*args, env_key=keys.viewer)
    assert forbidden.returncode == 1 and "403 Forbidden" in forbidden.stderr and "victor" in forbidden.stderr
    wrong = _cli("call", deployment.api_endpoint, "qa", "--input", "questoin=x", env_key=keys.operator)
    assert wrong.returncode == 2 and "inputs.questoin" in wrong.stderr and "did you mean 'question'" in wrong.stderr
    ok = _cli(*args, "--api-key", keys.operator)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout) == {"answer": "TOKYO", "confidence": 0.5}


# ------------------------------------------------------------------------------------------ MCP channel


_INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
         "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
_MCP_HEADERS = {"Accept": "application/json, text/event-stream"}


def test_mcp_channel_enforces_auth_and_rbac(deployment, keys) -> None:
    url = deployment.mcp_server.url
    assert httpx.post(url, json=_INIT, headers=_MCP_HEADERS).status_code == 401
    call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "qa", "arguments": {"question": "x"}}}
    refused = httpx.post(url, json=call, headers={**_MCP_HEADERS, **bearer(keys.viewer)})
    assert refused.status_code == 403 and "victor may not execute agent/qa" in refused.text

    from kaizen_lab.mcp.client import connect

    store = deployment.stores[0]
    before = store.count_executions("qa")
    conn = connect({"url": url, "token": keys.operator}, shared=False)
    try:
        assert {t.name for t in conn.list_tools()} == {"qa", "summarizer"}
        assert conn.call("qa", {"question": "lima"}) == {"answer": "LIMA", "confidence": 0.5}
    finally:
        conn.close()
    assert store.count_executions("qa") == before + 1  # runs on every channel leave an execution record
    viewer = connect({"url": url, "token": keys.viewer}, shared=False)
    try:
        with pytest.raises(MCPError):
            viewer.call("qa", {"question": "x"})
    finally:
        viewer.close()


# ------------------------------------------------------------------------------------------ configuration


def test_deployment_configuration_errors() -> None:
    from kaizen_lab.agents import Agent
    from kaizen_lab.integrations.nexus import deploy_agent

    agent = Agent("cfg", "q -> a", model="test")
    with pytest.raises(ConfigError, match=r"unknown channel 'apii' \(did you mean 'api'"):
        deploy_agent(agent, ["apii"])
    with pytest.raises(ConfigError, match="the cli channel calls the API"):
        deploy_agent(agent, ["cli"])
    with pytest.raises(UserError, match="deployments always authenticate"):
        deploy_agent(agent, ["api"], auth=False)


def test_viewer_key_is_403_on_execute_with_default_settings() -> None:
    from kaizen_lab.agents import Agent
    from kaizen_lab.integrations.nexus import deploy_agent
    from kaizen_lab.security import KaizenSecurityManager

    security = KaizenSecurityManager()  # nothing configured: rbac_enabled is left unset
    viewer = security.create_api_key("vera", roles=["viewer"])
    operator = security.create_api_key("otto", roles=["operator"])
    with deploy_agent(Agent("guarded", "q -> a", model="test"), ["api"], auth=security) as service:
        url = service.url_for("guarded")
        refused = httpx.post(url, json={"inputs": {"q": "x"}}, headers=bearer(viewer))
        assert refused.status_code == 403 and "vera may not execute agent/guarded" in refused.text
        assert httpx.post(url, json={"inputs": {"q": "x"}}, headers=bearer(operator)).status_code == 200


def test_deployment_without_roles_warns_loudly(caplog: pytest.LogCaptureFixture) -> None:
    from kaizen_lab.agents import Agent
    from kaizen_lab.integrations.nexus import SecurityWarning, deploy_agent
    from kaizen_lab.security import KaizenSecurityManager

    security = KaizenSecurityManager()
    security.create_api_key("anyone")  # a key without roles: nothing to enforce
    with pytest.warns(SecurityWarning, match="WITHOUT role-based access control"), \
            deploy_agent(Agent("open", "q -> a", model="test"), ["api"], auth=security):
        pass
    assert "WITHOUT role-based access control" in caplog.text


def test_default_auth_creates_an_admin_key_shown_once() -> None:
    from kaizen_lab.agents import Agent
    from kaizen_lab.integrations.nexus import deploy_agent

    with deploy_agent(Agent("solo", "q -> a", model="test"), ["api"]) as service:
        assert service.mcp_server is None and service.cli_command is None
        assert re.match(r"^\S{30,}$", service.api_key)
        shown = service._repr_mimebundle_()
        assert service.api_endpoint in shown["text/html"] and service.api_key not in str(shown)
        url = service.url_for("solo")
        assert httpx.post(url, json={"inputs": {"q": "x"}}).status_code == 401
        assert httpx.post(url, json={"inputs": {"q": "x"}}, headers=bearer(service.api_key)).status_code == 200
    with pytest.raises(httpx.ConnectError):
        httpx.get(url.rsplit("/workflows", 1)[0] + "/health")


def test_facade_deploys_with_its_configured_security(tmp_path) -> None:
    from kaizen_lab import Kaizen

    kaizen = Kaizen({"security": {"rbac_enabled": True, "audit_logging": True,
                                  "audit_path": str(tmp_path / "audit.db")}})
    kaizen.create_agent("fx", "q -> a", model="test")
    kaizen.create_agent("fy", "q -> a", model="test")
    with kaizen.create_multi_agent_service(["fx", "fy"], ["api"]) as service:
        assert sorted(service.agents) == ["fx", "fy"]
        assert service.security.rbac_enabled and service.security.audit_enabled
        ok = httpx.post(service.url_for("fy"), json={"inputs": {"q": "x"}}, headers=bearer(service.api_key))
        assert ok.status_code == 200
    with kaizen.deploy_agent("fx", ["api"]) as single:
        assert list(single.agents) == ["fx"]


def test_serve_command_starts_the_channels_and_stops_on_sigint() -> None:
    import signal

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "kaizen_lab.cli", "serve", "tests.integrations.served_agents",
                             "--port", "0", "--mcp-port", "0", "--channels", "api,mcp"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        info = json.loads(proc.stdout.readline())
        key = next(line for line in proc.stderr if "admin API key" in line).rsplit(": ", 1)[1].strip()
        assert info["agents"] == ["greeter"] and info["mcp_server"].endswith("/mcp")
        base = info["api_endpoint"]
        assert base.startswith("http://127.0.0.1:")
        assert httpx.get(base + "/health").status_code == 200
        url = f"{base}/workflows/greeter/execute"
        assert httpx.post(url, json={"inputs": {"name": "Ada"}}).status_code == 401
        assert httpx.post(url, json={"inputs": {"name": "Ada"}}, headers=bearer(key)).status_code == 200
        assert httpx.post(info["mcp_server"], json=_INIT, headers=_MCP_HEADERS).status_code == 401
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_ready_is_503_naming_the_store_when_it_cannot_answer(tmp_path) -> None:
    from kaizen_lab.agents import Agent
    from kaizen_lab.integrations.nexus import deploy_agent

    with deploy_agent(Agent("probe", "q -> a", model="test"), ["api"],
                      persistence=str(tmp_path / "probe.db")) as service:
        assert httpx.get(service.api_endpoint + "/ready").status_code == 200
        service.stores[0].close()
        assert httpx.get(service.api_endpoint + "/ready").json() == {"ready": False}  # status only
        response = httpx.get(service.api_endpoint + "/ready", headers=bearer(service.api_key))
        assert response.status_code == 503
        check = response.json()["checks"]["store:sqlite"]
        assert check["ok"] is False and "closed" in check["reason"]
