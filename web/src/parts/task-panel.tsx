import type { AtollClient } from '../../../src/client/client';
import type { CandidateScore } from '../../../src/scheduler/framework/explanation';
import { ago } from '../format';
import { useLiveData } from '../live';
import { ErrorNote, Loading, Section, StateBadge } from './bits';

// One task: its attempts, why it runs where it runs (the placement explanation: the chosen node's
// score by plugin, the runner-ups, and why other nodes were rejected) and its output.

export function TaskPanel({ client, taskId }: { client: AtollClient; taskId: string }) {
  const task = useLiveData(() => client.getTask(taskId), [client, taskId]);
  const why = useLiveData(() => client.explainTask(taskId), [client, taskId]);
  const logs = useLiveData(() => client.getLogs(taskId), [client, taskId], 1000);
  if (task.error && !task.data) return <Section title={`Task ${taskId}`}><ErrorNote error={task.error} /></Section>;
  if (!task.data) return <Loading what={`task ${taskId}`} />;
  const t = task.data;
  const explanation = why.data?.explanation ?? null;
  return (
    <Section title={`Task ${taskId}`}>
      <p>
        <StateBadge state={t.state} /> stage {t.stageName} · {t.node ? <>on <strong>{t.node}</strong></> : 'not placed'}
        {t.location && ` (${t.location.provider} · ${t.location.region}${t.location.site ? ` · ${t.location.site}` : ''}${t.location.jurisdiction ? ` · ${t.location.jurisdiction}` : ''})`}
        {' '}· {t.attempts} attempt{t.attempts === 1 ? '' : 's'}
      </p>
      <div className="placement" data-testid="placement-explanation">
        <h3>Why here</h3>
        {why.data?.waiting && <p className="warning">Waiting: {why.data.waiting}</p>}
        {explanation === null ? <p className="muted">{why.data ? 'No placement recorded for this task yet.' : 'Loading…'}</p> : (
          <>
            <p>Chose <strong>{explanation.chosen.node}</strong> (score {explanation.chosen.total.toFixed(1)}) out of {explanation.feasible} feasible of {explanation.nodes} nodes.</p>
            <ScoreTable candidate={explanation.chosen} />
            {explanation.candidates.length > 1 && (
              <>
                <h4>Runner-ups</h4>
                <ul>{explanation.candidates.filter((c) => c.node !== explanation.chosen.node).map((c) => <li key={c.node}>{c.node}: {c.total.toFixed(1)}</li>)}</ul>
              </>
            )}
            <h4>Rejected</h4>
            {explanation.rejected.length === 0 ? <p className="muted">No node was rejected by a hard rule.</p> : (
              <>
                <p>{explanation.rejectedSummary}</p>
                <ul className="rejections">{explanation.rejected.map((r) => <li key={`${r.node}-${r.plugin}`}><strong>{r.node}</strong>: {r.message} <span className="muted">({r.plugin})</span></li>)}</ul>
              </>
            )}
            {explanation.spread && <p>Spread across {explanation.spread.across}: went to {explanation.spread.domain} ({explanation.spread.domainCount} of the job's tasks there before, least-used domain {explanation.spread.leastCount}).</p>}
          </>
        )}
      </div>
      <h3>Attempts</h3>
      <ol className="attempts">
        {t.history.map((a) => (
          <li key={a.id}><StateBadge state={a.state} /> on {a.node}, {ago(a.createdAt)}{a.exitCode !== null ? `, exit ${a.exitCode}` : ''}{a.reason ? ` – ${a.reason}` : ''}</li>
        ))}
      </ol>
      <h3>Output</h3>
      <ErrorNote error={logs.error} />
      <pre className="logs" tabIndex={0} aria-label="task output">{logs.data ? (logs.data.items.map((c) => c.data).join('') || '(no output yet)') : 'Loading…'}</pre>
    </Section>
  );
}

function ScoreTable({ candidate }: { candidate: CandidateScore }) {
  return (
    <table className="scores">
      <caption className="visually-hidden">Score of {candidate.node} by plugin</caption>
      <thead><tr><th scope="col">Scorer</th><th scope="col">Measured</th><th scope="col">Score</th><th scope="col">Weight</th><th scope="col">Weighted</th></tr></thead>
      <tbody>
        {candidate.scores.map((s) => (
          <tr key={s.plugin}><th scope="row">{s.plugin}</th><td>{s.detail ?? s.raw.toFixed(1)}</td><td>{s.normalized.toFixed(0)}</td><td>{s.weight}</td><td>{s.weighted.toFixed(1)}</td></tr>
        ))}
      </tbody>
    </table>
  );
}
