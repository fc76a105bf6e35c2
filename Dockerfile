# ledgerlink's container image: `ledgerlink start` by default, `worker`, `migrate` or `connect` as the command.
# The steps are the ones CI runs on every change (npm ci from the lockfile, then Node on the TypeScript sources,
# with no build step); test/deploy/deployment.test.ts holds this file to package.json and src/config.ts.
# Node: the Active LTS line CI tests on (.ci/run).
FROM node:26-slim AS dependencies
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:26-slim
ENV NODE_ENV=production \
    LEDGERLINK_HOST=0.0.0.0 \
    LEDGERLINK_PORT=3000 \
    LEDGERLINK_DATA_DIR=/data
WORKDIR /app
# Sources owned by root and read-only to the user that runs them.
COPY --from=dependencies /app/node_modules ./node_modules
COPY package.json package-lock.json ./
COPY bin ./bin
COPY src ./src
COPY demo ./demo
COPY emulators ./emulators
# The data folder is only used without DATABASE_URL or LEDGERLINK_SECRET_KEY (the embedded store, the key file).
RUN mkdir -p /data && chown node:node /data
USER node
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 CMD ["node", "bin/healthcheck.js"]
ENTRYPOINT ["node", "bin/ledgerlink.js"]
CMD ["start"]
