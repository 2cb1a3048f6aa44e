// The package ships no types; this is the shape its parser returns (the prom2json layout).
declare module 'parse-prometheus-text-format' {
  export interface PrometheusSample {
    readonly labels?: Readonly<Record<string, string>>;
    /** Counters, gauges and untyped samples. */
    readonly value?: string;
    readonly timestamp_ms?: string;
    /** Histograms: cumulative counts by upper bound (`le`), then their count and sum. */
    readonly buckets?: Readonly<Record<string, string>>;
    readonly quantiles?: Readonly<Record<string, string>>;
    readonly count?: string;
    readonly sum?: string;
  }

  export interface PrometheusFamily {
    readonly name: string;
    readonly help: string;
    readonly type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED';
    readonly metrics: readonly PrometheusSample[];
  }

  /** Throws on a line that is not valid text exposition format. */
  export default function parsePrometheusTextFormat(text: string): PrometheusFamily[];
}
