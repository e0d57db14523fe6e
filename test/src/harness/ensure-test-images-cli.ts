// Builds the local test images ahead of the tests (scripts/lib/build-test-images.sh, CI).
import { connectDockerEngine } from './docker-engine.js';
import {
  CLOUDFLARED_IMAGE,
  ensureTestImages,
  TEST_BUSYBOX_IMAGE,
  TEST_CLOUDFLARED_IMAGE,
  TEST_WEB_IMAGE,
} from './test-images.js';

try {
  const started = Date.now();
  await ensureTestImages(await connectDockerEngine());
  const images = [TEST_BUSYBOX_IMAGE, TEST_WEB_IMAGE, TEST_CLOUDFLARED_IMAGE, CLOUDFLARED_IMAGE].join(', ');
  console.log(`test images ready in ${Date.now() - started} ms: ${images}`);
} catch (error) {
  console.error(`test images: ${(error as Error).message}`);
  process.exitCode = 1;
}
