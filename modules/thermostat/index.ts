// thermostat module: follows `<sensor>/reading`, calls `<relay>.set` with hysteresis, emits `decision`.
import { runModule, OutpostError } from '../../core/sdk/index.js'
import type { Config } from './schema.js'

runModule<Config>(async (m) => {
  let setpoint = m.config.setpoint
  let heating: boolean | undefined
  let lastCelsius: number | undefined
  m.hooks('decision')
  m.method('status', () => ({ setpoint, heating: heating ?? null, celsius: lastCelsius ?? null }))
  m.method('setpoint', (args: { celsius?: unknown } | null) => {
    if (args !== null && args.celsius !== undefined) {
      if (typeof args.celsius !== 'number' || args.celsius < 5 || args.celsius > 35) throw new OutpostError('BAD_ARGUMENTS', 'expected { celsius: 5..35 }')
      setpoint = args.celsius
      m.log.info(`setpoint now ${setpoint} °C`)
    }
    return { celsius: setpoint }
  })
  m.on(`${m.config.sensor}/reading`, (reading: { celsius: number }) => {
    lastCelsius = reading.celsius
    m.log.info(`hook temperature/reading: ${reading.celsius.toFixed(2)} °C (setpoint ${setpoint})`)
    const want = reading.celsius < setpoint - m.config.hysteresis ? true : reading.celsius > setpoint + m.config.hysteresis ? false : heating
    if (want === undefined || want === heating) return
    m.call(m.config.relay, 'set', { value: want ? 1 : 0 }, { timeout: 1000 }).then(() => {
      heating = want
      m.emit('decision', { heating: want, celsius: reading.celsius, setpoint })
      m.log.info(`rpc ${m.config.relay}.set → heater ${want ? 'on' : 'off'}`)
    }, (err: Error & { code?: string }) => {
      // the relay may be restarting: the next reading retries
      m.log.warn(`cannot switch heater: ${err.message}`, { code: err.code })
    })
  })
  await m.start()
  m.log.info(`holding ${setpoint} °C ± ${m.config.hysteresis} with ${m.config.sensor} and ${m.config.relay}`)
})
