import { runOnGitHub } from '@shipline/kit';
import { rolloutVerify } from './action.ts';

await runOnGitHub(rolloutVerify);
