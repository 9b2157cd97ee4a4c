import { defineErrors } from '../lib/errors.js';

/**
 * yurthub's error catalogue. Codes are stable: operators search docs/errors-yurthub.md for them, so
 * an entry is never renamed or reused for a different meaning, only added.
 */
export const YurthubErrors = defineErrors({
  // --- cache storage (yurthub/cache) ---
  YH_ERR_CACHE_CLOSED: {
    statusCode: 503,
    message: 'cache store is %s',
  },
  YH_ERR_CACHE_OPEN: {
    statusCode: 500,
    message: 'cannot open cache at %s: %s',
  },
  YH_ERR_CACHE_LOCKED: {
    statusCode: 500,
    message: 'cache at %s is locked by another process (is a second yurthub running?)',
  },
  YH_ERR_CACHE_WRITE: {
    statusCode: 500,
    message: 'cache write failed (%s): %s',
  },
  YH_ERR_CACHE_READ: {
    statusCode: 500,
    message: 'cache read failed (%s): %s',
  },
  YH_ERR_CACHE_CORRUPT: {
    statusCode: 500,
    message: 'cache entry %s is corrupt: %s',
  },
  YH_ERR_CACHE_BAD_INPUT: {
    statusCode: 500,
    message: 'invalid cache input: %s',
  },
  YH_ERR_CLUSTER_IDENTITY: {
    statusCode: 502,
    message: 'cannot read the cluster identity from %s: %s',
  },
  // --- response filters (yurthub/filter); logged with the response served unfiltered, never answered ---
  YH_ERR_FILTER_MALFORMED: {
    statusCode: 502,
    message: 'served unfiltered: %s',
  },
  YH_ERR_FILTER_PROTOBUF: {
    statusCode: 502,
    message: '%s answered %s in protobuf, which a filter of the request (masterservice, inclusterconfig) reads only as JSON: served unfiltered (the client takes no JSON)',
  },
  YH_ERR_FILTER_NOT_SYNCED: {
    statusCode: 503,
    message: 'the nodes and Services the filters need are not known after %s ms: %s served unfiltered',
  },
  YH_ERR_FILTER_TOPOLOGY: {
    statusCode: 502,
    message: 'cannot list %s for the response filters: %s',
  },
  // --- startup (options.ts, config.ts) ---
  YH_ERR_INVALID_OPTION: {
    statusCode: 400,
    message: '%s',
  },
  YH_ERR_CONFIG: {
    statusCode: 400,
    message: '--%s: %s',
  },
  // --- client certificate (lib/certificate, mapped in yurthub/certificate/cert-errors.ts); messages are composed where they are thrown ---
  YH_ERR_CERT_OPTION: {
    statusCode: 400,
    message: '%s',
  },
  YH_ERR_CERT_NOT_READY: {
    statusCode: 503,
    message: '%s',
  },
  YH_ERR_CERT_UNREACHABLE: {
    statusCode: 503,
    message: '%s',
  },
  YH_ERR_CERT_API_UNAVAILABLE: {
    statusCode: 503,
    message: '%s',
  },
  YH_ERR_CERT_API_REJECTED: {
    statusCode: 502,
    message: '%s',
  },
  YH_ERR_CERT_DENIED: {
    statusCode: 403,
    message: '%s',
  },
  YH_ERR_CERT_FAILED: {
    statusCode: 502,
    message: '%s',
  },
  YH_ERR_CERT_TIMEOUT: {
    statusCode: 504,
    message: '%s',
  },
  YH_ERR_CERT_INVALID: {
    statusCode: 502,
    message: '%s',
  },
  YH_ERR_CERT_STORE: {
    statusCode: 500,
    message: '%s',
  },
  // --- OTA API (ota.ts) ---
  YH_ERR_OTA: {
    statusCode: 502,
    message: 'OTA %s: %s',
  },
});
