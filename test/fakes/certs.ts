/**
 * Test certificates made with the real `openssl`: a CA, a serving certificate it signed
 * (with the SANs a client verifies), and an unrelated CA to test refusals with.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TestCerts {
  /** PEM files in the directory: the signing CA, an unrelated CA, the serving key and certificate. */
  readonly caFile: string;
  readonly otherCaFile: string;
  readonly keyFile: string;
  readonly certFile: string;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: 'pipe' });
}

/** Makes the certificates in `dir`; `san` is the serving certificate's subjectAltName, e.g. `IP:127.0.0.1,DNS:localhost`. */
export function makeTestCerts(dir: string, san: string, cn = 'fake-node'): TestCerts {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=fake-cluster-ca'], dir);
  openssl(['req', '-x509', ...ec, '-keyout', 'other.key', '-out', 'other.crt', '-days', '1', '-subj', '/CN=unrelated-ca'], dir);
  openssl(['req', ...ec, '-keyout', 'serving.key', '-out', 'serving.csr', '-subj', `/CN=${cn}`], dir);
  writeFileSync(join(dir, 'san.ext'), `subjectAltName=${san}\n`);
  openssl(['x509', '-req', '-in', 'serving.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'serving.crt', '-days', '1', '-extfile', 'san.ext'], dir);
  return { caFile: join(dir, 'ca.crt'), otherCaFile: join(dir, 'other.crt'), keyFile: join(dir, 'serving.key'), certFile: join(dir, 'serving.crt') };
}
