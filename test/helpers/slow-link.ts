// A TCP proxy between a gateway and its upstream that carries gateway → upstream at `rate` bytes/s, pausing
// its reads meanwhile, so the gateway's socket backs up as it would on a slow mobile link. Upstream →
// gateway goes through at full speed.
import net from 'node:net'

export interface SlowLink {
  port: number
  close (): Promise<void>
}

export async function slowLink (port: number, rate: number): Promise<SlowLink> {
  const sockets = new Set<net.Socket>()
  const timers = new Set<NodeJS.Timeout>()
  const server = net.createServer(gateway => {
    const broker = net.connect(port, '127.0.0.1')
    sockets.add(gateway).add(broker)
    broker.pipe(gateway)
    gateway.on('data', chunk => {
      gateway.pause()
      broker.write(chunk)
      const timer = setTimeout(() => { timers.delete(timer); gateway.resume() }, Math.ceil((chunk.length / rate) * 1000))
      timers.add(timer)
    })
    const end = (): void => { gateway.destroy(); broker.destroy() }
    for (const s of [gateway, broker]) s.on('close', end).on('error', end)
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise(resolve => {
      for (const t of timers) clearTimeout(t)
      for (const s of sockets) s.destroy()
      server.close(() => resolve())
    }),
  }
}
