// The map step, on the edge box that holds the readings: the small model decides what it is sure
// of and keeps only a summary plus the readings it is unsure of, for the full model to decide.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { edgeVerdict } from './model.mjs';

const dir = join(process.env.ATOLL_INPUT_DIR, 'readings');
const summary = { readings: 0, anomalies: [], unsure: [] };
for (const file of readdirSync(dir)) {
  for (const line of readFileSync(join(dir, file), 'utf8').split('\n')) {
    if (line === '') continue;
    summary.readings += 1;
    const verdict = edgeVerdict(line);
    if (verdict === 'anomaly') summary.anomalies.push(line);
    else if (verdict === 'unsure') summary.unsure.push(line);
  }
}
writeFileSync(join(process.env.ATOLL_OUTPUT_DIR, 'summary.json'), JSON.stringify(summary));
console.log(`${summary.readings} readings: ${summary.anomalies.length} sure anomalies, ${summary.unsure.length} sent on for the full model`);
