import type { EventRecord } from '../../../src/core/types';
import type { PolicyRecord } from '../../../src/core/policy-spec';
import type { PageProps } from '../app';
import { ago } from '../format';
import { useLiveData } from '../live';
import { ErrorNote, Loading, Section } from '../parts/bits';
import { describeEvent } from '../parts/event-list';

/** How far back in the event log "what it blocked" looks. */
const LOOK_BACK = 5000;

export function PoliciesPage({ client }: PageProps) {
  const policies = useLiveData(() => client.listPolicies(), [client], 1000);
  const blocked = useLiveData(async () => {
    const { items } = await client.listEvents({ newest: true, limit: LOOK_BACK });
    return items.filter((e) => typeof e.data['policy'] === 'string' || (e.type === 'task.unplaceable' && String(e.data['message']).includes('by policy '))).reverse();
  }, [client], 2000);
  return (
    <div>
      <h1>Policies</h1>
      <ErrorNote error={policies.error ?? blocked.error} />
      {!policies.data ? <Loading what="policies" /> : policies.data.items.length === 0 ? (
        <p className="empty-state">No policies: work may run on any node. Add residency rules with <code>atoll policy apply examples/policies/gdpr.yaml</code>.</p>
      ) : policies.data.items.map((p) => <PolicyCard key={p.name} policy={p} blocked={(blocked.data ?? []).filter((e) => blockedBy(e, p.name))} />)}
    </div>
  );
}

function PolicyCard({ policy, blocked }: { policy: PolicyRecord; blocked: readonly EventRecord[] }) {
  const s = policy.spec;
  return (
    <Section title={policy.name}>
      <div data-testid="policy" data-name={policy.name}>
        {s.description && <p>{s.description}</p>}
        <dl className="policy-rules">
          <div><dt>Binds</dt><dd>{s.namespaces?.join(', ') ?? 'every namespace'}</dd></div>
          {s.denyJurisdictions && <div><dt>Never runs in</dt><dd>{s.denyJurisdictions.join(', ')}</dd></div>}
          {s.allowProviders && <div><dt>Only on providers</dt><dd>{s.allowProviders.join(', ')}</dd></div>}
          {s.residencyClasses && Object.entries(s.residencyClasses).map(([name, where]) => (
            <div key={name}><dt>Data class {name}</dt><dd>read only in {where.join(', ')}</dd></div>
          ))}
          {s.jurisdictionGroups && Object.entries(s.jurisdictionGroups).map(([name, members]) => (
            <div key={name}><dt>Group {name}</dt><dd>{members.join(', ')}</dd></div>
          ))}
          {s.budget && <div><dt>Budget</dt><dd>${s.budget.monthly} a month, then {s.budget.whenExceeded}</dd></div>}
          <div><dt>Updated</dt><dd>{ago(policy.updatedAt)}</dd></div>
        </dl>
        <h3>What it blocked recently</h3>
        {blocked.length === 0 ? <p className="muted">Nothing in the recent event log.</p> : (
          <ul className="event-list">{blocked.slice(0, 20).map((e) => <li key={e.seq}><span className="event-type">{e.type}</span> {describeEvent(e)} <span className="muted">{ago(e.time)}</span></li>)}</ul>
        )}
      </div>
    </Section>
  );
}

/** Whether the event is something the policy refused: a transfer or a budget naming it, or tasks it kept from every node. */
function blockedBy(event: EventRecord, policy: string): boolean {
  if (event.data['policy'] === policy) return true;
  // Unplaceable tasks are counted by rule: `0/5 nodes fit: 3 denied by policy gdpr, 2 ...`.
  const message = event.type === 'task.unplaceable' ? String(event.data['message']) : '';
  return new RegExp(`by policy ${policy.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![a-z0-9-])`).test(message);
}
