// Issue 13: the dashboard in a real headless browser (Debian chromium driven by playwright-core), against a
// real gateway: the sim board, the demo modules, the broker's WebSocket listener and the dashboard module.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import { chromium } from 'playwright-core'
import type { Browser, Page } from 'playwright-core'
import { startTestGateway, connectOperator } from '../helpers/gateway.js'
import type { TestGateway } from '../helpers/gateway.js'
import { freePort } from '../../bench/lib/stacks.js'
import { PASSWORDS, operators, auditRecords } from '../management/helpers.js'

/** every wait in a page is bounded by this */
const WAIT_MS = 20_000

let gw: TestGateway
let browser: Browser
let dashboard: string

before(async () => {
  const wsPort = await freePort()
  gw = await startTestGateway({
    operators: await operators(),
    broker: { listeners: [{ type: 'tcp', host: '127.0.0.1', port: 0 }, { type: 'ws', port: wsPort }] },
    defaults: { memoryMiB: 48 },
    modules: [
      { name: 'room', entry: 'modules/sim-room', config: { heaterLine: 'GPIO17', start: 18 } },
      { name: 'temperature', entry: 'drivers/ds18b20', after: ['room'], config: { bus: 'w1', intervalMs: 250, names: { '28-00000a1b2c3d': 'living-room' } } },
      { name: 'heater', entry: 'drivers/gpio-output', config: { line: 'GPIO17', safeState: 0 } },
      { name: 'thermostat', entry: 'modules/thermostat', after: ['temperature', 'heater'], config: { sensor: 'temperature', relay: 'heater', setpoint: 21, hysteresis: 0.3 } },
      { name: 'dashboard', entry: 'modules/dashboard', config: { port: 0, maxConnections: 8, broker: { port: wsPort } } },
    ],
  })
  const admin = await connectOperator(gw.url, { username: 'admin', password: PASSWORDS.admin })
  dashboard = ((await admin.call('dashboard', 'address')).result as { url: string }).url
  await admin.end()
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'], timeout: WAIT_MS })
})

after(async () => {
  await browser?.close()
  await gw?.stop()
})

async function logIn (user: 'admin' | 'viewer'): Promise<Page> {
  const page = await browser.newPage()
  page.setDefaultTimeout(WAIT_MS)
  await page.goto(dashboard)
  await page.fill('#user', user)
  await page.fill('#password', PASSWORDS[user])
  await page.click('#login button[type=submit]')
  await page.waitForSelector(`#whoami[data-role="${user}"]`)
  return page
}

/** a TCP connection to the dashboard: whether the server closed it at once (before we sent anything) */
async function connection (): Promise<{ socket: net.Socket, refused: boolean }> {
  const { hostname, port } = new URL(dashboard)
  const socket = net.connect(Number(port), hostname)
  await new Promise(resolve => socket.once('connect', resolve))
  // an accepted connection answers a request; one past maxConnections is closed without an answer
  socket.write('GET /config.json HTTP/1.1\r\nHost: x\r\n\r\n')
  // a refused connection may end in a reset (our request crossed the server's close): that is a refusal too
  const answered = await new Promise<boolean>(resolve => {
    socket.once('data', () => resolve(true))
    socket.on('error', () => resolve(false))
    socket.once('close', () => resolve(false))
  })
  return { socket, refused: !answered }
}

/** whether a new connection is served within 2 s: the server frees a slot only once it has seen a close */
async function servedAgain (): Promise<boolean> {
  for (let tries = 0; tries < 40; tries++) {
    const probe = await connection()
    probe.socket.destroy()
    if (!probe.refused) return true
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  return false
}

test('issue 13: the dashboard takes at most maxConnections connections at once (at the limit all are served)', async () => {
  const held: Array<{ socket: net.Socket, refused: boolean }> = []
  try {
    for (let i = 0; i < 8; i++) held.push(await connection())
    assert.deepEqual(held.map(c => c.refused), Array(8).fill(false), 'eight connections: all served')
    const ninth = await connection()
    held.push(ninth)
    assert.equal(ninth.refused, true, 'the ninth is closed')
    held[0]?.socket.destroy()
    assert.equal(await servedAgain(), true, 'one left: another is served')
  } finally {
    // the server counts a connection until it sees it close: wait for that, so the next test starts with none
    await Promise.all(held.map(c => c.socket.destroyed ? undefined : new Promise(resolve => { c.socket.once('close', resolve); c.socket.destroy() })))
    await servedAgain()
  }
})

test('issue 13: the dashboard\'s HTTP server: known files only, GET only, with CSP and nosniff', async () => {
  const page = await fetch(dashboard)
  assert.equal(page.status, 200)
  assert.equal(page.headers.get('content-type'), 'text/html; charset=utf-8')
  assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'self'; connect-src 'self' ws: wss:/)
  assert.equal(page.headers.get('x-content-type-options'), 'nosniff')
  const script = await fetch(new URL('mqtt.js', dashboard))
  assert.equal(script.headers.get('content-type'), 'text/javascript; charset=utf-8')
  assert.equal((await fetch(new URL('../../etc/passwd', dashboard))).status, 404)
  assert.equal((await fetch(new URL('app.ts', dashboard))).status, 404)
  assert.equal((await fetch(dashboard, { method: 'POST', body: 'x' })).status, 405)
  assert.deepEqual(await (await fetch(new URL('config.json', dashboard))).json(), { broker: { port: Number(new URL(gw.gateway.broker.listeners[1]?.url ?? '').port), path: '/mqtt' } })
})

test('issue 13: an admin logs in, sees the demo modules, a temperature chart that moves, and restarts a module: stopping → running', async () => {
  const page = await logIn('admin')
  try {
    for (const module of ['room', 'temperature', 'heater', 'thermostat', 'dashboard']) {
      await page.waitForSelector(`td.state[data-module="${module}"][data-state="running"]`)
    }
    // memory against budget, drawn as a chart per module
    assert.match(await page.textContent('tr[data-module="thermostat"] td.memory') ?? '', /\/ 48 MiB/)

    await page.click('#tab-hooks')
    const celsius = 'figure[data-series="temperature/reading celsius"] .value'
    await page.waitForSelector(celsius)
    const first = await page.getAttribute(celsius, 'data-value')
    await page.waitForFunction(([selector, before]) => document.querySelector(selector as string)?.getAttribute('data-value') !== before, [celsius, first])
    const second = await page.getAttribute(celsius, 'data-value')
    assert.notEqual(second, first, 'the temperature chart moved')
    assert.ok(Number.isFinite(Number(second)))

    await page.click('#tab-modules')
    await page.waitForSelector('td.state[data-module="thermostat"][data-state="running"]')
    // every state the page shows for thermostat, in order
    await page.evaluate(() => {
      const cell = document.querySelector('td.state[data-module="thermostat"]') as HTMLElement
      const seen: string[] = [cell.dataset.state ?? '']
      ;(window as unknown as { seen: string[] }).seen = seen
      new MutationObserver(() => { if (seen[seen.length - 1] !== cell.dataset.state) seen.push(cell.dataset.state ?? '') }).observe(cell, { attributes: true })
    })
    await page.click('button.restart[data-module="thermostat"]')
    await page.waitForFunction(() => {
      const seen = (window as unknown as { seen: string[] }).seen
      return seen.includes('stopping') && seen[seen.length - 1] === 'running'
    })
    const seen = await page.evaluate(() => (window as unknown as { seen: string[] }).seen)
    assert.ok(seen.indexOf('stopping') < seen.lastIndexOf('running'), `states shown: ${seen.join(' → ')}`)
    await page.waitForFunction(() => /restart thermostat: running/.test(document.querySelector('#modules .message')?.textContent ?? ''))

    // logs follow: a line the thermostat logs after its restart shows up
    await page.click('#tab-logs')
    await page.selectOption('#log-source', 'thermostat')
    await page.waitForFunction(() => [...document.querySelectorAll('ol.log li')].some(li => /hook temperature\/reading/.test(li.textContent ?? '')))

    // no tracing module in this manifest
    await page.click('#tab-traces')
    await page.waitForFunction(() => /Tracing is not enabled on this gateway/.test(document.querySelector('#traces .message')?.textContent ?? ''))
  } finally {
    await page.close()
  }
})

test('issue 13: a viewer has no restart button, and a restart forged from the page is refused (NOT_AUTHORISED)', async () => {
  const page = await logIn('viewer')
  try {
    await page.waitForSelector('td.state[data-module="heater"][data-state="running"]')
    assert.equal(await page.locator('button.restart').count(), 0)
    assert.equal(await page.locator('button.stop').count(), 0)
    const before = await restartsOf('heater')
    const refused = await page.evaluate(async () => {
      const { session } = (window as unknown as { dashboard: { session: { call (m: string, op: string, args: unknown): Promise<unknown> } } }).dashboard
      try {
        await session.call('core', 'restart', { module: 'heater' })
        return 'answered'
      } catch (err) {
        return (err as { code?: string }).code ?? String(err)
      }
    })
    assert.equal(refused, 'NOT_AUTHORISED')
    assert.equal(await restartsOf('heater'), before, 'heater was not restarted')
    assert.ok(auditRecords(gw.dir).some(r => r.op === 'restart' && r.result === 'denied' && (r.who as { user?: string }).user === 'viewer'))
    // the page says why and offers to log in again
    await page.waitForSelector('#login')
  } finally {
    await page.close()
  }
})

async function restartsOf (module: string): Promise<number> {
  const admin = await connectOperator(gw.url, { username: 'admin', password: PASSWORDS.admin })
  try {
    return ((await admin.call('core', 'status', { module })).result as { restarts: number }).restarts
  } finally {
    await admin.end()
  }
}
