// docs/CLIENTS.md covers every error reason the server can return: each
// reason passed to ErrorWithReason (or the authenticator's Unauthenticated)
// anywhere under services/ must appear in it, in backquotes. A new reason
// without client guidance fails here.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.join(__dirname, '..', '..', '..');

function sources(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sources(full);
    return /\.(cc|h)$/.test(entry.name) ? [full] : [];
  });
}

// The reasons: upper-case string literals among the arguments of the calls
// that attach one (the reason is the first or second argument).
function reasons() {
  const found = new Map();
  for (const file of sources(path.join(ROOT, 'services'))) {
    const text = fs.readFileSync(file, 'utf8');
    for (const call of text.matchAll(/\b(ErrorWithReason|Unauthenticated)\(([^;]*)/g)) {
      const args = call[2].slice(0, 200);
      for (const literal of args.matchAll(/"([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)"/g)) {
        found.set(literal[1], path.relative(ROOT, file));
      }
    }
  }
  return found;
}

test('every error reason has guidance in docs/CLIENTS.md', () => {
  const doc = fs.readFileSync(path.join(ROOT, 'docs', 'CLIENTS.md'), 'utf8');
  const all = reasons();
  // The scan itself must work: these are certainly returned.
  for (const known of ['RATE_LIMITED', 'IDEMPOTENCY_KEY_IN_FLIGHT', 'IDEMPOTENCY_KEY_REUSED',
                       'NOT_ORDER_MEMBER', 'CREDENTIALS_MISSING', 'TOKEN_EXPIRED']) {
    assert.ok(all.has(known), `the scan missed ${known}`);
  }
  const missing = [...all].filter(([reason]) => !doc.includes(`\`${reason}\``))
    .map(([reason, file]) => `${reason} (${file})`);
  assert.deepEqual(missing, [], 'reasons without guidance in docs/CLIENTS.md');
});

test('every status code the example client names has guidance', () => {
  const doc = fs.readFileSync(path.join(ROOT, 'docs', 'CLIENTS.md'), 'utf8');
  for (const code of ['UNAVAILABLE', 'ABORTED', 'DEADLINE_EXCEEDED', 'RESOURCE_EXHAUSTED',
                      'INVALID_ARGUMENT', 'FAILED_PRECONDITION', 'NOT_FOUND',
                      'PERMISSION_DENIED', 'UNAUTHENTICATED', 'UNIMPLEMENTED', 'INTERNAL',
                      'DATA_LOSS', 'UNKNOWN', 'CANCELLED']) {
    assert.ok(doc.includes(`\`${code}\``), code);
  }
});
