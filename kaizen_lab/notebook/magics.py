"""The ``%%signature``, ``%agent``/``%%agent``, ``%kaizen`` and ``%trace`` magics.

Thin by design: parse arguments, call the core, bind or return real objects that own their display. A user's
mistake (a bad signature, an unknown agent, a failed run) is shown as an error card in the cell's output — not
a traceback on stderr —, binds nothing, and fails the cell, so Run All and nbclient stop there instead of
running on into a cascade of follow-up errors.
"""

from __future__ import annotations

import asyncio
import html
import queue
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from IPython.core.magic import Magics, cell_magic, line_cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, kwds, magic_arguments
from IPython.display import display

from kaizen_lab.errors import KaizenError, UserError, did_you_mean
from kaizen_lab.notebook._args import split_line
from kaizen_lab.notebook._usage import HelpText, option_strings, parse_args, wants_help
from kaizen_lab.notebook.display import ErrorCard, GraphView, RunProgress, RunTrace
from kaizen_lab.notebook.tracebacks import CARD_SHOWN, FullTraceback, last_error

if TYPE_CHECKING:
    from kaizen_lab.config import KaizenConfig
    from kaizen_lab.tracing.tracer import Tracer

__all__ = ["KaizenMagics", "notebook_tracer"]

_SUBCOMMANDS = ("run", "step", "list", "show")


def notebook_tracer(config: KaizenConfig | None = None) -> Tracer | None:
    """The tracer ``%load_ext`` starts when ``tracing.enabled`` (the default): ``%trace``, the sidebar and the
    panels read the runs it records. Traces stay in memory unless ``tracing.store_path`` is configured."""
    from kaizen_lab.config import load_config
    from kaizen_lab.tracing import Tracer

    if config is None:
        try:
            config = load_config()
        except KaizenError:
            from kaizen_lab.config import KaizenConfig

            config = KaizenConfig()
    if not config.tracing.enabled:
        return None
    store = None if "store_path" in config.tracing.model_fields_set else False
    return Tracer(store, config=config).start()


class _Table:
    """A small card listing rows (``%agent list``)."""

    def __init__(self, title: str, rows: Sequence[tuple[str, ...]], header: tuple[str, ...]) -> None:
        self.title, self.rows, self.header = title, rows, header

    def __repr__(self) -> str:
        lines = [self.title] + ["  " + " | ".join(r) for r in self.rows]
        return "\n".join(lines) if self.rows else f"{self.title}: none"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        head = "".join(f"<th style='text-align:left'>{html.escape(h)}</th>" for h in self.header)
        body = "".join("<tr>" + "".join(f"<td style='text-align:left'>{html.escape(c)}</td>" for c in r) + "</tr>"
                       for r in self.rows)
        return {"text/plain": repr(self),
                "text/html": f"<div class='kaizen-table'><b>{html.escape(self.title)}</b>"
                             f"<table><tr>{head}</tr>{body}</table></div>"}


@magics_class
class KaizenMagics(Magics):
    """kaizen-lab's notebook magics."""

    def __init__(self, shell: Any) -> None:
        super().__init__(shell)
        #: the one record of runs (``None`` when ``tracing.enabled`` is false): ``%trace`` and the sidebar read it
        self.tracer = notebook_tracer()
        self.last_result: Any = None
        self.last_error: BaseException | None = None

    # -- helpers ------------------------------------------------------------------------------------------
    @property
    def ns(self) -> dict[str, Any]:
        assert self.shell is not None  # set by IPython when the magics are registered
        return self.shell.user_ns

    def agents(self) -> dict[str, Any]:
        from kaizen_lab.agents.agent import Agent

        return {k: v for k, v in self.ns.items() if isinstance(v, Agent) and not k.startswith("_")}

    def signatures(self) -> dict[str, Any]:
        from kaizen_lab.signatures.signature import Signature

        out: dict[str, Any] = {}
        for k, v in self.ns.items():
            if k.startswith("_"):
                continue
            if isinstance(v, Signature) or (isinstance(v, type) and issubclass(v, Signature) and v is not Signature):
                out[k] = v
        return out

    def _agent(self, name: str) -> Any:
        found = self.agents()
        if name in found:
            return found[name]
        by_id = {a.agent_id: a for a in found.values()}
        if name in by_id:
            return by_id[name]
        raise UserError(f"no agent named {name!r}{did_you_mean(name, list(found))}; create one with "
                        f"%agent {name} \"question -> answer\"")

    def _fail(self, exc: BaseException, handle: Any = None, *, show: bool = True) -> NoReturn:
        """Show ``exc`` as the cell's error card (in ``handle`` when given), then fail the cell with it."""
        self.last_error = exc
        if show:
            if handle is not None:
                handle.update(ErrorCard(exc))
            else:
                display(ErrorCard(exc))
            setattr(exc, CARD_SHOWN, True)  # the short traceback then only points at the card
        raise exc

    # -- %%signature --------------------------------------------------------------------------------------
    @magic_arguments()
    @kwds(usage="%%signature NAME [--instructions TEXT]")  # "%" is argparse's escape; IPython adds one more
    @argument("name", help="the variable to bind the Signature to")
    @argument("--instructions", "-i", nargs="+", default=None, metavar="TEXT",
              help="instructions (replace the docstring's)")
    @cell_magic
    def signature(self, line: str, cell: str) -> Any:
        """Parse the cell as a signature and bind it to NAME; types resolve from the notebook namespace.

        The body is one line (``question: str -> answer: str``) or the multi-line form with ``# description``
        comments and an optional docstring, the outputs after a ``->`` line or on a line starting with ``->``.
        A parse error shows the line with a caret, binds nothing and fails the cell.
        """
        from kaizen_lab.signatures.signature import Signature

        if wants_help(line):
            return HelpText(self.signature.__doc__ or "")
        try:
            args = parse_args(self.signature, line, "%%signature")
        except KaizenError as exc:
            return self._fail(exc)
        if not args.name.isidentifier():
            return self._fail(UserError(f"{args.name!r} is not a valid Python name; use e.g. %%signature QA"))
        instructions = " ".join(args.instructions) if args.instructions else None
        try:
            sig = Signature.parse(cell.strip("\n"), self.ns, instructions=instructions)
        except KaizenError as exc:
            return self._fail(exc)
        object.__setattr__(sig, "_name", args.name)  # the card shows the bound name
        self.ns[args.name] = sig
        return sig

    # -- %agent / %%agent ---------------------------------------------------------------------------------
    @magic_arguments()
    @kwds(usage="agent NAME SIG [--model MODEL] [--tools f,g] [--mcp SERVER] [--instructions TEXT]\n"
                "  %%agent run NAME [INPUT=VALUE ... | VALUE] [-o] [-v VAR] [-q]\n"
                "  %%agent step NAME [INPUT=VALUE ... | VALUE]\n"
                "  %%agent list | %%agent show NAME | %%%%agent NAME (then a YAML body)")
    @argument("args", nargs="*", help="NAME SIG | run NAME k=v... | step NAME k=v... | list | show NAME")
    @argument("--model", "-m", default=None, help="model string, e.g. test, local, openai:gpt-4o-mini")
    @argument("--tools", "-t", default=None, help="comma-separated names of functions in the notebook")
    @argument("--mcp", default=None, help="an MCP server (command or URL) whose tools the agent may call")
    @argument("--instructions", "-i", default=None, help="instructions replacing the signature's")
    @argument("-o", dest="output", action="store_true", help="return the result (like %%timeit -o)")
    @argument("-v", dest="var", default=None, help="store the result in this variable")
    @argument("-q", dest="quiet", action="store_true", help="do not display the result")
    @line_cell_magic
    def agent(self, line: str, cell: str | None = None) -> Any:
        """Create, run, step through, list and show agents.

        ``%agent NAME SIG [--model M] [--tools f,g] [--mcp SERVER]`` creates an agent and binds it to NAME
        (SIG is a Signature variable or signature text); ``%agent run NAME question="..." [-o] [-v VAR] [-q]``
        (or a bare value, ``%agent run qa "What is Kaizen?"``, when the signature has one input) runs it, streaming progress into the output; ``%agent step NAME question="..."`` opens the step
        debugger; ``%agent list``; ``%agent show NAME`` draws its workflow. ``%%agent NAME`` takes a YAML body
        with ``signature``, ``model``, ``tools``, ``instructions``, ``mcp``, ``max_retries``, ``memory``.
        """
        try:
            split = split_line(line, self.ns, value_flags=("--model", "-m", "--tools", "-t", "--mcp", "-v",
                                                           "--instructions", "-i"))
            if wants_help(split.flags):
                return HelpText(self.agent.__doc__ or "")
            args = parse_args(self.agent, " ".join(filter(None, [split.flags])), "%agent")
            pos = split.positionals
            if cell is not None:
                return self._agent_from_yaml(pos, cell)
            if not pos:
                raise UserError("usage: %agent NAME SIG | run NAME k=v | step NAME k=v | list | show NAME "
                                "(see %agent?)")
            command = pos[0]
            if command == "list":
                return self._list()
            if command in ("run", "step", "show"):
                if len(pos) < 2:
                    raise UserError(f"%agent {command} needs an agent name, e.g. %agent {command} qa")
                target = self._agent(pos[1])
                if command == "show":
                    return GraphView(target.panel(), f"agent {pos[1]}")
                inputs = self._with_positional_value(target, command, pos, split.inputs)
                if command == "step":
                    return target.debug(**inputs)
                return self._run(target, inputs, args)
            if len(pos) < 2:
                raise UserError(f"%agent {command} needs a signature, e.g. %agent {command} \"question -> answer\"")
            return self._create(command, " ".join(pos[1:]), args)
        except KaizenError as exc:
            return self._fail(exc)

    @staticmethod
    def _with_positional_value(agent: Any, command: str, pos: list[str], inputs: dict[str, Any]) -> dict[str, Any]:
        """``%agent run qa "What is Kaizen?"``: a bare value is the input of a single-input signature."""
        extra = pos[2:]
        if not extra:
            return inputs
        names = list(agent.signature.input_names)
        if len(names) == 1 and len(extra) == 1 and not inputs:
            return {names[0]: extra[0]}
        example = " ".join(f'{n}="..."' for n in names)
        why = (f"{pos[1]!r} takes {len(names)} inputs" if len(names) != 1 else
               "a bare value is taken only alone, as the one input")
        raise UserError(f"%agent {command} got the value {extra[0]!r} without a name and {why}; name each input: "
                        f"%agent {command} {pos[1]} {example}")

    def _resolve_tools(self, names: list[str]) -> list[Any]:
        tools = []
        for name in names:
            if name not in self.ns or not callable(self.ns[name]):
                callables = [k for k, v in self.ns.items() if callable(v) and not k.startswith("_")]
                raise UserError(f"no function named {name!r} in the notebook{did_you_mean(name, callables)}; "
                                "define it first, then list it in --tools")
            tools.append(self.ns[name])
        return tools

    def _make(self, name: str, signature: Any, *, model: Any = None, tools: list[str] = (),  # type: ignore[assignment]
              mcp: Any = None, **options: Any) -> Any:
        from kaizen_lab.agents.agent import Agent

        if not name.isidentifier():
            raise UserError(f"{name!r} is not a valid Python name; use e.g. %agent qa \"question -> answer\"")
        if isinstance(signature, str) and signature in self.signatures():
            signature = self.signatures()[signature]
        elif isinstance(signature, str) and signature.isidentifier() and "->" not in signature:
            raise UserError(f"no signature named {signature!r}{did_you_mean(signature, list(self.signatures()))};"
                            " bind one with %%signature, or give the text: \"question -> answer\"")
        if isinstance(model, str) and model.isidentifier() and hasattr(self.ns.get(model), "request"):
            model = self.ns[model]  # a model object bound in the notebook, e.g. FunctionModel(...)
        agent = Agent(name, signature, model=model, tools=self._resolve_tools(list(tools)), namespace=self.ns,
                      **options)
        if isinstance(model, str):
            self._check_model_name(model, agent.config)
        if mcp:
            agent.connect_to_mcp_servers(mcp if isinstance(mcp, list) else [mcp])
        self.ns[name] = agent
        return agent

    @staticmethod
    def _check_model_name(model: str, config: Any) -> None:
        """A misspelt model name fails at creation, not at the first run (a missing API key still waits for
        the run: it may be set in between)."""
        from kaizen_lab.models.registry import PROVIDERS, resolve_model

        named = getattr(config, "models", None) or {}
        if model in named or model.partition(":")[0] in PROVIDERS:
            return
        resolve_model(model, config=config)  # raises "unknown model 'tset' (did you mean 'test'?) ..."

    def _create(self, name: str, signature: str, args: Any) -> Any:
        tools = [t.strip() for t in (args.tools or "").split(",") if t.strip()]
        options = {"instructions": args.instructions} if args.instructions else {}
        return self._make(name, signature, model=args.model, tools=tools, mcp=args.mcp, **options)

    def _agent_from_yaml(self, pos: list[str], body: str) -> Any:
        from kaizen_lab._yaml import load_yaml

        if len(pos) != 1:
            raise UserError("usage: %%agent NAME, then a YAML body with signature:, model:, tools: ...")
        spec = load_yaml(body, where="the %%agent body", max_bytes=100_000) or {}  # size/depth/alias limits
        if not isinstance(spec, dict) or "signature" not in spec:
            raise UserError("the %%agent body needs at least 'signature: question -> answer'")
        known = {"signature", "model", "tools", "instructions", "mcp", "max_retries", "memory", "timeout"}
        for key in spec:
            if key not in known:
                raise UserError(f"unknown %%agent key {key!r}{did_you_mean(key, sorted(known))}; "
                                f"keys are {sorted(known)}")
        for key in ("signature", "model", "instructions"):
            if spec.get(key) is not None and not isinstance(spec[key], str):
                raise UserError(f"%%agent {key}: must be text, got {type(spec[key]).__name__} ({spec[key]!r:.60})")
        tools = spec.get("tools") or []
        tools = [t.strip() for t in tools.split(",")] if isinstance(tools, str) else tools
        if not isinstance(tools, list) or not all(isinstance(t, str) for t in tools):
            raise UserError(f"%%agent tools: must be a list of function names or 'f, g', got {tools!r:.60}")
        options = {k: spec[k] for k in ("instructions", "max_retries", "memory", "timeout") if k in spec}
        return self._make(pos[0], str(spec["signature"]), model=spec.get("model"), tools=tools,
                          mcp=spec.get("mcp"), **options)

    def _list(self) -> _Table:
        rows = []
        for var, a in self.agents().items():
            rows.append((var, str(a.signature), a.model_shown, ", ".join(a.tools.names()) or "-"))
        return _Table("agents", rows, ("name", "signature", "model", "tools"))

    def _run(self, agent: Any, inputs: dict[str, Any], args: Any) -> Any:
        from kaizen_lab._aio import background_loop
        from kaizen_lab.notebook.display import _event_line

        values = dict(inputs)
        session = values.pop("session", None) if "session" not in agent.signature.input_names else None
        handle = None if args.quiet else display(RunProgress(), display_id=True)
        events: queue.Queue[Any] = queue.Queue()  # the agent's public event stream, as the run goes
        future = asyncio.run_coroutine_threadsafe(
            agent.arun(values, session=session, on_event=events.put), background_loop())
        lines: list[str] = []

        def show(event: Any) -> None:
            lines.append(_event_line(event))
            if handle is not None:
                handle.update(RunProgress(lines))

        while not future.done():
            try:
                show(events.get(timeout=0.05))
            except queue.Empty:
                continue
        while not events.empty():
            show(events.get_nowait())
        try:
            result = future.result()
        except KaizenError as exc:
            return self._fail(exc, handle, show=handle is not None)
        self.last_result = result
        if args.var:
            self.ns[args.var] = result
        if handle is not None:
            handle.update(result if not args.output else RunProgress(lines[-1:]))
        return result if args.output else None

    # -- %kaizen ------------------------------------------------------------------------------------------
    @line_magic
    def kaizen(self, line: str = "") -> Any:
        """Show kaizen-lab's status: version, configuration, the default model and why it was chosen.

        ``%kaizen export OUT [--agent NAME] [--force]`` exports this notebook's agent (the cells run so far)
        as a runnable workflow folder, like ``kaizen-lab export``. ``%kaizen traceback`` shows the full chain
        of the last error (errors are shown short: the message and its fix).
        """
        words = line.split()
        if words and words[0] == "export":
            return self._export(words[1:])
        if words and words[0] == "traceback":
            return FullTraceback(last_error())
        from kaizen_lab.models import base
        from kaizen_lab.models.registry import default_model_spec

        try:
            from kaizen_lab.config import load_config

            config: Any = load_config()
            config_text = f"loaded ({'debug' if config.debug else 'default settings'})"
        except KaizenError as exc:
            config, config_text = None, f"invalid: {exc}"
        spec, why = default_model_spec(config)
        import kaizen_lab

        rows = [("version", str(getattr(kaizen_lab, "__version__", "?"))), ("config", config_text),
                ("default model", spec), ("why", why),
                ("real requests", "allowed" if base.ALLOW_REAL_REQUESTS else "blocked (test guard)"),
                ("agents", ", ".join(self.agents()) or "-"), ("signatures", ", ".join(self.signatures()) or "-"),
                ("runs seen", str(len(self._top_runs())))]
        return _Table("kaizen-lab", rows, ("", ""))

    def _export(self, words: list[str]) -> Any:
        import argparse

        from kaizen_lab.export import NotebookCell, export_cells

        parser = argparse.ArgumentParser(prog="%kaizen export", add_help=False, exit_on_error=False)
        parser.add_argument("out")
        parser.add_argument("--agent", default=None)
        parser.add_argument("--force", action="store_true")
        try:
            args = parser.parse_args(words)
        except (argparse.ArgumentError, SystemExit):
            return self._fail(UserError("usage: %kaizen export OUT [--agent NAME] [--force]"))
        # the raw sources of the cells run so far (In holds them translated from magics), not this one
        history = getattr(self.shell, "history_manager", None)
        raw = list(getattr(history, "input_hist_raw", []) or self.ns.get("In", []))
        # numbered by execution count, as the notebook shows them beside each cell
        cells = [NotebookCell(c, "code", n, f"In [{n}]") for n, c in enumerate(raw[:-1]) if n and c.strip()]
        try:
            result = export_cells(cells, args.out, agent_id=args.agent, force=args.force, source_name="this notebook")
        except KaizenError as exc:
            return self._fail(exc)
        rows = [("agent", result.agent_id), ("folder", str(result.out)), ("files", ", ".join(result.files)),
                ("run it", f"kaizen-lab run {result.out} --input ..."),
                ("left out", "; ".join(map(str, result.left_out)) or "none")]
        return _Table("exported", rows, ("", ""))

    # -- %trace -------------------------------------------------------------------------------------------
    def _top_runs(self) -> list[Any]:
        """Summaries of the finished top-level runs the tracer holds, oldest first."""
        if self.tracer is None:
            return []
        return [r for r in self.tracer.runs(roots_only=True) if r.status != "running"]

    def _run_trace(self, run_id: str) -> RunTrace:
        assert self.tracer is not None
        return RunTrace(run_id, self.tracer.events(run_id), trace=self.tracer.get(run_id))

    @magic_arguments()
    @argument("run_id", nargs="?", default=None, help="a run id (default: the last run)")
    @argument("--panel", action="store_true", help="show the performance panel of the recent runs")
    @line_magic
    def trace(self, line: str = "") -> Any:
        """The last run (or RUN_ID) as a card, its events in order; ``--panel`` plots the recent runs.

        Everything comes from the tracer ``%load_ext`` started (``tracing.enabled``), the record the monitor,
        the sidebar and the panels share.
        """
        if wants_help(line):
            return HelpText(self.trace.__doc__ or "")
        try:
            args = parse_args(self.trace, line, "%trace")
        except KaizenError as exc:
            return self._fail(exc)
        if self.tracer is None:
            return self._fail(UserError("tracing is off (tracing.enabled: false in the configuration); turn it "
                                        "on and run %reload_ext kaizen_lab"))
        if args.run_id and not args.panel:
            try:
                return self._run_trace(args.run_id)
            except KeyError:
                known = [r.run_id for r in self.tracer.runs()][-50:]
                return self._fail(UserError(f"no run {args.run_id!r} among the recorded runs"
                                            f"{did_you_mean(args.run_id, known)}"))
        runs = self._top_runs()
        if not runs:
            return self._fail(UserError("no run yet; run an agent first (%agent run NAME question=\"...\")"))
        if args.panel:
            from kaizen_lab.notebook.panels.performance import performance_figure

            return performance_figure([self._run_trace(r.run_id) for r in runs[-50:]])
        return self._run_trace(runs[-1].run_id)

    # -- completion ---------------------------------------------------------------------------------------
    def completions(self, line: str, token: str) -> list[str] | None:
        """Completions of ``token`` at the end of ``line`` (the line up to the cursor), or ``None`` when the
        line is not one of these magics: options (``--mo`` → ``--model``), sub-commands, agent and signature
        names and input field names, in that order of relevance."""
        words = line.split()
        if not words or words[0] not in ("%agent", "%%agent", "%trace", "%%signature"):
            return None
        magic = {"%trace": self.trace, "%%signature": self.signature}.get(words[0], self.agent)
        if token.startswith("-"):
            return [o for o in option_strings(magic) if o.startswith(token)]
        if words[0] not in ("%agent", "%%agent"):
            return []
        value_flags = {"--model", "-m", "--tools", "-t", "--mcp", "-v", "--instructions", "-i"}
        pos: list[str] = []
        skip = False
        for word in words[1:]:
            if skip or word.startswith("-"):
                skip = not skip and word in value_flags
                continue
            pos.append(word)
        if line.endswith((" ", "\t")) or not pos:
            pos.append("")
        if len(pos) <= 1:
            return [w for w in (*_SUBCOMMANDS, *self.agents()) if w.startswith(token)]
        if pos[0] in ("run", "step", "show"):
            if len(pos) == 2:
                return [a for a in self.agents() if a.startswith(token)]
            try:
                agent = self._agent(pos[1])
            except UserError:
                return []
            return [f"{n}=" for n in agent.signature.input_names if f"{n}=".startswith(token)]
        if len(pos) == 2:
            return [s for s in self.signatures() if s.startswith(token)]
        return []

    def complete_agent(self, _ip: Any, event: Any) -> list[str]:
        """Tab completion for ``%agent`` (IPython's ``complete_command`` hook form)."""
        return self.completions(event.line, event.symbol) or []
