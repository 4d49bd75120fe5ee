// What an unsampled trace context adds to one RPC call's own work, timed in a loop in one process with the
// module processes' V8 flags (bench/tracing.ts runs it): the caller encoding the bench's request into its PUBLISH, and the
// callee serving it (decode, check, run the handler in the context, encode the reply), each without a
// context (tracing off) and with an unsampled one (rate 0). Timed in a loop, these move by a few ns between
// runs, where the round trips around them move by a tenth: they say what the feature costs per call.
// The callee is timed twice: serving requests of one trace (a handler's calls, as the round trips of
// bench/tracing.ts are: one `run` request's), and requests each of a trace of its own (a timer's calls).
// Prints one JSON line: { encode: [off, on], serve: [off, on], serveNewTraces: [off, on] } in ns per call,
// the median of the passes.
import { encodeCbor } from '../core/protocol/codec.js'
import { serveRequest } from '../core/protocol/serve.js'
import type { ServeContext } from '../core/protocol/serve.js'
import { encodePublish } from '../core/protocol/mqtt-publish.js'
import { contextEntries, encodeBeforeContext } from '../core/protocol/trace-context.js'
import { createTracer } from '../core/sdk/tracer.js'
import { median } from './lib/stats.js'

const CALLS = 200_000
const PASSES = 7
/** the bench caller's request (bench/modules/caller.ts through the SDK's call) */
const REQUEST = { id: 1000, reply: 'reply/bench-caller.0', timeout: 5000, from: 'bench-caller.0', args: { sensor: '28-00000a1b2c3d', celsius: 21.5, seq: 1 } }
const CONTEXT = { trace: Buffer.alloc(16, 7), parent: Buffer.alloc(8, 3), flags: 0 }
const TOPIC = 'rpc/bench-echo/echo'

/** a request as the SDK sends it, its context's entries after its own */
function withContextOf (context: typeof CONTEXT): Buffer {
  return Buffer.concat([encodeBeforeContext(REQUEST), contextEntries(context)])
}

let written = 0
const off: ServeContext = { owner: 'echo', methods: new Map([['echo', (args: unknown) => args]]), send: (_topic, payload) => { written += payload.length }, warn: () => {} }
const tracer = createTracer({ sampleRate: 0, send: () => true })
const on: ServeContext = { ...off, traced: (method, context, invoke) => tracer.serve(method, context, invoke) }
const plain = encodeCbor(REQUEST)
const withContext = withContextOf(CONTEXT)
/** requests of as many traces, served in turn: no two in a row of one trace */
const TRACES = 1024
const ofTraces = Array.from({ length: TRACES }, (_, i) => {
  const trace = Buffer.alloc(16, 7)
  trace.writeUInt32BE(i + 1)
  return withContextOf({ ...CONTEXT, trace })
})
let next = 0

const work: Record<string, [() => void, () => void]> = {
  encode: [() => { written += encodePublish(TOPIC, encodeCbor(REQUEST), false, 0, 0).length }, () => { written += encodePublish(TOPIC, encodeBeforeContext(REQUEST), false, 0, 0, contextEntries(CONTEXT)).length }],
  serve: [() => { serveRequest(off, 'echo', plain) }, () => { serveRequest(on, 'echo', withContext) }],
  serveNewTraces: [() => { serveRequest(off, 'echo', plain) }, () => { serveRequest(on, 'echo', ofTraces[next++ % TRACES] as Buffer) }],
}

function nsPerCall (fn: () => void): number {
  const start = process.hrtime.bigint()
  for (let i = 0; i < CALLS; i++) fn()
  return Number(process.hrtime.bigint() - start) / CALLS
}

const result: Record<string, [number, number]> = {}
for (const [name, [without, within]] of Object.entries(work)) {
  const times: [number[], number[]] = [[], []]
  // one pass of each first, unmeasured, for the JIT; then alternating, so that drift hits both alike
  nsPerCall(without)
  nsPerCall(within)
  for (let pass = 0; pass < PASSES; pass++) {
    times[0].push(nsPerCall(without))
    times[1].push(nsPerCall(within))
  }
  result[name] = [median(times[0]), median(times[1])]
}
if (written === 0) throw new Error('nothing was encoded')
process.stdout.write(`${JSON.stringify(result)}\n`)
