// dashboard: serves the web dashboard's static files over HTTP(S); the page talks to the gateway's broker
// over its WebSocket listener (docs/observability.md, "Dashboard").
import { z } from 'zod'

const absolute = z.string().startsWith('/', 'an absolute path (a built-in module does not run in the manifest\'s folder)')

export const config = z.object({
  host: z.string().default('127.0.0.1'),
  port: z.number().int().min(0).max(65535).default(8080),
  /** PEM files: with both, the dashboard is served over HTTPS (and the page then connects with wss://) */
  cert: absolute.optional(),
  key: absolute.optional(),
  /** HTTP connections open at once; more are closed as they arrive */
  maxConnections: z.number().int().min(1).max(1024).default(32),
  /** where the page finds the broker's ws listener: `url`, or this page's host name with `port` and `path` */
  broker: z.object({
    url: z.string().regex(/^wss?:\/\/[^\s]+$/, 'a ws:// or wss:// URL').optional(),
    port: z.number().int().min(1).max(65535).default(9001),
    path: z.string().startsWith('/').default('/mqtt'),
  }).strict().default({ port: 9001, path: '/mqtt' }),
}).strict().refine(c => (c.cert === undefined) === (c.key === undefined), { path: ['cert'], message: 'cert and key go together' })

export type Config = z.infer<typeof config>
