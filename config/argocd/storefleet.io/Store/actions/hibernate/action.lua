-- Hibernate a store: spec.hibernate = true (every workload at zero, CronJobs suspended; volumes,
-- Secrets and route kept). With automated sync and self-heal, set it in git instead: Argo CD
-- would put the spec back as git has it.
obj.spec.hibernate = true
return obj
