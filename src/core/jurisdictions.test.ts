import { describe, expect, it } from 'vitest';
import { AtollError } from './errors.js';
import { BUILT_IN_JURISDICTION_GROUPS, GROUP_NAME_PATTERN, ISO_COUNTRY_CODES, isCountryCode, JurisdictionTable } from './jurisdictions.js';

function refusal(run: () => unknown): AtollError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(AtollError);
    return error as AtollError;
  }
  throw new Error('expected a refusal');
}

const sorted = (codes: Iterable<string>): string[] => [...codes].sort();

describe('ISO_COUNTRY_CODES', () => {
  it('holds the 249 assigned codes, each two upper-case letters', () => {
    expect(ISO_COUNTRY_CODES.size).toBe(249);
    for (const code of ISO_COUNTRY_CODES) expect(code).toMatch(/^[A-Z]{2}$/);
  });

  it.each(['DE', 'US', 'GB', 'SS', 'SX', 'BQ', 'CW', 'NA', 'AQ'])('includes %s', (code) => {
    expect(isCountryCode(code)).toBe(true);
  });

  it.each([
    { code: 'XK', why: 'user-assigned (Kosovo)' },
    { code: 'EU', why: 'exceptionally reserved' },
    { code: 'UK', why: 'exceptionally reserved' },
    { code: 'EL', why: "the EU's code for Greece, not ISO" },
    { code: 'AN', why: 'withdrawn (Netherlands Antilles)' },
    { code: 'de', why: 'lower case' },
    { code: 'DEU', why: 'alpha-3' },
  ])('excludes $code: $why', ({ code }) => {
    expect(isCountryCode(code)).toBe(false);
  });
});

describe('BUILT_IN_JURISDICTION_GROUPS', () => {
  const eu = new Set(BUILT_IN_JURISDICTION_GROUPS.EU);

  it('EU has the 27 member states', () => {
    expect(eu.size).toBe(27);
    for (const code of ['DE', 'FR', 'IE', 'HR', 'GR', 'CY']) expect(eu.has(code)).toBe(true);
    for (const code of ['GB', 'CH', 'NO', 'IS', 'TR']) expect(eu.has(code)).toBe(false);
  });

  it('EEA is the EU plus Iceland, Liechtenstein and Norway; EFTA adds Switzerland to those three', () => {
    expect(sorted(BUILT_IN_JURISDICTION_GROUPS.EEA ?? [])).toEqual(sorted([...eu, 'IS', 'LI', 'NO']));
    expect(sorted(BUILT_IN_JURISDICTION_GROUPS.EFTA ?? [])).toEqual(['CH', 'IS', 'LI', 'NO']);
  });

  it('UK is Great Britain and Northern Ireland only; US includes its territories; NORAM adds CA and MX', () => {
    expect(BUILT_IN_JURISDICTION_GROUPS.UK).toEqual(['GB']);
    expect(sorted(BUILT_IN_JURISDICTION_GROUPS.US ?? [])).toEqual(['AS', 'GU', 'MP', 'PR', 'UM', 'US', 'VI']);
    expect(sorted(BUILT_IN_JURISDICTION_GROUPS.NORAM ?? [])).toEqual(sorted([...(BUILT_IN_JURISDICTION_GROUPS.US ?? []), 'CA', 'MX']));
  });

  it('regional groups hold what their names promise', () => {
    expect(BUILT_IN_JURISDICTION_GROUPS.LATAM).toHaveLength(33);
    expect(BUILT_IN_JURISDICTION_GROUPS.LATAM).toEqual(expect.arrayContaining(['BR', 'MX', 'AR', 'CU']));
    expect(BUILT_IN_JURISDICTION_GROUPS.APAC).toEqual(expect.arrayContaining(['JP', 'SG', 'AU', 'IN', 'TW', 'HK']));
    expect(BUILT_IN_JURISDICTION_GROUPS.APAC).not.toContain('IR');
    expect(sorted(BUILT_IN_JURISDICTION_GROUPS.GCC ?? [])).toEqual(['AE', 'BH', 'KW', 'OM', 'QA', 'SA']);
    expect(BUILT_IN_JURISDICTION_GROUPS.MEA).toEqual(expect.arrayContaining([...(BUILT_IN_JURISDICTION_GROUPS.GCC ?? []), 'ZA', 'NG', 'EG', 'IL', 'NA']));
    expect(BUILT_IN_JURISDICTION_GROUPS.MEA).not.toContain('CY');
  });

  it('every member is an assigned code, and no group but US shadows one', () => {
    for (const [name, members] of Object.entries(BUILT_IN_JURISDICTION_GROUPS)) {
      expect(name).toMatch(GROUP_NAME_PATTERN);
      if (name !== 'US') expect(isCountryCode(name), `${name} shadows a country code`).toBe(false);
      expect(members.filter((code) => !isCountryCode(code)), name).toEqual([]);
      expect(new Set(members).size, `${name} has duplicates`).toBe(members.length);
    }
  });

  it('is frozen', () => {
    expect(Object.isFrozen(BUILT_IN_JURISDICTION_GROUPS)).toBe(true);
    expect(Object.isFrozen(BUILT_IN_JURISDICTION_GROUPS.EU)).toBe(true);
  });
});

describe('JurisdictionTable.expand', () => {
  const table = new JurisdictionTable();

  it('mixes codes and groups, without duplicates', () => {
    const codes = table.expand(['EU', 'CH', 'DE']);
    expect(codes.size).toBe(28);
    expect(codes.has('CH')).toBe(true);
    expect(codes.has('DE')).toBe(true);
    expect(codes.has('GB')).toBe(false);
  });

  it('expands EEA to EU plus three', () => {
    expect(table.expand(['EEA']).size).toBe(table.expand(['EU']).size + 3);
  });

  it('reads US as the US group, territories included', () => {
    expect(sorted(table.expand(['US']))).toEqual(['AS', 'GU', 'MP', 'PR', 'UM', 'US', 'VI']);
  });

  it('gives the empty set for an empty list', () => {
    expect(table.expand([]).size).toBe(0);
  });

  it('answers repeated calls with the same set', () => {
    expect(table.expand(['EU', 'CH'])).toBe(table.expand(['EU', 'CH']));
    expect(table.expand(['EU', 'CH'])).not.toBe(table.expand(['CH', 'EU']));
  });

  it('does not let a bad name reuse the entry of a good list', () => {
    table.expand(['DE', 'FR']);
    expect(refusal(() => table.expand(['DE,FR'])).code).toBe('invalid_spec');
  });

  it.each([
    { name: 'EUU', hint: '(did you mean EU?)' },
    { name: 'APACC', hint: '(did you mean APAC?)' },
    { name: 'LATM', hint: '(did you mean LATAM?)' },
    { name: 'USA', hint: '(did you mean UA or US?)' },
    { name: 'AUT', hint: '(did you mean AT or AU?)' },
    { name: 'DEU', hint: '(did you mean DE?)' },
    { name: 'GBR', hint: '(did you mean GB or GR?)' },
    { name: 'de', hint: '(names are upper case: did you mean DE?)' },
    { name: 'eu', hint: '(names are upper case: did you mean EU?)' },
    { name: 'EL', hint: '(did you mean GR?)' },
  ])('refuses $name with a suggestion', ({ name, hint }) => {
    const error = refusal(() => table.expand(['DE', name]));
    expect(error.code).toBe('invalid_spec');
    expect(error.message).toContain(`unknown jurisdiction "${name}" ${hint}`);
    expect(error.message).toContain('use an ISO 3166-1 alpha-2 code like DE or a group: EU, EEA, EFTA, UK, US, NORAM');
  });

  it.each(['XK', 'GERMANY', 'NA-EAST', ''])('refuses %j without a misleading suggestion', (name) => {
    const error = refusal(() => table.expand([name]));
    expect(error.message).toMatch(new RegExp(`^unknown jurisdiction "${name}"; use`));
  });

  it('does not cache refusals', () => {
    const fresh = new JurisdictionTable();
    expect(() => fresh.expand(['EUU'])).toThrow(AtollError);
    expect(() => fresh.expand(['EUU'])).toThrow(AtollError);
  });
});

describe('JurisdictionTable: lookups', () => {
  const table = new JurisdictionTable({ DACH: ['DE', 'AT', 'CH'] });

  it.each([
    { name: 'DE', known: true },
    { name: 'EU', known: true },
    { name: 'US', known: true },
    { name: 'DACH', known: true },
    { name: 'XK', known: false },
    { name: 'de', known: false },
    { name: 'NA', known: true },
    { name: 'toString', known: false },
  ])('isKnown($name) is $known', ({ name, known }) => {
    expect(table.isKnown(name)).toBe(known);
  });

  it('lists built-in groups in order, then extra groups', () => {
    expect(table.groupNames()).toEqual(['EU', 'EEA', 'EFTA', 'UK', 'US', 'NORAM', 'LATAM', 'APAC', 'MEA', 'GCC', 'DACH']);
  });

  it('gives members as defined, and undefined for codes and unknown names', () => {
    expect(table.membersOf('DACH')).toEqual(['DE', 'AT', 'CH']);
    expect(table.membersOf('EFTA')).toEqual(['CH', 'IS', 'LI', 'NO']);
    expect(table.membersOf('DE')).toBeUndefined();
    expect(table.membersOf('NOPE')).toBeUndefined();
  });
});

describe('JurisdictionTable: extra groups', () => {
  it('adds a group of codes', () => {
    const table = new JurisdictionTable({ DACH: ['DE', 'AT', 'CH'] });
    expect(sorted(table.expand(['DACH']))).toEqual(['AT', 'CH', 'DE']);
    expect(sorted(table.expand(['DACH', 'FR']))).toEqual(['AT', 'CH', 'DE', 'FR']);
  });

  it('nests groups of groups, built-in and extra, in any order of definition', () => {
    const table = new JurisdictionTable({
      EUROPE_WIDE: ['EEA_PLUS', 'UK'],
      EEA_PLUS: ['EEA', 'DACH'],
      DACH: ['DE', 'AT', 'CH'],
    });
    const codes = table.expand(['EUROPE_WIDE']);
    expect(codes.size).toBe(30 + 1 + 1);
    for (const code of ['DE', 'NO', 'CH', 'GB']) expect(codes.has(code)).toBe(true);
    expect(table.membersOf('EUROPE_WIDE')).toEqual(['EEA_PLUS', 'UK']);
  });

  it('does not keep a reference to the caller’s arrays', () => {
    const members = ['DE', 'AT'];
    const table = new JurisdictionTable({ DACH: members });
    members.push('CH');
    expect(table.membersOf('DACH')).toEqual(['DE', 'AT']);
  });

  it.each<{ groups: Record<string, string[]>; cycle: string }>([
    { groups: { A1: ['A1'] }, cycle: 'A1 -> A1' },
    { groups: { AAA: ['BBB'], BBB: ['AAA'] }, cycle: 'AAA -> BBB -> AAA' },
    { groups: { AAA: ['DE', 'BBB'], BBB: ['EU', 'CCC'], CCC: ['FR', 'AAA'] }, cycle: 'AAA -> BBB -> CCC -> AAA' },
    { groups: { OK1: ['DE'], AAA: ['OK1', 'BBB'], BBB: ['AAA'] }, cycle: 'AAA -> BBB -> AAA' },
  ])('refuses the cycle $cycle', ({ groups, cycle }) => {
    const error = refusal(() => new JurisdictionTable(groups));
    expect(error.code).toBe('invalid_request');
    expect(error.message).toContain(`cycle: ${cycle}`);
  });

  it.each<{ groups: Record<string, string[]>; message: string }>([
    { groups: { EU: ['DE'] }, message: 'jurisdiction group EU is built in and cannot be redefined' },
    { groups: { US: ['US'] }, message: 'jurisdiction group US is built in and cannot be redefined' },
    { groups: { DE: ['DE', 'AT'] }, message: 'jurisdiction group DE would hide the country code DE' },
    { groups: { NA: ['US', 'CA'] }, message: 'jurisdiction group NA would hide the country code NA' },
    { groups: { dach: ['DE'] }, message: 'jurisdiction group name "dach" is not valid' },
    { groups: { X: ['DE'] }, message: 'jurisdiction group name "X" is not valid' },
    { groups: { DACH: [] }, message: 'jurisdiction group DACH has no members' },
    { groups: { DACH: ['DE', 'AUT', 'CH'] }, message: 'jurisdiction group DACH lists unknown member "AUT" (did you mean AT or AU?)' },
    { groups: { DACH: ['DE', 'at'] }, message: 'jurisdiction group DACH lists unknown member "at" (names are upper case: did you mean AT?)' },
    { groups: { NORDIC: ['SE', 'XK'] }, message: 'jurisdiction group NORDIC lists unknown member "XK"; members are' },
  ])('refuses $groups', ({ groups, message }) => {
    const error = refusal(() => new JurisdictionTable(groups));
    expect(error.code).toBe('invalid_request');
    expect(error.message).toContain(message);
  });

  it('suggests an extra group for a misspelt member', () => {
    const error = refusal(() => new JurisdictionTable({ DACH: ['DE', 'AT', 'CH'], ALPS: ['DACHH', 'IT'] }));
    expect(error.message).toContain('unknown member "DACHH" (did you mean DACH?)');
  });

  it('suggests extra groups when expanding', () => {
    const table = new JurisdictionTable({ DACH: ['DE', 'AT', 'CH'] });
    expect(refusal(() => table.expand(['DAHC'])).message).toContain('(did you mean DACH?)');
  });
});
