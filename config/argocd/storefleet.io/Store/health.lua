-- Argo CD health check for storefleet.io/Store.
-- Install: argocd-cm, key resource.customizations.health.storefleet.io_Store (see config/argocd/README.md).
-- Reads the Store's status contract: Ready, Stalled, Reconciling and observedGeneration.
local hs = {}

local function condition(conditions, type)
  if conditions == nil then return nil end
  for _, c in ipairs(conditions) do
    if c.type == type then return c end
  end
  return nil
end

if obj.metadata ~= nil and obj.metadata.deletionTimestamp ~= nil then
  hs.status = "Progressing"
  hs.message = "Store is being deleted"
  return hs
end

if obj.status == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to pick up the store"
  return hs
end

local generation = obj.metadata and obj.metadata.generation or nil
local observed = obj.status.observedGeneration
if generation ~= nil and observed ~= nil and observed < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  return hs
end

local ready = condition(obj.status.conditions, "Ready")
local stalled = condition(obj.status.conditions, "Stalled")

if stalled ~= nil and stalled.status == "True" then
  if stalled.reason == "StoreLimitReached" then
    hs.status = "Suspended"
  else
    hs.status = "Degraded"
  end
  hs.message = stalled.message
  return hs
end

-- Hibernated on purpose (spec.hibernate): no pod runs, and that is no failure.
local hibernated = condition(obj.status.conditions, "Hibernated")
if hibernated ~= nil and hibernated.status == "True" then
  hs.status = "Suspended"
  hs.message = hibernated.message
  return hs
end

if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = ready.message
  return hs
end

hs.status = "Progressing"
if ready ~= nil and ready.message ~= nil and ready.message ~= "" then
  hs.message = ready.message
elseif obj.status.message ~= nil then
  hs.message = obj.status.message
else
  hs.message = "Provisioning"
end
return hs
