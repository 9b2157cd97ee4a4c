import { defineErrors } from '../errors.js';

/**
 * Error catalogue of the pure Kubernetes wire logic in lib/kube. Codes are stable (operators search
 * the docs for them), so an entry is only ever added, never renamed or reused. The status codes are
 * what a server should answer when the bad input came from its client; a proxy that met the same
 * error in an upstream response should treat it as a broken upstream instead.
 */
export const KubeErrors = defineErrors({
  KUBE_ERR_BAD_REQUEST_PATH: {
    statusCode: 400,
    message: 'invalid request path %s: %s',
  },
  KUBE_ERR_BAD_SELECTOR: {
    statusCode: 400,
    message: 'invalid %s selector "%s": %s',
  },
  KUBE_ERR_BAD_LIST_OPTIONS: {
    statusCode: 400,
    message: 'invalid query parameter %s=%s: %s',
  },
  KUBE_ERR_BAD_CONTINUE: {
    statusCode: 400,
    message: 'invalid continue token: %s',
  },
  KUBE_ERR_BAD_MEDIA_TYPE: {
    statusCode: 415,
    message: 'invalid media type "%s": %s',
  },
  KUBE_ERR_PROTOBUF: {
    statusCode: 500,
    message: 'malformed protobuf: %s',
  },
  KUBE_ERR_WATCH_STREAM: {
    statusCode: 500,
    message: 'malformed watch stream: %s',
  },
});
