// nmea-gps: a GNSS receiver speaking NMEA 0183 on a serial port. See docs/drivers/nmea-gps.md.
import { z } from 'zod'
import { checkPortChoice, portClaims, portFields } from '../lib/serial/config-schema.js'

export const config = z.object({
  ...portFields,
}).strict().superRefine(checkPortChoice)

export type Config = z.infer<typeof config>

export const claims = portClaims
