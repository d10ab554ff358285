# syntax=docker/dockerfile:1
# Runway control-plane image.
#   docker build -t runway:0.1.0 .
#   docker run --rm -p 8000:8000 runway:0.1.0        # simulated cluster (RUNWAY_CLUSTER=sim)
# In Kubernetes, deploy/ sets RUNWAY_CLUSTER=kube and the rest (docs/operations.md).
ARG NODE_IMAGE=node:20-bookworm-slim

# ---- build: compile TypeScript (src/ -> dist/) with the dev dependencies -------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# ---- runtime: production dependencies and the compiled output only -------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8000
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
# A numeric user (no /etc/passwd entry needed) so Kubernetes can verify runAsNonRoot.
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=15s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# A 64 MiB young generation (V8's default is 16 MiB): see docs/performance.md, "The young generation".
CMD ["node", "--max-semi-space-size=64", "--min-semi-space-size=64", "dist/main.js"]
