import { describe, expect, it } from 'vitest';
import { dayKeys, seriesOf } from './day-chart';

describe('daily spend chart', () => {
  it('lists every UTC day of the window, the first one included', () => {
    expect(dayKeys(Date.UTC(2026, 10, 27, 15), Date.UTC(2026, 10, 29, 1))).toEqual(['2026-11-27', '2026-11-28', '2026-11-29']);
  });

  it('stacks the biggest groups and sums the rest as other', () => {
    const values = ['a', 'b', 'c', 'd', 'e', 'f', 'g'].map((key, i) => ({ day: '2026-11-29', key, value: 70 - i * 10 }));
    values.push({ day: '2026-11-28', key: 'g', value: 5 });
    const { names, byDay } = seriesOf(values);
    expect(names).toEqual(['a', 'b', 'c', 'd', 'e', 'other']);
    expect(byDay.get('2026-11-29')).toEqual([70, 60, 50, 40, 30, 20 + 10]);
    expect(byDay.get('2026-11-28')).toEqual([0, 0, 0, 0, 0, 5]);
  });
});
