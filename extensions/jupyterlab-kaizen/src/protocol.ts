// Generated from kaizen_lab/notebook/protocol.py by `python -m kaizen_lab.notebook.protocol > extensions/jupyterlab-kaizen/src/protocol.ts`.
// Do not edit: change the Python types and regenerate.

export type Theme = "light" | "dark";

/** The data of the comm the kernel opens on ``%load_ext kaizen_lab``. */
export interface ReadyMessage {
  type: "ready";
}

/** Check a ``%%signature`` cell with the parser ``%%signature`` itself uses. */
export interface CheckSignatureRequest {
  type: "check_signature";
  request_id?: string;
  code: string;
}

/** The notebook's signatures, agents, MCP servers and recent runs, for the sidebar; ``theme`` is the theme JupyterLab shows (figures built afterwards follow it). */
export interface StateRequest {
  type: "state";
  request_id?: string;
  theme?: Theme;
}

/** The span tree of one run, as HTML for a panel beside the notebook. */
export interface TraceRequest {
  type: "trace";
  request_id?: string;
  run_id: string;
}

export type Request = CheckSignatureRequest | StateRequest | TraceRequest;

/** One error in a ``%%signature`` cell; ``line`` counts from 1 in the cell, ``column`` from 0. */
export interface SignatureDiagnostic {
  message: string;
  line: number;
  column: number;
}

/** The errors of the checked cell (none when it parses). */
export interface CheckSignatureReply {
  type: "check_signature";
  request_id: string | null;
  errors: SignatureDiagnostic[];
}

/** A signature bound in the notebook. */
export interface SignatureEntry {
  name: string;
  text: string;
}

/** An agent bound in the notebook. */
export interface AgentEntry {
  name: string;
  agent_id: string;
  model: string;
  tools: string[];
  signature: string;
}

/** A connected MCP server. */
export interface McpServerEntry {
  name: string;
  status: string;
  tools: string[];
}

/** A finished run; ``started`` is in seconds since the epoch, ``input`` the first input, shortened. */
export interface RunEntry {
  run_id: string;
  agent_id: string;
  status: string;
  duration_ms: number;
  model: string | null;
  started: number;
  input: string;
}

/** What the sidebar shows. */
export interface StateReply {
  type: "state";
  request_id: string | null;
  signatures: SignatureEntry[];
  agents: AgentEntry[];
  mcp_servers: McpServerEntry[];
  runs: RunEntry[];
}

/** A run's span tree; every value in ``html`` is escaped by the kernel. */
export interface TraceReply {
  type: "trace";
  request_id: string | null;
  run_id: string;
  html: string;
}

/** A request the kernel could not answer: malformed, of an unknown type, or failed while answered. */
export interface ErrorReply {
  type: "error";
  request_id: string | null;
  error: string;
}

export type Reply = CheckSignatureReply | StateReply | TraceReply | ErrorReply;
