// Raw baselines, client side: for each JSON line on stdin (a LoopSpec plus `bytes`), times request/response
// frames of that size over the Unix socket (to the echo server, or to the relay in front of it) with the
// same loop as the SDK caller, and prints the result as one JSON line. Usage: client.js <socket path>
import net from 'node:net'
import { createInterface } from 'node:readline'
import { runLoop } from '../lib/loop.js'
import type { LoopSpec } from '../lib/loop.js'
import { frame, frameReader } from './frames.js'

const socket = net.connect(process.argv[2] ?? '')
socket.setNoDelay(true)
const waiting: Array<() => void> = []
socket.on('data', frameReader((_bytes, frames) => {
  for (let i = 0; i < frames; i++) waiting.shift()?.()
}))
socket.on('error', err => {
  process.stderr.write(`raw client: ${err.message}\n`)
  process.exit(1)
})
socket.on('connect', () => { process.stdout.write('connected\n') })

createInterface({ input: process.stdin }).on('line', line => {
  const spec = JSON.parse(line) as LoopSpec & { bytes: number }
  const request = frame(Buffer.alloc(spec.bytes, 0x61))
  const call = (): Promise<void> => new Promise(resolve => {
    waiting.push(resolve)
    socket.write(request)
  })
  runLoop(call, spec).then(result => { process.stdout.write(`result ${JSON.stringify(result)}\n`) })
}).on('close', () => socket.end())
