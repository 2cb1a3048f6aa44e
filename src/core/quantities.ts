// Parsing of human quantities in specs and flags: CPU cores, byte sizes and durations.
// Internally CPU is integer millicores and memory integer bytes, so sums never drift.

const SIZE_UNITS: Readonly<Record<string, number>> = {
  '': 1,
  k: 1e3, K: 1e3, M: 1e6, G: 1e9, T: 1e12,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40,
  KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12,
  KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30, TiB: 2 ** 40,
};

const DURATION_UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Bytes from `512Mi`, `1Gi`, `2G` or a plain number of bytes; undefined when it is not a size. */
export function parseBytes(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  const match = /^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$/.exec(value);
  if (!match) return undefined;
  const unit = SIZE_UNITS[match[2] ?? ''];
  if (unit === undefined) return undefined;
  const bytes = Math.round(Number(match[1]) * unit);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** Millicores from a number of cores (`0.5`, `2`), a string of cores (`"1.5"`) or millicores (`"500m"`). */
export function parseCpuMillis(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? safeInteger(Math.round(value * 1000)) : undefined;
  const milli = /^\s*(\d+)m\s*$/.exec(value);
  if (milli) return safeInteger(Number(milli[1]));
  const cores = /^\s*(\d+(?:\.\d+)?)\s*$/.exec(value);
  return cores ? safeInteger(Math.round(Number(cores[1]) * 1000)) : undefined;
}

/**
 * The value when it is an integer that survives JSON and arithmetic; else undefined, so a run of
 * 400 digits is refused as "not a quantity" instead of becoming Infinity (stored as null).
 */
function safeInteger(value: number): number | undefined {
  return Number.isSafeInteger(value) ? value : undefined;
}

/** Milliseconds from `500ms`, `30s`, `5m`, `1h`, `1h30m`, `2d`; undefined when it is not a duration. */
export function parseDurationMs(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? safeInteger(Math.round(value)) : undefined;
  const text = value.trim();
  if (text === '') return undefined;
  let total = 0;
  let rest = text;
  const part = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)/;
  while (rest.length > 0) {
    const match = part.exec(rest);
    if (!match) return undefined;
    total += Number(match[1]) * (DURATION_UNITS[match[2] as string] as number);
    rest = rest.slice(match[0].length);
  }
  return safeInteger(Math.round(total));
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(value < 10 ? 1 : 0)}${units[unit]}`;
}

/** Cores as they parse back: whole cores plain (`2`), fractions to the millicore (`0.5`, `1.234`). */
export function formatCpu(millis: number): string {
  const whole = Math.round(millis);
  if (whole % 1000 === 0) return String(whole / 1000);
  return (whole / 1000).toFixed(3).replace(/0+$/, '');
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  // Round first, then split, so 59.999 s never prints as "60.0s" nor 119.5 s as "1m60s".
  if (ms < 10_000 && Math.round(ms / 10) < 1000) return `${(Math.round(ms / 10) / 100).toFixed(2)}s`;
  if (ms < 60_000 && Math.round(ms / 100) < 600) return `${(Math.round(ms / 100) / 10).toFixed(1)}s`;
  const totalSeconds = Math.round(ms / 1000);
  const minutes = Math.floor(totalSeconds / 60);
  if (minutes < 60) return `${minutes}m${totalSeconds % 60}s`;
  const totalMinutes = Math.round(ms / 60_000);
  return `${Math.floor(totalMinutes / 60)}h${totalMinutes % 60}m`;
}
