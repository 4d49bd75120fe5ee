// Downloads an update bundle (and its signature) with node's fetch: https:// anywhere, http:// only from
// this machine's loopback (the CLI serves a local file that way); at most `maxBytes`, and within `timeoutMs`
// for the whole transfer, following at most MAX_REDIRECTS redirects, each to such a URL. What arrives is trusted only once its signature verifies (stage.ts).
import fs from 'node:fs'
import { OutpostError } from '../errors.js'

/** how long a bundle's whole download may take; a signature's */
export const DOWNLOAD_TIMEOUT_MS = 30 * 60_000
export const SIGNATURE_TIMEOUT_MS = 30_000
/** a signature file is a few hundred bytes of JSON */
export const MAX_SIGNATURE_BYTES = 16_384

// addresses, not names: a name is resolved by /etc/hosts and DNS, which may point it anywhere
const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[::1\])$/

export function checkUrl (text: string): URL {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    // not repeated: it may hold a password, and the message is audited where viewers read it
    throw new OutpostError('UPDATE_DOWNLOAD', 'the update\'s URL is not a valid URL')
  }
  if (url.username !== '' || url.password !== '') {
    throw new OutpostError('UPDATE_DOWNLOAD', `${url.protocol}//${url.host}: no user or password in an update's URL (it is audited, and fetch refuses them): serve the bundle over https:// without them`)
  }
  if (url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK.test(url.hostname))) return url
  throw new OutpostError('UPDATE_DOWNLOAD', `${url.protocol}//${url.host}: an update is downloaded over https:// (http:// only from a loopback address: 127.0.0.0/8 or [::1], not a name)`)
}

/** redirects followed (release hosting redirects to its storage), each to a URL checkUrl accepts */
export const MAX_REDIRECTS = 5

/** writes the body of `url` to `file` (created new), refusing past `maxBytes` or `timeoutMs` */
export async function download (url: URL, file: string, maxBytes: number, timeoutMs: number): Promise<number> {
  const what = `${url.origin}${url.pathname}`
  let response: Response | undefined
  const signal = AbortSignal.timeout(timeoutMs)
  let at = url
  for (let hops = 0; response === undefined; hops++) {
    try {
      const answer = await fetch(at, { signal, redirect: 'manual' })
      const location = answer.headers.get('location')
      if (answer.status < 300 || answer.status > 399 || location === null) {
        response = answer
        break
      }
      await answer.body?.cancel()
      if (hops === MAX_REDIRECTS) throw new OutpostError('UPDATE_DOWNLOAD', `${what}: more than ${MAX_REDIRECTS} redirects`)
      at = checkUrl(new URL(location, at).href)
    } catch (err) {
      if (err instanceof OutpostError) throw err
      throw new OutpostError('UPDATE_DOWNLOAD', `${what}: ${signal.aborted ? `no answer within ${timeoutMs} ms` : (err as Error).message}`)
    }
  }
  if (!response.ok || response.body === null) throw new OutpostError('UPDATE_DOWNLOAD', `${what}: HTTP ${response.status} ${response.statusText}`)
  const announced = Number(response.headers.get('content-length'))
  if (announced > maxBytes) {
    await response.body.cancel()
    throw new OutpostError('UPDATE_DOWNLOAD', `${what}: ${announced} bytes, over the limit of ${maxBytes} (updates.maxBundleBytes)`)
  }
  const out = await fs.promises.open(file, 'wx', 0o600)
  let bytes = 0
  try {
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      bytes += chunk.length
      if (bytes > maxBytes) throw new OutpostError('UPDATE_DOWNLOAD', `${what}: more than ${maxBytes} bytes (updates.maxBundleBytes)`)
      await out.write(chunk)
    }
    await out.sync()
  } catch (err) {
    await out.close()
    await fs.promises.rm(file, { force: true })
    if (err instanceof OutpostError) throw err
    throw new OutpostError('UPDATE_DOWNLOAD', `${what}: ${signal.aborted ? `not complete within ${timeoutMs} ms` : (err as Error).message}`)
  }
  await out.close()
  return bytes
}
