"""Production readiness: a deployment plan, and a report of real checks that each pass or fail with a reason.

``validate_production_readiness()`` does not trust settings alone: it authenticates a probe credential, writes
and verifies the audit trail, queries the store and inspects its schema, scans configuration files for
credentials with the same patterns the redactor uses, and sends a one-token request to every agent's model.
"""

from __future__ import annotations

import html
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from glob import glob
from pathlib import Path
from typing import Any

from kaizen_lab.errors import KaizenError

__all__ = ["Check", "DeploymentPlan", "ProductionDeploymentManager", "ReadinessReport"]

_CONFIG_GLOBS = ("*.yaml", "*.yml", "*.json", "*.toml", "*.ini", "*.cfg")


@dataclass(frozen=True)
class Check:
    """One readiness check: its name, whether it passed, and why."""

    name: str
    ok: bool
    reason: str
    seconds: float = 0.0


@dataclass
class ReadinessReport:
    """Every check's outcome; ``ready`` when all passed. Truthy when ready."""

    checks: list[Check]

    @property
    def ready(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def __getitem__(self, name: str) -> Check:
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(f"no check {name!r}; checks: {[c.name for c in self.checks]}")

    def __bool__(self) -> bool:
        return self.ready

    def to_dict(self) -> dict[str, Any]:
        return {"ready": self.ready, "checks": [asdict(c) for c in self.checks]}

    def __str__(self) -> str:
        lines = [f"production ready: {'yes' if self.ready else 'NO'}"]
        lines += [f"  {'PASS' if c.ok else 'FAIL'}  {c.name}: {c.reason}" for c in self.checks]
        return "\n".join(lines)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        rows = "".join(f"<tr><td>{'✅' if c.ok else '❌'}</td><td><b>{html.escape(c.name)}</b></td>"
                       f"<td>{html.escape(c.reason)}</td></tr>" for c in self.checks)
        head = "ready" if self.ready else f"not ready ({len(self.failed)} failed)"
        return {"text/plain": str(self), "text/html": f"<div><b>Production readiness: {head}</b><table>{rows}"
                                                     "</table></div>"}


@dataclass
class DeploymentPlan:
    """What a production deployment needs: settings, required environment, ordered steps, warnings."""

    agents: list[str]
    channels: list[str]
    settings: dict[str, Any]
    environment: list[str]
    steps: list[str]
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        lines = [f"deployment plan for {self.agents} on {self.channels}", "settings:"]
        lines += [f"  {k}: {v}" for k, v in self.settings.items()]
        lines += ["environment:", *(f"  {e}" for e in self.environment), "steps:"]
        lines += [f"  {i}. {s}" for i, s in enumerate(self.steps, 1)]
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)


class ProductionDeploymentManager:
    """Plans a deployment and checks that it is ready for production.

    Args:
        agents: the agents to deploy, or a ``Kaizen`` (its agents, configuration and security manager, as the
            roadmap's ``ProductionDeploymentManager(kaizen)``).
        config: a ``KaizenConfig`` (default: each agent's, else ``load_config()``).
        security: a ``KaizenSecurityManager`` (default: built from ``config.security``).
        store_url: the persistence store (default: ``config.store``).
        config_files: configuration files to scan for secrets (default: every ``*.yaml``/``*.json``/... file
            at the top of ``project_dir``).
        project_dir: where configuration files live (default: the working directory).
        channels, host, port, redis_url, workers: what the plan describes.
    """

    def __init__(self, agents: Iterable[Any] = (), *, config: Any = None, security: Any = None,
                 store_url: str | None = None, config_files: Sequence[str | Path] | None = None,
                 project_dir: str | Path = ".", channels: Sequence[str] = ("api", "cli", "mcp"),
                 host: str = "127.0.0.1", port: int = 8000, redis_url: str | None = None, workers: int = 2) -> None:
        from kaizen_lab.framework import Kaizen

        if isinstance(agents, Kaizen):
            config = agents.config if config is None else config
            security = agents.security if security is None else security
            agents = agents.agents.values()
        self.agents = list(agents)
        if config is None:
            config = next((a.config for a in self.agents if getattr(a, "config", None) is not None), None)
        if config is None:
            from kaizen_lab.config import load_config

            config = load_config()
        self.config = config
        if security is None:
            from kaizen_lab.security import KaizenSecurityManager

            security = KaizenSecurityManager(config.security)
        self.security = security
        self.store_url = store_url
        self.project_dir = Path(project_dir).absolute()
        self.config_files = [Path(f) for f in config_files] if config_files is not None else None
        self.channels = list(channels)
        self.host, self.port = host, port
        self.redis_url = redis_url
        self.workers = workers

    # -- plan ---------------------------------------------------------------------------------------------
    def prepare_production_deployment(self) -> DeploymentPlan:
        """The settings, environment variables and ordered steps of this deployment (nothing is started)."""
        from kaizen_lab.integrations.dataflow import _redact, default_url, normalize_url

        security = self.config.security
        store = normalize_url(self.store_url) if self.store_url else default_url(self.config)
        auth_method = (security.auth.method if security.auth.method != "none" else "api_key+jwt") \
            if security.auth.enabled else "off"
        settings = {"host": self.host, "port": self.port, "auth": auth_method, "rbac": security.rbac_enabled,
                    "audit_log": security.audit_path if security.audit_logging else None,
                    "store": _redact(store), "distributed": bool(self.redis_url), "workers": self.workers}
        env = ["KAIZEN_JWT_SECRET (at least 32 bytes) for JWT bearer tokens",
               "KAIZEN_API_KEY for `kaizen-lab call` clients (never in config files)"]
        if security.encryption_enabled:
            env.append("KAIZEN_ENCRYPTION_KEY (or security key_file) for encryption at rest")
        targets = " ".join(f"module:{a.agent_id}" for a in self.agents) or "module:agent"
        steps = [f"validate: ProductionDeploymentManager(...).validate_production_readiness() passes "
                 f"(store {_redact(store)}, schema current)",
                 "create API keys with KaizenSecurityManager.create_api_key(principal, roles=[...]) and "
                 "store only ApiKeyStore.export() (hashes)"]
        if self.redis_url:
            steps.append(f"start {self.workers} workers: kaizen-lab worker --redis {_redact(self.redis_url)}")
        steps += [f"serve: kaizen-lab serve {targets} --channels {','.join(self.channels)} --host {self.host} "
                  f"--port {self.port} --persistence {_redact(store)}",
                  f"probe: GET /health (liveness) and /ready (store reachable) on port {self.port}",
                  "scrape: GET /metrics with a credential allowed read:metrics (e.g. the viewer role)"]
        warnings = []
        if store.startswith("sqlite"):
            warnings.append("the store is a SQLite file: fine for one host; use PostgreSQL (store.backend: "
                            "postgresql) for several API processes")
        if not security.auth.enabled:
            warnings.append("security.auth.enabled is false in the configuration; deployments still require "
                            "credentials, but set it so every component agrees")
        if self.host not in ("127.0.0.1", "localhost", "::1"):
            warnings.append(f"binding {self.host} exposes the service to the network: put TLS in front of it")
        return DeploymentPlan([a.agent_id for a in self.agents], self.channels, settings, env, steps, warnings)

    # -- checks -------------------------------------------------------------------------------------------
    def validate_production_readiness(self, *, model_timeout: float = 15.0) -> ReadinessReport:
        """Run every check; each passes or fails with its reason (a check that crashes fails, naming why)."""
        checks = [self._run("auth_enabled", self._check_auth),
                  self._run("rbac_enabled", self._check_rbac),
                  self._run("audit_enabled", self._check_audit),
                  self._run("store_reachable", self._check_store),
                  self._run("migrations_current", self._check_migrations),
                  self._run("secrets_not_in_config_files", self._check_secrets),
                  self._run("model_reachable", lambda: self._check_models(model_timeout))]
        if self.redis_url:
            checks.append(self._run("redis_reachable", self._check_redis))
        checks.append(self._run("alerting_configured", self._check_alerting))
        return ReadinessReport(checks)

    @staticmethod
    def _run(name: str, fn: Any) -> Check:
        t0 = time.perf_counter()
        try:
            ok, reason = fn()
        except Exception as exc:  # noqa: BLE001 - a crashing check is a failed check, with its cause
            ok, reason = False, f"{type(exc).__name__}: {exc}"
        return Check(name, bool(ok), reason, time.perf_counter() - t0)

    def _check_auth(self) -> tuple[bool, str]:
        auth = self.config.security.auth
        if not auth.enabled:
            return False, "security.auth.enabled is false: set it to true (method api_key, jwt, or both)"
        # a real round trip: a probe credential must authenticate and a tampered one must not
        if auth.method == "jwt":
            good_cred = self.security.issue_token("readiness-probe", ttl=60, roles=[])
            bad_cred, revoke = good_cred[:-4] + ("AAAA" if not good_cred.endswith("AAAA") else "BBBB"), None
        else:
            good_cred = self.security.create_api_key("readiness-probe", roles=[])
            bad_cred, revoke = good_cred[:-4] + "xxxx", good_cred
        try:
            good = self.security.authenticate_user(good_cred)
            bad = self.security.authenticate_user(bad_cred)
        finally:
            if revoke:
                self.security.api_keys.revoke(revoke)
        if not good.ok or bad.ok:
            return False, f"the security manager accepted a tampered credential or refused a valid one ({good.reason})"
        accepted = {"api_key": "API keys", "jwt": "JWT bearer tokens"}.get(auth.method, "API keys and JWTs")
        return True, f"accepts {accepted}; a probe credential authenticated and a tampered one was refused"

    def _check_rbac(self) -> tuple[bool, str]:
        if not self.security.rbac_enabled:
            return False, ("security.rbac_enabled is false (or unset with no roles configured): every "
                           "authenticated caller could run every agent")
        denied = self.security.access.authorize_operation({"principal": "readiness-probe", "roles": []},
                                                          "execute", "agent/probe")
        if denied.allowed:
            return False, "a principal without roles was allowed to execute agents"
        return True, f"roles {sorted(self.security.access.roles)}; a caller without roles is denied"

    def _check_audit(self) -> tuple[bool, str]:
        if not self.security.audit_enabled:
            return False, "security.audit_logging is false: set it to true to record who ran what"
        self.security.log_operation("readiness-probe", "check", "audit", "success")
        verification = self.security.audit.verify()
        if not verification:
            return False, (f"the audit trail failed verification: {verification.problem} at row "
                          f"{verification.first_bad_seq}")
        return True, f"audit trail at {self.config.security.audit_path} written and its hash chain verified"

    def _store(self) -> Any:
        from kaizen_lab.integrations.dataflow import get_store

        return get_store(self.store_url, self.config)

    def _check_store(self) -> tuple[bool, str]:
        try:
            store = self._store()
        except KaizenError as exc:
            return False, exc.message
        return store.ping()

    def _check_migrations(self) -> tuple[bool, str]:
        try:
            store = self._store()
        except KaizenError as exc:
            return False, f"store unreachable: {exc.message}"
        return store.schema_status()

    def _config_files(self) -> list[Path]:
        if self.config_files is not None:
            return self.config_files
        return sorted(Path(p) for pattern in _CONFIG_GLOBS for p in glob(str(self.project_dir / pattern)))

    def _check_secrets(self) -> tuple[bool, str]:
        from kaizen_lab.security import redact_text

        files = self._config_files()
        found: list[str] = []
        for path in files:
            try:
                text = path.read_text(errors="replace")
            except OSError as exc:
                found.append(f"{path.name}: unreadable ({exc.strerror})")
                continue
            for number, line in enumerate(text.splitlines(), 1):
                if "${" in line or "_env" in line.split(":", 1)[0].split("=", 1)[0]:
                    continue  # a reference to an environment variable, not a secret
                if redact_text(line) != line:
                    found.append(f"{path.name}:{number}")
        if found:
            return False, (f"credentials in configuration files at {', '.join(found[:10])}; move them to "
                           "environment variables (e.g. token_env: NAME)")
        return True, f"no credentials in {len(files)} configuration file(s)"

    def _check_models(self, timeout: float) -> tuple[bool, str]:
        if not self.agents:
            return False, "no agents given: pass agents=[...] so their models can be checked"
        from kaizen_lab._aio import run_sync
        from kaizen_lab.messages import Message
        from kaizen_lab.models.base import ModelSettings

        problems, fine = [], []
        for agent in self.agents:
            try:
                model = agent.model
                t0 = time.perf_counter()
                run_sync(model.request([Message("user", "Reply with OK.")], settings=ModelSettings(max_tokens=1)),
                         timeout=timeout)
                fine.append(f"{agent.agent_id} ({agent.model_label}, {(time.perf_counter() - t0) * 1000:.0f} ms)")
            except Exception as exc:  # noqa: BLE001 - the reason is the report
                problems.append(f"{agent.agent_id}: {type(exc).__name__}: {exc}")
        if problems:
            return False, "; ".join(problems)
        return True, "models answered: " + ", ".join(fine)

    def _check_alerting(self) -> tuple[bool, str]:
        """The alert rules build from the configuration and alerts have somewhere to go besides the log."""
        from kaizen_lab.monitoring.notify import webhook_notifiers
        from kaizen_lab.monitoring.rules import default_rules

        m = self.config.monitoring
        if not m.enabled:
            return False, "monitoring.enabled is false: deployments would evaluate no alert rule"
        rules = default_rules(self.config)
        hooks = webhook_notifiers(m.webhooks)
        if not hooks:
            return False, (f"{len(rules)} alert rules, but alerts would only reach the log: add monitoring.webhooks "
                           "(e.g. an Alertmanager or chat webhook), or export the rules to Prometheus with "
                           "`kaizen-lab monitoring export`")
        return True, (f"{len(rules)} alert rules every {m.evaluation_interval_s:g} s, notifying "
                      f"{', '.join(h.url for h in hooks)}")

    def _check_redis(self) -> tuple[bool, str]:
        import redis

        client = redis.Redis.from_url(str(self.redis_url), socket_connect_timeout=3)
        try:
            client.ping()
            workers = client.scard("kailash:workers") if client.type("kailash:workers") == b"set" else 0
        finally:
            client.close()
        return True, f"Redis answered PING; {workers} registered worker(s)"
