-- Wake a hibernated store: spec.hibernate = false (its workloads start again; setup does not
-- run again). With automated sync and self-heal, set it in git instead.
obj.spec.hibernate = false
return obj
