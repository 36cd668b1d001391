import { runOnGitHub } from '@shipline/kit';
import { smokeTest } from './action.ts';

await runOnGitHub(smokeTest);
