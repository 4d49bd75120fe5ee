// issue 12, the update download (core/update/download.ts): bounded by updates.maxBundleBytes (at the limit
// accepted, one byte over refused, whether the server announces its length or not), by time, and only from
// https:// or the loopback. A real HTTP server on 127.0.0.1.
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:http'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { checkUrl, download } from '../../core/update/download.js'

const BODY = Buffer.alloc(100_000, 7)

describe('update download', () => {
  let dir: string
  let server: Server
  let base: string
  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'outpost-download-'))
    server = createServer((req, res) => {
      if (req.url === '/sized') res.writeHead(200, { 'content-length': BODY.length }).end(BODY)
      else if (req.url === '/chunked') {
        res.writeHead(200)
        res.write(BODY.subarray(0, 50_000))
        setImmediate(() => res.end(BODY.subarray(50_000)))
      } else if (req.url === '/stall') res.writeHead(200).write('x') // never ends
      else if (req.url === '/moved') res.writeHead(302, { location: '/sized' }).end()
      else if (req.url === '/away') res.writeHead(301, { location: 'http://192.0.2.1/b' }).end()
      else if (req.url === '/loop') res.writeHead(302, { location: '/loop' }).end()
      else res.writeHead(404, 'Not Found').end()
    })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  after(() => {
    server.closeAllConnections()
    server.close()
    rmSync(dir, { recursive: true, force: true })
  })

  for (const route of ['sized', 'chunked']) {
    it(`${route}: a body of exactly maxBytes is written whole; one byte less allowed is refused and nothing is kept`, async () => {
      const file = path.join(dir, `${route}-ok`)
      assert.equal(await download(new URL(`${base}/${route}`), file, BODY.length, 5000), BODY.length)
      assert.deepEqual(readFileSync(file), BODY)
      const over = path.join(dir, `${route}-over`)
      await assert.rejects(download(new URL(`${base}/${route}`), over, BODY.length - 1, 5000), { code: 'UPDATE_DOWNLOAD', message: new RegExp(`${BODY.length - 1}.*updates\\.maxBundleBytes`) })
      assert.equal(existsSync(over), false)
    })
  }

  it('a redirect is followed to a URL an update may come from, at most 5 times', async () => {
    assert.equal(await download(new URL(`${base}/moved`), path.join(dir, 'moved'), BODY.length, 5000), BODY.length)
    await assert.rejects(download(new URL(`${base}/away`), path.join(dir, 'away'), BODY.length, 5000), { code: 'UPDATE_DOWNLOAD', message: /http:\/\/192\.0\.2\.1: an update is downloaded over https:\/\// })
    await assert.rejects(download(new URL(`${base}/loop`), path.join(dir, 'loop'), BODY.length, 5000), { code: 'UPDATE_DOWNLOAD', message: /\/loop: more than 5 redirects/ })
    assert.equal(existsSync(path.join(dir, 'away')) || existsSync(path.join(dir, 'loop')), false)
  })

  it('an HTTP error and a server that stops sending are refused with what happened', async () => {
    await assert.rejects(download(new URL(`${base}/missing`), path.join(dir, 'missing'), 1000, 5000), { code: 'UPDATE_DOWNLOAD', message: /\/missing: HTTP 404 Not Found/ })
    await assert.rejects(download(new URL(`${base}/stall`), path.join(dir, 'stall'), 1000, 300), { code: 'UPDATE_DOWNLOAD', message: /not complete within 300 ms/ })
    assert.equal(existsSync(path.join(dir, 'stall')), false)
  })

  it('https:// anywhere, http:// only to a loopback address, nothing else', () => {
    assert.equal(checkUrl('https://example.com/b.tar.gz').host, 'example.com')
    for (const ok of ['http://127.0.0.1:8080/b', 'http://127.1.2.3/b', 'http://[::1]/b']) assert.ok(checkUrl(ok))
    // a name is not an address: /etc/hosts or DNS may point `localhost` anywhere
    for (const bad of ['http://localhost/b', 'http://192.0.2.1/b', 'http://127.0.0.1.example.com/b', 'file:///etc/passwd', 'ftp://x/b']) {
      assert.throws(() => checkUrl(bad), { code: 'UPDATE_DOWNLOAD', message: /downloaded over https:\/\// }, bad)
    }
    assert.throws(() => checkUrl('not a url'), { code: 'UPDATE_DOWNLOAD', message: /^the update's URL is not a valid URL$/ })
  })

  it('review 2: a URL with a user or password is refused without repeating them (the message is audited, where viewers read it)', () => {
    for (const bad of ['https://deploy:s3cr3t@example.com/b.tar.gz', 'https://s3cr3t@example.com/b', 'http://deploy:s3cr3t@127.0.0.1/b', 'https://deploy:s3cr3t@exa mple.com/b']) {
      assert.throws(() => checkUrl(bad), (err: Error & { code?: string }) => err.code === 'UPDATE_DOWNLOAD' && !err.message.includes('s3cr3t') && /no user or password in an update's URL|not a valid URL/.test(err.message), bad)
    }
  })
})
