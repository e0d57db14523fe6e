// Builds the local test images ahead of the tests (scripts/lib/build-test-images.sh, CI).
import { connectDockerEngine } from './docker-engine.js';
import {
  ensureRealCloudflaredImage,
  ensureTestImages,
  REAL_CLOUDFLARED_IMAGE,
  TEST_IMAGE_TAGS,
} from './test-images.js';

try {
  const started = Date.now();
  const docker = await connectDockerEngine();
  await ensureTestImages(docker);
  // Last, so a missing real binary (its error says where it belongs) leaves the others built.
  await ensureRealCloudflaredImage(docker);
  const images = [...TEST_IMAGE_TAGS, REAL_CLOUDFLARED_IMAGE].join(', ');
  console.log(`test images ready in ${Date.now() - started} ms: ${images}`);
} catch (error) {
  console.error(`test images: ${(error as Error).message}`);
  process.exitCode = 1;
}
