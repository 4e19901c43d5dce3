"""Real-browser fixtures: JupyterLab 4 on a free 127.0.0.1 port with a token and a temp root, driven by
Playwright for Python on Debian's ``chromium`` (never a downloaded browser).

``jupyter_lab`` (session), ``chromium_browser`` (session), ``new_page``, ``open_notebook``, ``run_all_cells``,
``wait_kernel_idle``; screenshots go under the session's tmp dir (``shots``), and on failure ``page_for``
saves one of the page before it closes.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect, sync_playwright  # noqa: F401 - expect re-exported

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Flags that work as root on this machine.  --no-sandbox is required as root;
# the background-networking / component-update / sync flags stop Chromium
# from trying (and failing) to reach Google's hosts on a closed network.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
TIMINGS: dict[str, float] = {}


# --------------------------------------------------------------------------
# JupyterLab server fixture
# --------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:
    """preexec_fn: the server gets SIGTERM if the pytest process dies
    (e.g. killed by a CI timeout, when no fixture teardown runs).  On SIGTERM
    jupyter-server shuts its kernels down itself (checked here)."""
    import ctypes
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


class JupyterLab:
    def __init__(self, proc, port, token, root_dir, log_path):
        self.proc, self.port, self.token = proc, port, token
        self.root_dir, self.log_path = root_dir, log_path
        self.base_url = f"http://127.0.0.1:{port}"

    def url(self, path: str) -> str:
        sep = "&" if "?" in path else "?"
        return f"{self.base_url}{path}{sep}token={self.token}"

    def api(self, path: str, method: str = "GET"):
        req = urllib.request.Request(
            self.base_url + path, method=method,
            headers={"Authorization": f"token {self.token}"},
            data=b"" if method == "POST" else None)
        with urllib.request.urlopen(req, timeout=5) as r:
            body = r.read()
            return json.loads(body) if body else None


@pytest.fixture(scope="session")
def jupyter_lab(tmp_path_factory):
    base = tmp_path_factory.mktemp("jlab")
    root = base / "root"
    root.mkdir()
    home = base / "home"
    settings = home / "lab-settings"
    # User settings: no news/update toast (it would cover the bottom-right of
    # the page and tries the internet), and attach every cell to the DOM
    # (default windowingMode "contentVisibility" is fine for short notebooks,
    # but "full"/"defer" detach off-screen cells so selectors miss them).
    _write_json(settings / "@jupyterlab/apputils-extension/notification.jupyterlab-settings",
                {"fetchNews": "false", "checkForUpdates": False})
    _write_json(settings / "@jupyterlab/notebook-extension/tracker.jupyterlab-settings",
                {"windowingMode": "none"})
    env = dict(os.environ)
    env.update(
        # isolate from ~/.jupyter, ~/.local/share/jupyter (a user-level
        # "python3" kernelspec there could point at another interpreter),
        # old workspaces (which would reopen other tabs) and ~/.ipython.
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_DATA_DIR=str(home / "data"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(settings),
        JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"),
        IPYTHONDIR=str(home / "ipython"),
        PYTHONUNBUFFERED="1",
    )
    port, token = _free_port(), secrets.token_hex(16)
    log_path = base / "jupyter-lab.log"
    cmd = [
        sys.executable, "-m", "jupyterlab",
        "--no-browser", "--allow-root",           # root: refuses to start without it
        "--ip=127.0.0.1", f"--port={port}", "--port-retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--LabApp.expose_app_in_browser=True",    # window.jupyterapp for commands
        "--ServerApp.terminals_enabled=False",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    t0 = time.monotonic()
    log = open(log_path, "wb")
    proc = subprocess.Popen(cmd, env=env, cwd=root, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True, preexec_fn=_die_with_parent)
    lab = JupyterLab(proc, port, token, root, log_path)
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited {proc.returncode}:\n"
                                   + log_path.read_text(errors="replace")[-3000:])
            try:
                lab.api("/api/status")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("jupyter lab did not answer in 90 s:\n"
                                       + log_path.read_text(errors="replace")[-3000:]) from None
                time.sleep(0.1)
        TIMINGS["lab_start_s"] = time.monotonic() - t0
        yield lab
    finally:
        stop_server(lab, proc)
        log.close()


def stop_server(server: Any, proc: subprocess.Popen[bytes]) -> None:
    """Stop a Jupyter server (JupyterLab or Notebook 7) and its kernels.

    Clean stop first: ``/api/shutdown`` also shuts the kernels down. Kernels run in their own sessions
    (jupyter_client starts them with start_new_session), so killpg() does not reach them; a plain SIGTERM to
    the server lets it shut them down, and SIGKILL follows only if it does not exit.
    """
    try:
        server.api("/api/shutdown", method="POST")
        proc.wait(timeout=15)
    except Exception:  # noqa: BLE001 - then the signals below
        pass
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


# --------------------------------------------------------------------------
# Browser fixtures (Playwright for Python + Debian Chromium)
# --------------------------------------------------------------------------
# module scope, not session: Playwright's sync API keeps an asyncio loop marked running in the main thread
# while it is open, which would break every later test that calls asyncio.run
@pytest.fixture(scope="module")
def chromium_browser():
    # Named chromium_browser (not `browser`) so it cannot clash with the
    # pytest-playwright plugin's fixtures if a project also installs that.
    if not Path(CHROMIUM).exists():  # `make test` installs it (apt); a bare pytest run says why it skips
        pytest.skip(f"chromium not found at {CHROMIUM}; apt-get install chromium")
    with sync_playwright() as p:
        t0 = time.monotonic()
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        TIMINGS["browser_launch_s"] = time.monotonic() - t0
        yield b
        b.close()


@pytest.fixture(scope="session")
def shots(tmp_path_factory) -> Path:
    d = Path(os.environ.get("JLAB_E2E_SHOTS") or tmp_path_factory.mktemp("shots"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def new_page(browser, errors: list) -> Page:
    # A new context = fresh profile (no cache / localStorage carried over).
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = ctx.new_page()
    page.set_default_timeout(60_000)
    page.on("pageerror", lambda e: errors.append(str(e)))
    # Offline machine: fail anything not on loopback at once instead of
    # waiting on DNS (Voila's template pulls Font Awesome from a CDN).
    page.route(lambda url: not url.startswith("http://127.0.0.1"), lambda route: route.abort())
    return page


# --------------------------------------------------------------------------
# Helpers (stable JupyterLab 4 selectors)
# --------------------------------------------------------------------------
PROMPTS_DONE_JS = """() => {
  const ps = [...document.querySelectorAll('.jp-NotebookPanel .jp-CodeCell .jp-InputPrompt')];
  if (document.querySelector('.jp-NotebookPanel [data-mime-type="application/vnd.jupyter.stderr"]'))
    return 'stderr';   // an exception (or a warning) was printed: stop waiting, let the caller look
  return ps.length > 0 && ps.every(p => /^\\[\\d+\\]:$/.test(p.textContent.trim()));
}"""


def kernel_status(page: Page, notebook_name: str):
    """Status-bar item 'Python 3 (...) | Idle' of *this* notebook.

    Do NOT use the toolbar's .jp-Notebook-ExecutionIndicator[data-status=idle]
    to detect readiness: it reads 'idle' while the status bar still says
    'No Kernel | Initializing' (seen here), and run-all issued then can hang.
    """
    return page.locator(f'.jp-StatusBar-TextItem[title="Change kernel for {notebook_name}"]')


def wait_kernel_idle(page: Page, notebook_name: str, timeout_ms: int = 60_000) -> None:
    expect(kernel_status(page, notebook_name)).to_have_text(
        re.compile(r"\| Idle$"), timeout=timeout_ms)


def open_notebook(page: Page, lab: JupyterLab, rel_path: str) -> None:
    # ?reset: start from an empty workspace.  The workspace lives on the
    # server, so without it a second page (even a new browser context)
    # re-opens every notebook tab a previous test had open.
    page.goto(lab.url(f"/lab/tree/{rel_path}?reset"))
    page.locator(".jp-NotebookPanel .jp-Cell").first.wait_for()
    wait_kernel_idle(page, Path(rel_path).name)   # kernel started AND connected


def run_all_cells(page: Page, notebook_name: str, via: str = "command",
                  timeout_ms: int = 120_000) -> None:
    """Clear outputs, run every cell, wait until all code cells have a number."""
    if via == "command":     # needs --LabApp.expose_app_in_browser=True
        # Do not await commands.execute('notebook:run-all-cells') inside
        # page.evaluate: evaluate() has no timeout and that promise can hang.
        page.evaluate("""async () => {
            const c = window.jupyterapp.commands;
            await c.execute('notebook:clear-all-cell-outputs');
            c.execute('notebook:run-all-cells');
        }""")
    else:                    # plain UI: menu bar -> Edit/Run -> item (data-command is stable;
        # the main menu uses the generic editmenu:/runmenu: ids, not notebook:*)
        page.locator(".lm-MenuBar-item", has_text="Edit").click()
        page.locator(".lm-Menu-item[data-command='editmenu:clear-all']").click()
        page.locator(".lm-MenuBar-item", has_text="Run").click()
        page.locator(".lm-Menu-item[data-command='runmenu:run-all']").click()
    done = page.wait_for_function(PROMPTS_DONE_JS, timeout=timeout_ms).json_value()
    if done == "stderr":
        err = page.locator('.jp-NotebookPanel [data-mime-type="application/vnd.jupyter.stderr"]')
        raise AssertionError("a cell wrote to stderr:\n" + "\n".join(err.all_inner_texts()))
    wait_kernel_idle(page, notebook_name, timeout_ms)




def pytest_collection_modifyitems(items: list) -> None:
    for item in items:
        if "tests/e2e/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> object:
    # keep each phase's report on the item so fixtures can screenshot only failed tests
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
