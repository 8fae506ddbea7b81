// Defaults of the `haproxy.*` edge keys that both the config schema and the renderer need.

/** Mozilla "intermediate" TLS 1.2 ciphers (ECDHE only: no DH parameters to manage). */
export const DEFAULT_SSL_CIPHERS =
  'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:' +
  'ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305';
/** TLS 1.3 cipher suites. */
export const DEFAULT_SSL_CIPHERSUITES = 'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256';
/** An OpenSSL cipher string as one config word: no spaces, quotes or `#`. */
export const CIPHER_LIST_RE = /^[A-Za-z0-9_:+!@.=-]+$/;
