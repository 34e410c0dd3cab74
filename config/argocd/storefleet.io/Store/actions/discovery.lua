-- Storefleet Store: the resource actions Argo CD offers, and when each is enabled.
--   backup-now: a Ready store whose platform backs it up (it has a BackupReady condition)
--   drill-now:  a Ready store with a successful backup to prove (status.backup.last)
--   retry:      a Failed store (Stalled=True)
--   hibernate:  a store not asked to hibernate (spec.hibernate unset or false)
--   wake:       a store asked to hibernate
local actions = {}
local ready = false
local stalled = false
local backups = false
if obj.status ~= nil and obj.status.conditions ~= nil then
  for _, c in ipairs(obj.status.conditions) do
    if c.type == "Ready" and c.status == "True" then ready = true end
    if c.type == "Stalled" and c.status == "True" then stalled = true end
    if c.type == "BackupReady" then backups = true end
  end
end
local deleting = obj.metadata ~= nil and obj.metadata.deletionTimestamp ~= nil
actions["backup-now"] = {["disabled"] = deleting or not (ready and backups)}
local backed_up = obj.status ~= nil and obj.status.backup ~= nil and obj.status.backup.last ~= nil
actions["drill-now"] = {["disabled"] = deleting or not (ready and backups and backed_up)}
actions["retry"] = {["disabled"] = deleting or not stalled}
local asleep = obj.spec ~= nil and obj.spec.hibernate == true
actions["hibernate"] = {["disabled"] = deleting or asleep}
actions["wake"] = {["disabled"] = deleting or not asleep}
return actions
