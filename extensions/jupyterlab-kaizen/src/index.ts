/**
 * kaizen-lab for JupyterLab 4.
 *
 * - Highlights `%%signature` cells and `%agent` lines in every cell editor (a CodeMirror 6 view plugin).
 * - Checks `%%signature` cells as the user types: the kernel's own parser answers through the `kaizen_lab`
 *   comm (opened by the kernel on `%load_ext kaizen_lab`; its messages are typed in `protocol.ts`, generated from
 *   the kernel's `kaizen_lab/notebook/protocol.py`); an error underlines the whole offending token, with
 *   a CodeMirror lint tooltip and a gutter mark.
 * - A "Kaizen" sidebar lists the active kernel's signatures, agents, MCP servers and recent runs (start time
 *   and first input); a click on a run opens its trace in a panel beside the notebook (the notebook is not
 *   touched).
 */

import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { EditorExtensionRegistry, IEditorExtensionRegistry } from '@jupyterlab/codemirror';
import { INotebookTracker, NotebookActions, NotebookPanel } from '@jupyterlab/notebook';
import { Widget } from '@lumino/widgets';
import { Compartment, RangeSetBuilder, StateEffect, StateField } from '@codemirror/state';
import { Decoration, DecorationSet, EditorView, ViewPlugin, ViewUpdate } from '@codemirror/view';
import { Diagnostic as LintDiagnostic, lintGutter, setDiagnostics as setLintDiagnostics } from '@codemirror/lint';

import { tokenRange, tokenizeCell } from './grammar';
import { Answer, Outgoing, answerTo, readReply, unhandled } from './messages';
import type { Reply, SignatureDiagnostic, StateReply, Theme } from './protocol';

const COMM_TARGET = 'kaizen_lab';
const CHECK_DELAY_MS = 300;

// ---------------------------------------------------------------------------------------- highlighting

function buildDecorations(view: EditorView): DecorationSet {
  const builder = new RangeSetBuilder<Decoration>();
  const text = view.state.doc.toString();
  if (!text.includes('%%signature') && !text.includes('%agent') && !text.includes('%%agent')) {
    return builder.finish();
  }
  for (const token of tokenizeCell(text)) {
    if (token.to > token.from) {
      builder.add(token.from, token.to, Decoration.mark({ class: `kz-sig-${token.kind}` }));
    }
  }
  return builder.finish();
}

const highlighter = ViewPlugin.fromClass(
  class {
    decorations: DecorationSet;
    constructor(view: EditorView) {
      this.decorations = buildDecorations(view);
    }
    update(update: ViewUpdate): void {
      if (update.docChanged) {
        this.decorations = buildDecorations(update.view);
      }
    }
  },
  { decorations: v => v.decorations }
);

// ---------------------------------------------------------------------------------------- diagnostics

const setDiagnostics = StateEffect.define<SignatureDiagnostic[]>();

const diagnosticsField = StateField.define<DecorationSet>({
  create: () => Decoration.none,
  update(value, tr) {
    value = value.map(tr.changes);
    for (const effect of tr.effects) {
      if (effect.is(setDiagnostics)) {
        const text = tr.state.doc.toString();
        const marks = effect.value
          .map(d => ({ d, r: tokenRange(text, d.line, d.column) }))
          .filter(({ r }) => r.to > r.from)
          .map(({ d, r }) =>
            Decoration.mark({ class: 'kz-sig-error', attributes: { 'data-kz-error': d.message } }).range(r.from, r.to)
          );
        value = marks.length ? Decoration.set(marks, true) : Decoration.none;
      }
    }
    return value;
  },
  provide: f => EditorView.decorations.from(f)
});

/** The lint gutter is added to an editor only while it shows an error (no empty gutter on other cells). */
const gutterSlot = new Compartment();

function showDiagnostics(view: EditorView, errors: SignatureDiagnostic[]): void {
  const text = view.state.doc.toString();
  const lint: LintDiagnostic[] = errors.map(d => {
    const r = tokenRange(text, d.line, d.column);
    return { from: r.from, to: r.to, severity: 'error', source: '%%signature', message: d.message };
  });
  // the gutter first: its markers follow the diagnostics set after it is in place
  view.dispatch({
    effects: [setDiagnostics.of(errors), gutterSlot.reconfigure(errors.length ? lintGutter() : [])]
  });
  view.dispatch(setLintDiagnostics(view.state, lint));
}

// ---------------------------------------------------------------------------------------- kernel comm

/** The parts of a kernel connection and a comm that the channel uses (any @jupyterlab/services version). */
interface IComm {
  isDisposed: boolean;
  onMsg: (msg: { content: { data: unknown } }) => void;
  onClose: (msg: unknown) => void;
  send(data: Record<string, unknown>): unknown;
}
interface IKernel {
  createComm(target: string, commId?: string): IComm;
  hasComm?(commId: string): boolean;
  requestCommInfo(content: { target_name?: string }): Promise<{
    content: { status: string; comms?: Record<string, { target_name?: string }> };
  }>;
  registerCommTarget(target: string, callback: (comm: IComm, msg: unknown) => void): void;
}

const BACKOFF_MIN_MS = 2000;
const BACKOFF_MAX_MS = 30000;

/**
 * The kernel's one `kaizen_lab` comm, opened by the kernel on `%load_ext kaizen_lab`.
 *
 * The extension never opens (or closes) a comm: each open/close made the kernel create and delete a
 * subshell, and the teardown race printed stray errors into running cells. Instead it receives the comm as the
 * kernel opens it, or asks the kernel which comms exist (`comm_info`) and attaches to the listed one. While
 * there is none it asks again only after a cell ran (`poke`) or after a back-off growing from 2 s to 30 s.
 */
class KernelChannel {
  private comm: IComm | null = null;
  private pending = new Map<string, (reply: Reply) => void>();
  private counter = 0;
  private looking: Promise<IComm | null> | null = null;
  private retryAt = 0;
  private backoff = BACKOFF_MIN_MS;

  constructor(private kernel: IKernel) {
    try {
      kernel.registerCommTarget(COMM_TARGET, comm => this.adopt(comm));
    } catch (err) {
      // an older kernel connection without comm targets: comm_info still finds the comm
    }
  }

  /** Look for the comm at the next request (a cell ran: it may have been `%load_ext kaizen_lab`). */
  poke(): void {
    if (!this.comm) {
      this.retryAt = 0;
    }
  }

  private adopt(comm: IComm): IComm {
    comm.onMsg = msg => {
      const reply = readReply(msg.content.data);
      const resolve = reply?.request_id ? this.pending.get(reply.request_id) : undefined;
      if (reply?.request_id && resolve) {
        this.pending.delete(reply.request_id);
        resolve(reply);
      }
    };
    comm.onClose = () => {
      if (this.comm === comm) {
        this.comm = null;
      }
    };
    this.comm = comm;
    this.backoff = BACKOFF_MIN_MS;
    return comm;
  }

  private find(): Promise<IComm | null> {
    if (this.comm && !this.comm.isDisposed) {
      return Promise.resolve(this.comm);
    }
    this.comm = null;
    if (Date.now() < this.retryAt) {
      return Promise.resolve(null);
    }
    if (!this.looking) {
      this.looking = this.lookUp().finally(() => {
        this.looking = null;
      });
    }
    return this.looking;
  }

  private async lookUp(): Promise<IComm | null> {
    try {
      const reply = await this.kernel.requestCommInfo({ target_name: COMM_TARGET });
      const comms = reply.content.comms ?? {};
      const id = Object.keys(comms).find(key => (comms[key].target_name ?? COMM_TARGET) === COMM_TARGET);
      if (id && !this.comm && !this.kernel.hasComm?.(id)) {
        // attach locally to the kernel's comm: no comm_open is sent
        return this.adopt(this.kernel.createComm(COMM_TARGET, id));
      }
    } catch (err) {
      // the kernel is restarting or gone: try again after the back-off
    }
    if (!this.comm) {
      this.retryAt = Date.now() + this.backoff;
      this.backoff = Math.min(this.backoff * 2, BACKOFF_MAX_MS);
    }
    return this.comm;
  }

  async request<P extends Outgoing>(payload: P, timeoutMs = 3000): Promise<Answer<P['type']> | null> {
    const comm = await this.find();
    if (!comm || comm.isDisposed) {
      return null;
    }
    const requestId = `kz-${++this.counter}`;
    return new Promise(resolve => {
      const timer = setTimeout(() => {
        this.pending.delete(requestId);
        resolve(null);
      }, timeoutMs);
      this.pending.set(requestId, reply => {
        clearTimeout(timer);
        resolve(answerTo<P['type']>(payload.type, reply));
      });
      try {
        comm.send({ ...payload, request_id: requestId });
      } catch (err) {
        clearTimeout(timer);
        this.pending.delete(requestId);
        resolve(null);
      }
    });
  }
}

const channels = new WeakMap<object, KernelChannel>();

function channelFor(panel: NotebookPanel | null): KernelChannel | null {
  const kernel = panel?.sessionContext.session?.kernel as unknown as IKernel | null | undefined;
  if (!kernel) {
    return null;
  }
  let channel = channels.get(kernel);
  if (!channel) {
    channel = new KernelChannel(kernel);
    channels.set(kernel, channel);
  }
  return channel;
}

function watchSignatureCells(tracker: INotebookTracker): void {
  const timers = new WeakMap<object, number>();
  const check = async (panel: NotebookPanel, cell: any) => {
    const text: string = cell.model.sharedModel.getSource();
    const view: EditorView | undefined = (cell.editor as any)?.editor;
    if (!view) {
      return;
    }
    if (!/^\s*%%signature\b/.test(text)) {
      showDiagnostics(view, []);
      return;
    }
    const reply = await channelFor(panel)?.request({ type: 'check_signature', code: text });
    if (!reply || cell.model.sharedModel.getSource() !== text) {
      return;
    }
    switch (reply.type) {
      case 'check_signature':
        showDiagnostics(view, reply.errors);
        break;
      case 'error':
        console.warn(`kaizen-lab: the kernel could not check the cell: ${reply.error}`);
        break;
      default:
        unhandled(reply);
    }
  };
  tracker.widgetAdded.connect((_, panel) => {
    const hook = (cell: any) => {
      cell.model.contentChanged.connect(() => {
        const previous = timers.get(cell);
        if (previous) {
          window.clearTimeout(previous);
        }
        timers.set(cell, window.setTimeout(() => void check(panel, cell), CHECK_DELAY_MS));
      });
    };
    panel.content.widgets.forEach(hook);
    panel.content.model?.cells.changed.connect(() => {
      panel.content.widgets.forEach(cell => {
        if (!(cell as any).__kzHooked) {
          (cell as any).__kzHooked = true;
          hook(cell);
        }
      });
    });
    panel.content.widgets.forEach(cell => ((cell as any).__kzHooked = true));
  });
}

// ---------------------------------------------------------------------------------------- sidebar

const esc = (s: unknown) =>
  String(s ?? '').replace(/[&<>"']/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);

/** The theme JupyterLab shows, reported to the kernel so figures built there follow it. */
function currentTheme(): Theme {
  return document.body.dataset.jpThemeLight === 'false' ? 'dark' : 'light';
}

function startTime(epochSeconds: unknown): string {
  const n = Number(epochSeconds);
  if (!Number.isFinite(n) || n <= 0) {
    return '';
  }
  return new Date(n * 1000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/** A run's trace, opened beside the notebook (a panel of the main area; the notebook is left as it is). */
class TracePanel extends Widget {
  constructor(runId: string, html: string) {
    super();
    this.id = `kaizen-trace-${runId.replace(/[^\w-]/g, '_')}`;
    this.addClass('kz-trace-panel');
    this.title.label = `Trace ${runId.slice(-6)}`;
    this.title.caption = `kaizen-lab trace of run ${runId}`;
    this.title.closable = true;
    this.node.setAttribute('role', 'region');
    this.node.setAttribute('aria-label', `trace of run ${runId}`);
    this.node.tabIndex = 0;
    // the kernel's card: every value in it is HTML-escaped by kaizen_lab.notebook.trace_view
    this.node.innerHTML = html;
  }
}

class KaizenSidebar extends Widget {
  constructor(
    private app: JupyterFrontEnd,
    private tracker: INotebookTracker
  ) {
    super();
    this.id = 'kaizen-sidebar';
    this.addClass('kz-sidebar');
    this.title.caption = 'Kaizen';
    this.title.label = 'Kaizen';
    this.node.setAttribute('role', 'region');
    this.node.setAttribute('aria-label', 'Kaizen');
    this.node.innerHTML =
      '<p class="kz-sidebar-empty">Open a notebook and run <code>%load_ext kaizen_lab</code> to see its ' +
      'signatures, agents and runs here.</p>';
  }

  async refresh(): Promise<void> {
    const panel = this.tracker.currentWidget;
    const reply = await channelFor(panel)?.request({ type: 'state', theme: currentTheme() });
    if (!reply) {
      return;
    }
    switch (reply.type) {
      case 'state':
        this.render(reply);
        break;
      case 'error':
        console.warn(`kaizen-lab: the kernel could not list the notebook's state: ${reply.error}`);
        break;
      default:
        unhandled(reply);
    }
  }

  private render(state: StateReply): void {
    const section = (title: string, items: string[], empty: string) =>
      `<h3 class="kz-sidebar-title">${title}</h3><ul class="kz-sidebar-list" data-kz-section="${title.toLowerCase()}">${
        items.join('') || `<li class="kz-sidebar-none">${empty}</li>`
      }</ul>`;
    const sigs = state.signatures.map(
      s => `<li class="kz-sidebar-signature"><b>${esc(s.name)}</b> <code>${esc(s.text)}</code></li>`
    );
    const agents = state.agents.map(
      a =>
        `<li class="kz-sidebar-agent" data-agent="${esc(a.name)}"><b>${esc(a.name)}</b> · ${esc(a.model)}` +
        `${a.tools?.length ? ' · tools: ' + esc(a.tools.join(', ')) : ''}</li>`
    );
    const servers = state.mcp_servers.map(
      m =>
        `<li class="kz-sidebar-mcp"><b>${esc(m.name)}</b> (${esc(m.status)}) ${esc((m.tools ?? []).join(', '))}</li>`
    );
    const icon = (status: string) => (status === 'ok' ? '✓' : status === 'error' ? '✗' : '▶');
    const runs = state.runs.map(r => {
      const when = startTime(r.started);
      const input = r.input ? `<span class="kz-run-input">${esc(r.input)}</span>` : '';
      return (
        `<li class="kz-sidebar-run-item"><button type="button" class="kz-sidebar-run" data-run-id="${esc(r.run_id)}" ` +
        `title="open the trace of run ${esc(r.run_id)} beside the notebook">` +
        `<span class="kz-run-head"><span class="kz-run-status" data-status="${esc(r.status)}" aria-label="${esc(r.status)}">` +
        `${icon(r.status)}</span> <b>${esc(r.agent_id)}</b> <time class="kz-run-time">${esc(when)}</time>` +
        `<span class="kz-run-ms">${Number(r.duration_ms ?? 0).toFixed(1)} ms</span></span>${input}</button></li>`
      );
    });
    this.node.innerHTML =
      section('Signatures', sigs, 'none yet — bind one with %%signature') +
      section('Agents', agents, 'none yet — create one with %agent') +
      section('MCP servers', servers, 'none connected') +
      section('Runs', runs, 'no runs yet — run an agent first');
    this.node.querySelectorAll<HTMLElement>('.kz-sidebar-run').forEach(item => {
      item.onclick = () => void this.openRun(item.dataset.runId ?? '');
    });
  }

  async openRun(runId: string): Promise<void> {
    const panel = this.tracker.currentWidget;
    if (!panel || !runId) {
      return;
    }
    const reply = await channelFor(panel)?.request({ type: 'trace', run_id: runId });
    if (!reply) {
      return;
    }
    switch (reply.type) {
      case 'trace':
        break;
      case 'error':
        console.warn(`kaizen-lab: the kernel could not show run ${runId}: ${reply.error}`);
        return;
      default:
        unhandled(reply);
        return;
    }
    const id = `kaizen-trace-${runId.replace(/[^\w-]/g, '_')}`;
    for (const widget of this.app.shell.widgets('main')) {
      if (widget.id === id) {
        widget.node.innerHTML = reply.html;
        this.app.shell.activateById(id);
        return;
      }
    }
    const trace = new TracePanel(runId, reply.html);
    this.app.shell.add(trace, 'main', { mode: 'split-right', ref: panel.id, activate: false });
  }
}

// ---------------------------------------------------------------------------------------- plugin

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyterlab-kaizen:plugin',
  description: 'kaizen-lab: %%signature highlighting, inline diagnostics and the Kaizen sidebar',
  autoStart: true,
  requires: [INotebookTracker, IEditorExtensionRegistry],
  activate: (app: JupyterFrontEnd, tracker: INotebookTracker, registry: IEditorExtensionRegistry) => {
    registry.addExtension({
      name: 'jupyterlab-kaizen:signature',
      factory: () => EditorExtensionRegistry.createImmutableExtension([highlighter, diagnosticsField, gutterSlot.of([])])
    });
    watchSignatureCells(tracker);
    // every notebook's kernel connection accepts the kernel's comm from the start (a connection without the
    // target would close the comm the kernel opens on `%load_ext kaizen_lab`)
    tracker.widgetAdded.connect((_, panel) => {
      const attach = () => void channelFor(panel);
      panel.sessionContext.kernelChanged.connect(attach);
      attach();
    });
    const sidebar = new KaizenSidebar(app, tracker);
    app.shell.add(sidebar, 'right', { rank: 900 });
    const refresh = () => void sidebar.refresh();
    NotebookActions.executed.connect((_, args) => {
      // the cell may have been `%load_ext kaizen_lab`: look for the comm again at once
      channelFor(tracker.find(panel => panel.content === args.notebook) ?? null)?.poke();
      refresh();
    });
    tracker.currentChanged.connect(refresh);
    window.setInterval(refresh, 5000);
    (window as any).kaizenLab = { refresh, sidebar, openRun: (runId: string) => sidebar.openRun(runId) };
  }
};

export default plugin;
