// The port part of a serial driver's config schema, shared by the drivers' schema.ts files. Those run in the
// core (manifest checks), never in a driver process, so zod is fine here; driver processes import
// module-port.ts instead.
import { z } from 'zod'

export const portFields = {
  /** a board UART by name (serial0, sim0): its path comes from the board, and the UART is claimed */
  uart: z.string().min(1).optional(),
  /** a device path, e.g. /dev/serial/by-id/usb-FTDI_…-if00-port0 (nothing is claimed) */
  path: z.string().startsWith('/', 'expected an absolute device path such as /dev/serial/by-id/…').optional(),
  baudRate: z.number().int().positive().default(9600),
  dataBits: z.union([z.literal(5), z.literal(6), z.literal(7), z.literal(8)]).default(8),
  parity: z.enum(['none', 'even', 'odd', 'mark', 'space']).default('none'),
  stopBits: z.union([z.literal(1), z.literal(1.5), z.literal(2)]).default(1),
}

/** for superRefine: exactly one of `uart` and `path` */
export function checkPortChoice (config: { uart?: string | undefined, path?: string | undefined }, ctx: z.RefinementCtx): void {
  if ((config.uart === undefined) === (config.path === undefined)) {
    ctx.addIssue({ code: 'custom', path: [config.uart === undefined ? 'uart' : 'path'], message: 'give exactly one of "uart" (a board UART name such as serial0) or "path" (a device path)' })
  }
}

export const portClaims = (config: { uart?: string | undefined }): Array<{ kind: 'uart', resource: string }> =>
  config.uart === undefined ? [] : [{ kind: 'uart', resource: config.uart }]
