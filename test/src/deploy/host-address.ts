import { networkInterfaces } from 'node:os';
import { HarnessError } from '../harness/harness-error.js';

/**
 * An IPv4 address of this machine that containers on any bridge network reach (the host's main
 * interface), for services the test runs on the host: the Cloudflare emulator and its edge, the
 * master's published port.
 */
export function hostAddressForContainers(): string {
  for (const [name, addresses] of Object.entries(networkInterfaces())) {
    if (/^(lo|docker|br-|veth)/.test(name)) continue;
    const ipv4 = addresses?.find((address) => address.family === 'IPv4' && !address.internal);
    if (ipv4) return ipv4.address;
  }
  throw new HarnessError('no non-loopback IPv4 address found for containers to reach the host');
}
