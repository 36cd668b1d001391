import { runOnGitHub } from '@shipline/kit';
import { dockerBuild } from './action.ts';

await runOnGitHub(dockerBuild);
