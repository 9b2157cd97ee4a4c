# syntax=docker/dockerfile:1
# One image for every yurt-edge program; the command picks the program:
#   yurthub | yurt-tunnel server | yurt-tunnel agent | yurt-manager | yurtctl
# (each name in package.json "bin" becomes a command on PATH). The Helm charts in charts/ run it so.
#
#   docker build -t ghcr.io/yurt-edge/yurt-edge:$(node -p 'require("./package.json").version') .
# Behind a TLS-intercepting proxy: --build-arg BUILD_EXTRA_CA_CERTS="$(cat /path/to/proxy-ca.crt)".
# Without a registry: --build-arg NODE_IMAGE=<a local image with node and npm> (the test harness does so).
# The current Node LTS (26, the major the tests run on: test/tools/node-lts.sh, package.json "engines").
ARG NODE_IMAGE=node:26-slim

# Compile TypeScript with the dev dependencies.
FROM ${NODE_IMAGE} AS build
# Where the npm registry is reached through a TLS-intercepting proxy: the PEM of its CA, trusted by npm
# in the build stages only (never part of the image). Empty elsewhere.
ARG BUILD_EXTRA_CA_CERTS=""
WORKDIR /src
COPY package.json package-lock.json ./
RUN if [ -n "$BUILD_EXTRA_CA_CERTS" ]; then printf '%s\n' "$BUILD_EXTRA_CA_CERTS" >/tmp/build-ca.pem && export NODE_EXTRA_CA_CERTS=/tmp/build-ca.pem; fi \
 && npm ci --no-audit --no-fund
# The whole tree (see .dockerignore), so the build is exactly `npm run build` of a checkout; only the
# programs' output goes into the image.
COPY . .
RUN npm run build \
 && rm -rf dist/test dist/bench dist/demo dist/vitest.config.* \
 && find dist -type d -name testing -prune -exec rm -rf {} + \
 && find dist \( -name '*.test.js' -o -name '*.test.js.map' \) -delete

# Production dependencies only (level's native addon comes prebuilt for glibc, which node:26-slim has;
# it is N-API, so the same prebuild serves every Node major).
FROM ${NODE_IMAGE} AS deps
ARG BUILD_EXTRA_CA_CERTS=""
WORKDIR /src
COPY package.json package-lock.json ./
RUN if [ -n "$BUILD_EXTRA_CA_CERTS" ]; then printf '%s\n' "$BUILD_EXTRA_CA_CERTS" >/tmp/build-ca.pem && export NODE_EXTRA_CA_CERTS=/tmp/build-ca.pem; fi \
 && npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM ${NODE_IMAGE}
LABEL org.opencontainers.image.source="https://github.com/yurt-edge/yurt-edge" \
      org.opencontainers.image.description="yurt-edge: yurthub, yurt-tunnel, yurt-manager, yurtctl" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV NODE_ENV=production
# glibc's malloc keeps what a large cache write freed (yurthub's 10,000-pod lists) unless big blocks
# are mmapped at a fixed threshold and arenas are few: measured 390 MB -> 240 MB after a relist burst
# (docs/benchmarks.md). The programs are single-threaded JavaScript; two arenas serve libuv and LevelDB.
ENV MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=131072 MALLOC_TRIM_THRESHOLD_=131072
WORKDIR /opt/yurt-edge
COPY --from=deps /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json ./
# yurtctl installs the cloud components from these.
COPY charts ./charts
# A command per package.json "bin" entry: exec keeps node as PID 1, so SIGTERM reaches its handlers.
RUN node -e ' \
  const fs = require("node:fs"); \
  const bin = require("./package.json").bin ?? {}; \
  for (const [name, file] of Object.entries(bin)) { \
    if (!fs.existsSync(file)) throw new Error(`bin ${name}: ${file} was not built`); \
    fs.writeFileSync(`/usr/local/bin/${name}`, `#!/bin/sh\nexec node /opt/yurt-edge/${file} "$@"\n`, { mode: 0o755 }); \
    console.log(`${name} -> ${file}`); \
  }'
# Non-root by default (the charts run the node-side programs as uid 0 only where host files need it).
USER 65532:65532
CMD ["yurthub", "--help"]
