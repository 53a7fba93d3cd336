#!/usr/bin/env node
// The headline story, played against a running makegood with the example
// client (makegood_client.js), printed as a short transcript with timings,
// then copy-paste `buf curl` commands for each step. scripts/run.sh runs it
// after start-up; tests/e2e/node_client/ runs it too.
//
//   node examples/node/demo.js [--address=127.0.0.1:50051]
//       [--ca=CA.pem --api_key=APP_BACKEND_KEY --order_api_key=ORDER_SYSTEM_KEY]
//
// The story: a premium member rates an order 50 % because the ice cream
// melted; makegood decides at once and explains why; the refund is followed
// with WatchRefund from ACCEPTED to SUCCEEDED; GetTrust shows the instant
// budget the member has left; the app retries with the same idempotency key
// and gets the stored answer (replayed: true).
//
// Each run records a fresh member and order (ids end in the run's stamp), so
// it tells the same story on every run, also over data kept from earlier
// runs.
'use strict';

const { MakegoodClient } = require('./makegood_client');

const ICE_CREAM_LINE = 'l1';
// The caller's name in development mode (x-client-id).
const DEMO_CLIENT_ID = 'demo-app';

// Records the story's member and order (the membership and order systems'
// calls), rates the order, and follows the refund. Returns what happened;
// `print` receives the transcript line by line.
async function playStory({ client, recorder = client, stamp = runStamp(),
                           print = console.log }) {
  const memberId = `demo-member-${stamp}`;
  const orderId = `demo-order-${stamp}`;
  const deliveredAt = new Date(Date.now() - 30 * 60 * 1000);
  await recorder.call(recorder.members, 'UpsertMember', {
    member: { memberId, tier: 'premium', flags: ['verified'],
              memberSince: timestamp(new Date('2022-03-01T00:00:00Z')) },
  });
  const order = {
    orderId, memberId, storeId: 'store-7', courierId: 'courier-42',
    currency: 'EUR', totalMinor: 3450, deliveryFeeMinor: 299,
    lines: [
      { lineId: ICE_CREAM_LINE, sku: 'ICE-CREAM-VANILLA-500ML', category: 'frozen',
        quantity: 2, amountMinor: 1198 },
      { lineId: 'l2', sku: 'SOURDOUGH-LOAF', category: 'bakery', quantity: 1,
        amountMinor: 450 },
      { lineId: 'l3', sku: 'OAT-MILK-1L', category: 'dairy_alt', quantity: 3,
        amountMinor: 1503 },
    ],
    deliveredAt: timestamp(deliveredAt), paymentMethod: 'PAYMENT_METHOD_CARD',
  };
  await recorder.call(recorder.orders, 'RecordDelivery', { order });

  print(`A premium member (${memberId}, since 2022) got order ${orderId}:`);
  print(`  ${money(order.totalMinor, 'EUR')} paid by card, 2 x vanilla ice cream (${money(1198, 'EUR')}), bread, oat milk.`);
  print('The ice cream arrived melted. The app rates the order 50 %:');

  const rating = {
    idempotencyKey: `rating:${orderId}`,  // one rating per order in this app
    memberId, orderId, satisfactionPercent: 50,
    reasons: ['REASON_MELTED_OR_WARM'],
    lineRatings: [{ lineId: ICE_CREAM_LINE, satisfactionPercent: 0,
                    reasons: ['REASON_MELTED_OR_WARM'] }],
    comment: 'The ice cream was soup.',
  };
  const started = performance.now();
  const at = () => `${String(Math.round(performance.now() - started)).padStart(5)} ms`;
  const answer = await client.submitRating(rating);
  const decided = performance.now() - started;
  const { decision } = answer;
  print(`  [${at()}] SubmitRating -> ${decision.outcome}` +
        (decision.refund
          ? ` ${money(decision.refund.amountMinor, decision.refund.currency)}` +
            ` to ${decision.refund.instrument} (refund ${decision.refund.refundId})`
          : ''));
  print(`             explanation:  "${decision.explanation}"`);
  print(`             reason codes: ${decision.reasonCodes.join(', ')}`);
  print(`             trust score ${decision.trustScore}, policy ${decision.policyVersion}`);

  const story = { memberId, orderId, rating, answer, decidedMs: decided,
                  states: [], settledMs: undefined, trust: undefined,
                  replay: undefined };
  if (decision.refund && decision.refund.refundId) {
    // Follow the refund live. The stream sends the state it finds first (a
    // fast settlement may already be past ACCEPTED), then every change.
    const refundId = decision.refund.refundId;
    const final = await client.watchRefund(refundId, (refund) => {
      story.states.push(refund.state);
      print(`  [${at()}] WatchRefund  ${refund.state}`);
    });
    story.settledMs = performance.now() - started;
    story.finalState = final.state;
    // Every transition, from the refund's audit trail, timed by the server
    // from the refund's creation.
    const { events } = await client.call(client.refunds, 'GetRefund',
                                         { refundId, includeEvents: true });
    story.trail = events.map((e) => e.toState);
    const created = events.length > 0 ? millis(events[0].at) : 0;
    print('             audit trail:  ' + events.map((e, i) =>
      `${short(e.toState)}${i > 0 ? ` +${millis(e.at) - created} ms` : ''}` +
      (e.reason ? ` (${e.reason})` : '')).join(' -> '));
    print(`  rating -> ${short(final.state)} in ${Math.round(story.settledMs)} ms, ` +
          'measured by the app from sending the rating to receiving ' +
          `${short(final.state)} (decision in ${Math.round(decided)} ms)`);
  }

  story.trust = await client.getTrust(memberId);
  print(`  GetTrust now: score ${story.trust.score}, instant budget left ` +
        `${money(story.trust.instantBudgetRemainingMinor, story.trust.currency)}`);

  // The app's request timed out on its side, say: it sends the same rating
  // with the same key again, and gets the stored answer, not a second refund.
  story.replay = await client.submitRating(rating);
  print(`  Retry with the same key: replayed: ${story.replay.replayed}, ` +
        `same rating ${story.replay.ratingId === answer.ratingId ? 'id' : 'id NOT'} ` +
        `(${answer.ratingId}), no second refund`);
  return story;
}

// Copy-paste `buf curl` commands for each step of `story`.
function commands(story, address, clientId = DEMO_CLIENT_ID) {
  const buf = 'node_modules/.bin/buf curl --protocol grpc --http2-prior-knowledge';
  const url = (method) => `http://${address}/makegood.v1.${method}`;
  const lines = [
    '# The same rating, same key, same caller (keys are scoped by caller; in',
    '# development mode x-client-id names it): the stored answer, "replayed": true',
    `${buf} -H 'x-client-id: ${clientId}' \\\n    -d '${JSON.stringify(story.rating)}' \\\n    ${url('RatingService/SubmitRating')}`,
  ];
  const refund = story.answer.decision.refund;
  if (refund && refund.refundId) {
    lines.push('# Follow the refund (here already final: one message, then the stream ends)',
               `${buf} -d '{"refundId":"${refund.refundId}"}' ${url('RefundService/WatchRefund')}`,
               '# The refund with its audit trail',
               `${buf} -d '{"refundId":"${refund.refundId}","includeEvents":true}' ${url('RefundService/GetRefund')}`);
  }
  lines.push('# The member\'s trust: score, factors, instant budget left',
             `${buf} -d '{"memberId":"${story.memberId}"}' ${url('MemberService/GetTrust')}`,
             '# The whole story again, with the Node example client',
             `node examples/node/demo.js --address=${address}`);
  return lines.join('\n');
}

function runStamp() {
  return Date.now().toString(36);
}

function timestamp(date) {
  return { seconds: Math.floor(date.getTime() / 1000), nanos: 0 };
}

function millis(ts) {
  return Number(ts.seconds) * 1000 + Math.round(Number(ts.nanos) / 1e6);
}

function short(state) {
  return state.replace('REFUND_STATE_', '');
}

function money(minor, currency) {
  return `${(Number(minor) / 100).toFixed(2)} ${currency}`;
}

async function main() {
  const arg = (name, fallback) => {
    const found = process.argv.find((a) => a.startsWith(`--${name}=`));
    return found ? found.slice(name.length + 3) : fallback;
  };
  const address = arg('address', process.env.MAKEGOOD_ADDRESS || '127.0.0.1:50051');
  const client = new MakegoodClient({
    address,
    caFile: arg('ca', process.env.MAKEGOOD_CA),
    apiKey: arg('api_key', process.env.MAKEGOOD_API_KEY),
    clientId: DEMO_CLIENT_ID,
    onRetry: ({ method, codeName, reason, delayMs }) =>
      console.log(`  (${method}: ${codeName}${reason ? ` ${reason}` : ''}; ` +
                  `retrying in ${Math.round(delayMs)} ms with the same key)`),
  });
  // The member and order are recorded as the membership and order systems
  // would; with credentials, that takes an order-system key.
  const orderKey = arg('order_api_key', process.env.MAKEGOOD_ORDER_API_KEY);
  const recorder = orderKey
    ? new MakegoodClient({ address, caFile: arg('ca', process.env.MAKEGOOD_CA),
                           apiKey: orderKey })
    : client;
  try {
    const story = await playStory({ client, recorder });
    console.log('\nTry each step yourself:\n');
    console.log(commands(story, address));
  } finally {
    client.close();
    if (recorder !== client) recorder.close();
  }
}

if (require.main === module) {
  main().catch((error) => {
    console.error(`demo failed: ${error.codeName || ''} ${error.reason || ''} ${error.message}`);
    process.exit(1);
  });
}

module.exports = { playStory, commands };
