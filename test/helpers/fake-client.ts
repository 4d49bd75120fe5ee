// A client as the broker's per-client bookkeeping sees it (wait-line.ts, subscription-charges.ts, refusal-log.ts):
// an id and a connection that can close. For unit tests on a fake clock; the same code runs over real sockets in
// test/e2e/stuck-readers.test.ts.
import { EventEmitter } from 'node:events'
import type { Client } from 'aedes'

export const fakeClient = (id: string): Client & { conn: EventEmitter } => ({ id, conn: new EventEmitter() }) as unknown as Client & { conn: EventEmitter }
