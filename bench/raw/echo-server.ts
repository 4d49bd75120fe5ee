// Raw baseline, server side: echoes every length-prefixed frame back on a Unix socket (complete frames that
// arrive together go back in one write). Usage: echo-server.js <socket path>
import net from 'node:net'
import { rmSync } from 'node:fs'
import { frameReader } from './frames.js'

const socketPath = process.argv[2] ?? ''
rmSync(socketPath, { force: true })
const server = net.createServer(socket => {
  socket.on('data', frameReader(bytes => { socket.write(bytes) }))
  socket.on('error', () => socket.destroy())
})
server.listen(socketPath, () => { process.stdout.write('listening\n') })
process.once('SIGTERM', () => server.close(() => process.exit(0)))
