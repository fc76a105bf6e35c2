// The emulators' clock: real time plus an offset that the admin API can move forward, and a factor that
// compresses the providers' long schedules (token lifetimes stay in emulated time; webhook retry delays of
// minutes or hours become real milliseconds divided by the factor).
export interface EmulatorClockOptions {
  /** How many emulated milliseconds pass per real millisecond for scheduled work (default 1). */
  factor?: number;
}

export class EmulatorClock {
  private offsetMs = 0;
  factor: number;

  constructor(options: EmulatorClockOptions = {}) {
    this.factor = options.factor && options.factor > 0 ? options.factor : 1;
  }

  /** The emulated current time. */
  now(): Date {
    return new Date(this.nowMs());
  }

  nowMs(): number {
    return Date.now() + this.offsetMs;
  }

  /** Moves emulated time forward (tokens expire, CDC windows age); scheduled timers are not hurried. */
  advance(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError('the clock only moves forward by a finite amount');
    this.offsetMs += ms;
  }

  /** Real milliseconds to wait for an emulated delay. */
  realDelay(emulatedMs: number): number {
    return Math.max(0, Math.round(emulatedMs / this.factor));
  }

  /** A timer for an emulated delay; unref'd so that it never keeps a process alive on its own. */
  setTimeout(fn: () => void, emulatedMs: number): NodeJS.Timeout {
    const timer = setTimeout(fn, this.realDelay(emulatedMs));
    timer.unref();
    return timer;
  }
}
