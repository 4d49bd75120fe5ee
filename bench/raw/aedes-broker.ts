// Bare Aedes baseline: Aedes with its defaults on a Unix socket, and nothing of the core around it (no
// access control, no RPC router, no direct path, no supervisor). It is the floor of any broker built on
// Aedes in Node: its memory is what the core's own memory is measured against, and its speed is what the
// core's broker work adds to or takes from. Usage: aedes-broker.js <socket path to listen on>
import { rmSync } from 'node:fs'
import net from 'node:net'
import { Aedes } from 'aedes'

const [listenPath = ''] = process.argv.slice(2)
rmSync(listenPath, { force: true })
const aedes = await Aedes.createBroker()
const server = net.createServer(aedes.handle)
server.listen(listenPath, () => { process.stdout.write('listening\n') })
process.once('SIGTERM', () => { server.close(); aedes.close(() => process.exit(0)) })
