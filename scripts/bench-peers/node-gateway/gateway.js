// SPDX-License-Identifier: BSD-2-Clause
// gateway.js - the userspace contender of `make bench` (scripts/bench-peers.sh):
// the seed's design in a popular Node.js stack. fastify answers every request,
// @fastify/rate-limit checks the caller's X-API-Key against Redis on every
// request (its Redis store: one Lua INCR/PEXPIRE script per request, a fixed
// window), and @fastify/reply-from (undici, keep-alive pool) forwards the
// admitted ones to the API server. Over the limit: 429.
//
// Configured from the environment (all required but the *_WINDOW_MS):
//   GW_PORT            port to listen on (all addresses)
//   GW_UPSTREAM        the API server, e.g. http://127.0.0.1:8080
//   GW_REDIS_PORT      redis-server on 127.0.0.1
//   GW_RATE            requests per key per window on every path ...
//   GW_FLOOD_RATE      ... but those under /v1/flood (the rejection phase)
//   GW_WINDOW_MS       window of both (default 1000)
// Prints "ready" on stdout once it listens.
'use strict'

const Fastify = require('fastify')
const Redis = require('ioredis')

function env (name, fallback) {
  const v = process.env[name] ?? fallback
  if (v === undefined || v === '') {
    console.error(`gateway: ${name} is not set`)
    process.exit(2)
  }
  return v
}

function envInt (name, fallback) {
  const s = env(name, fallback)
  const n = Number(s)
  if (!Number.isSafeInteger(n) || n < 0) {
    console.error(`gateway: ${name}: '${s}' is not a number`)
    process.exit(2)
  }
  return n
}

const port = envInt('GW_PORT')
const upstream = env('GW_UPSTREAM')
const redisPort = envInt('GW_REDIS_PORT')
const rate = envInt('GW_RATE')
const floodRate = envInt('GW_FLOOD_RATE')
const windowMs = envInt('GW_WINDOW_MS', '1000')

async function main () {
  const redis = new Redis({ host: '127.0.0.1', port: redisPort, enableOfflineQueue: true })
  const app = Fastify({ logger: false, keepAliveTimeout: 120000, maxRequestsPerSocket: 0 })

  await app.register(require('@fastify/rate-limit'), {
    global: true,
    redis,
    nameSpace: 'rl-node:',
    timeWindow: windowMs,
    max: (req) => (req.url.startsWith('/v1/flood') ? floodRate : rate),
    keyGenerator: (req) => req.headers['x-api-key'] || req.ip,
    skipOnError: false
  })
  await app.register(require('@fastify/reply-from'), {
    base: upstream,
    undici: { connections: 128, pipelining: 1, keepAliveTimeout: 120000 }
  })
  app.all('/*', (req, reply) => reply.from(req.url))

  await app.listen({ port, host: '0.0.0.0' })
  console.log('ready')
}

process.on('SIGTERM', () => process.exit(0))
main().catch((err) => {
  console.error(`gateway: ${err.message}`)
  process.exit(1)
})
