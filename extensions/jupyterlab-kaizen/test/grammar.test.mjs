// Unit tests of the pure tokenizer (compiled to lib/ by `tsc -b`), run with node's own test runner.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { offsetOf, tokenizeCell, tokenizeMagicLine, tokenizeSignatureCell } from '../lib/grammar.js';

const pick = (text, tokens) => tokens.map(t => [t.kind, text.slice(t.from, t.to)]);

test('one-line signature: fields, types, defaults and the arrow', () => {
  const text = '%%signature QA\nquestion: str, k: int = 3 -> answer: str, confidence: float';
  assert.deepEqual(pick(text, tokenizeSignatureCell(text)), [
    ['magic', '%%signature'], ['name', 'QA'],
    ['field', 'question'], ['type', 'str'], ['field', 'k'], ['type', 'int'], ['default', '3'],
    ['arrow', '->'], ['field', 'answer'], ['type', 'str'], ['field', 'confidence'], ['type', 'float'],
  ]);
});

test('multi-line signature: docstring, descriptions and nested generic types', () => {
  const text = [
    '%%signature QA --instructions "Be brief."',
    '"""Answer questions."""',
    'question: str          # the user\'s question',
    'context: list[dict[str, int]] = []  # passages',
    '->',
    'answer: Literal[\'a\', \'b\']  # one of two',
  ].join('\n');
  const got = pick(text, tokenizeSignatureCell(text));
  assert.deepEqual(got.slice(0, 4), [['magic', '%%signature'], ['name', 'QA'], ['flag', '--instructions'],
    ['string', '"Be brief."']]);
  assert.deepEqual(got.slice(4), [
    ['docstring', '"""Answer questions."""'],
    ['field', 'question'], ['type', 'str'], ['description', "# the user's question"],
    ['field', 'context'], ['type', 'list[dict[str, int]]'], ['default', '[]'], ['description', '# passages'],
    ['arrow', '->'],
    ['field', 'answer'], ['type', "Literal['a', 'b']"], ['description', '# one of two'],
  ]);
});

test('a comma inside brackets does not split fields', () => {
  const text = '%%signature S\na: dict[str, int] -> b';
  const fields = pick(text, tokenizeSignatureCell(text)).filter(([k]) => k === 'field');
  assert.deepEqual(fields, [['field', 'a'], ['field', 'b']]);
});

test('%agent lines: magic, sub-command, names, flags', () => {
  const text = 'x = 1\n%agent qa QA --model test --tools search,lookup\n%agent run qa question="hi"';
  assert.deepEqual(pick(text, tokenizeCell(text)), [
    ['magic', '%agent'], ['name', 'qa'], ['name', 'QA'], ['flag', '--model'], ['name', 'test'], ['flag', '--tools'],
    ['name', 'search,lookup'],
    ['magic', '%agent'], ['subcommand', 'run'], ['name', 'qa'], ['name', 'question="hi"'],
  ]);
});

test('plain Python cells get no tokens', () => {
  assert.deepEqual(tokenizeCell('def f(a: int) -> int:\n    return a'), []);
});

test('header tokens keep their offsets', () => {
  const tokens = tokenizeMagicLine('%agent show qa', 10);
  assert.deepEqual(tokens.map(t => [t.from, t.to, t.kind]), [[10, 16, 'magic'], [17, 21, 'subcommand'], [22, 24, 'name']]);
});

test('offsetOf maps a line and column to a document offset, clamped', () => {
  const text = 'ab\ncdef\ng';
  assert.equal(offsetOf(text, 1, 0), 0);
  assert.equal(offsetOf(text, 2, 2), 5);
  assert.equal(offsetOf(text, 2, 99), 7);
  assert.equal(offsetOf(text, 9, 0), 8);
});

test('an error range covers the whole offending token, not one letter', async () => {
  const { tokenRange } = await import('../lib/grammar.js');
  const text = '%%signature QA\nquestion: flaot\n->\nanswer: str';
  const r = tokenRange(text, 2, 10);
  assert.equal(text.slice(r.from, r.to), 'flaot');
  const tail = '%%signature QA\nquestion: str ->';
  const end = tokenRange(tail, 2, 99);  // an error after the last character still marks one character
  assert.deepEqual([end.to - end.from, end.to], [1, tail.length]);
});
