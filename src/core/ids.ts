import { randomBytes } from 'node:crypto';

// Ids people can read and type: `hello-7k2m9q` for a job, `hello-7k2m9q.17` for its task 17,
// `hello-7k2m9q.17.2` for that task's second attempt.

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

export function randomSuffix(length = 6): string {
  const bytes = randomBytes(length);
  let out = '';
  for (const byte of bytes) out += ALPHABET[byte % ALPHABET.length];
  return out;
}

export function newJobId(jobName: string): string {
  return `${jobName.slice(0, 40)}-${randomSuffix()}`;
}

export function taskId(jobId: string, index: number): string {
  return `${jobId}.${index}`;
}

export function attemptId(taskIdValue: string, epoch: number): string {
  return `${taskIdValue}.${epoch}`;
}

/** The task index of an attempt of job `jobId`, or undefined when the attempt belongs to another job. */
export function taskIndexOfAttempt(attemptIdValue: string, jobId: string): number | undefined {
  if (!attemptIdValue.startsWith(`${jobId}.`)) return undefined;
  const [index, epoch, ...rest] = attemptIdValue.slice(jobId.length + 1).split('.');
  if (rest.length > 0 || epoch === undefined || !/^\d+$/.test(index ?? '')) return undefined;
  return Number(index);
}
