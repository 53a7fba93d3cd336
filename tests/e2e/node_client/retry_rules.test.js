// The example client's retry rules (examples/node/makegood_client.js),
// exactly: a scripted gRPC server (grpc-js, the same protos) answers each
// attempt as told, and records the idempotency key every attempt carried.
// The real server's side of the same rules is client.test.js.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const { MakegoodClient } = require('../../../examples/node/makegood_client');

const PROTO_DIR = path.join(__dirname, '..', '..', '..', 'proto');

// A server whose SubmitRating answers attempt i with script[i] (a status
// code, optionally with trailing metadata) or, once the script is used up,
// with a decision. WatchRefund plays `watch`: one list of states per stream,
// ending with a status code.
async function scriptedServer({ script = [], watch = [] } = {}) {
  const definition = protoLoader.loadSync(
    ['makegood/v1/rating_service.proto', 'makegood/v1/refund_service.proto'],
    { includeDirs: [PROTO_DIR], longs: Number, enums: String, defaults: true });
  const v1 = grpc.loadPackageDefinition(definition).makegood.v1;
  const seen = { keys: [], times: [], watches: 0 };
  const server = new grpc.Server();
  server.addService(v1.RatingService.service, {
    SubmitRating(call, callback) {
      seen.keys.push(call.request.idempotencyKey);
      seen.times.push(Date.now());
      const step = script[seen.keys.length - 1];
      if (step === undefined) {
        callback(null, { ratingId: 'rt_1', replayed: seen.keys.length > 1,
                         decision: { outcome: 'OUTCOME_NO_ACTION' } });
        return;
      }
      const metadata = new grpc.Metadata();
      for (const [k, v] of Object.entries(step.trailers || {})) metadata.set(k, v);
      callback({ code: step.code, details: `scripted ${step.code}`, metadata });
    },
  });
  server.addService(v1.RefundService.service, {
    WatchRefund(call) {
      const stream = watch[seen.watches++] || { states: [], code: grpc.status.OK };
      for (const state of stream.states) {
        call.write({ refund: { refundId: call.request.refundId, state } });
      }
      if (stream.code === grpc.status.OK) call.end();
      else call.emit('error', { code: stream.code, details: 'scripted' });
    },
  });
  const port = await new Promise((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(),
                     (error, p) => (error ? reject(error) : resolve(p))));
  return { address: `127.0.0.1:${port}`, seen, stop: () => server.forceShutdown() };
}

async function withClient(server, options, body) {
  const retries = [];
  const client = new MakegoodClient({
    address: server.address, baseDelayMs: 20, maxDelayMs: 100,
    onRetry: (r) => retries.push(r), ...options,
  });
  try {
    return await body(client, retries);
  } finally {
    client.close();
    server.stop();
  }
}

const RATING = { idempotencyKey: 'rating:o-1', memberId: 'm-1', orderId: 'o-1',
                 satisfactionPercent: 50 };

for (const code of ['ABORTED', 'UNAVAILABLE', 'DEADLINE_EXCEEDED']) {
  test(`${code} is retried with the same idempotency key until it succeeds`, async () => {
    const server = await scriptedServer({
      script: [{ code: grpc.status[code] }, { code: grpc.status[code] }] });
    await withClient(server, {}, async (client, retries) => {
      const answer = await client.submitRating(RATING);
      assert.equal(answer.ratingId, 'rt_1');
      assert.deepEqual(server.seen.keys, ['rating:o-1', 'rating:o-1', 'rating:o-1']);
      assert.deepEqual(retries.map((r) => r.codeName), [code, code]);
      assert.deepEqual(retries.map((r) => r.attempt), [1, 2]);
    });
  });
}

test('UNAVAILABLE that persists gives up after maxAttempts, backing off', async () => {
  const unavailable = { code: grpc.status.UNAVAILABLE };
  const server = await scriptedServer({ script: Array(10).fill(unavailable) });
  await withClient(server, { maxAttempts: 4, baseDelayMs: 40, maxDelayMs: 1000 },
                   async (client, retries) => {
    await assert.rejects(client.submitRating(RATING), (error) => {
      assert.equal(error.codeName, 'UNAVAILABLE');
      assert.equal(error.attempts, 4);
      return true;
    });
    assert.equal(server.seen.keys.length, 4);
    // Full jitter under a doubling ceiling: 40, 80, 160 ms.
    retries.forEach((r, i) => assert.ok(r.delayMs <= 40 * 2 ** i, `${r.delayMs}`));
  });
});

test('RESOURCE_EXHAUSTED waits retry-after before the retry', async () => {
  const server = await scriptedServer({ script: [{
    code: grpc.status.RESOURCE_EXHAUSTED,
    trailers: { 'retry-after': '1', 'ratelimit-remaining': '0' } }] });
  await withClient(server, {}, async (client, retries) => {
    const answer = await client.submitRating(RATING);
    assert.equal(answer.replayed, true);  // the scripted server's 2nd answer
    assert.equal(server.seen.keys.length, 2);
    assert.deepEqual(server.seen.keys, ['rating:o-1', 'rating:o-1']);
    assert.equal(retries[0].delayMs, 1000);
    assert.ok(server.seen.times[1] - server.seen.times[0] >= 990,
              `retried after ${server.seen.times[1] - server.seen.times[0]} ms`);
  });
});

test('RESOURCE_EXHAUSTED without retry-after, or a too long one, is not retried', async () => {
  for (const trailers of [{}, { 'retry-after': '3600' }]) {
    const server = await scriptedServer({ script: [{
      code: grpc.status.RESOURCE_EXHAUSTED, trailers }] });
    await withClient(server, {}, async (client, retries) => {
      await assert.rejects(client.submitRating(RATING), (error) => {
        assert.equal(error.codeName, 'RESOURCE_EXHAUSTED');
        assert.equal(error.attempts, 1);
        return true;
      });
      assert.equal(server.seen.keys.length, 1);
      assert.equal(retries.length, 0);
    });
  }
});

for (const code of ['INVALID_ARGUMENT', 'FAILED_PRECONDITION', 'PERMISSION_DENIED',
                    'NOT_FOUND', 'UNAUTHENTICATED', 'INTERNAL']) {
  test(`${code} is never retried`, async () => {
    const server = await scriptedServer({ script: [{ code: grpc.status[code] }] });
    await withClient(server, {}, async (client, retries) => {
      await assert.rejects(client.submitRating(RATING), (error) => {
        assert.equal(error.codeName, code);
        assert.equal(error.attempts, 1);
        return true;
      });
      assert.equal(server.seen.keys.length, 1);
      assert.equal(retries.length, 0);
    });
  });
}

test('a rating without an idempotency key is refused before any call', async () => {
  const server = await scriptedServer();
  await withClient(server, {}, async (client) => {
    assert.throws(() => client.submitRating({ ...RATING, idempotencyKey: '' }),
                  /idempotencyKey is required/);
    assert.equal(server.seen.keys.length, 0);
  });
});

test('WatchRefund reopens a broken stream and reports each state once', async () => {
  const server = await scriptedServer({ watch: [
    { states: ['REFUND_STATE_ACCEPTED', 'REFUND_STATE_SETTLING'],
      code: grpc.status.UNAVAILABLE },
    // The reopened stream starts with the current state again.
    { states: ['REFUND_STATE_SETTLING', 'REFUND_STATE_SUCCEEDED'], code: grpc.status.OK },
  ] });
  await withClient(server, {}, async (client) => {
    const states = [];
    const final = await client.watchRefund('rf_1', (r) => states.push(r.state));
    assert.equal(final.state, 'REFUND_STATE_SUCCEEDED');
    assert.deepEqual(states, ['REFUND_STATE_ACCEPTED', 'REFUND_STATE_SETTLING',
                              'REFUND_STATE_SUCCEEDED']);
    assert.equal(server.seen.watches, 2);
  });
});

test('WatchRefund does not reopen on PERMISSION_DENIED', async () => {
  const server = await scriptedServer({ watch: [
    { states: [], code: grpc.status.PERMISSION_DENIED }] });
  await withClient(server, {}, async (client) => {
    await assert.rejects(client.watchRefund('rf_1'), { codeName: 'PERMISSION_DENIED' });
    assert.equal(server.seen.watches, 1);
  });
});
