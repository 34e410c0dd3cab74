-- A drill now: a new value of storefleet.io/drill-now (the operator restores the newest backup
-- into a throwaway namespace, starts the shop there and checks it, once per value; its outcome
-- is the BackupVerified condition and status.backup.lastDrill).
if obj.metadata.annotations == nil then
  obj.metadata.annotations = {}
end
obj.metadata.annotations["storefleet.io/drill-now"] = os.date("!%Y%m%dT%H%M%SZ")
return obj
