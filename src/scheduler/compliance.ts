import { editDistance } from '../core/edit-distance.js';
import { AtollError, type FieldProblem } from '../core/errors.js';
import { JurisdictionTable } from '../core/jurisdictions.js';
import { KNOWN_REGIONS, lookupRegion } from '../core/known-regions.js';
import type { PlacementSpec } from '../core/placement-spec.js';
import { bindsNamespace, type PolicySpec } from '../core/policy-spec.js';
import { type CycleState, cycleKey } from './framework/cycle-state.js';
import type { Unschedulable } from './framework/status.js';
import type { PlacementRequest } from './framework/snapshot.js';

// The hard rules one job is held to, compiled once from its placement and the cluster policies
// (jurisdiction groups expanded to country codes), so filters do set lookups per node.

export interface PolicyDenial {
  readonly policy: string;
  readonly jurisdictions: ReadonlySet<string>;
}

export interface ProviderAllowList {
  readonly policy: string;
  readonly providers: ReadonlySet<string>;
}

export interface JobRules {
  /** Country codes the job may run in; undefined when the job sets no residency. */
  readonly residency: ReadonlySet<string> | undefined;
  /** `[EU, CH]`: the residency as the user wrote it, for messages. */
  readonly residencyLabel: string;
  readonly avoidJurisdictions: ReadonlySet<string>;
  /**
   * Names in avoid.jurisdictions the table no longer knows (a policy defining the group was
   * deleted after the job was accepted). Their members are unknown, so no node can be shown to
   * be outside them: the job waits rather than risk running where it said it must not.
   */
  readonly unknownAvoided: readonly string[];
  readonly avoidProviders: ReadonlySet<string>;
  readonly avoidRegions: ReadonlySet<string>;
  readonly avoidSites: ReadonlySet<string>;
  /** Policies binding the job's namespace that deny jurisdictions. */
  readonly denials: readonly PolicyDenial[];
  /** Policies binding the job's namespace that allow only some providers; all must allow. */
  readonly providerAllowLists: readonly ProviderAllowList[];
}

export class Compliance {
  readonly table: JurisdictionTable;
  private readonly rulesCache = new WeakMap<PlacementSpec, Map<string, JobRules>>();

  private classCache: ReadonlyMap<string, { readonly jurisdictions: ReadonlySet<string>; readonly policy: string }> | undefined;

  private constructor(
    readonly policies: readonly PolicySpec[],
    table: JurisdictionTable,
  ) {
    this.table = table;
  }

  /** Builds the jurisdiction table from the policies' groups; refuses bad or clashing groups. */
  static compile(policies: readonly PolicySpec[]): Compliance {
    const groups: Record<string, readonly string[]> = {};
    const definedBy = new Map<string, string>();
    for (const policy of policies) {
      for (const [group, members] of Object.entries(policy.jurisdictionGroups ?? {})) {
        const other = definedBy.get(group);
        if (other !== undefined && other !== policy.name) {
          throw new AtollError('invalid_spec', `jurisdiction group ${group} is defined by policies "${other}" and "${policy.name}"; keep it in one`, {
            problems: [{ path: `jurisdictionGroups.${group}`, message: `already defined by policy "${other}"` }],
          });
        }
        definedBy.set(group, policy.name);
        groups[group] = members;
      }
    }
    let table: JurisdictionTable;
    try {
      table = new JurisdictionTable(groups);
    } catch (error) {
      // The table names the group and member at fault; the caller needs a field path too.
      if (!(error instanceof AtollError)) throw error;
      const group = error.problems[0]?.path;
      const path = group === undefined ? 'jurisdictionGroups' : `jurisdictionGroups.${group}`;
      throw new AtollError('invalid_spec', error.message, { problems: [{ path, message: error.message }], cause: error });
    }
    const compliance = new Compliance(policies, table);
    compliance.validatePolicies();
    return compliance;
  }

  /**
   * Where the data of each residency class may be read, as country codes, with the policy that
   * defines it. A class two policies define may be read only where both allow (the stricter wins).
   */
  residencyClasses(): ReadonlyMap<string, { readonly jurisdictions: ReadonlySet<string>; readonly policy: string }> {
    if (this.classCache !== undefined) return this.classCache;
    const classes = new Map<string, { jurisdictions: ReadonlySet<string>; policy: string }>();
    for (const policy of this.policies) {
      for (const [name, members] of Object.entries(policy.residencyClasses ?? {})) {
        const codes = this.table.expand(members);
        const earlier = classes.get(name);
        classes.set(name, earlier === undefined
          ? { jurisdictions: codes, policy: policy.name }
          : { jurisdictions: new Set([...codes].filter((c) => earlier.jurisdictions.has(c))), policy: `${earlier.policy}+${policy.name}` });
      }
    }
    this.classCache = classes;
    return classes;
  }

  /**
   * Refuses a job whose placement names a jurisdiction the table does not know, or a user region
   * that is neither a region of the fleet (`fleetRegions`) nor in the built-in region table: a
   * typo there would silently switch latency ranking off for that location.
   */
  validatePlacement(spec: { readonly placement: PlacementSpec }, fleetRegions: ReadonlySet<string> = new Set(), pathPrefix = ''): void {
    const problems: FieldProblem[] = [];
    this.collectUnknown(spec.placement.residency ?? [], `${pathPrefix}placement.residency`, problems);
    this.collectUnknown(spec.placement.avoid?.jurisdictions ?? [], `${pathPrefix}placement.avoid.jurisdictions`, problems);
    (spec.placement.near?.users ?? []).forEach((user, i) => {
      if (typeof user !== 'string' || fleetRegions.has(user) || lookupRegion(user) !== undefined) return;
      const known = [...new Set([...fleetRegions, ...Object.keys(KNOWN_REGIONS)])];
      const close = known.filter((name) => editDistance(name, user) <= 2).slice(0, 3);
      const hint = close.length > 0 ? `did you mean ${close.join(' or ')}? ` : '';
      problems.push({ path: `${pathPrefix}placement.near.users[${i}]`, message: `unknown region "${user}"; ${hint}use a region of the fleet or a cloud region like eu-west-1, or {lat, lon}` });
    });
    if (problems.length > 0) throw invalidSpec('job spec', problems);
  }

  /** The rules for a job; cached per placement object, which all tasks of a job share. */
  rules(namespace: string, placement: PlacementSpec): JobRules {
    let byNamespace = this.rulesCache.get(placement);
    if (byNamespace === undefined) {
      byNamespace = new Map();
      this.rulesCache.set(placement, byNamespace);
    }
    let rules = byNamespace.get(namespace);
    if (rules === undefined) {
      rules = this.compileRules(namespace, placement);
      byNamespace.set(namespace, rules);
    }
    return rules;
  }

  private compileRules(namespace: string, placement: PlacementSpec): JobRules {
    const binding = this.policies.filter((p) => bindsNamespace(p, namespace));
    const { residency, avoid } = placement;
    return {
      residency: residency === undefined ? undefined : this.expandKnown(residency),
      residencyLabel: `[${(residency ?? []).join(', ')}]`,
      avoidJurisdictions: this.expandKnown(avoid?.jurisdictions ?? []),
      unknownAvoided: (avoid?.jurisdictions ?? []).filter((name) => !this.table.isKnown(name)),
      avoidProviders: new Set(avoid?.providers ?? []),
      avoidRegions: new Set(avoid?.regions ?? []),
      avoidSites: new Set(avoid?.sites ?? []),
      denials: binding.flatMap((p) => (p.denyJurisdictions === undefined ? [] : [{ policy: p.name, jurisdictions: this.table.expand(p.denyJurisdictions) }])),
      providerAllowLists: binding.flatMap((p) => (p.allowProviders === undefined ? [] : [{ policy: p.name, providers: new Set(p.allowProviders) }])),
    };
  }

  /**
   * Names the table no longer knows (a policy defining a group was deleted after the job was
   * accepted) expand to nothing. For residency that allows fewer nodes, never more; avoid lists
   * keep them in `unknownAvoided` instead, which blocks every node.
   */
  private expandKnown(names: readonly string[]): ReadonlySet<string> {
    return this.table.expand(names.filter((name) => this.table.isKnown(name)));
  }

  private validatePolicies(): void {
    for (const policy of this.policies) {
      const problems: FieldProblem[] = [];
      this.collectUnknown(policy.denyJurisdictions ?? [], 'denyJurisdictions', problems);
      for (const [name, members] of Object.entries(policy.residencyClasses ?? {})) {
        this.collectUnknown(members, `residencyClasses.${name}`, problems);
      }
      if (problems.length > 0) throw invalidSpec(`policy "${policy.name}"`, problems);
    }
  }

  private collectUnknown(names: readonly string[], path: string, problems: FieldProblem[]): void {
    names.forEach((name, i) => {
      if (this.table.isKnown(name)) return;
      try {
        this.table.expand([name]);
      } catch (error) {
        if (!(error instanceof AtollError)) throw error;
        problems.push({ path: `${path}[${i}]`, message: error.message });
        return;
      }
      throw new AtollError('internal', `jurisdiction table says ${name} is unknown but expands it`);
    });
  }
}

/** The same shape as schema errors (core/validation.ts): one problem per line under a heading. */
function invalidSpec(what: string, problems: readonly FieldProblem[]): AtollError {
  return new AtollError('invalid_spec', `invalid ${what}:\n${problems.map((p) => `  ${p.path}: ${p.message}`).join('\n')}`, { problems });
}

const COMPLIANCE = cycleKey<Compliance>('compliance');
const NO_POLICIES: readonly PolicySpec[] = Object.freeze([]);
// Policies change rarely and snapshots share the policy list, so compile once per list.
const compiledByPolicies = new WeakMap<readonly PolicySpec[], Compliance>();

/** The cycle's compiled policies, built on first use and shared by every compliance filter. */
export function complianceOf(cycle: CycleState): Compliance {
  let compliance = cycle.peek(COMPLIANCE);
  if (compliance === undefined) {
    const policies = cycle.snapshot.policies ?? NO_POLICIES;
    compliance = compiledByPolicies.get(policies) ?? Compliance.compile(policies);
    compiledByPolicies.set(policies, compliance);
    cycle.write(COMPLIANCE, compliance);
  }
  return compliance;
}

/** The rules of the task's job in this cycle. */
export function rulesOf(cycle: CycleState, task: PlacementRequest): JobRules {
  return complianceOf(cycle).rules(task.namespace, task.placement);
}

const rejections = new WeakMap<JobRules, Map<string, Unschedulable>>();

/**
 * One rejection per job and distinct cause (`residency|US`): filters run over the whole fleet,
 * most of which a strict job may turn down, and the words are the same for every node alike.
 */
export function rejectionFor(rules: JobRules, cause: string, make: () => Unschedulable): Unschedulable {
  let byCause = rejections.get(rules);
  if (byCause === undefined) {
    byCause = new Map();
    rejections.set(rules, byCause);
  }
  let status = byCause.get(cause);
  if (status === undefined) {
    status = make();
    byCause.set(cause, status);
  }
  return status;
}
