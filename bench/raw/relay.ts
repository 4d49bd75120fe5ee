// Relay floor: forwards length-prefixed frames between each client and its own connection to the echo
// server (complete frames that arrive together go on in one write). A call through it crosses four
// Unix-socket hops, as through any broker, with no MQTT parsing or routing: the least a broker on this
// machine can take. Usage: relay.js <socket path to listen on> <echo server socket path>
import net from 'node:net'
import { rmSync } from 'node:fs'
import { frameReader } from './frames.js'

const [listenPath = '', echoPath = ''] = process.argv.slice(2)
rmSync(listenPath, { force: true })
const server = net.createServer(client => {
  const echo = net.connect(echoPath) // writes before it connects are queued by the socket
  client.on('data', frameReader(bytes => { echo.write(bytes) }))
  echo.on('data', frameReader(bytes => { client.write(bytes) }))
  const close = (): void => {
    client.destroy()
    echo.destroy()
  }
  for (const socket of [client, echo]) {
    socket.on('error', close)
    socket.on('close', close)
  }
})
server.listen(listenPath, () => { process.stdout.write('listening\n') })
process.once('SIGTERM', () => server.close(() => process.exit(0)))
