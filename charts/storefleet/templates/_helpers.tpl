{{- define "storefleet.fullname" -}}
{{- if contains "storefleet" .Release.Name -}}{{ .Release.Name | trunc 40 | trimSuffix "-" }}{{- else -}}{{ printf "%s-storefleet" .Release.Name | trunc 40 | trimSuffix "-" }}{{- end -}}
{{- end -}}

{{- define "storefleet.labels" -}}
app.kubernetes.io/name: storefleet
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: storefleet
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "storefleet.selector" -}}
app.kubernetes.io/name: storefleet
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "storefleet.image" -}}
{{ .root.Values.image.registry }}/{{ .image }}:{{ .root.Values.image.tag | default .root.Chart.AppVersion }}
{{- end -}}

{{- define "storefleet.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "storefleet.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: [ALL]
{{- end -}}

{{/*
The operator configuration: operator.config, with images.medusa defaulting to the chart's own
storefleet-medusa image (image.registry, image.tag or the appVersion) when it is not set, and the
dashboard's hosts (api.ingress.host, api.httpRoute.host, where enabled) added to reservedHosts so
that no Store can be given them, and the API's ServiceAccount as apiServiceAccount (the operator
lets it read each store's admin login, in that store's namespace only).
*/}}
{{- define "storefleet.operatorConfig" -}}
{{- $config := deepCopy .Values.operator.config -}}
{{- $images := deepCopy (get $config "images" | default dict) -}}
{{- if not (hasKey $images "medusa") -}}
{{- $_ := set $images "medusa" (dict "repository" (printf "%s/storefleet-medusa" .Values.image.registry) "tag" (.Values.image.tag | default .Chart.AppVersion | toString)) -}}
{{- end -}}
{{- $_ := set $config "images" $images -}}
{{- $reserved := list -}}
{{- range (get $config "reservedHosts" | default list) -}}{{- $reserved = append $reserved . -}}{{- end -}}
{{- if .Values.api.ingress.enabled -}}{{- $reserved = append $reserved .Values.api.ingress.host -}}{{- end -}}
{{- if .Values.api.httpRoute.enabled -}}{{- $reserved = append $reserved .Values.api.httpRoute.host -}}{{- end -}}
{{- if $reserved -}}{{- $_ := set $config "reservedHosts" ($reserved | uniq) -}}{{- end -}}
{{- if and .Values.api.enabled (not (hasKey $config "apiServiceAccount")) -}}
{{- $_ := set $config "apiServiceAccount" (dict "namespace" .Release.Namespace "name" (printf "%s-api" (include "storefleet.fullname" .))) -}}
{{- end -}}
{{- $backup := get $config "backup" -}}
{{- if and $backup (not (hasKey $backup "secretsNamespace")) -}}
{{- $_ := set $backup "secretsNamespace" .Release.Namespace -}}
{{- end -}}
{{- toYaml $config -}}
{{- end -}}
