// GET /shop/app.js: the storefront's script.
import type { MedusaRequest, MedusaResponse } from "@medusajs/framework/http"
import { APP_JS } from "../app-js"

export async function GET(_req: MedusaRequest, res: MedusaResponse) {
  res.set("Content-Type", "text/javascript; charset=utf-8")
  res.set("Cache-Control", "no-store")
  res.send(APP_JS)
}
