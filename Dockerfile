# pooltuner operator image: build with Node 24, run on a slim base as a non-root user.
#
#   docker build -t pooltuner:0.1.0 -t pooltuner:latest .   (the chart deploys pooltuner:<appVersion>, compose uses latest)
#   docker run --rm pooltuner --version
#
# Both bases are build arguments, so a registry-free setup can pass locally imported images (the test suite
# builds NODE_IMAGE from pooltuner/base-slim:bookworm plus the project's own Node 24 binary):
#   docker build --build-arg NODE_IMAGE=my/node:24 --build-arg RUNTIME_IMAGE=my/debian:bookworm-slim .
# NODE_IMAGE needs node and npm (on PATH, node at /usr/local/bin/node as in the official images).
# RUNTIME_IMAGE needs only glibc and libstdc++ (any Debian/Ubuntu slim image); nothing is RUN in it.
ARG NODE_IMAGE=node:24-bookworm-slim
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${NODE_IMAGE} AS build
# Names the (untagged) build-stage image the classic builder leaves behind, so it can be pruned.
LABEL org.pooltuner.stage="build"
WORKDIR /src
# Dependencies first: this layer is reused until package*.json change. Install scripts are not needed to
# compile (they fetch native helpers and the `node` devDependency's binary); optional platform binaries neither.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --omit=optional --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npx tsc -p tsconfig.build.json \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund \
 && cp "$(command -v node)" /src/node

FROM ${RUNTIME_IMAGE}
LABEL org.opencontainers.image.title="pooltuner" \
      org.opencontainers.image.description="Sizes per-process MySQL connection pools from replicas, workers and max_connections, and applies them." \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /src/node /usr/local/bin/node
COPY --from=build /src/package.json /app/package.json
COPY --from=build /src/node_modules /app/node_modules
COPY --from=build /src/dist /app/dist
ENV NODE_ENV=production
WORKDIR /app
# A fixed non-root uid (no passwd entry needed). The compose sidecar reaches the Docker socket through its group:
# `group_add: ["<gid of /var/run/docker.sock>"]` in the compose file.
USER 65532:65532
EXPOSE 9090
ENTRYPOINT ["/usr/local/bin/node", "/app/dist/cli/main.js"]
CMD ["compose"]
