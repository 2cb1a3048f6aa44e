// The centralized way: every raw reading shipped to one region and the full model run there.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isAnomaly, report } from './model.mjs';

const dir = join(process.env.ATOLL_INPUT_DIR, 'readings');
let readings = 0;
const anomalies = [];
for (const file of readdirSync(dir)) {
  for (const line of readFileSync(join(dir, file), 'utf8').split('\n')) {
    if (line === '') continue;
    readings += 1;
    if (isAnomaly(line)) anomalies.push(line);
  }
}
console.log(report(readings, anomalies));
