import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { SPEND_GROUPS, type ChargeRecord } from '../src/core/spend.js';
import { monthOf } from '../src/core/budget.js';
import { openSqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { tempDir } from '../test/harness/processes.js';

// npm run bench:spend [-- --charges N --namespaces N]
// The spend ledger at scale, in a real SQLite store: N charges (default 1,000,000: a month of a
// busy cluster, one compute and one transfer per attempt) written in batches of 1,000 as the
// control plane writes them, then the queries behind `atoll spend --by X` (all time and the last
// 7 days) and the one a submission makes for its namespace's budget (this month). Median of 5
// runs of each query. Last line JSON.

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const median = (values: number[]): number => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const round = (ms: number): number => Number(ms.toFixed(1));

async function main(): Promise<void> {
  const total = flag('charges', 1_000_000);
  const namespaces = flag('namespaces', 50);
  const store = openSqliteStore(join(tempDir('spend-bench'), 'atoll.db'));
  await store.migrate();
  const now = Date.now();
  const month = 30 * 24 * 3_600_000;
  const providers = ['aws', 'gcp', 'azure', 'hetzner', 'edge'];
  let written = 0;
  const writeStarted = performance.now();
  for (let batch = 0; written < total; batch += 1) {
    const charges: ChargeRecord[] = [];
    for (let i = 0; i < 1000 && written < total; i += 1, written += 1) {
      const attempt = `job-${Math.floor(written / 20)}.${written % 20}.1`;
      const transfer = written % 2 === 1;
      charges.push({
        id: `${transfer ? 'transfer' : 'compute'}:${attempt}:${written}`, time: now - Math.floor(((total - written) / total) * month),
        kind: transfer ? 'transfer' : 'compute', namespace: `team-${written % namespaces}`, jobId: `job-${Math.floor(written / 20)}`, attemptId: attempt,
        node: `node-${written % 2000}`, provider: providers[written % providers.length]!, region: `region-${written % 24}`, site: `site-${written % 300}`,
        dollars: transfer ? 0.0009 : 0.0042, bytes: transfer ? 10_000_000 : 0, runtimeMs: transfer ? 0 : 60_000, waste: written % 17 === 0,
      });
    }
    await store.write({ charges });
  }
  const writeMs = performance.now() - writeStarted;
  const timed = async (run: () => Promise<unknown>): Promise<number> => {
    const samples: number[] = [];
    for (let i = 0; i < 5; i += 1) {
      const started = performance.now();
      await run();
      samples.push(performance.now() - started);
    }
    return round(median(samples));
  };
  const byGroupMs: Record<string, number> = {};
  for (const by of SPEND_GROUPS) byGroupMs[by] = await timed(() => store.sumSpend({}, by));
  const last7dByProviderMs = await timed(() => store.sumSpend({ since: now - 7 * 24 * 3_600_000 }, 'provider'));
  const budgetCheckMs = await timed(() => store.sumSpend({ since: monthOf(now).start, namespace: 'team-7' }));
  const jobCostMs = await timed(() => store.sumSpend({ jobId: `job-${Math.floor(total / 40)}` }));
  await store.close();
  const result = { charges: total, namespaces, writeChargesPerSec: Math.round(total / (writeMs / 1000)), byGroupMs, last7dByProviderMs, budgetCheckMs, jobCostMs };
  console.log(`${total} charges written at ${result.writeChargesPerSec}/s in batches of 1,000`);
  for (const [by, ms] of Object.entries(byGroupMs)) console.log(`atoll spend --by ${by} (all time): ${ms} ms`);
  console.log(`atoll spend --by provider --since 7d: ${last7dByProviderMs} ms`);
  console.log(`a namespace's month-to-date spend (each submission with a budget): ${budgetCheckMs} ms`);
  console.log(`one job's cost (atoll job): ${jobCostMs} ms`);
  console.log(JSON.stringify(result));
}

await main();
