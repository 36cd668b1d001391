import { runOnGitHub } from '@shipline/kit';
import { registryPush } from './action.ts';

await runOnGitHub(registryPush);
