import { editDistance } from './edit-distance.js';
import { AtollError } from './errors.js';
import { ISO_COUNTRY_CODES } from './iso-country-codes.js';

// Jurisdictions are ISO 3166-1 alpha-2 codes; groups (EU, GCC, a cluster's own DACH) name sets
// of them. Residency and policy lists mix both, and the scheduler only ever sees the expansion.

export { ISO_COUNTRY_CODES };

/** Upper case so `de` is never read as Germany by accident; 2-32 characters. */
export const GROUP_NAME_PATTERN = /^[A-Z][A-Z0-9_-]{1,31}$/;

// Why a bound: residency lists come from job specs, and a flood of distinct lists must not grow
// memory without limit. Real clusters use a handful of lists, so clearing on overflow is enough.
const MAX_CACHED_EXPANSIONS = 1024;

// Codes people write that ISO does not assign and no edit distance would fix: the EU's code for Greece.
const ALIASES: ReadonlyMap<string, string> = new Map([['EL', 'GR']]);

/** Whether `code` is an officially assigned ISO 3166-1 alpha-2 code. */
export function isCountryCode(code: string): boolean {
  return ISO_COUNTRY_CODES.has(code);
}

// EU member states on 2026-01-01, per european-union.europa.eu "EU countries": 27 since the UK
// left on 2020-01-31, Croatia the last to join (2013). Greece is GR here (the EU writes EL).
// Outermost regions with codes of their own (GF, GP, MQ, RE, YT, MF) and Åland (AX) are EU
// territory too but are left out to keep EU the 27 states; label such nodes FR or FI, or add a group.
const EU = ['AT', 'BE', 'BG', 'CY', 'CZ', 'DE', 'DK', 'EE', 'ES', 'FI', 'FR', 'GR', 'HR', 'HU', 'IE', 'IT', 'LT', 'LU', 'LV', 'MT', 'NL', 'PL', 'PT', 'RO', 'SE', 'SI', 'SK'];
const EFTA = ['CH', 'IS', 'LI', 'NO'];
// Switzerland is in EFTA but not in the EEA.
const EEA = [...EU, 'IS', 'LI', 'NO'];
// GB covers all of the United Kingdom, Northern Ireland included. Guernsey, Jersey and the Isle of
// Man are not: they are Crown Dependencies with data-protection laws of their own (and EU adequacy
// decisions of their own), so "UK only" must not let data reach them. List GG, JE, IM to allow them.
const UK = ['GB'];
// The states and territories under US federal law. `US` in a residency list means this group, the
// one group allowed to shadow a country code: a user writing US expects Puerto Rico and Guam too.
const US = ['US', 'AS', 'GU', 'MP', 'PR', 'UM', 'VI'];
const NORAM = [...US, 'CA', 'MX'];
// The 33 sovereign states of Latin America and the Caribbean (UN M49 region 419, the members of
// CELAC). Dependent territories (PR, GF, AW, ...) follow the law of the US, France, the Netherlands or the UK.
const LATAM = [
  'AG', 'AR', 'BB', 'BO', 'BR', 'BS', 'BZ', 'CL', 'CO', 'CR', 'CU', 'DM', 'DO', 'EC', 'GD', 'GT', 'GY',
  'HN', 'HT', 'JM', 'KN', 'LC', 'MX', 'NI', 'PA', 'PE', 'PY', 'SR', 'SV', 'TT', 'UY', 'VC', 'VE',
];
// Asia-Pacific has no official list. This is the UN M49 sub-regions Eastern Asia, South-eastern
// Asia, Southern Asia and Oceania: sovereign states plus HK, MO and TW, which have their own data
// laws. Iran, which M49 puts in Southern Asia, is in MEA as commercial usage has it; the US
// territories of the Pacific are in US.
const APAC = [
  'CN', 'HK', 'JP', 'KP', 'KR', 'MN', 'MO', 'TW',
  'BN', 'ID', 'KH', 'LA', 'MM', 'MY', 'PH', 'SG', 'TH', 'TL', 'VN',
  'AF', 'BD', 'BT', 'IN', 'LK', 'MV', 'NP', 'PK',
  'AU', 'FJ', 'FM', 'KI', 'MH', 'NR', 'NZ', 'PG', 'PW', 'SB', 'TO', 'TV', 'VU', 'WS',
];
const GCC = ['AE', 'BH', 'KW', 'OM', 'QA', 'SA'];
// The Middle East as market definitions usually count it (Turkey included); Cyprus is in the EU.
const MIDDLE_EAST = [...GCC, 'IL', 'IQ', 'IR', 'JO', 'LB', 'PS', 'SY', 'TR', 'YE'];
// The 54 African UN member states plus Western Sahara; island territories of France and the UK
// (RE, YT, SH, IO) follow the law of those states and are left out.
const AFRICA = [
  'AO', 'BF', 'BI', 'BJ', 'BW', 'CD', 'CF', 'CG', 'CI', 'CM', 'CV', 'DJ', 'DZ', 'EG', 'EH', 'ER', 'ET', 'GA',
  'GH', 'GM', 'GN', 'GQ', 'GW', 'KE', 'KM', 'LR', 'LS', 'LY', 'MA', 'MG', 'ML', 'MR', 'MU', 'MW', 'MZ',
  'NA', 'NE', 'NG', 'RW', 'SC', 'SD', 'SL', 'SN', 'SO', 'SS', 'ST', 'SZ', 'TD', 'TG', 'TN', 'TZ', 'UG',
  'ZA', 'ZM', 'ZW',
];

function group(codes: readonly string[]): readonly string[] {
  return Object.freeze([...new Set(codes)].sort());
}

/**
 * The groups every cluster knows, each as a sorted list of country codes. North America is
 * NORAM, not NA: NA is Namibia's code, and a residency list must never be ambiguous.
 */
export const BUILT_IN_JURISDICTION_GROUPS: Readonly<Record<string, readonly string[]>> = Object.freeze({
  EU: group(EU),
  EEA: group(EEA),
  EFTA: group(EFTA),
  UK: group(UK),
  US: group(US),
  NORAM: group(NORAM),
  LATAM: group(LATAM),
  APAC: group(APAC),
  MEA: group([...MIDDLE_EAST, ...AFRICA]),
  GCC: group(GCC),
});

/** Built-in groups plus a cluster's own, expanded once; answers which countries a list names. */
export class JurisdictionTable {
  private readonly defined: ReadonlyMap<string, readonly string[]>;
  private readonly expanded: ReadonlyMap<string, ReadonlySet<string>>;
  private readonly names: readonly string[];
  private readonly cache = new Map<string, ReadonlySet<string>>();

  /** `extraGroups` come from cluster policies; members are codes or names of other groups. */
  constructor(extraGroups: Readonly<Record<string, readonly string[]>> = {}) {
    const defined = new Map<string, readonly string[]>(Object.entries(BUILT_IN_JURISDICTION_GROUPS));
    const extraNames = Object.keys(extraGroups).sort();
    for (const name of extraNames) {
      checkExtraGroupName(name);
      defined.set(name, Object.freeze([...(extraGroups[name] ?? [])]));
    }
    this.defined = defined;
    this.names = Object.freeze([...Object.keys(BUILT_IN_JURISDICTION_GROUPS), ...extraNames]);
    this.expanded = expandAll(defined, (name) => this.suggestion(name));
  }

  /**
   * The country codes that `names` (codes and groups, mixed) stand for. Throws `invalid_spec`
   * naming the first unknown name. The result is shared between calls: do not cast it to mutate.
   */
  expand(names: readonly string[]): ReadonlySet<string> {
    // JSON rather than a plain join: a bad name holding the separator must not hit a good entry.
    const key = JSON.stringify(names);
    const cached = this.cache.get(key);
    if (cached !== undefined) return cached;
    const codes = new Set<string>();
    for (const name of names) {
      const members = this.expanded.get(name);
      if (members !== undefined) for (const code of members) codes.add(code);
      else if (ISO_COUNTRY_CODES.has(name)) codes.add(name);
      else throw this.unknown(name);
    }
    if (this.cache.size >= MAX_CACHED_EXPANSIONS) this.cache.clear();
    this.cache.set(key, codes);
    return codes;
  }

  /** Whether `name` is a country code or a group of this table. */
  isKnown(name: string): boolean {
    return this.defined.has(name) || ISO_COUNTRY_CODES.has(name);
  }

  /** Built-in groups in their fixed order, then the extra groups alphabetically. */
  groupNames(): readonly string[] {
    return this.names;
  }

  /** A group's members as defined (codes, or group names for extra groups); `expand` flattens them. */
  membersOf(group: string): readonly string[] | undefined {
    return this.defined.get(group);
  }

  private unknown(name: string): AtollError {
    const hint = this.suggestion(name);
    return new AtollError(
      'invalid_spec',
      `unknown jurisdiction "${name}"${hint}; use an ISO 3166-1 alpha-2 code like DE or a group: ${this.names.join(', ')}`,
    );
  }

  /** ` (did you mean EU?)` when a known name is close to `name`, else ''. */
  private suggestion(name: string): string {
    const upper = name.toUpperCase();
    if (upper !== name && this.isKnown(upper)) return ` (names are upper case: did you mean ${upper}?)`;
    const alias = ALIASES.get(name);
    if (alias !== undefined) return ` (did you mean ${alias}?)`;
    // Two letters are meant as a country code, and codes one letter apart are other countries.
    if (name.length <= 2) return '';
    const close = closest(name, new Set([...this.defined.keys(), ...ISO_COUNTRY_CODES]));
    return close === undefined ? '' : ` (did you mean ${close.join(' or ')}?)`;
  }
}

/** A fault in one extra group: its one problem's path is the group's name, for callers to prefix. */
function groupError(group: string, message: string): AtollError {
  return new AtollError('invalid_request', message, { problems: [{ path: group, message }] });
}

function checkExtraGroupName(name: string): void {
  if (!GROUP_NAME_PATTERN.test(name)) {
    throw groupError(name, `jurisdiction group name "${name}" is not valid: use 2-32 characters, an upper-case letter first, then upper-case letters, digits, _ or -`);
  }
  if (Object.hasOwn(BUILT_IN_JURISDICTION_GROUPS, name)) {
    throw groupError(name, `jurisdiction group ${name} is built in and cannot be redefined; pick another name, like ${name}_PLUS`);
  }
  if (ISO_COUNTRY_CODES.has(name)) {
    throw groupError(name, `jurisdiction group ${name} would hide the country code ${name}; pick a longer name`);
  }
}

/** Every group flattened to country codes; refuses unknown members, empty groups and cycles. */
function expandAll(
  defined: ReadonlyMap<string, readonly string[]>,
  suggestion: (name: string) => string,
): ReadonlyMap<string, ReadonlySet<string>> {
  const done = new Map<string, ReadonlySet<string>>();
  const path: string[] = [];
  const visit = (name: string, members: readonly string[]): ReadonlySet<string> => {
    const finished = done.get(name);
    if (finished !== undefined) return finished;
    const start = path.indexOf(name);
    if (start >= 0) {
      const cycle = [...path.slice(start), name].join(' -> ');
      throw groupError(name, `jurisdiction groups contain a cycle: ${cycle}; remove one of these memberships`);
    }
    if (members.length === 0) throw groupError(name, `jurisdiction group ${name} has no members; list at least one country code or group`);
    path.push(name);
    const codes = new Set<string>();
    for (const member of members) {
      // Elsewhere the group US wins over the code US (see US above); inside that group, US is the code.
      const nested = member === name && ISO_COUNTRY_CODES.has(member) ? undefined : defined.get(member);
      if (nested !== undefined) for (const code of visit(member, nested)) codes.add(code);
      else if (ISO_COUNTRY_CODES.has(member)) codes.add(member);
      else {
        throw groupError(name, `jurisdiction group ${name} lists unknown member "${member}"${suggestion(member)}; members are ISO 3166-1 alpha-2 codes like DE or group names`);
      }
    }
    path.pop();
    done.set(name, codes);
    return codes;
  };
  for (const [name, members] of defined) visit(name, members);
  return done;
}

/**
 * The up to three candidates nearest to `name` within a small edit distance, or undefined.
 * Ties go to candidates with the same first letter, as alpha-3 codes share it: DEU gives DE, not EU.
 */
function closest(name: string, candidates: Iterable<string>): string[] | undefined {
  // Why the limit: a short string is two edits from many codes, which would suggest nothing useful.
  const limit = name.length >= 4 ? 2 : 1;
  let best: string[] = [];
  let bestScore = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    // The length gap bounds the distance; skipping early also keeps a huge bad name cheap.
    if (Math.abs(candidate.length - name.length) > limit) continue;
    const distance = editDistance(name, candidate);
    if (distance > limit) continue;
    const score = distance * 2 - (candidate[0] === name[0] ? 1 : 0);
    if (score < bestScore) {
      best = [candidate];
      bestScore = score;
    } else if (score === bestScore) {
      best.push(candidate);
    }
  }
  return best.length > 0 && best.length <= 3 ? best.sort() : undefined;
}

