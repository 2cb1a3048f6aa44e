import { describe, expect, it } from 'vitest';
import { AtollError, type FieldProblem } from '../core/errors.js';
import { type PlacementSpec, placementSpecSchema, type PlacementSpecInput } from '../core/placement-spec.js';
import { parsePolicySpec, type PolicySpec } from '../core/policy-spec.js';
import { Compliance, complianceOf, rulesOf } from './compliance.js';
import { Cycle } from './framework/cycle-state.js';
import { aNode, aRequest, aSnapshot } from './testing/node-builder.js';

const EU = ['AT', 'BE', 'BG', 'CY', 'CZ', 'DE', 'DK', 'EE', 'ES', 'FI', 'FR', 'GR', 'HR', 'HU', 'IE', 'IT', 'LT', 'LU', 'LV', 'MT', 'NL', 'PL', 'PT', 'RO', 'SE', 'SI', 'SK'];

const policy = (spec: Record<string, unknown>): PolicySpec => parsePolicySpec(spec);
const placement = (input: PlacementSpecInput): PlacementSpec => placementSpecSchema.parse(input);
const sorted = (codes: Iterable<string> | undefined): string[] | undefined => (codes === undefined ? undefined : [...codes].sort());

const dach = policy({ name: 'groups', jurisdictionGroups: { DACH: ['DE', 'AT', 'CH'] } });

function refusal(run: () => unknown): AtollError {
  try {
    run();
  } catch (error) {
    if (error instanceof AtollError) return error;
    throw error;
  }
  throw new Error('expected a refusal, got none');
}

describe('Compliance.compile', () => {
  it.each<{ name: string; policies: PolicySpec[]; code: string; message: string; problems: FieldProblem[] }>([
    {
      name: 'a group defined by two policies, naming both',
      policies: [policy({ name: 'dach-a', jurisdictionGroups: { DACH: ['DE', 'AT', 'CH'] } }), policy({ name: 'dach-b', jurisdictionGroups: { DACH: ['DE'] } })],
      code: 'invalid_spec',
      message: 'jurisdiction group DACH is defined by policies "dach-a" and "dach-b"; keep it in one',
      problems: [{ path: 'jurisdictionGroups.DACH', message: 'already defined by policy "dach-a"' }],
    },
    {
      name: 'an unknown jurisdiction in denyJurisdictions',
      policies: [policy({ name: 'gdpr', denyJurisdictions: ['EUU'] })],
      code: 'invalid_spec',
      message:
        'invalid policy "gdpr":\n  denyJurisdictions[0]: unknown jurisdiction "EUU" (did you mean EU?); use an ISO 3166-1 alpha-2 code like DE or a group: EU, EEA, EFTA, UK, US, NORAM, LATAM, APAC, MEA, GCC',
      problems: [
        {
          path: 'denyJurisdictions[0]',
          message: 'unknown jurisdiction "EUU" (did you mean EU?); use an ISO 3166-1 alpha-2 code like DE or a group: EU, EEA, EFTA, UK, US, NORAM, LATAM, APAC, MEA, GCC',
        },
      ],
    },
    {
      name: 'every unknown name of a policy, each with its path',
      policies: [policy({ name: 'strict', denyJurisdictions: ['US', 'XX'], residencyClasses: { 'eu-personal': ['EU', 'QQ'] } })],
      code: 'invalid_spec',
      message: expect.stringMatching(/^invalid policy "strict":\n  denyJurisdictions\[1\]: unknown jurisdiction "XX"; .*\n  residencyClasses\.eu-personal\[1\]: unknown jurisdiction "QQ"; /) as unknown as string,
      problems: [
        { path: 'denyJurisdictions[1]', message: expect.stringMatching(/^unknown jurisdiction "XX"; use an ISO/) as unknown as string },
        { path: 'residencyClasses.eu-personal[1]', message: expect.stringMatching(/^unknown jurisdiction "QQ"; use an ISO/) as unknown as string },
      ],
    },
    {
      name: 'a deny naming a group defined by no policy',
      policies: [policy({ name: 'no-dach', denyJurisdictions: ['DACH'] })],
      code: 'invalid_spec',
      message: expect.stringMatching(/^invalid policy "no-dach":\n  denyJurisdictions\[0\]: unknown jurisdiction "DACH"/) as unknown as string,
      problems: [{ path: 'denyJurisdictions[0]', message: expect.stringMatching(/^unknown jurisdiction "DACH"/) as unknown as string }],
    },
    {
      name: 'a group with an unknown member, with the group path',
      policies: [policy({ name: 'groups', jurisdictionGroups: { NORDICS: ['SE', 'NO', 'XX'] } })],
      code: 'invalid_spec',
      message: expect.stringMatching(/^jurisdiction group NORDICS lists unknown member "XX"/) as unknown as string,
      problems: [{ path: 'jurisdictionGroups.NORDICS', message: expect.stringMatching(/^jurisdiction group NORDICS lists unknown member "XX"/) as unknown as string }],
    },
    {
      name: 'a group that redefines a built-in one',
      policies: [policy({ name: 'groups', jurisdictionGroups: { EU: ['DE'] } })],
      code: 'invalid_spec',
      message: 'jurisdiction group EU is built in and cannot be redefined; pick another name, like EU_PLUS',
      problems: [{ path: 'jurisdictionGroups.EU', message: 'jurisdiction group EU is built in and cannot be redefined; pick another name, like EU_PLUS' }],
    },
  ])('refuses $name', ({ policies, code, message, problems }) => {
    const error = refusal(() => Compliance.compile(policies));
    expect({ code: error.code, message: error.message, problems: error.problems }).toEqual({ code, message, problems });
  });

  // The table says which group is at fault; the message alone would also name DACH inside DACH_PLUS.
  it('names the group at fault when another group name is a prefix of it', () => {
    const error = refusal(() => Compliance.compile([policy({ name: 'groups', jurisdictionGroups: { DACH: ['DE', 'AT', 'CH'], DACH_PLUS: ['DACH', 'XX'] } })]));
    expect(error.problems.map((p) => p.path)).toEqual(['jurisdictionGroups.DACH_PLUS']);
  });

  it('accepts a deny naming a group another policy defines, in either order', () => {
    const noDach = policy({ name: 'no-dach', denyJurisdictions: ['DACH'] });
    for (const policies of [[dach, noDach], [noDach, dach]]) {
      const rules = Compliance.compile(policies).rules('default', placement({}));
      expect(rules.denials.map((d) => ({ policy: d.policy, jurisdictions: sorted(d.jurisdictions) }))).toEqual([{ policy: 'no-dach', jurisdictions: ['AT', 'CH', 'DE'] }]);
    }
  });

  it('expands groups built from other groups', () => {
    const compliance = Compliance.compile([policy({ name: 'groups', jurisdictionGroups: { DACH: ['DE', 'AT', 'CH'], DACH_LI: ['DACH', 'LI'] } })]);
    expect(sorted(compliance.rules('default', placement({ residency: ['DACH_LI'] })).residency)).toEqual(['AT', 'CH', 'DE', 'LI']);
  });
});

describe('Compliance.validatePlacement', () => {
  const compliance = Compliance.compile([dach]);

  it.each<{ name: string; placement: PlacementSpecInput; problems: { path: string; name: string }[] }>([
    { name: 'no jurisdictions at all', placement: {}, problems: [] },
    { name: 'known codes and groups', placement: { residency: ['EU', 'CH', 'DACH'], avoid: { jurisdictions: ['US', 'GB'] } }, problems: [] },
    { name: 'an unknown residency name', placement: { residency: ['EU', 'XX'] }, problems: [{ path: 'placement.residency[1]', name: 'XX' }] },
    { name: 'an unknown avoided name', placement: { avoid: { jurisdictions: ['NORDICS'] } }, problems: [{ path: 'placement.avoid.jurisdictions[0]', name: 'NORDICS' }] },
    {
      name: 'every unknown name',
      placement: { residency: ['ZZ', 'EU', 'EUROPE'], avoid: { jurisdictions: ['US', 'YY'] } },
      problems: [
        { path: 'placement.residency[0]', name: 'ZZ' },
        { path: 'placement.residency[2]', name: 'EUROPE' },
        { path: 'placement.avoid.jurisdictions[1]', name: 'YY' },
      ],
    },
  ])('$name', ({ placement: input, problems }) => {
    const spec = { placement: placement(input) };
    if (problems.length === 0) {
      expect(() => compliance.validatePlacement(spec)).not.toThrow();
      return;
    }
    const error = refusal(() => compliance.validatePlacement(spec));
    expect(error.code).toBe('invalid_spec');
    expect(error.problems.map((p) => p.path)).toEqual(problems.map((p) => p.path));
    error.problems.forEach((p, i) => expect(p.message.startsWith(`unknown jurisdiction "${problems[i]!.name}"`)).toBe(true));
    expect(error.message.startsWith(`invalid job spec:\n  ${problems[0]!.path}: unknown jurisdiction "${problems[0]!.name}"`)).toBe(true);
  });

  it('does not know a policy group once the policy is gone', () => {
    const error = refusal(() => Compliance.compile([]).validatePlacement({ placement: placement({ residency: ['DACH'] }) }));
    expect(error.problems.map((p) => p.path)).toEqual(['placement.residency[0]']);
  });
});

describe('Compliance.rules', () => {
  const gdpr = policy({ name: 'gdpr', namespaces: ['finance'], denyJurisdictions: ['US'], allowProviders: ['aws', 'gcp'] });
  const noCn = policy({ name: 'no-cn', denyJurisdictions: ['CN'] });

  it('compiles residency, avoid and the policies binding the namespace', () => {
    const compliance = Compliance.compile([dach, gdpr, noCn]);
    const spec = placement({ residency: ['DACH', 'FR'], avoid: { jurisdictions: ['CH'], providers: ['azure'], regions: ['eu-west-1'], sites: ['paris-1'] } });
    const rules = compliance.rules('finance', spec);
    expect({
      residency: sorted(rules.residency),
      residencyLabel: rules.residencyLabel,
      avoidJurisdictions: sorted(rules.avoidJurisdictions),
      unknownAvoided: rules.unknownAvoided,
      avoidProviders: sorted(rules.avoidProviders),
      avoidRegions: sorted(rules.avoidRegions),
      avoidSites: sorted(rules.avoidSites),
      denials: rules.denials.map((d) => ({ policy: d.policy, jurisdictions: sorted(d.jurisdictions) })),
      providerAllowLists: rules.providerAllowLists.map((a) => ({ policy: a.policy, providers: sorted(a.providers) })),
    }).toEqual({
      residency: ['AT', 'CH', 'DE', 'FR'],
      residencyLabel: '[DACH, FR]',
      avoidJurisdictions: ['CH'],
      unknownAvoided: [],
      avoidProviders: ['azure'],
      avoidRegions: ['eu-west-1'],
      avoidSites: ['paris-1'],
      denials: [
        { policy: 'gdpr', jurisdictions: ['AS', 'GU', 'MP', 'PR', 'UM', 'US', 'VI'] },
        { policy: 'no-cn', jurisdictions: ['CN'] },
      ],
      providerAllowLists: [{ policy: 'gdpr', providers: ['aws', 'gcp'] }],
    });
  });

  it('leaves residency undefined when the job sets none, and binds only cluster-wide policies elsewhere', () => {
    const rules = Compliance.compile([gdpr, noCn]).rules('marketing', placement({}));
    expect(rules.residency).toBeUndefined();
    expect(rules.residencyLabel).toBe('[]');
    expect(rules.avoidJurisdictions.size).toBe(0);
    expect(rules.denials.map((d) => d.policy)).toEqual(['no-cn']);
    expect(rules.providerAllowLists).toEqual([]);
  });

  it('expands EU to the 27 member states and EEA to those plus IS, LI and NO', () => {
    const compliance = Compliance.compile([]);
    expect(sorted(compliance.rules('default', placement({ residency: ['EU'] })).residency)).toEqual(EU);
    expect(sorted(compliance.rules('default', placement({ residency: ['EEA'] })).residency)).toEqual([...EU, 'IS', 'LI', 'NO'].sort());
  });

  it('caches rules per placement object and namespace', () => {
    const compliance = Compliance.compile([gdpr]);
    const spec = placement({ residency: ['EU'] });
    const first = compliance.rules('finance', spec);
    expect(compliance.rules('finance', spec)).toBe(first);
    const otherNamespace = compliance.rules('default', spec);
    expect(otherNamespace).not.toBe(first);
    expect(otherNamespace.denials).toEqual([]);
    expect(first.denials.map((d) => d.policy)).toEqual(['gdpr']);
    const lookalike = compliance.rules('finance', placement({ residency: ['EU'] }));
    expect(lookalike).not.toBe(first);
    expect(sorted(lookalike.residency)).toEqual(sorted(first.residency));
  });

  it('a group deleted later makes residency expand to fewer codes, never more', () => {
    const spec = placement({ residency: ['DACH', 'FR'] });
    const before = Compliance.compile([dach]).rules('default', spec).residency;
    const after = Compliance.compile([]).rules('default', spec).residency;
    expect(sorted(before)).toEqual(['AT', 'CH', 'DE', 'FR']);
    expect(sorted(after)).toEqual(['FR']);
    for (const code of after ?? []) expect(before?.has(code)).toBe(true);
  });

  it('an avoided group deleted later is kept as unknown, so the job avoids more, never less', () => {
    const spec = placement({ avoid: { jurisdictions: ['DACH', 'FR'] } });
    const before = Compliance.compile([dach]).rules('default', spec);
    const after = Compliance.compile([]).rules('default', spec);
    expect({ codes: sorted(before.avoidJurisdictions), unknown: before.unknownAvoided }).toEqual({ codes: ['AT', 'CH', 'DE', 'FR'], unknown: [] });
    expect({ codes: sorted(after.avoidJurisdictions), unknown: after.unknownAvoided }).toEqual({ codes: ['FR'], unknown: ['DACH'] });
  });

  it('a residency of only deleted groups allows nothing rather than everything', () => {
    const rules = Compliance.compile([]).rules('default', placement({ residency: ['DACH'] }));
    expect(rules.residency).toBeDefined();
    expect(rules.residency?.size).toBe(0);
    expect(rules.residencyLabel).toBe('[DACH]');
  });
});

describe('complianceOf and rulesOf', () => {
  it('compile once per policy list and share it between cycles', () => {
    const policies = [dach];
    const node = aNode().named('n').build();
    const first = new Cycle(aSnapshot([node], 0, { policies }));
    const second = new Cycle(aSnapshot([node], 1, { policies }));
    expect(complianceOf(first)).toBe(complianceOf(second));
    expect(complianceOf(new Cycle(aSnapshot([node], 0, { policies: [dach] })))).not.toBe(complianceOf(first));
  });

  it('read the snapshot policies for the task namespace and placement', () => {
    const node = aNode().named('n').build();
    const cycle = new Cycle(aSnapshot([node], 0, { policies: [dach, policy({ name: 'gdpr', namespaces: ['finance'], denyJurisdictions: ['US'] })] }));
    const task = aRequest().inNamespace('finance').withPlacement({ residency: ['DACH'] }).build();
    const rules = rulesOf(cycle, task);
    expect(sorted(rules.residency)).toEqual(['AT', 'CH', 'DE']);
    expect(rules.denials.map((d) => d.policy)).toEqual(['gdpr']);
    expect(rulesOf(cycle, task)).toBe(rules);
  });

  it('work without policies in the snapshot', () => {
    const node = aNode().named('n').build();
    const rules = rulesOf(new Cycle(aSnapshot([node])), aRequest().withPlacement({ residency: ['CH'] }).build());
    expect(sorted(rules.residency)).toEqual(['CH']);
    expect(rules.denials).toEqual([]);
  });

  it('refuse a snapshot whose policies clash, naming both', () => {
    const node = aNode().named('n').build();
    const clash = [dach, policy({ name: 'other', jurisdictionGroups: { DACH: ['DE'] } })];
    expect(() => rulesOf(new Cycle(aSnapshot([node], 0, { policies: clash })), aRequest().build())).toThrow(
      'jurisdiction group DACH is defined by policies "groups" and "other"; keep it in one',
    );
  });
});

describe('Compliance.validatePlacement: user regions', () => {
  const compliance = Compliance.compile([]);
  const users = (...names: Array<string | { lat: number; lon: number }>) => ({ placement: placement({ near: { users: names } }) });

  it.each<[string, ReturnType<typeof users>, ReadonlySet<string>]>([
    ['a built-in cloud region', users('eu-west-1'), new Set()],
    ['a region of the fleet', users('fr-idf'), new Set(['fr-idf'])],
    ['coordinates', users({ lat: 48.86, lon: 2.35 }), new Set()],
  ])('accepts %s', (_name, spec, fleet) => {
    expect(() => compliance.validatePlacement(spec, fleet)).not.toThrow();
  });

  it('refuses a region nobody knows, with its path and a suggestion', () => {
    const error = refusal(() => compliance.validatePlacement(users({ lat: 1, lon: 2 }, 'eu-wset-1'), new Set(['fr-idf'])));
    expect(error.problems).toEqual([
      { path: 'placement.near.users[1]', message: 'unknown region "eu-wset-1"; did you mean eu-west-1? use a region of the fleet or a cloud region like eu-west-1, or {lat, lon}' },
    ]);
    expect(error.message).toBe(`invalid job spec:\n  placement.near.users[1]: ${error.problems[0]!.message}`);
  });
});
