-- A retry of a Failed store: a new value of storefleet.io/retry (the operator retries the failed
-- step once per value).
if obj.metadata.annotations == nil then
  obj.metadata.annotations = {}
end
obj.metadata.annotations["storefleet.io/retry"] = os.date("!%Y%m%dT%H%M%SZ")
return obj
