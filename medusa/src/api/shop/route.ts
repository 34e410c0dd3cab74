// GET /shop: the storefront customers use, a single page on the Store API: products, cart,
// checkout (shipping option, manual payment), order confirmation.
import type { MedusaRequest, MedusaResponse } from "@medusajs/framework/http"
import { PAGE } from "./page"

export async function GET(_req: MedusaRequest, res: MedusaResponse) {
  res.set("Content-Type", "text/html; charset=utf-8")
  res.set("Cache-Control", "no-store")
  res.set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'unsafe-inline' 'self'; img-src 'self' data: https:; frame-ancestors 'none'")
  res.send(PAGE)
}
