// serial-line: any sensor that talks in text lines. See docs/drivers/serial-line.md.
import { z } from 'zod'
import { checkPortChoice, portClaims, portFields } from '../lib/serial/config-schema.js'

/** capture groups of a pattern: how many, and the names of the named ones */
function captureGroups (pattern: string): { count: number, names: string[] } {
  // the empty alternative always matches, so every group shows up (unset) in the result
  const probe = new RegExp(`(?:${pattern})|`).exec('')
  return { count: (probe?.length ?? 1) - 1, names: Object.keys(probe?.groups ?? {}) }
}

const raw = z.object({ type: z.literal('raw') }).strict()

const regex = z.object({
  type: z.literal('regex'),
  /** a JavaScript regular expression; named groups become fields */
  pattern: z.string().min(1),
  /** names for the positional captures, in order (for patterns without named groups) */
  fields: z.array(z.string().min(1)).min(1).optional(),
}).strict().superRefine((p, ctx) => {
  try {
    new RegExp(p.pattern)
  } catch (err) {
    ctx.addIssue({ code: 'custom', path: ['pattern'], message: `not a valid regular expression: ${(err as Error).message}` })
    return
  }
  const { count, names } = captureGroups(p.pattern)
  if (p.fields === undefined) {
    if (count > 0 && names.length === 0) ctx.addIssue({ code: 'custom', path: ['fields'], message: `the pattern has ${count} unnamed capture group(s): name them (?<name>…) or list their names in "fields"` })
    return
  }
  if (names.length > 0) ctx.addIssue({ code: 'custom', path: ['fields'], message: 'the pattern has named groups, which name the fields already: leave "fields" out' })
  else if (p.fields.length !== count) ctx.addIssue({ code: 'custom', path: ['fields'], message: `${p.fields.length} field name(s) for ${count} capture group(s)` })
  if (new Set(p.fields).size !== p.fields.length) ctx.addIssue({ code: 'custom', path: ['fields'], message: 'field names must be unique' })
})

const keyvalue = z.object({
  type: z.literal('keyvalue'),
  /** between pairs; default: any run of whitespace */
  pairSeparator: z.string().min(1).optional(),
  /** between a key and its value */
  kvSeparator: z.string().min(1).default('='),
}).strict()

export const config = z.object({
  ...portFields,
  delimiter: z.enum(['\n', '\r\n']).default('\n'),
  encoding: z.enum(['utf8', 'latin1', 'ascii']).default('utf8'),
  /** a line longer than this (bytes, delimiter not counted) is dropped up to the next delimiter, counted and logged */
  maxLineBytes: z.number().int().min(16).max(16 * 1024 * 1024).default(65_536),
  parser: z.discriminatedUnion('type', [raw, regex, keyvalue]).default({ type: 'raw' }),
  /** the hook decoded lines are emitted on */
  hook: z.string()
    .regex(/^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+){0,3}$/, 'expected a hook name: up to 4 levels of letters, digits, _ and -')
    .refine(name => name !== 'connected' && name !== 'disconnected', 'connected and disconnected are the port\'s own hooks')
    .default('line'),
  /** a write not handed to the OS within this time fails with SERIAL_WRITE_TIMEOUT */
  writeTimeoutMs: z.number().int().min(10).default(2000),
}).strict().superRefine(checkPortChoice)

export type Config = z.infer<typeof config>
export type ParserConfig = Config['parser']

export const claims = portClaims
