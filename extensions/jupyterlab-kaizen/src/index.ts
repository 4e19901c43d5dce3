/**
 * kaizen-lab for JupyterLab 4.
 *
 * - Highlights `%%signature` cells and `%agent` lines in every cell editor (a CodeMirror 6 view plugin).
 * - Checks `%%signature` cells as the user types: the kernel's own parser answers through the `kaizen_lab`
 *   comm target (registered by `%load_ext kaizen_lab`) and errors show as a squiggle at the column.
 * - A "Kaizen" sidebar lists the active kernel's signatures, agents, MCP servers and recent runs; a click on a
 *   run inserts `%trace RUN_ID` below the active cell and runs it.
 */

import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { EditorExtensionRegistry, IEditorExtensionRegistry } from '@jupyterlab/codemirror';
import { INotebookTracker, NotebookActions, NotebookPanel } from '@jupyterlab/notebook';
import { Widget } from '@lumino/widgets';
import { RangeSetBuilder, StateEffect, StateField } from '@codemirror/state';
import { Decoration, DecorationSet, EditorView, ViewPlugin, ViewUpdate } from '@codemirror/view';

import { offsetOf, tokenizeCell } from './grammar';

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

export interface Diagnostic {
  message: string;
  line: number;
  column: number;
}

const setDiagnostics = StateEffect.define<Diagnostic[]>();

const diagnosticsField = StateField.define<DecorationSet>({
  create: () => Decoration.none,
  update(value, tr) {
    value = value.map(tr.changes);
    for (const effect of tr.effects) {
      if (effect.is(setDiagnostics)) {
        const text = tr.state.doc.toString();
        const marks = effect.value.map(d => {
          let from = offsetOf(text, d.line, d.column);
          let to = Math.min(text.length, from + 1);
          if (to === from && from > 0) {
            from -= 1;
            to = from + 1;
          }
          return Decoration.mark({
            class: 'kz-sig-error',
            attributes: { title: d.message, 'data-kz-error': d.message }
          }).range(from, Math.max(to, from));
        });
        value = marks.length ? Decoration.set(marks.filter(m => m.to > m.from), true) : Decoration.none;
      }
    }
    return value;
  },
  provide: f => EditorView.decorations.from(f)
});

// ---------------------------------------------------------------------------------------- kernel comm

/** The parts of a kernel connection and a comm that the channel uses (any @jupyterlab/services version). */
interface IComm {
  isDisposed: boolean;
  onMsg: (msg: { content: { data: unknown } }) => void;
  onClose: (msg: unknown) => void;
  open(data: Record<string, unknown>): unknown;
  send(data: Record<string, unknown>): unknown;
}
interface IKernel {
  createComm(target: string): IComm;
}

/** One comm per kernel; requests carry an id and resolve when the kernel answers. */
class KernelChannel {
  private comm: IComm | null = null;
  private pending = new Map<string, (data: any) => void>();
  private counter = 0;

  constructor(private kernel: IKernel) {}

  private open(): IComm | null {
    if (this.comm && !this.comm.isDisposed) {
      return this.comm;
    }
    try {
      const comm = this.kernel.createComm(COMM_TARGET);
      comm.onMsg = msg => {
        const data = msg.content.data as any;
        const resolve = this.pending.get(data?.request_id);
        if (resolve) {
          this.pending.delete(data.request_id);
          resolve(data);
        }
      };
      comm.onClose = () => {
        this.comm = null;
      };
      comm.open({});
      this.comm = comm;
    } catch (err) {
      this.comm = null;
    }
    return this.comm;
  }

  request(payload: Record<string, unknown>, timeoutMs = 3000): Promise<any> {
    const comm = this.open();
    if (!comm) {
      return Promise.resolve(null);
    }
    const requestId = `kz-${++this.counter}`;
    return new Promise(resolve => {
      const timer = setTimeout(() => {
        this.pending.delete(requestId);
        resolve(null);
      }, timeoutMs);
      this.pending.set(requestId, data => {
        clearTimeout(timer);
        resolve(data);
      });
      comm.send({ ...payload, request_id: requestId });
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
      view.dispatch({ effects: setDiagnostics.of([]) });
      return;
    }
    const reply = await channelFor(panel)?.request({ type: 'check_signature', code: text });
    if (reply && cell.model.sharedModel.getSource() === text) {
      view.dispatch({ effects: setDiagnostics.of((reply.errors ?? []) as Diagnostic[]) });
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

class KaizenSidebar extends Widget {
  constructor(private tracker: INotebookTracker) {
    super();
    this.id = 'kaizen-sidebar';
    this.addClass('kz-sidebar');
    this.title.caption = 'Kaizen';
    this.title.label = 'Kaizen';
    this.node.innerHTML = '<div class="kz-sidebar-empty">Open a notebook and run <code>%load_ext kaizen_lab</code>.</div>';
  }

  async refresh(): Promise<void> {
    const panel = this.tracker.currentWidget;
    const state = await channelFor(panel)?.request({ type: 'state' });
    if (!state) {
      return;
    }
    this.render(state);
  }

  private render(state: any): void {
    const esc = (s: unknown) =>
      String(s ?? '').replace(/[&<>"]/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] as string);
    const section = (title: string, items: string[]) =>
      `<h3 class="kz-sidebar-title">${title}</h3><ul class="kz-sidebar-list" data-kz-section="${title.toLowerCase()}">${
        items.join('') || '<li class="kz-sidebar-none">none</li>'
      }</ul>`;
    const sigs = (state.signatures ?? []).map(
      (s: any) => `<li class="kz-sidebar-signature"><b>${esc(s.name)}</b> <code>${esc(s.text)}</code></li>`
    );
    const agents = (state.agents ?? []).map(
      (a: any) =>
        `<li class="kz-sidebar-agent" data-agent="${esc(a.name)}"><b>${esc(a.name)}</b> · ${esc(a.model)}` +
        `${a.tools?.length ? ' · tools: ' + esc(a.tools.join(', ')) : ''}</li>`
    );
    const servers = (state.mcp_servers ?? []).map(
      (m: any) =>
        `<li class="kz-sidebar-mcp"><b>${esc(m.name)}</b> (${esc(m.status)}) ${esc((m.tools ?? []).join(', '))}</li>`
    );
    const runs = (state.runs ?? []).map(
      (r: any) =>
        `<li class="kz-sidebar-run" data-run-id="${esc(r.run_id)}" title="open the trace">` +
        `${esc(r.agent_id)} · ${esc(r.status)} · ${Number(r.duration_ms ?? 0).toFixed(1)} ms</li>`
    );
    this.node.innerHTML =
      section('Signatures', sigs) + section('Agents', agents) + section('MCP servers', servers) + section('Runs', runs);
    this.node.querySelectorAll<HTMLElement>('.kz-sidebar-run').forEach(item => {
      item.onclick = () => void this.openRun(item.dataset.runId ?? '');
    });
  }

  private async openRun(runId: string): Promise<void> {
    const panel = this.tracker.currentWidget;
    if (!panel || !runId) {
      return;
    }
    NotebookActions.insertBelow(panel.content);
    const cell = panel.content.activeCell;
    cell?.model.sharedModel.setSource(`%trace ${runId}`);
    await NotebookActions.run(panel.content, panel.sessionContext);
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
      factory: () => EditorExtensionRegistry.createImmutableExtension([highlighter, diagnosticsField])
    });
    watchSignatureCells(tracker);
    const sidebar = new KaizenSidebar(tracker);
    app.shell.add(sidebar, 'right', { rank: 900 });
    const refresh = () => void sidebar.refresh();
    NotebookActions.executed.connect(refresh);
    tracker.currentChanged.connect(refresh);
    window.setInterval(refresh, 5000);
    (window as any).kaizenLab = { refresh, sidebar };
  }
};

export default plugin;
