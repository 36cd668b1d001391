#!/usr/bin/env node
// Runs the bundled CLI (dist/cli), the same artefact the runner image ships.
await import('../../../dist/cli/index.js');
