/**
 * Tokens of kaizen-lab cells, for highlighting (pure; no JupyterLab or CodeMirror imports).
 *
 * A `%%signature NAME` cell holds a signature in the one-line form (`question: str -> answer: str`) or the
 * multi-line form (docstring, one field per line with `# description`, `->` on its own line).
 * `%agent` lines are magics with a sub-command or an agent name and `--flags`.
 */

export type TokenKind =
  | 'magic'
  | 'name'
  | 'flag'
  | 'string'
  | 'field'
  | 'type'
  | 'default'
  | 'arrow'
  | 'description'
  | 'docstring'
  | 'subcommand';

export interface Token {
  from: number;
  to: number;
  kind: TokenKind;
}

const AGENT_SUBCOMMANDS = new Set(['run', 'step', 'list', 'show']);

/** Tokens for a whole cell: a `%%signature` cell, or any cell containing `%agent` lines. */
export function tokenizeCell(text: string): Token[] {
  if (/^\s*%%signature\b/.test(text)) {
    return tokenizeSignatureCell(text);
  }
  const tokens: Token[] = [];
  let offset = 0;
  for (const line of text.split('\n')) {
    const lead = line.length - line.trimStart().length;
    if (/^%%?agent\b/.test(line.trimStart())) {
      tokens.push(...tokenizeMagicLine(line.trimStart(), offset + lead));
    }
    offset += line.length + 1;
  }
  return tokens;
}

/** `%agent ...` / `%%signature ...` header lines: the magic, names, flags and quoted strings. */
export function tokenizeMagicLine(line: string, offset = 0): Token[] {
  const tokens: Token[] = [];
  const re = /("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|\S+)/g;
  let match: RegExpExecArray | null;
  let index = 0;
  while ((match = re.exec(line)) !== null) {
    const word = match[0];
    const from = offset + match.index;
    const to = from + word.length;
    let kind: TokenKind;
    if (index === 0) {
      kind = 'magic';
    } else if (word.startsWith('-')) {
      kind = 'flag';
    } else if (word.startsWith('"') || word.startsWith("'")) {
      kind = 'string';
    } else if (index === 1 && AGENT_SUBCOMMANDS.has(word) && line.startsWith('%agent')) {
      kind = 'subcommand';
    } else if (word.includes('->')) {
      kind = 'type';
    } else {
      kind = 'name';
    }
    tokens.push({ from, to, kind });
    index += 1;
  }
  return tokens;
}

/** Split a field list at top-level commas (brackets and strings respected); returns [start, end) pairs. */
function splitTopLevel(text: string, sep: string): Array<[number, number]> {
  const parts: Array<[number, number]> = [];
  let depth = 0;
  let quote = '';
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quote) {
      if (ch === '\\') {
        i++;
      } else if (ch === quote) {
        quote = '';
      }
    } else if (ch === '"' || ch === "'") {
      quote = ch;
    } else if ('([{'.includes(ch)) {
      depth++;
    } else if (')]}'.includes(ch)) {
      depth--;
    } else if (depth === 0 && text.startsWith(sep, i)) {
      parts.push([start, i]);
      start = i + sep.length;
      i += sep.length - 1;
    }
  }
  parts.push([start, text.length]);
  return parts;
}

function commentStart(line: string): number {
  let quote = '';
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quote) {
      if (ch === quote) {
        quote = '';
      }
    } else if (ch === '"' || ch === "'") {
      quote = ch;
    } else if (ch === '#') {
      return i;
    }
  }
  return -1;
}

/** One field: `name`, `: type`, `= default`. */
function tokenizeField(text: string, offset: number, tokens: Token[]): void {
  const nameMatch = /^\s*([A-Za-z_]\w*)/.exec(text);
  if (!nameMatch) {
    return;
  }
  const nameFrom = offset + nameMatch[0].length - nameMatch[1].length;
  tokens.push({ from: nameFrom, to: nameFrom + nameMatch[1].length, kind: 'field' });
  const rest = text.slice(nameMatch[0].length);
  const restOffset = offset + nameMatch[0].length;
  const [[, beforeEq], maybeDefault] = ((): [[number, number], [number, number] | undefined] => {
    const pieces = splitTopLevel(rest, '=');
    return [pieces[0], pieces.length > 1 ? [pieces[0][1] + 1, rest.length] : undefined];
  })();
  const annotation = rest.slice(0, beforeEq);
  const colon = annotation.indexOf(':');
  if (colon >= 0) {
    const typeText = annotation.slice(colon + 1);
    const lead = typeText.length - typeText.trimStart().length;
    const trimmed = typeText.trim();
    if (trimmed) {
      const from = restOffset + colon + 1 + lead;
      tokens.push({ from, to: from + trimmed.length, kind: 'type' });
    }
  }
  if (maybeDefault) {
    const value = rest.slice(maybeDefault[0], maybeDefault[1]);
    const lead = value.length - value.trimStart().length;
    const trimmed = value.trim();
    if (trimmed) {
      const from = restOffset + maybeDefault[0] + lead;
      tokens.push({ from, to: from + trimmed.length, kind: 'default' });
    }
  }
}

/** Field list with arrows (one line, or one line of the multi-line form). */
function tokenizeFields(line: string, offset: number, tokens: Token[]): void {
  const sides = splitTopLevel(line, '->');
  sides.forEach(([start, end], index) => {
    if (index > 0) {
      tokens.push({ from: offset + start - 2, to: offset + start, kind: 'arrow' });
    }
    for (const [a, b] of splitTopLevel(line.slice(start, end), ',')) {
      tokenizeField(line.slice(start + a, start + b), offset + start + a, tokens);
    }
  });
}

/** Tokens of a `%%signature` cell (header, docstring, fields, arrows, types, defaults, descriptions). */
export function tokenizeSignatureCell(text: string): Token[] {
  const tokens: Token[] = [];
  const lines = text.split('\n');
  let offset = 0;
  let inDoc = '';
  lines.forEach((line, index) => {
    const lead = line.length - line.trimStart().length;
    const trimmed = line.trim();
    if (index === 0 || (!tokens.length && trimmed.startsWith('%%signature'))) {
      tokens.push(...tokenizeMagicLine(line.trimStart(), offset + lead));
    } else if (inDoc || trimmed.startsWith('"""') || trimmed.startsWith("'''")) {
      const quote = inDoc || trimmed.slice(0, 3);
      const closes = inDoc ? trimmed.includes(quote) : trimmed.slice(3).includes(quote);
      tokens.push({ from: offset + lead, to: offset + line.length, kind: 'docstring' });
      inDoc = closes ? '' : quote;
    } else if (trimmed) {
      const hash = commentStart(line);
      const code = hash >= 0 ? line.slice(0, hash) : line;
      tokenizeFields(code, offset, tokens);
      if (hash >= 0) {
        tokens.push({ from: offset + hash, to: offset + line.length, kind: 'description' });
      }
    }
    offset += line.length + 1;
  });
  return tokens.sort((a, b) => a.from - b.from || a.to - b.to);
}

/** Offset of (1-based line, 0-based column) in `text`, clamped to the text. */
export function offsetOf(text: string, line: number, column: number): number {
  const lines = text.split('\n');
  let offset = 0;
  for (let i = 0; i < Math.min(line - 1, lines.length - 1); i++) {
    offset += lines[i].length + 1;
  }
  const current = lines[Math.min(line - 1, lines.length - 1)] ?? '';
  return offset + Math.max(0, Math.min(column, current.length));
}

/** The range of the token an error points at: the grammar's token there, else the word, else one character. */
export function tokenRange(text: string, line: number, column: number): { from: number; to: number } {
  const at = offsetOf(text, line, column);
  const token = tokenizeCell(text).find(t => t.from <= at && at < t.to && t.kind !== 'description');
  if (token && token.to > token.from) {
    return { from: token.from, to: token.to };
  }
  let from = at;
  let to = at;
  while (to < text.length && /[\w.]/.test(text[to])) {
    to++;
  }
  if (to === from) {
    if (from >= text.length && from > 0) {
      from -= 1;
    }
    to = Math.min(text.length, from + 1);
  }
  return { from, to };
}
