-- A backup now: a new value of storefleet.io/backup-now (the operator runs one backup Job per
-- value; its outcome is the BackupReady condition and status.backup.last).
if obj.metadata.annotations == nil then
  obj.metadata.annotations = {}
end
obj.metadata.annotations["storefleet.io/backup-now"] = os.date("!%Y%m%dT%H%M%SZ")
return obj
