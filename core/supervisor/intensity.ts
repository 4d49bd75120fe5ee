// Restart intensity, OTP style: a pure sliding window over the times of recent restarts. More than
// `maxRestarts` within `windowMs` is a crash loop, and restarting again would only burn CPU and flash.

export interface Intensity {
  maxRestarts: number
  windowMs: number
}

export interface IntensityCheck {
  /** the restarts still inside the window that ends at `now` (older ones are forgotten) */
  recent: number[]
  /** true when one more restart now would be more than `maxRestarts` within the window */
  exceeded: boolean
}

export function checkIntensity (restarts: readonly number[], now: number, intensity: Intensity): IntensityCheck {
  const recent = restarts.filter(at => now - at < intensity.windowMs)
  return { recent, exceeded: recent.length >= intensity.maxRestarts }
}
