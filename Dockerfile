# One image for the API, the worker and the web app (docker-compose.yml picks
# the command).

# The web app's production build needs the dev toolchain (React Router's Vite
# plugin); only its output, web/build, goes into the final image.
FROM node:20-bookworm-slim AS web-build
WORKDIR /app
ENV CHECKPOINT_DISABLE=1 \
    PRISMA_HIDE_UPDATE_MESSAGE=1
COPY package.json package-lock.json prisma.config.ts ./
COPY prisma ./prisma
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run web:build

FROM node:20-bookworm-slim

WORKDIR /app
ENV NODE_ENV=production \
    CHECKPOINT_DISABLE=1 \
    PRISMA_HIDE_UPDATE_MESSAGE=1

# Dependencies first, so code changes reuse this layer. The postinstall step
# generates the Prisma client, which needs the schema and prisma.config.ts.
COPY package.json package-lock.json prisma.config.ts ./
COPY prisma ./prisma
# The processes run TypeScript through tsx, which is a runtime dependency,
# so devDependencies (compilers, linters, jest) stay out of the image.
RUN npm ci --omit=dev --no-audit --no-fund

COPY . .
COPY --from=web-build /app/web/build ./web/build

USER node
EXPOSE 3000
CMD ["node", "--max-old-space-size=256", "--import", "tsx", "api/main.ts"]
