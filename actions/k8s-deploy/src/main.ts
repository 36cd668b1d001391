import { runOnGitHub } from '@shipline/kit';
import { k8sDeploy } from './action.ts';

await runOnGitHub(k8sDeploy);
