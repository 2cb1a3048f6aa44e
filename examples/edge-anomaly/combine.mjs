// The reduce step, in one cloud region: the sites' summaries, with the full model run on the
// readings the edge was unsure of.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isAnomaly, report } from './model.mjs';

const dir = join(process.env.ATOLL_INPUT_DIR, 'summaries');
let readings = 0;
const anomalies = [];
for (const file of readdirSync(dir)) {
  const summary = JSON.parse(readFileSync(join(dir, file), 'utf8'));
  readings += summary.readings;
  anomalies.push(...summary.anomalies, ...summary.unsure.filter(isAnomaly));
}
console.log(report(readings, anomalies));
