import { describe, expect, it } from 'vitest';
import { formatBytes, formatCpu, formatDuration, parseBytes, parseCpuMillis, parseDurationMs } from './quantities.js';

const Ki = 2 ** 10;
const Mi = 2 ** 20;
const Gi = 2 ** 30;
const Ti = 2 ** 40;

describe('parseBytes', () => {
  it.each<{ input: string | number; expected: number }>([
    { input: 0, expected: 0 },
    { input: 1536, expected: 1536 },
    { input: '0', expected: 0 },
    { input: '1024', expected: 1024 },
    { input: '1k', expected: 1000 },
    { input: '1K', expected: 1000 },
    { input: '2M', expected: 2_000_000 },
    { input: '2G', expected: 2_000_000_000 },
    { input: '1T', expected: 1e12 },
    { input: '1Ki', expected: Ki },
    { input: '512Mi', expected: 512 * Mi },
    { input: '1Gi', expected: Gi },
    { input: '1.5Gi', expected: 1.5 * Gi },
    { input: '2Ti', expected: 2 * Ti },
    { input: '3KB', expected: 3000 },
    { input: '3MB', expected: 3_000_000 },
    { input: '1GB', expected: 1e9 },
    { input: '1TB', expected: 1e12 },
    { input: '4KiB', expected: 4 * Ki },
    { input: '4MiB', expected: 4 * Mi },
    { input: '4GiB', expected: 4 * Gi },
    { input: '1TiB', expected: Ti },
    { input: '  512Mi  ', expected: 512 * Mi },
    { input: '512 Mi', expected: 512 * Mi },
    // Fractions of a byte round to the nearest whole byte.
    { input: '0.5Ki', expected: 512 },
    { input: '1.0000001Ki', expected: 1024 },
  ])('$input -> $expected', ({ input, expected }) => {
    expect(parseBytes(input)).toBe(expected);
  });

  it.each<{ input: string | number; why: string }>([
    { input: 'lots', why: 'not a number' },
    { input: '', why: 'empty' },
    { input: '   ', why: 'blank' },
    { input: '1.5.5Gi', why: 'two decimal points' },
    { input: '-1', why: 'negative string' },
    { input: '-1Gi', why: 'negative with unit' },
    { input: -1, why: 'negative number' },
    { input: 1.5, why: 'fractional number of bytes' },
    { input: Number.NaN, why: 'NaN' },
    { input: Number.POSITIVE_INFINITY, why: 'infinity' },
    { input: 2 ** 53, why: 'number beyond safe integers' },
    { input: '99999999999Ti', why: 'string beyond safe integers' },
    { input: '1e9', why: 'exponent notation' },
    { input: '1Xi', why: 'unknown unit' },
    { input: '1mi', why: 'lowercase binary unit' },
    { input: '1m', why: 'milli is not a size unit' },
    { input: '1 Gi B', why: 'space inside the unit' },
    { input: 'Gi', why: 'unit without a number' },
    { input: '.5Gi', why: 'no leading digit' },
    { input: '1.Gi', why: 'no digit after the point' },
  ])('rejects $input ($why)', ({ input }) => {
    expect(parseBytes(input)).toBeUndefined();
  });

  it('accepts the largest safe integer but not one more unit beyond it', () => {
    expect(parseBytes(Number.MAX_SAFE_INTEGER)).toBe(Number.MAX_SAFE_INTEGER);
    expect(parseBytes('8191Ti')).toBe(8191 * Ti);
    expect(parseBytes('8192Ti')).toBeUndefined();
  });
});

describe('parseCpuMillis', () => {
  it.each<{ input: string | number; expected: number }>([
    { input: 0, expected: 0 },
    { input: 1, expected: 1000 },
    { input: 0.5, expected: 500 },
    { input: 2.25, expected: 2250 },
    { input: 0.0004, expected: 0 },
    { input: 0.0006, expected: 1 },
    { input: '2', expected: 2000 },
    { input: '1.5', expected: 1500 },
    { input: ' 0.25 ', expected: 250 },
    { input: '500m', expected: 500 },
    { input: '1m', expected: 1 },
    { input: ' 250m ', expected: 250 },
    { input: '0m', expected: 0 },
    { input: '2000m', expected: 2000 },
  ])('$input -> $expected', ({ input, expected }) => {
    expect(parseCpuMillis(input)).toBe(expected);
  });

  it.each<{ input: string | number; why: string }>([
    { input: 'lots', why: 'not a number' },
    { input: '', why: 'empty' },
    { input: '1.5.5', why: 'two decimal points' },
    { input: '-1', why: 'negative string' },
    { input: '-500m', why: 'negative millicores' },
    { input: -0.5, why: 'negative number' },
    { input: Number.NaN, why: 'NaN' },
    { input: Number.POSITIVE_INFINITY, why: 'infinity' },
    { input: '0.5m', why: 'fractional millicores' },
    { input: '1 m', why: 'space before the unit' },
    { input: '2 cores', why: 'words' },
    { input: '1Gi', why: 'a size, not a cpu' },
    { input: '1e3', why: 'exponent notation' },
  ])('rejects $input ($why)', ({ input }) => {
    expect(parseCpuMillis(input)).toBeUndefined();
  });
});

describe('parseDurationMs', () => {
  it.each<{ input: string | number; expected: number }>([
    { input: 0, expected: 0 },
    { input: 1500, expected: 1500 },
    { input: 1.4, expected: 1 },
    { input: '500ms', expected: 500 },
    { input: '30s', expected: 30_000 },
    { input: '1.5s', expected: 1500 },
    { input: '5m', expected: 300_000 },
    { input: '1h', expected: 3_600_000 },
    { input: '2d', expected: 172_800_000 },
    { input: '1h30m', expected: 5_400_000 },
    { input: '1m30s', expected: 90_000 },
    { input: '1s500ms', expected: 1500 },
    { input: '1d2h3m4s5ms', expected: 86_400_000 + 7_200_000 + 180_000 + 4000 + 5 },
    { input: '  10s ', expected: 10_000 },
    { input: '0s', expected: 0 },
    { input: '0.5ms', expected: 1 },
  ])('$input -> $expected', ({ input, expected }) => {
    expect(parseDurationMs(input)).toBe(expected);
  });

  it.each<{ input: string | number; why: string }>([
    { input: 'lots', why: 'not a duration' },
    { input: '', why: 'empty' },
    { input: '   ', why: 'blank' },
    { input: '30', why: 'a string without a unit' },
    { input: '-5s', why: 'negative' },
    { input: -1, why: 'negative number' },
    { input: Number.NaN, why: 'NaN' },
    { input: Number.POSITIVE_INFINITY, why: 'infinity' },
    { input: '1.5.5s', why: 'two decimal points' },
    { input: '5 minutes', why: 'words' },
    { input: '1h 30m', why: 'space between parts' },
    { input: '1w', why: 'unknown unit' },
    { input: '10S', why: 'uppercase unit' },
    { input: 's', why: 'unit without a number' },
    { input: '1h30', why: 'trailing number without a unit' },
  ])('rejects $input ($why)', ({ input }) => {
    expect(parseDurationMs(input)).toBeUndefined();
  });

  it('returns a finite number for a huge but well-formed duration', () => {
    const ms = parseDurationMs('100000d');
    expect(ms).toBe(100_000 * 86_400_000);
  });
});

describe('formatBytes', () => {
  it.each<{ bytes: number; expected: string }>([
    { bytes: 0, expected: '0B' },
    { bytes: 1, expected: '1B' },
    { bytes: 1023, expected: '1023B' },
    { bytes: 1024, expected: '1.0KiB' },
    { bytes: 1536, expected: '1.5KiB' },
    { bytes: 10 * Ki, expected: '10KiB' },
    { bytes: 512 * Mi, expected: '512MiB' },
    { bytes: 64 * Mi, expected: '64MiB' },
    { bytes: 1.5 * Gi, expected: '1.5GiB' },
    { bytes: 8 * Gi, expected: '8.0GiB' },
    { bytes: 2 * Ti, expected: '2.0TiB' },
    // TiB is the largest unit: bigger sizes stay in TiB.
    { bytes: 2048 * Ti, expected: '2048TiB' },
  ])('$bytes -> $expected', ({ bytes, expected }) => {
    expect(formatBytes(bytes)).toBe(expected);
  });

  it.each(['1Ki', '512Mi', '3Gi', '7Ti', '1536'])('parses back what it prints for %s', (size) => {
    const bytes = parseBytes(size) as number;
    const printed = formatBytes(bytes).replace(/B$/, '');
    expect(parseBytes(printed)).toBe(bytes);
  });
});

describe('formatCpu', () => {
  it.each<{ millis: number; expected: string }>([
    { millis: 0, expected: '0' },
    { millis: 1000, expected: '1' },
    { millis: 4000, expected: '4' },
    { millis: 500, expected: '0.5' },
    { millis: 250, expected: '0.25' },
    { millis: 100, expected: '0.1' },
    { millis: 1500, expected: '1.5' },
    { millis: 2250, expected: '2.25' },
  ])('$millis -> $expected', ({ millis, expected }) => {
    expect(formatCpu(millis)).toBe(expected);
  });

  it.each([0, 100, 250, 500, 1000, 1500, 2250, 64_000])('parses back what it prints for %i millicores', (millis) => {
    expect(parseCpuMillis(formatCpu(millis))).toBe(millis);
  });

  it.each([1, 5, 10, 999, 1234, 2001])('prints %i millicores so they parse back exactly', (millis) => {
    const printed = formatCpu(millis);
    expect(printed).not.toMatch(/\.\d*0$/);
    expect(parseCpuMillis(printed)).toBe(millis);
  });
});

describe('formatDuration', () => {
  it.each<{ ms: number; expected: string }>([
    { ms: 0, expected: '0ms' },
    { ms: 1, expected: '1ms' },
    { ms: 999, expected: '999ms' },
    { ms: 1000, expected: '1.00s' },
    { ms: 1234, expected: '1.23s' },
    { ms: 9_990, expected: '9.99s' },
    { ms: 10_000, expected: '10.0s' },
    { ms: 45_500, expected: '45.5s' },
    { ms: 60_000, expected: '1m0s' },
    { ms: 90_000, expected: '1m30s' },
    { ms: 59 * 60_000 + 59_000, expected: '59m59s' },
    { ms: 3_600_000, expected: '1h0m' },
    { ms: 5_400_000, expected: '1h30m' },
    { ms: 26 * 3_600_000 + 5 * 60_000, expected: '26h5m' },
  ])('$ms -> $expected', ({ ms, expected }) => {
    expect(formatDuration(ms)).toBe(expected);
  });

  it.each<{ ms: number; expected: string }>([
    { ms: 119_500, expected: '2m0s' },
    { ms: 3_599_500, expected: '1h0m' },
    { ms: 59_999, expected: '1m0s' },
    { ms: 9_999, expected: '10.0s' },
  ])('carries rounding into the next unit: $ms -> $expected', ({ ms, expected }) => {
    expect(formatDuration(ms)).toBe(expected);
  });
});

describe('quantities too large to hold', () => {
  const digits = '9'.repeat(400);
  it.each<{ what: string; parse: (v: string | number) => number | undefined; value: string | number }>([
    { what: 'a duration of 400 digits', parse: parseDurationMs, value: `${digits}s` },
    { what: 'a duration past 2^53 ms', parse: parseDurationMs, value: '99999999999999999999d' },
    { what: 'a numeric duration of 1e300', parse: parseDurationMs, value: 1e300 },
    { what: 'cores of 400 digits', parse: parseCpuMillis, value: digits },
    { what: 'millicores of 400 digits', parse: parseCpuMillis, value: `${digits}m` },
    { what: 'a numeric core count of 1e300', parse: parseCpuMillis, value: 1e300 },
    { what: 'a size of 400 digits', parse: parseBytes, value: digits },
  ])('refuses $what instead of answering Infinity or a rounded integer', ({ parse, value }) => {
    expect(parse(value)).toBeUndefined();
  });

  it('still reads the largest durations people write', () => {
    expect(parseDurationMs('365d')).toBe(365 * 86_400_000);
  });
});
