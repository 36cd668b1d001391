import { UserError } from '@shipline/kit';
import { describe, expect, it } from 'vitest';
import { validateBuildkitImage } from './action.ts';

// Found by the bad-input corpus (issue 14): buildkit-image was read only when a builder was created.
describe('buildkit-image is checked before the build', () => {
  it.each(['moby/build kit', 'Moby/BuildKit:1', 'https://docker.io/moby/buildkit', 'moby/buildkit:'])('rejects %j naming buildkit-image', (image) => {
    expect(() => validateBuildkitImage(image)).toThrow(UserError);
    try {
      validateBuildkitImage(image);
    } catch (e) {
      expect(e).toMatchObject({ input: 'buildkit-image', message: expect.stringContaining('invalid image reference') });
    }
  });

  it.each(['moby/buildkit:buildx-stable-1', `127.0.0.1:5000/mirror/buildkit:v0.20@sha256:${'a'.repeat(64)}`])('accepts %j', (image) => {
    expect(() => validateBuildkitImage(image)).not.toThrow();
  });
});
