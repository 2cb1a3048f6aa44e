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
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? Math.round(value * 1000) : undefined;
  const milli = /^\s*(\d+)m\s*$/.exec(value);
  if (milli) return Number(milli[1]);
  const cores = /^\s*(\d+(?:\.\d+)?)\s*$/.exec(value);
  return cores ? Math.round(Number(cores[1]) * 1000) : undefined;
}

/** Milliseconds from `500ms`, `30s`, `5m`, `1h`, `1h30m`, `2d`; undefined when it is not a duration. */
export function parseDurationMs(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? Math.round(value) : undefined;
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
  return Math.round(total);
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

export function formatCpu(millis: number): string {
  return millis % 1000 === 0 ? String(millis / 1000) : (millis / 1000).toFixed(2).replace(/0$/, '');
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)}s`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms % 60_000) / 1000);
  if (minutes < 60) return `${minutes}m${seconds}s`;
  return `${Math.floor(minutes / 60)}h${minutes % 60}m`;
}
