import type { JobSpec, StageSpec } from '../../core/job-spec.js';
import { redactSecrets } from '../../core/secret-spec.js';
import type { AttemptSecret } from '../../protocol/messages.js';
import type { SealedSecrets } from '../../store/store.js';
import type { SecretCipher } from './secret-cipher.js';

// Where job secrets are sealed and opened. A spec leaves submitJob with every value replaced by
// the redacted placeholder; the sealed values are kept apart from it (store table job_secrets,
// LiveJob.sealedSecrets) and opened only to build an attempt's assignment for its agent.

/** The spec with every secret value redacted: what is stored, returned and estimated. */
export function redactJobSpec(spec: JobSpec): JobSpec {
  if (!spec.stages.some((stage) => Object.keys(stage.secrets).length > 0)) return spec;
  return { ...spec, stages: spec.stages.map((stage) => ({ ...stage, secrets: redactSecrets(stage.secrets) })) };
}

/** Binds a sealed value to its place, so it opens nowhere else. */
function context(jobId: string, stage: number, name: string): string {
  return `job ${jobId} stage ${stage} secret ${name}`;
}

export class JobSecrets {
  constructor(private readonly cipher: SecretCipher) {}

  /** The redacted spec, and the sealed values per stage (undefined when the job has no secrets). */
  seal(spec: JobSpec, jobId: string): { readonly spec: JobSpec; readonly sealed: SealedSecrets | undefined } {
    const redacted = redactJobSpec(spec);
    if (redacted === spec) return { spec, sealed: undefined };
    const sealed = spec.stages.map((stage, i) =>
      Object.fromEntries(Object.entries(stage.secrets).map(([name, secret]) => [name, this.cipher.seal(secret.value, context(jobId, i, name))])),
    );
    return { spec: redacted, sealed };
  }

  /** What an attempt of the stage is given: each secret's value and where it goes. */
  forAttempt(sealed: SealedSecrets | undefined, jobId: string, stageIndex: number, stage: StageSpec): AttemptSecret[] {
    const names = Object.keys(stage.secrets);
    if (names.length === 0) return [];
    const values = sealed?.[stageIndex] ?? {};
    return names.map((name) => {
      const delivery = stage.secrets[name]!;
      // Own keys only: a secret may be called `constructor`, which every object inherits.
      const value = Object.hasOwn(values, name) ? values[name] : undefined;
      // Checked for every active job at start-up (firstUnreadable), so this is a broken invariant.
      if (value === undefined) throw new Error(`job ${jobId} stage ${stageIndex} has no sealed value for secret ${name}`);
      const plaintext = this.cipher.open(value, context(jobId, stageIndex, name));
      return delivery.env === undefined ? { name, value: plaintext, file: delivery.file! } : { name, value: plaintext, env: delivery.env };
    });
  }

  /** Why the job's secrets cannot be delivered (a lost or replaced key, an altered store), or undefined. */
  firstUnreadable(spec: JobSpec, sealed: SealedSecrets | undefined, jobId: string): string | undefined {
    try {
      spec.stages.forEach((stage, i) => this.forAttempt(sealed, jobId, i, stage));
      return undefined;
    } catch (error) {
      // The caller decides what becomes of such a job (it is cancelled with this reason).
      return error instanceof Error ? error.message : String(error);
    }
  }
}
