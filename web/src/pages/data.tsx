import { useState } from 'react';
import type { DatasetSummary, PartitionRecord } from '../../../src/core/data-spec';
import type { PageProps } from '../app';
import { ago, bytes } from '../format';
import { useLive, useLiveData } from '../live';
import { ErrorNote, Loading, Section } from '../parts/bits';
import { VirtualTable, type Column } from '../parts/virtual-table';

const partitionColumns: Column<PartitionRecord>[] = [
  { header: 'Partition', width: '2fr', cell: (p) => p.partition },
  { header: 'Node', width: '2fr', cell: (p) => p.node },
  { header: 'Size', width: '7rem', cell: (p) => bytes(p.bytes) },
  { header: 'Class', width: '8rem', cell: (p) => p.residencyClass ?? '–' },
  { header: 'From', width: '8rem', hideBelow: 1000, cell: (p) => p.createdBy },
  { header: 'Added', width: '7rem', cell: (p) => ago(p.createdAt) },
];

export function DataPage({ client }: PageProps) {
  const datasets = useLiveData(() => client.listDatasets(), [client], 1000);
  const [chosen, setChosen] = useState<DatasetSummary | null>(null);
  const { recent } = useLive();
  const transfers = recent.filter((e) => e.type === 'transfer.completed' || e.type === 'transfer.refused').slice(0, 20);
  return (
    <div>
      <h1>Data</h1>
      <ErrorNote error={datasets.error} />
      <Section title="Datasets">
        {!datasets.data ? <Loading what="datasets" /> : datasets.data.items.length === 0
          ? <p className="muted">No data catalogued yet. Put a file on a node: <code>atoll data put FILE --dataset NAME --partition NAME --node NODE</code>.</p>
          : (
            <table className="simple">
              <thead><tr><th scope="col">Dataset</th><th scope="col">Namespace</th><th scope="col">Partitions</th><th scope="col">Size</th><th scope="col">Nodes</th><th scope="col">Classes</th></tr></thead>
              <tbody>
                {datasets.data.items.map((d) => (
                  <tr key={`${d.namespace}/${d.name}`}>
                    <th scope="row"><button type="button" className="link" onClick={() => setChosen(d)} aria-pressed={chosen?.name === d.name && chosen.namespace === d.namespace}>{d.name}</button></th>
                    <td>{d.namespace}</td><td>{d.partitions}</td><td>{bytes(d.bytes)}</td><td>{d.nodes.length}</td><td>{d.residencyClasses.join(', ') || '–'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
      </Section>
      {chosen && <Partitions client={client} dataset={chosen} />}
      <Section title="Recent transfers">
        {transfers.length === 0 ? <p className="muted">No transfers since this page opened. Tasks that read data held on another node fetch it; each fetch shows here.</p> : (
          <ul className="event-list">
            {transfers.map((e) => (
              <li key={e.seq}>
                <span className="event-type">{e.type === 'transfer.refused' ? 'refused' : 'moved'}</span>{' '}
                {String(e.data['dataset'])}/{String(e.data['partition'])}{' '}
                {e.type === 'transfer.completed'
                  ? <>{bytes(Number(e.data['bytes']))} from {String((e.data['from'] as { node?: string } | undefined)?.node)} to {String((e.data['to'] as { node?: string } | undefined)?.node)}</>
                  : <>for {String(e.data['for'])} ({String(e.data['policy'] ?? '')})</>}
                <span className="muted"> {ago(e.time)}</span>
              </li>
            ))}
          </ul>
        )}
      </Section>
    </div>
  );
}

function Partitions({ client, dataset }: { client: PageProps['client']; dataset: DatasetSummary }) {
  const detail = useLiveData(() => client.getDataset(dataset.name, { namespace: dataset.namespace }), [client, dataset.name, dataset.namespace], 1000);
  return (
    <Section title={`Where ${dataset.name} lives`}>
      <ErrorNote error={detail.error} />
      {detail.data ? <VirtualTable rows={detail.data.items} columns={partitionColumns} rowKey={(p) => p.partition} label={`Partitions of ${dataset.name}`} empty="This dataset has no partitions." height={360} /> : <Loading what="partitions" />}
    </Section>
  );
}
