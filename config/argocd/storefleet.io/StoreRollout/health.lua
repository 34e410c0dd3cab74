-- Argo CD health check for storefleet.io/StoreRollout.
-- Install: argocd-cm, key resource.customizations.health.storefleet.io_StoreRollout (see
-- config/argocd/README.md). Reads the rollout's status: phase, Ready, Stalled, observedGeneration.
local hs = {}

if obj.status == nil or obj.status.phase == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to pick up the rollout"
  return hs
end

local generation = obj.metadata and obj.metadata.generation or nil
local observed = obj.status.observedGeneration
if generation ~= nil and observed ~= nil and observed < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  return hs
end

local phase = obj.status.phase
hs.message = obj.status.message or phase
if phase == "Completed" then
  hs.status = "Healthy"
elseif phase == "Halted" then
  -- More stores failed than its budget allows: a human looks, then resumes it.
  hs.status = "Degraded"
elseif phase == "Paused" then
  hs.status = "Suspended"
else
  hs.status = "Progressing"
end
return hs
