// thermostat: keeps a room at a setpoint by switching a heater relay from a temperature sensor's readings.
import { z } from 'zod'

export const config = z.object({
  /** the temperature driver module whose `reading` hooks it follows */
  sensor: z.string(),
  /** the gpio-output module driving the heater */
  relay: z.string(),
  setpoint: z.number().default(21),
  hysteresis: z.number().min(0).default(0.5),
}).strict()

export type Config = z.infer<typeof config>
