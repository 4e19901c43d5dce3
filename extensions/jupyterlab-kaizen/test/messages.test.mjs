// Unit tests of reading the kernel's comm messages (compiled to lib/ by `tsc -b`), run with node's own test runner.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { answerTo, readReply } from '../lib/messages.js';

const state = { type: 'state', request_id: 'kz-1', signatures: [], agents: [], mcp_servers: [], runs: [] };

test('every reply kind of the protocol is read as itself', () => {
  const replies = [
    { type: 'check_signature', request_id: 'kz-1', errors: [{ message: 'x', line: 2, column: 0 }] },
    state,
    { type: 'trace', request_id: 'kz-2', run_id: 'r1', html: '<div></div>' },
    { type: 'error', request_id: null, error: "unknown request type 'nope'" },
  ];
  for (const reply of replies) {
    assert.equal(readReply(reply), reply);
  }
});

test('a message of an unknown kind or the wrong shape is not a reply', () => {
  for (const data of [null, 'state', 42, {}, { type: 'ready' }, { type: 'nope', request_id: 'kz-1' },
    { type: 'check_signature', request_id: 'kz-1', errors: 'none' }, { ...state, runs: undefined },
    { type: 'trace', request_id: 'kz-2', run_id: 'r1', html: 5 }, { type: 'error', request_id: 'kz-3' }]) {
    assert.equal(readReply(data), null, JSON.stringify(data));
  }
});

test('a request gets its own reply or the kernel error, never a reply of another kind', () => {
  const error = { type: 'error', request_id: 'kz-1', error: 'boom' };
  assert.equal(answerTo('state', state), state);
  assert.equal(answerTo('state', error), error);
  assert.equal(answerTo('trace', state), null);
  assert.equal(answerTo('trace', null), null);
});
