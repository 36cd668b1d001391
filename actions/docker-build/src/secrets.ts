// Build secrets reach BuildKit only as files: `--secret id=…,src=<file>`. A value on the command
// line would show in `ps` and in error messages; a build-arg would stay in the image history.
// The files live in a private temp dir (0700, files 0600) that is removed after the build, and
// on SIGTERM/SIGINT by the kit's cleanup registry (a cancelled job must not leave them behind).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { privateTempDir, tempParent } from '@shipline/kit';

export interface Secret {
  id: string;
  value: string;
}

export interface SecretFiles {
  files: { id: string; path: string }[];
  dir: string | undefined;
  /** Removes every file; safe to call twice. */
  remove(): void;
}

export function writeSecretFiles(secrets: readonly Secret[], parent: string = tempParent()): SecretFiles {
  if (secrets.length === 0) return { files: [], dir: undefined, remove() {} };
  const { path: dir, remove } = privateTempDir('shipline-secrets-', parent);
  const files: { id: string; path: string }[] = [];
  try {
    secrets.forEach((s, i) => {
      // The file name is an index, not the id: ids are user text and need no escaping this way.
      const path = join(dir, `secret-${i}`);
      writeFileSync(path, s.value, { mode: 0o600, flag: 'wx' });
      files.push({ id: s.id, path });
    });
  } catch (e) {
    remove();
    throw e;
  }
  return { files, dir, remove };
}
