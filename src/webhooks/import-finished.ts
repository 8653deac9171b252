// import.finished: the one webhook event that is not an account change, so it does
// not come from the audit trail. The job runner calls a kind's cleanUp exactly once,
// after the write that finished the job (done or failed) landed, on whichever
// instance finished it: announcing there sends it once per job.
import type { JobKind } from '../jobs/runner.ts';
import type { ImportJob } from '../accounts/import-jobs.ts';
import { eventId, type WebhookPayload } from './events.ts';

export function importFinishedEvent(job: ImportJob): WebhookPayload {
  return {
    id: eventId(`import-${job._id}`),
    type: 'import.finished',
    time: (job.finishedAt ?? new Date()).toISOString(),
    accountId: null,
    actor: job.context?.actor ?? 'import',
    data: {
      jobId: job._id, status: job.status, rows: job.rows, created: job.created, updated: job.updated,
      unchanged: job.unchanged, rejected: job.rejectedCount, error: job.error,
    },
  };
}

/** The import job kind, announcing its end to webhooks after its own clean-up. */
export function announcingImportEnd(kind: JobKind<ImportJob>, announce: (events: WebhookPayload[]) => Promise<void>): JobKind<ImportJob> {
  return {
    ...kind,
    async cleanUp(job) {
      try {
        await kind.cleanUp?.(job);
      } finally {
        // The finished job as stored: its final counts and outcome.
        const finished = await kind.collection.findOne({ _id: job._id });
        if (finished && finished.status !== 'running') await announce([importFinishedEvent(finished as ImportJob)]);
      }
    },
  };
}
