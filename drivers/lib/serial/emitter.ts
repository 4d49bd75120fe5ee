// A small typed event emitter. Unlike node:events it never throws for an `error` event nobody listens to:
// a hardware layer reports errors as events, and an unheard report must not take the driver process down.

type Listener<Args extends unknown[]> = (...args: Args) => void

export interface Emitter<Events extends { [K in keyof Events]: unknown[] }> {
  on<E extends keyof Events> (event: E, listener: Listener<Events[E]>): () => void
  off<E extends keyof Events> (event: E, listener: Listener<Events[E]>): void
  emit<E extends keyof Events> (event: E, ...args: Events[E]): void
  count (event: keyof Events): number
}

export function createEmitter<Events extends { [K in keyof Events]: unknown[] }> (): Emitter<Events> {
  const listeners = new Map<keyof Events, Set<unknown>>()
  return {
    on (event, listener) {
      let set = listeners.get(event)
      if (set === undefined) {
        set = new Set()
        listeners.set(event, set)
      }
      set.add(listener)
      return () => { set.delete(listener) }
    },
    off (event, listener) {
      listeners.get(event)?.delete(listener)
    },
    emit (event, ...args) {
      const set = listeners.get(event)
      if (set === undefined) return
      for (const listener of [...set]) (listener as Listener<Events[typeof event]>)(...args)
    },
    count (event) {
      return listeners.get(event)?.size ?? 0
    },
  }
}
