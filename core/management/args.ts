// The arguments of each management method (docs/management.md). Ranges and module fields are checked by the
// manifest schema itself when a change is validated, so the errors read the same as at start.
import { z } from 'zod'
import { OutpostError } from '../errors.js'

const name = z.string().min(1)
const object = z.record(z.string(), z.unknown())

export const moduleArgs = z.object({ module: name }).strict()

export const addArgs = z.object({
  /** a module entry exactly as in the manifest's `modules` */
  spec: object.and(z.object({ name })),
  /** start it now (default: when enabled) */
  start: z.boolean().optional(),
}).strict()

export const configureArgs = z.object({
  module: name,
  /** JSON merge patch (RFC 7386) on the module's config: keys set, null deletes */
  config: object.optional(),
  /** MiB per instance; null: back to the gateway default */
  memoryMiB: z.number().nullable().optional(),
  instances: z.number().optional(),
  /** JSON merge patch on the module's restart policy; null: back to the gateway defaults */
  restart: object.nullable().optional(),
  enabled: z.boolean().optional(),
}).strict().refine(a => a.config !== undefined || a.memoryMiB !== undefined || a.instances !== undefined || a.restart !== undefined || a.enabled !== undefined, {
  message: 'nothing to change: give at least one of config, memoryMiB, instances, restart, enabled',
})

export const logsArgs = z.object({
  module: name.optional(),
  lines: z.number().int().min(1).max(1000).default(100),
  since: z.number().int().min(0).optional(),
  level: z.enum(['error', 'warn', 'info', 'debug']).optional(),
}).strict()

/** Parses `args` or throws BAD_ARGUMENTS naming the method and every problem. */
export function parseArgs<T extends z.ZodType> (method: string, schema: T, args: unknown): z.infer<T> {
  const parsed = schema.safeParse(args ?? {})
  if (parsed.success) return parsed.data
  const problems = parsed.error.issues.map(i => `${i.path.length === 0 ? 'args' : i.path.join('.')}: ${i.message}`)
  throw new OutpostError('BAD_ARGUMENTS', `core.${method}: ${problems.join('; ')}`, { details: { problems } })
}
