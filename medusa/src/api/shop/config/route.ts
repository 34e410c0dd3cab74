// GET /shop/config: what the storefront page needs to call the Store API: the publishable key of
// the "Storefleet storefront" (publishable keys are public by design), the store's region and
// currency, and its title. Answers 503 until the setup Job has run.
import type { MedusaRequest, MedusaResponse } from "@medusajs/framework/http"
import { Modules } from "@medusajs/framework/utils"

export async function GET(req: MedusaRequest, res: MedusaResponse) {
  const apiKeys = req.scope.resolve(Modules.API_KEY)
  const stores = req.scope.resolve(Modules.STORE)
  const key = (await apiKeys.listApiKeys({ title: "Storefleet storefront", type: "publishable" })).find((k) => !k.revoked_at)
  const [store] = await stores.listStores({}, { relations: ["supported_currencies"] })
  if (!key || !store?.default_region_id) {
    res.status(503).json({ message: "The shop is being set up; try again in a minute." })
    return
  }
  const currency = store.supported_currencies?.find((c) => c.is_default)?.currency_code ?? ""
  res.set("Cache-Control", "no-store")
  res.json({ publishableKey: key.token, regionId: store.default_region_id, currency, title: store.name })
}
