{{/* Names default to the chart name, not "<release>-<chart>": these are per-cluster singletons (as in OpenYurt), and agents find the tunnel server by a fixed Service name. */}}
{{- define "yurt-tunnel-agent.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "yurt-tunnel-agent.fullname" -}}
{{- default (include "yurt-tunnel-agent.name" .) .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "yurt-tunnel-agent.selectorLabels" -}}
app.kubernetes.io/name: {{ include "yurt-tunnel-agent.name" . | quote }}
app.kubernetes.io/instance: {{ .Release.Name | quote }}
{{- end -}}

{{- define "yurt-tunnel-agent.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" | quote }}
{{ include "yurt-tunnel-agent.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: tunnel-agent
app.kubernetes.io/part-of: yurt-edge
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* One image for every program. global.image (set by the yurt-edge umbrella chart) wins over image; the tag defaults to the chart's appVersion. */}}
{{- define "yurt-tunnel-agent.image" -}}
{{- $global := (.Values.global | default dict).image | default dict -}}
{{- $repository := $global.repository | default .Values.image.repository -}}
{{- $digest := $global.digest | default .Values.image.digest -}}
{{- if $digest -}}
{{- printf "%s@%s" $repository $digest -}}
{{- else -}}
{{- printf "%s:%s" $repository ($global.tag | default .Values.image.tag | default .Chart.AppVersion | toString) -}}
{{- end -}}
{{- end -}}

{{- define "yurt-tunnel-agent.imagePullPolicy" -}}
{{- ((.Values.global | default dict).image | default dict).pullPolicy | default .Values.image.pullPolicy -}}
{{- end -}}

{{- define "yurt-tunnel-agent.imagePullSecrets" -}}
{{- $secrets := concat ((.Values.global | default dict).imagePullSecrets | default list) (.Values.imagePullSecrets | default list) | uniq -}}
{{- if $secrets -}}
imagePullSecrets:
{{- range $secrets }}
  - name: {{ . }}
{{- end }}
{{- end -}}
{{- end -}}

{{- define "yurt-tunnel-agent.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "yurt-tunnel-agent.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
A probe from values with its httpGet port set to the port the program really listens on, so changing
that port can never leave kubelet probing (and killing) the old one. Call with (list probe port).
*/}}
{{- define "yurt-tunnel-agent.probe" -}}
{{- $probe := deepCopy (index . 0) -}}
{{- if $probe.httpGet }}
{{- $_ := set $probe.httpGet "port" (index . 1) }}
{{- $host := index . 2 }}
{{- if eq $host "" }}
{{- $_ := unset $probe.httpGet "host" }}
{{- else if ne $host "-" }}
{{- $_ := set $probe.httpGet "host" $host }}
{{- end }}
{{- end }}
{{- toYaml $probe }}
{{- end }}

{{/*
Where the agent serves /metrics, /healthz and /readyz, as JSON: address (--metrics-address), exposed
(reachable from other hosts), probeHost ("-": keep the probe's own host; "": none, kubelet then probes
the pod IP, which is the node's address on the host network).
*/}}
{{- define "yurt-tunnel-agent.metricsListener" -}}
{{- $bind := .Values.metrics.bindAddress | toString -}}
{{- $port := .Values.metricsPort | int -}}
{{- if eq $bind "node" -}}
{{- dict "address" (printf "$(NODE_IP):%d" $port) "exposed" true "probeHost" "" | toJson -}}
{{- else if or (eq $bind "127.0.0.1") (eq $bind "::1") -}}
{{- dict "address" (printf "%s:%d" (ternary "[::1]" $bind (eq $bind "::1")) $port) "exposed" false "probeHost" $bind | toJson -}}
{{- else if or (eq $bind "0.0.0.0") (eq $bind "::") -}}
{{- dict "address" (printf "%s:%d" (ternary "[::]" $bind (eq $bind "::")) $port) "exposed" true "probeHost" "-" | toJson -}}
{{- else -}}
{{- dict "address" (printf "%s:%d" (ternary (printf "[%s]" $bind) $bind (contains ":" $bind)) $port) "exposed" true "probeHost" $bind | toJson -}}
{{- end -}}
{{- end -}}
