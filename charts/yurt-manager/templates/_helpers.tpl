{{/* Names default to the chart name, not "<release>-<chart>": these are per-cluster singletons (as in OpenYurt), and agents find the tunnel server by a fixed Service name. */}}
{{- define "yurt-manager.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "yurt-manager.fullname" -}}
{{- default (include "yurt-manager.name" .) .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "yurt-manager.selectorLabels" -}}
app.kubernetes.io/name: {{ include "yurt-manager.name" . | quote }}
app.kubernetes.io/instance: {{ .Release.Name | quote }}
{{- end -}}

{{- define "yurt-manager.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" | quote }}
{{ include "yurt-manager.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: manager
app.kubernetes.io/part-of: yurt-edge
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* One image for every program. global.image (set by the yurt-edge umbrella chart) wins over image; the tag defaults to the chart's appVersion. */}}
{{- define "yurt-manager.image" -}}
{{- $global := (.Values.global | default dict).image | default dict -}}
{{- $repository := $global.repository | default .Values.image.repository -}}
{{- $digest := $global.digest | default .Values.image.digest -}}
{{- if $digest -}}
{{- printf "%s@%s" $repository $digest -}}
{{- else -}}
{{- printf "%s:%s" $repository ($global.tag | default .Values.image.tag | default .Chart.AppVersion | toString) -}}
{{- end -}}
{{- end -}}

{{- define "yurt-manager.imagePullPolicy" -}}
{{- ((.Values.global | default dict).image | default dict).pullPolicy | default .Values.image.pullPolicy -}}
{{- end -}}

{{- define "yurt-manager.imagePullSecrets" -}}
{{- $secrets := concat ((.Values.global | default dict).imagePullSecrets | default list) (.Values.imagePullSecrets | default list) | uniq -}}
{{- if $secrets -}}
imagePullSecrets:
{{- range $secrets }}
  - name: {{ . }}
{{- end }}
{{- end -}}
{{- end -}}

{{- define "yurt-manager.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "yurt-manager.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}
