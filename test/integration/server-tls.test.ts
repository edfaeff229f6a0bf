// Proves the server issue's end-to-end tests (test/integration/server.test.ts) all pass over TLS:
// the same file, run with the harness in TLS mode, so redis-cli --tls and ioredis with `tls`
// options talk to TLS-only client ports, and the nodes' peer links use mutual TLS.
process.env.RAFTIS_IT_TLS = '1';
await import('./server.test.js');
