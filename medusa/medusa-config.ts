// Storefleet's Medusa v2 application: configured from the environment only (the operator sets it
// from the store's Secrets and spec), so one image serves every store.
//
//   DATABASE_URL, REDIS_URL              PostgreSQL and Redis of the store
//   JWT_SECRET, COOKIE_SECRET            generated once per store
//   STORE_CORS, ADMIN_CORS, AUTH_CORS    the store's public URL
//   MEDUSA_BACKEND_URL                   the public URL (admin and links)
//   MEDUSA_WORKER_MODE                   server | worker | shared
//   MEDUSA_DISABLE_ADMIN                 "true" turns the admin (/app) off
//   COOKIE_SECURE                        "false" for a store served over plain HTTP: Medusa marks
//                                        the admin's session cookie Secure in production, and a
//                                        browser never sends that back over http://
//
// With REDIS_URL the production modules run on Redis: cache, event bus, workflow engine, locking.
import { defineConfig, loadEnv } from "@medusajs/framework/utils"

loadEnv(process.env.NODE_ENV || "production", process.cwd())

const redisUrl = process.env.REDIS_URL
const cookieSecure = process.env.COOKIE_SECURE
if (cookieSecure !== undefined && !["true", "false"].includes(cookieSecure)) {
  throw new Error(`COOKIE_SECURE must be true or false, not ${cookieSecure}`)
}
const workerMode = process.env.MEDUSA_WORKER_MODE
if (workerMode !== undefined && !["server", "worker", "shared"].includes(workerMode)) {
  throw new Error(`MEDUSA_WORKER_MODE must be server, worker or shared, not ${workerMode}`)
}

module.exports = defineConfig({
  projectConfig: {
    databaseUrl: process.env.DATABASE_URL,
    redisUrl,
    workerMode: (workerMode as "server" | "worker" | "shared" | undefined) ?? "shared",
    ...(cookieSecure === undefined ? {} : { cookieOptions: { secure: cookieSecure === "true" } }),
    http: {
      storeCors: process.env.STORE_CORS || "",
      adminCors: process.env.ADMIN_CORS || "",
      authCors: process.env.AUTH_CORS || "",
      jwtSecret: process.env.JWT_SECRET || "",
      cookieSecret: process.env.COOKIE_SECRET || "",
    },
  },
  admin: {
    disable: process.env.MEDUSA_DISABLE_ADMIN === "true",
    backendUrl: process.env.MEDUSA_BACKEND_URL,
  },
  modules: redisUrl
    ? [
        { resolve: "@medusajs/medusa/cache-redis", options: { redisUrl } },
        { resolve: "@medusajs/medusa/event-bus-redis", options: { redisUrl } },
        { resolve: "@medusajs/medusa/workflow-engine-redis", options: { redis: { redisUrl } } },
        {
          resolve: "@medusajs/medusa/locking",
          options: {
            providers: [
              {
                resolve: "@medusajs/medusa/locking-redis",
                id: "locking-redis",
                is_default: true,
                options: { redisUrl },
              },
            ],
          },
        },
      ]
    : [],
})
