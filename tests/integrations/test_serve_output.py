"""``kaizen-lab serve`` says only what is true and actionable, and ``--port 0`` means free ports for both
channels (two services at once); ``kaizen-lab call`` shows its credential hint intact."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _serve() -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "KAIZEN_API_KEY"}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.Popen([sys.executable, "-m", "kaizen_lab.cli", "serve", "tests.integrations.served_agents",
                             "--port", "0"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


@pytest.mark.slow
def test_two_services_on_port_0_start_quietly_on_free_ports() -> None:
    procs = [_serve(), _serve()]
    try:
        infos = [json.loads(p.stdout.readline()) for p in procs]  # type: ignore[union-attr]
        mcp = [info["mcp_server"] for info in infos]
        api = [info["api_endpoint"] for info in infos]
        assert len(set(mcp)) == 2 and len(set(api)) == 2
        assert not any(":8765/" in url for url in mcp)  # not the fixed default port
        for info in infos:
            assert httpx.get(info["api_endpoint"] + "/health").status_code == 200

        env = {k: v for k, v in os.environ.items() if k != "KAIZEN_API_KEY"}
        call = subprocess.run([sys.executable, "-m", "kaizen_lab.cli", "call", api[0], "greeter", "--input",
                               "name=Ada"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert call.returncode != 0
        assert "'Bearer ' followed by a token or API key" in call.stderr and "[REDACTED]" not in call.stderr
        for proc in procs:
            proc.send_signal(signal.SIGINT)
        for proc in procs:
            assert proc.wait(30) == 0
            lines = [line for line in proc.stderr.read().splitlines() if line.strip()]  # type: ignore[union-attr]
            # the one message a user needs: the admin key made up for this service (no Kailash/Nexus noise)
            assert len(lines) == 1 and lines[0].startswith("admin API key (shown once): kz_"), lines
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()


@pytest.mark.slow
def test_the_deploy_cells_of_notebook_08_write_nothing_to_stderr(tmp_path: Path) -> None:
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(str(ROOT / "notebooks" / "08-export-deploy.ipynb"), as_version=4)
    skipped = ("export_notebook(", "read_text()", "subprocess.run(")
    # every cell but the export and CLI ones (they run subprocesses, tested elsewhere): the deployment and stop
    nb.cells = [c for c in nb.cells if c.cell_type == "code" and not any(w in c.source for w in skipped)]
    deploy = next(i for i, c in enumerate(nb.cells) if "deploy_agent(" in c.source)
    NotebookClient(nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert [o["text"] for c in nb.cells for o in c.outputs if o.get("name") == "stderr"] == []
    assert "True" in "".join(o.get("text", "") for o in nb.cells[deploy].outputs)  # the service did start
