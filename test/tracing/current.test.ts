// Which trace a handler's own calls join (core/sdk/tracer.ts). The SDK's dispatch runs every message of one
// read from the broker in one callback, and the tracer makes a request's context current without restoring
// the one before (a run of one trace's requests then costs no AsyncLocalStorage frame): each handler must
// still see its own message's context and nothing left by the messages before it in that read, a watch's
// handler none, and what runs later (a timer of the module's own, the next read) none either: the SDK leaves
// the context at the end of each read on Node 20, whose AsyncLocalStorage keeps an entered store on the
// socket's async resource (it would otherwise still be there at the next read); Node 24 gives each read the
// socket's own frame, and there it is not left.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import { once } from 'node:events'
import { READS_START_CLEAN, createTracer } from '../../core/sdk/tracer.js'
import type { TraceContext } from '../../core/protocol/trace-context.js'

const hexOf = (id: Uint8Array): string => Buffer.from(id).toString('hex')
const context = (byte: number, flags = 0): TraceContext => ({ trace: Buffer.alloc(16, byte), parent: Buffer.alloc(8, byte), flags })

test('issue 13: in one read, each handler\'s calls carry its own message\'s trace, before and after an await; a watch, a timer and the next read carry none', async () => {
  const tracer = createTracer({ sampleRate: 0, send: () => true })
  const a = context(0xa1)
  const b = context(0xb2)
  const sampled = context(0xc3, 1)
  /** the trace id an outgoing call made here would carry */
  const traceOfCall = (): string => hexOf(tracer.call('callee', 'm').fields.trace)
  const seen: Record<string, string> = {}
  const later: Array<Promise<void>> = []
  const handler = (name: string) => () => {
    seen[name] = traceOfCall()
    later.push((async () => {
      await new Promise(resolve => setImmediate(resolve))
      seen[`${name} after await`] = traceOfCall()
    })())
  }

  const server = net.createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1')
  const [socket] = await once(server, 'connection') as [net.Socket]
  // a module's own timer, made before any message: it is outside every trace
  let timerTrace: string | undefined
  const timerFired = new Promise<void>(resolve => setTimeout(() => { timerTrace = traceOfCall(); resolve() }, 50))
  const reads: Array<() => void> = [
    () => {
      tracer.serve('m', a, handler('a'))
      tracer.serve('m', a, handler('a again'))
      tracer.serve('m', b, handler('b'))
      tracer.outside(() => { seen.watch = traceOfCall() })
      tracer.handle('owner', 'hook', undefined, handler('hook without context'))
      tracer.serve('m', sampled, handler('sampled'))
      tracer.serve('m', a, handler('a last'))
    },
    () => {
      seen['next read, before any handler'] = traceOfCall()
      tracer.outside(() => { seen['watch, next read'] = traceOfCall() })
    },
  ]
  // as the SDK's client does (onReadDone): the context is left at the end of each read, where the next read
  // would not start clean without it (Node 20)
  socket.on('data', () => {
    reads.shift()?.()
    if (!READS_START_CLEAN) tracer.leave()
  })
  client.write('x')
  await new Promise(resolve => setTimeout(resolve, 20))
  client.write('y')
  await timerFired
  await Promise.all(later)
  client.destroy()
  socket.destroy()
  server.close()

  for (const name of ['a', 'a again', 'a last']) {
    assert.equal(seen[name], hexOf(a.trace), name)
    assert.equal(seen[`${name} after await`], hexOf(a.trace), `${name} after await`)
  }
  assert.equal(seen.b, hexOf(b.trace))
  assert.equal(seen['b after await'], hexOf(b.trace))
  assert.equal(seen.sampled, hexOf(sampled.trace))
  assert.equal(seen['sampled after await'], hexOf(sampled.trace))
  const known = new Set([a, b, sampled].map(c => hexOf(c.trace)))
  // no context: each call starts a trace of its own (a new id), never one of the read's messages
  for (const name of ['watch', 'watch, next read', 'next read, before any handler', 'hook without context', 'hook without context after await']) {
    assert.ok(seen[name] !== undefined && !known.has(seen[name]), `${name}: ${seen[name]}`)
  }
  assert.equal(seen['hook without context'], seen['hook without context after await'], 'the hook\'s own new trace lasts across its await')
  assert.ok(timerTrace !== undefined && !known.has(timerTrace) && timerTrace !== seen['hook without context'], `the timer: ${timerTrace}`)
})
