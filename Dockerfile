# raftis: one node per container. Build stage runs the same commands as CI
# (npm ci, npm run build); the runtime stage carries only what a node needs.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts ./scripts
COPY src ./src
COPY test ./test
COPY bench ./bench
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production \
    RAFTIS_BIND=0.0.0.0 \
    RAFTIS_PROTECTED_MODE=no \
    RAFTIS_DATA_DIR=/data \
    RAFTIS_PORT=7001 \
    RAFTIS_PEER_PORT=17001
COPY package.json ./
COPY config ./config
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
VOLUME ["/data"]
# Client (RESP) port and peer (Raft) port, as in config/node.example.json.
EXPOSE 7001 17001
ENTRYPOINT ["node", "--max-semi-space-size=64", "dist/src/main.js"]
