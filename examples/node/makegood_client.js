// A mobile-app backend's client for makegood, meant to be copied.
//
// It loads the .proto files at run time (@grpc/proto-loader), so there is no
// code generation step, and wraps the four calls an app backend makes:
//
//   submitRating  RatingService.SubmitRating, retried safely (see below)
//   watchRefund   RefundService.WatchRefund, followed to a final state
//   getTrust      MemberService.GetTrust
//   getRefund     RefundService.GetRefund
//
// The retry rules (docs/CLIENTS.md explains every code):
//   - UNAVAILABLE, ABORTED, DEADLINE_EXCEEDED: retried with exponential
//     backoff and full jitter, with THE SAME idempotency key, so a rating
//     that was in fact stored is answered again (replayed: true) rather than
//     decided twice;
//   - RESOURCE_EXHAUSTED with a `retry-after` trailer (reason RATE_LIMITED):
//     retried after that many seconds, never sooner;
//   - everything else (INVALID_ARGUMENT, FAILED_PRECONDITION,
//     PERMISSION_DENIED, NOT_FOUND, UNAUTHENTICATED, ...): never retried; the
//     request or the credentials must change first.
//
// Usage:
//   const { MakegoodClient } = require('./makegood_client');
//   const client = new MakegoodClient({ address: '127.0.0.1:50051' });
//   const answer = await client.submitRating({
//     idempotencyKey: `rating:${orderId}`,   // chosen by the app, see below
//     memberId, orderId, satisfactionPercent: 50,
//     reasons: ['REASON_MELTED_OR_WARM'],
//   });
//   if (answer.decision.refund) {
//     await client.watchRefund(answer.decision.refund.refundId,
//                              (refund) => console.log(refund.state));
//   }
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

// The repository's proto/ folder; point MAKEGOOD_PROTO_DIR elsewhere when
// you copy this file into your own project.
const PROTO_DIR =
  process.env.MAKEGOOD_PROTO_DIR || path.join(__dirname, '..', '..', 'proto');

// Codes worth another attempt with the same idempotency key.
const RETRYABLE = new Set([
  grpc.status.UNAVAILABLE,        // Redis or the server briefly unreachable
  grpc.status.ABORTED,            // the same key is being processed right now
  grpc.status.DEADLINE_EXCEEDED,  // we gave up waiting; the key makes it safe
]);

// Final refund states: WatchRefund ends after sending one of them.
const FINAL_STATES = new Set([
  'REFUND_STATE_SUCCEEDED', 'REFUND_STATE_FAILED',
  'REFUND_STATE_NEEDS_ATTENTION', 'REFUND_STATE_REVERSED',
]);

// An error with what a caller needs to decide: the gRPC code and its name,
// makegood's reason (google.rpc.ErrorInfo), the bad fields
// (google.rpc.BadRequest), the server's retry-after, and how many attempts
// were made.
class MakegoodError extends Error {
  constructor(grpcError, attempts) {
    super(grpcError.details || grpcError.message);
    this.name = 'MakegoodError';
    this.code = grpcError.code;
    this.codeName = codeName(grpcError.code);
    const details = decodeStatusDetails(grpcError.metadata);
    this.reason = details.reason;          // e.g. 'IDEMPOTENCY_KEY_REUSED'
    this.violations = details.violations;  // [{field, description}]
    this.retryAfterMs = retryAfterMs(grpcError.metadata);
    this.attempts = attempts;
  }
}

class MakegoodClient {
  // options:
  //   address       'host:port'
  //   caFile        PEM of the CA that signed the server's certificate: TLS.
  //                 Without it the channel is plaintext, which the server
  //                 accepts only in development mode (--insecure_dev).
  //   apiKey        sent as `x-api-key` (server: --api_keys_file)
  //   jwt           sent as `authorization: Bearer <jwt>` (server: --jwt_*);
  //                 a function returning the token is called per call, so a
  //                 token can be refreshed before it expires.
  //   clientId      sent as `x-client-id`: names the caller in development
  //                 mode (which scopes idempotency keys and rate limits).
  //   maxAttempts   attempts per call, the first included (default 5)
  //   baseDelayMs   first backoff ceiling (default 100), doubled per attempt
  //   maxDelayMs    backoff ceiling (default 2000)
  //   maxRetryAfterMs  longest retry-after we are willing to wait (default
  //                 10000); a longer one fails the call at once
  //   deadlineMs    deadline of each attempt (default 5000)
  //   onRetry       called before each retry with {method, attempt, code,
  //                 codeName, reason, delayMs}; for logs and metrics
  constructor(options) {
    this.options = {
      maxAttempts: 5, baseDelayMs: 100, maxDelayMs: 2000,
      maxRetryAfterMs: 10000, deadlineMs: 5000, onRetry: () => {},
      ...options,
    };
    const definition = protoLoader.loadSync(
      ['makegood/v1/rating_service.proto', 'makegood/v1/refund_service.proto',
       'makegood/v1/member_service.proto', 'makegood/v1/order_service.proto'],
      {
        includeDirs: [PROTO_DIR],
        keepCase: false,   // JSON-style lowerCamelCase field names
        longs: Number,     // int64 money fits a JS number (< 2^53)
        enums: String,     // enum values by name: 'REFUND_STATE_SUCCEEDED'
        defaults: true,    // absent scalars read as 0 / '' / false
        oneofs: true,
      });
    const v1 = grpc.loadPackageDefinition(definition).makegood.v1;
    const credentials = this.options.caFile
      ? grpc.credentials.createSsl(fs.readFileSync(this.options.caFile))
      : grpc.credentials.createInsecure();
    const address = this.options.address;
    this.ratings = new v1.RatingService(address, credentials);
    this.channel = this.ratings.getChannel();
    // All stubs share the one channel (one HTTP/2 connection).
    const shared = { channelOverride: this.channel };
    this.refunds = new v1.RefundService(address, credentials, shared);
    this.members = new v1.MemberService(address, credentials, shared);
    this.orders = new v1.OrderService(address, credentials, shared);
  }

  close() {
    this.ratings.close();
  }

  // Per-call metadata: the credentials, if any.
  metadata() {
    const metadata = new grpc.Metadata();
    const { apiKey, jwt, clientId } = this.options;
    if (apiKey) metadata.set('x-api-key', apiKey);
    if (jwt) {
      metadata.set('authorization',
                   `Bearer ${typeof jwt === 'function' ? jwt() : jwt}`);
    }
    if (clientId) metadata.set('x-client-id', clientId);
    return metadata;
  }

  // One unary call, retried by the rules at the top of this file.
  async call(stub, method, request) {
    const { maxAttempts, baseDelayMs, maxDelayMs, maxRetryAfterMs,
            deadlineMs } = this.options;
    for (let attempt = 1; ; ++attempt) {
      try {
        return await new Promise((resolve, reject) => {
          stub[method](request, this.metadata(),
                       { deadline: Date.now() + deadlineMs },
                       (error, response) => (error ? reject(error) : resolve(response)));
        });
      } catch (grpcError) {
        if (grpcError.code === undefined) throw grpcError;  // not gRPC
        const error = new MakegoodError(grpcError, attempt);
        let delayMs;
        if (RETRYABLE.has(error.code)) {
          // Full jitter: a random wait up to a doubling ceiling, so many
          // clients that failed together do not retry together.
          const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
          delayMs = Math.random() * ceiling;
        } else if (error.code === grpc.status.RESOURCE_EXHAUSTED &&
                   error.retryAfterMs !== undefined &&
                   error.retryAfterMs <= maxRetryAfterMs) {
          // Rate limited: the server says when a retry can succeed. An
          // earlier retry would only be refused again.
          delayMs = error.retryAfterMs;
        } else {
          throw error;  // Retrying cannot help: fix the request, or tell the member.
        }
        if (attempt >= maxAttempts) throw error;
        this.options.onRetry({ method, attempt, code: error.code,
                               codeName: error.codeName, reason: error.reason,
                               delayMs });
        await sleep(delayMs);
      }
    }
  }

  // Submits a rating. `rating.idempotencyKey` is required: pick it once per
  // thing the member did (e.g. `rating:<orderId>` when the app lets a member
  // rate an order once), store it with the pending request, and send the
  // same key on every retry, also after a crash of your own backend. A retry
  // of a completed key answers the stored decision with replayed: true.
  submitRating(rating) {
    if (!rating.idempotencyKey) throw new Error('idempotencyKey is required');
    return this.call(this.ratings, 'SubmitRating', rating);
  }

  // The member's trust report: score, factors, instant budget left.
  async getTrust(memberId) {
    return (await this.call(this.members, 'GetTrust', { memberId })).trust;
  }

  async getRefund(refundId) {
    return (await this.call(this.refunds, 'GetRefund', { refundId })).refund;
  }

  // Follows a refund until a final state; resolves with that last Refund.
  // `onUpdate(refund)` sees the current state at once, then every change.
  // A broken stream (UNAVAILABLE: a server restarting, a connection lost) is
  // opened again after a backoff: the server sends the current state first,
  // so nothing is missed; states already seen are not reported twice.
  watchRefund(refundId, onUpdate = () => {}, { timeoutMs = 60000 } = {}) {
    const { maxAttempts, baseDelayMs, maxDelayMs } = this.options;
    const deadline = Date.now() + timeoutMs;
    let lastState;
    let attempt = 0;
    return new Promise((resolve, reject) => {
      const open = () => {
        ++attempt;
        let last;
        const stream = this.refunds.WatchRefund(
          { refundId }, this.metadata(), { deadline });
        stream.on('data', ({ refund }) => {
          last = refund;
          if (refund.state !== lastState) {
            lastState = refund.state;
            onUpdate(refund);
          }
        });
        // A broken stream, or one that ended before a final state (a server
        // shutting down), is opened again after a backoff while attempts
        // remain; any other error (PERMISSION_DENIED, NOT_FOUND, ...) is final.
        let over = false;  // a stream may report both 'error' and 'end'
        const reopen = (error) => {
          if (over) return;
          over = true;
          if (attempt < maxAttempts && Date.now() < deadline) {
            const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
            setTimeout(open, Math.random() * ceiling);
          } else {
            reject(error);
          }
        };
        stream.on('error', (grpcError) => {
          const error = new MakegoodError(grpcError, attempt);
          if (error.code === grpc.status.UNAVAILABLE) reopen(error);
          else if (!over) { over = true; reject(error); }
        });
        stream.on('end', () => {
          if (last && FINAL_STATES.has(last.state)) { over = true; resolve(last); }
          else reopen(new Error(`WatchRefund ${refundId} ended before a final state`));
        });
      };
      open();
    });
  }
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function codeName(code) {
  return Object.keys(grpc.status).find((name) => grpc.status[name] === code) ||
    String(code);
}

// `retry-after` trailing metadata, in whole seconds, as milliseconds.
function retryAfterMs(metadata) {
  const value = metadata && metadata.get('retry-after')[0];
  const seconds = Number(value);
  return value !== undefined && Number.isFinite(seconds) && seconds >= 0
    ? seconds * 1000 : undefined;
}

// makegood's error details travel in `grpc-status-details-bin`, a serialized
// google.rpc.Status whose `details` hold google.rpc.ErrorInfo (the reason)
// and google.rpc.BadRequest (the bad fields). The few fields we need are
// read directly from the protobuf wire format, so no protobuf runtime is
// needed beyond what grpc-js brings.
function decodeStatusDetails(metadata) {
  const result = { reason: undefined, violations: [] };
  const raw = metadata && metadata.get('grpc-status-details-bin')[0];
  if (!raw) return result;
  for (const [field, any] of readFields(Buffer.from(raw))) {
    if (field !== 3) continue;  // google.rpc.Status.details (Any)
    const parts = Object.fromEntries(readFields(any));  // 1 type_url, 2 value
    const type = parts[1] ? parts[1].toString() : '';
    if (type.endsWith('/google.rpc.ErrorInfo')) {
      for (const [f, v] of readFields(parts[2])) if (f === 1) result.reason = v.toString();
    } else if (type.endsWith('/google.rpc.BadRequest')) {
      for (const [f, violation] of readFields(parts[2])) {
        if (f !== 1) continue;
        const fv = Object.fromEntries(readFields(violation));
        result.violations.push({ field: String(fv[1] || ''),
                                 description: String(fv[2] || '') });
      }
    }
  }
  return result;
}

// The length-delimited and varint fields of one protobuf message, as
// [fieldNumber, Buffer|number] pairs.
function readFields(buffer) {
  const fields = [];
  let at = 0;
  const varint = () => {
    let value = 0;
    for (let shift = 0; ; shift += 7) {
      const byte = buffer[at++];
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return value;
    }
  };
  while (at < buffer.length) {
    const key = varint();
    const wire = key & 7;
    if (wire === 0) fields.push([Math.floor(key / 8), varint()]);
    else if (wire === 2) {
      const length = varint();
      fields.push([Math.floor(key / 8), buffer.subarray(at, at + length)]);
      at += length;
    } else if (wire === 1) at += 8;
    else if (wire === 5) at += 4;
    else break;  // groups: not used by these messages
  }
  return fields;
}

module.exports = { MakegoodClient, MakegoodError, FINAL_STATES, RETRYABLE, PROTO_DIR };
