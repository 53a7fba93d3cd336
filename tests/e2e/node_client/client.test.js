// The Node example client (examples/node/) against the built makegood with
// a real redis-server, both started by node_client_e2e_test.cc, which runs
// this file with `node --test` and passes, in the environment:
//   MAKEGOOD_ADDRESS     host:port of the server
//   MAKEGOOD_REDIS_PORT  its redis-server (the tests pause it to force
//                        UNAVAILABLE and ABORTED)
//   MAKEGOOD_CA          set for the TLS run: the CA of the server's
//                        certificate; then also MAKEGOOD_APP_API_KEY (role
//                        app-backend), MAKEGOOD_ORDER_API_KEY (order-system)
//                        and MAKEGOOD_JWT_SECRET (HS256, issuer
//                        https://id.example, audience makegood).
// Without MAKEGOOD_CA the server is in development mode (plaintext, no
// credentials) with --redis_timeout=500ms, --claim_lease=1s and a member rate
// limit of 60/m with a burst of 2.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const path = require('node:path');
const { execFile, execFileSync } = require('node:child_process');

const { MakegoodClient } = require('../../../examples/node/makegood_client');
const { playStory, commands } = require('../../../examples/node/demo');

const env = process.env;
const ADDRESS = env.MAKEGOOD_ADDRESS;
const TLS = Boolean(env.MAKEGOOD_CA);
assert.ok(ADDRESS, 'MAKEGOOD_ADDRESS is required (run by node_client_e2e_test)');

let unique = 0;
function ids(prefix) {
  const n = `${prefix}-${process.pid}-${++unique}`;
  return { memberId: `m-${n}`, orderId: `o-${n}`, key: `rating:o-${n}` };
}

// A client as an app backend would build it, recording every retry.
function client(options = {}) {
  const retries = [];
  const c = new MakegoodClient({
    address: ADDRESS, caFile: env.MAKEGOOD_CA, apiKey: env.MAKEGOOD_APP_API_KEY,
    clientId: TLS ? undefined : 'e2e-app', baseDelayMs: 50, maxDelayMs: 400,
    maxAttempts: 12, onRetry: (r) => retries.push(r), ...options,
  });
  c.retries = retries;
  return c;
}

// The membership and order systems' side: in the TLS run its own key.
function recorder() {
  return client({ apiKey: env.MAKEGOOD_ORDER_API_KEY });
}

async function recordOrder(rec, { memberId, orderId }, tier = 'premium') {
  await rec.call(rec.members, 'UpsertMember', { member: {
    memberId, tier, flags: ['verified'], memberSince: { seconds: 1646092800 } } });
  await rec.call(rec.orders, 'RecordDelivery', { order: {
    orderId, memberId, storeId: 's-1', courierId: 'c-1', currency: 'EUR',
    totalMinor: 2500, deliveryFeeMinor: 300, paymentMethod: 'PAYMENT_METHOD_CARD',
    deliveredAt: { seconds: Math.floor(Date.now() / 1000) - 600 },
    lines: [{ lineId: 'l1', sku: 'ICE-1', category: 'frozen', quantity: 1,
              amountMinor: 800 }] } });
}

function rating({ memberId, orderId, key }, extra = {}) {
  return { idempotencyKey: key, memberId, orderId, satisfactionPercent: 50,
           reasons: ['REASON_MELTED_OR_WARM'], ...extra };
}

// Holds every redis command for `ms` (the server's calls wait, then time out
// at --redis_timeout).
function pauseRedis(ms) {
  execFileSync('redis-cli', ['-p', env.MAKEGOOD_REDIS_PORT, 'CLIENT', 'PAUSE',
                             String(ms), 'ALL']);
}

async function rejectsWith(promise, codeName, reason) {
  let error;
  try {
    await promise;
  } catch (e) {
    error = e;
  }
  assert.ok(error, `expected ${codeName}, the call succeeded`);
  assert.equal(error.codeName, codeName, error.message);
  if (reason) assert.equal(error.reason, reason, error.message);
  return error;
}

test('the headline story: decision, refund to SUCCEEDED, trust, replay', async () => {
  const app = client();
  const rec = recorder();
  const lines = [];
  try {
    const story = await playStory({ client: app, recorder: rec, stamp: `s${process.pid}`,
                                    print: (l) => lines.push(l) });
    const { decision } = story.answer;
    assert.equal(decision.outcome, 'OUTCOME_REFUND');
    assert.equal(decision.refund.amountMinor, 1198);  // the melted ice cream
    assert.equal(decision.refund.instrument, 'INSTRUMENT_ORIGINAL_PAYMENT');
    assert.ok(decision.explanation.length > 0);
    assert.ok(decision.reasonCodes.length > 0);
    assert.equal(story.answer.replayed, false);
    assert.equal(story.finalState, 'REFUND_STATE_SUCCEEDED');
    assert.equal(story.states.at(-1), 'REFUND_STATE_SUCCEEDED');
    assert.deepEqual(story.trail, ['REFUND_STATE_ACCEPTED', 'REFUND_STATE_SETTLING',
                                   'REFUND_STATE_SUCCEEDED']);
    assert.ok(story.settledMs > 0 && story.settledMs < 30000, `${story.settledMs}`);
    assert.equal(story.trust.memberId, story.memberId);
    assert.equal(story.trust.currency, 'EUR');
    assert.ok(Number.isInteger(story.trust.instantBudgetRemainingMinor));
    assert.equal(story.replay.replayed, true);
    assert.equal(story.replay.ratingId, story.answer.ratingId);
    assert.deepEqual(story.replay.decision, decision);
    const transcript = lines.join('\n');
    assert.match(transcript, /explanation: {2}"We have refunded €11\.98 /);
    assert.match(transcript, /rating -> SUCCEEDED in \d+ ms/);
    assert.match(transcript, /instant budget left \d+\.\d\d EUR/);
    assert.match(transcript, /replayed: true, same rating id/);
    assert.match(commands(story, ADDRESS), /RefundService\/WatchRefund/);
    assert.deepEqual(app.retries, []);
  } finally {
    app.close();
    rec.close();
  }
});

test('INVALID_ARGUMENT is not retried and names the bad field', async () => {
  const app = client();
  const error = await rejectsWith(
    app.submitRating(rating(ids('bad'), { satisfactionPercent: 150 })), 'INVALID_ARGUMENT');
  assert.equal(error.attempts, 1);
  assert.ok(error.violations.some((v) => v.field === 'satisfaction_percent'),
            JSON.stringify(error.violations));
  assert.deepEqual(app.retries, []);
  app.close();
});

test('TLS: no credentials is UNAUTHENTICATED, not retried', { skip: !TLS }, async () => {
  const anonymous = client({ apiKey: undefined });
  const error = await rejectsWith(anonymous.getTrust('m-anyone'), 'UNAUTHENTICATED',
                                  'CREDENTIALS_MISSING');
  assert.equal(error.attempts, 1);
  anonymous.close();
});

test('TLS: a role that may not call the method is PERMISSION_DENIED, not retried',
     { skip: !TLS }, async () => {
  const app = client();  // app-backend may not record orders
  const error = await rejectsWith(recordOrder(app, ids('role')), 'PERMISSION_DENIED');
  assert.equal(error.attempts, 1);
  assert.ok(['ROLE_NOT_ALLOWED', 'METHOD_NOT_ALLOWED'].includes(error.reason), error.reason);
  app.close();
});

test('TLS: a JWT bearer token works like an API key', { skip: !TLS }, async () => {
  const rec = recorder();
  const who = ids('jwt');
  await recordOrder(rec, who);
  const jwt = () => signJwt({ iss: 'https://id.example', aud: 'makegood', sub: 'app-jwt',
                              roles: ['app-backend'],
                              exp: Math.floor(Date.now() / 1000) + 300 });
  const app = client({ apiKey: undefined, jwt });
  const answer = await app.submitRating(rating(who));
  assert.equal(answer.decision.outcome, 'OUTCOME_REFUND');
  const expired = client({ apiKey: undefined, jwt: signJwt({
    iss: 'https://id.example', aud: 'makegood', sub: 'app-jwt', roles: ['app-backend'],
    exp: Math.floor(Date.now() / 1000) - 3600 }) });
  const error = await rejectsWith(expired.getTrust(who.memberId), 'UNAUTHENTICATED',
                                  'TOKEN_EXPIRED');
  assert.equal(error.attempts, 1);
  for (const c of [rec, app, expired]) c.close();
});

test('FAILED_PRECONDITION (the key reused for another rating) is not retried',
     { skip: TLS }, async () => {
  const app = client();
  const who = ids('reuse');
  await recordOrder(app, who);
  await app.submitRating(rating(who));
  const error = await rejectsWith(
    app.submitRating(rating(who, { satisfactionPercent: 10 })),
    'FAILED_PRECONDITION', 'IDEMPOTENCY_KEY_REUSED');
  assert.equal(error.attempts, 1);
  assert.deepEqual(app.retries, []);
  app.close();
});

test('PERMISSION_DENIED (another member\'s order) and NOT_FOUND are not retried',
     { skip: TLS }, async () => {
  const app = client();
  const owner = ids('owner');
  await recordOrder(app, owner);
  const other = ids('other');
  await recordOrder(app, other);
  let error = await rejectsWith(
    app.submitRating(rating({ ...other, orderId: owner.orderId })),
    'PERMISSION_DENIED', 'NOT_ORDER_MEMBER');
  assert.equal(error.attempts, 1);
  error = await rejectsWith(
    app.submitRating(rating({ ...other, orderId: 'o-never-recorded' })),
    'NOT_FOUND', 'ORDER_NOT_FOUND');
  assert.equal(error.attempts, 1);
  assert.deepEqual(app.retries, []);
  app.close();
});

test('RESOURCE_EXHAUSTED: waits the server\'s retry-after, then succeeds',
     { skip: TLS }, async () => {
  const app = client();
  const who = ids('limited');
  await recordOrder(app, who);
  // Burst 2: the member's third rating at once is refused with retry-after.
  for (const n of [1, 2, 3]) {
    await recordOrder(app, { ...who, orderId: `${who.orderId}-${n}` });
  }
  const started = Date.now();
  for (const n of [1, 2]) {
    await app.submitRating(rating({ ...who, orderId: `${who.orderId}-${n}`, key: `${who.key}-${n}` }));
  }
  assert.deepEqual(app.retries, []);
  const third = await app.submitRating(
    rating({ ...who, orderId: `${who.orderId}-3`, key: `${who.key}-3` }));
  assert.equal(third.replayed, false);
  assert.equal(app.retries.length, 1, JSON.stringify(app.retries));
  assert.equal(app.retries[0].codeName, 'RESOURCE_EXHAUSTED');
  assert.equal(app.retries[0].reason, 'RATE_LIMITED');
  assert.ok(app.retries[0].delayMs >= 1000, `${app.retries[0].delayMs}`);
  assert.ok(Date.now() - started >= 1000);
  app.close();
});

test('ABORTED (the same key in flight): retried with the same key, one decision',
     { skip: TLS }, async () => {
  const app = client({ maxDelayMs: 100 });
  const who = ids('twins');
  await recordOrder(app, who);
  await app.getTrust(who.memberId);  // the channel is connected
  // Hold Redis so both requests are admitted back to back: the first claims
  // the key, the second finds it in flight (ABORTED) and retries.
  pauseRedis(250);
  const [a, b] = await Promise.all([app.submitRating(rating(who)),
                                    app.submitRating(rating(who))]);
  assert.equal(a.ratingId, b.ratingId);
  assert.deepEqual([a.replayed, b.replayed].sort(), [false, true]);
  const aborted = app.retries.filter((r) => r.codeName === 'ABORTED');
  assert.ok(aborted.length >= 1, JSON.stringify(app.retries));
  assert.equal(aborted[0].reason, 'IDEMPOTENCY_KEY_IN_FLIGHT');
  app.close();
});

test('UNAVAILABLE (Redis not answering): retried with the same key until it answers',
     { skip: TLS }, async () => {
  const app = client();
  const who = ids('hung');
  await recordOrder(app, who);
  await app.getTrust(who.memberId);
  pauseRedis(1500);  // longer than --redis_timeout=500ms
  const answer = await app.submitRating(rating(who));
  assert.equal(answer.decision.outcome, 'OUTCOME_REFUND');
  assert.equal(app.retries[0].codeName, 'UNAVAILABLE', JSON.stringify(app.retries));
  // Exactly one decision: the same key answers it again.
  const again = await app.submitRating(rating(who));
  assert.equal(again.replayed, true);
  assert.equal(again.ratingId, answer.ratingId);
  app.close();
});

test('demo.js, as scripts/run.sh runs it, prints the story and the commands',
     { skip: TLS }, async () => {
  const demo = path.join(__dirname, '..', '..', '..', 'examples', 'node', 'demo.js');
  const output = await new Promise((resolve, reject) => {
    execFile(process.execPath, [demo, `--address=${ADDRESS}`], { timeout: 60000 },
             (error, stdout, stderr) => (error ? reject(new Error(stderr || error.message))
                                                : resolve(stdout)));
  });
  assert.match(output, /rates the order 50 %/);
  assert.match(output, /SubmitRating -> OUTCOME_REFUND 11\.98 EUR/);
  assert.match(output, /reason codes: \S+/);
  assert.match(output, /WatchRefund {2}REFUND_STATE_SUCCEEDED/);
  assert.match(output, /audit trail: {2}ACCEPTED .*-> SETTLING .*-> SUCCEEDED/);
  assert.match(output, /rating -> SUCCEEDED in \d+ ms/);
  assert.match(output, /GetTrust now: score \d+, instant budget left/);
  assert.match(output, /replayed: true/);
  // The printed replay command, run as printed, is answered from the story's
  // rating: same caller, same key.
  const replay = output.match(/^(node_modules\/\.bin\/buf curl (?:.*\\\n)*.*RatingService\/SubmitRating)$/m);
  assert.ok(replay, output);
  const ratingId = output.match(/same rating id \((rt_[^)]+)\)/)[1];
  const answer = JSON.parse(execFileSync('bash', ['-c', replay[1]],
                                         { cwd: path.join(__dirname, '..', '..', '..') }));
  assert.equal(answer.replayed, true);
  assert.equal(answer.ratingId, ratingId);
});

// An HS256 JWT, as an identity provider would issue it.
function signJwt(claims) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const body = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}`;
  const mac = crypto.createHmac('sha256', env.MAKEGOOD_JWT_SECRET).update(body);
  return `${body}.${mac.digest('base64url')}`;
}
