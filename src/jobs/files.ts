// A job's input file, kept in MongoDB so that whichever instance runs (or resumes)
// the job can read it: GridFS (the driver's GridFSBucket, which the embedded
// FerretDB serves too), bucket `job_files`, the file's _id being the job's.
// Chunks of 1 MiB: a 50 MB upload is 50 documents, written as it arrives, with
// the upload paused while each is stored (nothing waits in memory).
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { GridFSBucket, type Db } from 'mongodb';

export const JOB_FILES = 'job_files';
const CHUNK_BYTES = 1024 * 1024;

function bucket(db: Db): GridFSBucket {
  return new GridFSBucket(db, { bucketName: JOB_FILES, chunkSizeBytes: CHUNK_BYTES });
}

/** Index GridFS reads by (its driver makes it on first upload too; here for a known start). */
export async function ensureJobFileIndexes(db: Db): Promise<void> {
  await db.collection(`${JOB_FILES}.chunks`).createIndex({ files_id: 1, n: 1 }, { unique: true });
  await db.collection(`${JOB_FILES}.files`).createIndex({ filename: 1, uploadDate: 1 });
}

/**
 * Stores `input` as the file of job `id`; resolves with its size once all of it is
 * stored. If `input` fails (cut off, too large) nothing of it is kept and the error
 * is thrown.
 */
export async function storeJobFile(db: Db, id: string, name: string, input: Readable): Promise<number> {
  const upload = bucket(db).openUploadStreamWithId(id as never, name);
  try {
    await pipeline(input, upload);
  } catch (error) {
    await deleteJobFile(db, id).catch(() => {});
    throw error;
  }
  return upload.length;
}

/** The stored file, from its first byte. */
export function readJobFile(db: Db, id: string): Readable {
  return bucket(db).openDownloadStream(id as never);
}

/** Removes the file, and any chunks of an upload that never finished (they have no file document). */
export async function deleteJobFile(db: Db, id: string): Promise<void> {
  await db.collection(`${JOB_FILES}.files`).deleteOne({ _id: id as never });
  await db.collection(`${JOB_FILES}.chunks`).deleteMany({ files_id: id });
}
