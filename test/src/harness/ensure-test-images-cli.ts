// Builds the local test images ahead of the tests (scripts/lib/build-test-images.sh, CI).
import { connectDockerEngine } from './docker-engine.js';
import {
  CLOUDFLARED_IMAGE,
  ensureRealCloudflaredImage,
  ensureTestImages,
  REAL_CLOUDFLARED_IMAGE,
  TEST_BUSYBOX_IMAGE,
  TEST_CLOUDFLARED_IMAGE,
  TEST_CLOUDFLARED_NEVER_READY_IMAGE,
  TEST_CLOUDFLARED_NEXT_IMAGE,
  TEST_WEB_IMAGE,
} from './test-images.js';

try {
  const started = Date.now();
  const docker = await connectDockerEngine();
  await ensureTestImages(docker);
  // Last, so a missing real binary (its error says where it belongs) leaves the others built.
  await ensureRealCloudflaredImage(docker);
  const images = [
    TEST_BUSYBOX_IMAGE,
    TEST_WEB_IMAGE,
    TEST_CLOUDFLARED_IMAGE,
    TEST_CLOUDFLARED_NEXT_IMAGE,
    TEST_CLOUDFLARED_NEVER_READY_IMAGE,
    CLOUDFLARED_IMAGE,
    REAL_CLOUDFLARED_IMAGE,
  ].join(', ');
  console.log(`test images ready in ${Date.now() - started} ms: ${images}`);
} catch (error) {
  console.error(`test images: ${(error as Error).message}`);
  process.exitCode = 1;
}
