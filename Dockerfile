# hubsync's image: the npm package, built here as `npm pack` builds it, installed with production
# dependencies only (no embedded PostgreSQL: that is for the demo). test/package.test.ts runs this
# file's build-stage COPY lines without Docker and packs and installs the result, so every path
# copied here must exist in a clone.

FROM node:24-slim AS build
WORKDIR /src
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
RUN npm ci --omit=optional --no-audit --no-fund --loglevel=error
COPY src ./src
COPY tasks ./tasks
COPY sql ./sql
COPY migrations ./migrations
COPY deploy ./deploy
COPY crontab README.md CHANGELOG.md ./
RUN npm pack --pack-destination /tmp && mv /tmp/hubsync-*.tgz /tmp/hubsync.tgz

FROM node:24-slim
ENV NODE_ENV=production
COPY --from=build /tmp/hubsync.tgz /tmp/hubsync.tgz
RUN npm install --global --omit=dev --omit=optional --no-audit --no-fund --loglevel=error /tmp/hubsync.tgz \
 && rm /tmp/hubsync.tgz && npm cache clean --force
# the node image's unprivileged user; hubsync writes nothing to disk
USER node
WORKDIR /home/node
# The webhook receiver (`hubsync webhooks --port 8090 --host 0.0.0.0`, or `worker --webhooks-port 8090
# --webhooks-host 0.0.0.0`) answers GET /healthz. A worker without a receiver has no HTTP endpoint:
# run it with `--no-healthcheck` (compose: healthcheck: disable) and rely on its exit status (75 when
# its database is lost) and the restart policy.
EXPOSE 8090
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.HUBSYNC_HEALTH_PORT || 8090) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["hubsync"]
CMD ["worker"]
