// Layer tars of real directories for the push benches, one per directory (REAL_DIRS=a:b:…), or
// sizes of random-data layers when REAL_DIRS is unset. Each real layer also carries a file unique
// to the run: docker and skopeo remember which registry has which layer (docker's v2 metadata,
// skopeo's blob-info cache) and would mount an earlier run's layers instead of pushing them.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const MB = 1024 * 1024;

export function benchLayers(runId: string): { layers: Buffer[] | number[]; real: boolean } {
  const dirs = process.env.REAL_DIRS?.split(':').filter(Boolean);
  if (!dirs?.length) return { layers: [60 * MB, 50 * MB, 40 * MB, 30 * MB, 15 * MB, 5 * MB], real: false };
  const marker = mkdtempSync(join(tmpdir(), 'bench-marker-'));
  try {
    writeFileSync(join(marker, `.bench-${runId}`), runId);
    const layers = dirs.map((d) => execFileSync('tar', ['-cf', '-', '-C', d, '.', '-C', marker, `.bench-${runId}`], { maxBuffer: 1024 * MB }));
    return { layers, real: true };
  } finally {
    rmSync(marker, { recursive: true, force: true });
  }
}
