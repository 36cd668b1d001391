import { hello } from '@shipline/kit';
import { x } from './other.ts';
console.log(hello('x'), x);
