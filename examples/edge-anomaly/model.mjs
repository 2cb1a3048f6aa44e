// The anomaly model shared by every step, so the edge-first and the centralized pipelines decide
// each reading the same way. A reading is `sensor,timestamp,value`; each sensor has a baseline
// and a spread derived from its id. The full model flags a reading when it is more than 4.5
// spreads from its baseline. The small model an edge box runs is sure of most readings: under 3
// spreads is normal, over 6 is an anomaly; only the ones in between need the full model.

export const FULL_THRESHOLD = 4.5;
export const SURE_NORMAL = 3;
export const SURE_ANOMALY = 6;

/** A sensor is `<site>-s<number>`; its number sets its baseline. */
export function baseline(sensor) {
  const n = Number(sensor.slice(sensor.lastIndexOf('-s') + 2));
  return { mean: 20 + (n % 17), spread: 0.5 + (n % 5) / 10 };
}

/** How many spreads the reading is from its sensor's baseline. */
export function deviation(line) {
  const [sensor, , value] = line.split(',');
  const { mean, spread } = baseline(sensor);
  return Math.abs(Number(value) - mean) / spread;
}

/** The full model: the decision both pipelines must agree on. */
export function isAnomaly(line) {
  return deviation(line) > FULL_THRESHOLD;
}

/** The small model: 'normal', 'anomaly', or 'unsure' (ship it to the full model). */
export function edgeVerdict(line) {
  const d = deviation(line);
  if (d < SURE_NORMAL) return 'normal';
  if (d > SURE_ANOMALY) return 'anomaly';
  return 'unsure';
}

/** The result both pipelines print: how many readings, and the anomalies in a stable order. */
export function report(readings, anomalies) {
  const sorted = [...anomalies].sort();
  return [`readings ${readings}`, `anomalies ${sorted.length}`, ...sorted].join('\n');
}
