import parsePrometheusTextFormat, { type PrometheusFamily, type PrometheusSample } from 'parse-prometheus-text-format';

// Reads a /metrics page as a scraper does: a real text-format parser, then look-ups by family
// name and labels, so tests assert on values rather than on strings.

export interface Histogram {
  /** Cumulative counts by upper bound, `+Inf` included. */
  readonly buckets: ReadonlyMap<string, number>;
  readonly count: number;
  readonly sum: number;
}

export class Scrape {
  readonly families: ReadonlyMap<string, PrometheusFamily>;

  constructor(text: string) {
    this.families = new Map(parsePrometheusTextFormat(text).map((family) => [family.name, family]));
  }

  family(name: string): PrometheusFamily {
    const family = this.families.get(name);
    if (family === undefined) throw new Error(`no metric family ${name}; have ${[...this.families.keys()].join(', ')}`);
    return family;
  }

  /** The sample whose labels are exactly `labels`, or undefined. */
  value(name: string, labels: Readonly<Record<string, string>> = {}): number | undefined {
    const sample = this.family(name).metrics.find((m) => sameLabels(m, labels));
    return sample?.value === undefined ? undefined : Number(sample.value);
  }

  /** Every sample of a family as [labels, value]. */
  samples(name: string): [Readonly<Record<string, string>>, number][] {
    return this.family(name).metrics.map((m) => [m.labels ?? {}, Number(m.value)]);
  }

  /** An unlabelled histogram (the parser folds labelled ones together). */
  histogram(name: string): Histogram {
    const family = this.family(name);
    if (family.type !== 'HISTOGRAM') throw new Error(`${name} is a ${family.type}, not a histogram`);
    const [sample] = family.metrics;
    return {
      buckets: new Map(Object.entries(sample?.buckets ?? {}).map(([le, count]) => [le, Number(count)])),
      count: Number(sample?.count),
      sum: Number(sample?.sum),
    };
  }
}

function sameLabels(sample: PrometheusSample, labels: Readonly<Record<string, string>>): boolean {
  const have = sample.labels ?? {};
  const keys = Object.keys(labels);
  return keys.length === Object.keys(have).length && keys.every((k) => have[k] === labels[k]);
}
