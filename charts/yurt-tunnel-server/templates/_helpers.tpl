{{/* Names default to the chart name, not "<release>-<chart>": these are per-cluster singletons (as in OpenYurt), and agents find the tunnel server by a fixed Service name. */}}
{{- define "yurt-tunnel-server.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "yurt-tunnel-server.fullname" -}}
{{- default (include "yurt-tunnel-server.name" .) .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "yurt-tunnel-server.selectorLabels" -}}
app.kubernetes.io/name: {{ include "yurt-tunnel-server.name" . | quote }}
app.kubernetes.io/instance: {{ .Release.Name | quote }}
{{- end -}}

{{- define "yurt-tunnel-server.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" | quote }}
{{ include "yurt-tunnel-server.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: tunnel-server
app.kubernetes.io/part-of: yurt-edge
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* One image for every program. global.image (set by the yurt-edge umbrella chart) wins over image; the tag defaults to the chart's appVersion. */}}
{{- define "yurt-tunnel-server.image" -}}
{{- $global := (.Values.global | default dict).image | default dict -}}
{{- $repository := $global.repository | default .Values.image.repository -}}
{{- $digest := $global.digest | default .Values.image.digest -}}
{{- if $digest -}}
{{- printf "%s@%s" $repository $digest -}}
{{- else -}}
{{- printf "%s:%s" $repository ($global.tag | default .Values.image.tag | default .Chart.AppVersion | toString) -}}
{{- end -}}
{{- end -}}

{{- define "yurt-tunnel-server.imagePullPolicy" -}}
{{- ((.Values.global | default dict).image | default dict).pullPolicy | default .Values.image.pullPolicy -}}
{{- end -}}

{{- define "yurt-tunnel-server.imagePullSecrets" -}}
{{- $secrets := concat ((.Values.global | default dict).imagePullSecrets | default list) (.Values.imagePullSecrets | default list) | uniq -}}
{{- if $secrets -}}
imagePullSecrets:
{{- range $secrets }}
  - name: {{ . }}
{{- end }}
{{- end -}}
{{- end -}}

{{- define "yurt-tunnel-server.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "yurt-tunnel-server.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
The serving certificate, decided once per render (memoized in .Values, so the Secret, the CA ConfigMap
and the Deployment's checksum see the same generated keys). A dict:
  mode: provided  - tls.cert/tls.key given: the chart writes them to the Secret (bring your own);
        existing  - a Secret of that name exists and this release does not manage it (made by hand or by
                    cert-manager): left alone; its ca.crt (or tls.ca) is published;
        generated - the chart keeps a CA and a serving certificate of its own in the Secret: reused from
                    the Secret on upgrade, the serving certificate re-signed by the same CA when the SANs change;
        none      - tls.generate.enabled=false and nothing given: the Secret must be made out of band.
  crt, key, ca, caKey (PEM), sans (comma-joined), secret (true: this chart renders the Secret).
*/}}
{{- define "yurt-tunnel-server.tls" -}}
{{- if not (hasKey .Values "__yurtTunnelServerTLS") -}}
{{- $tls := .Values.tls -}}
{{- $state := dict "mode" "none" "crt" "" "key" "" "ca" ($tls.ca | default "") "caKey" "" "sans" "" "secret" false -}}
{{- $existing := lookup "v1" "Secret" .Release.Namespace $tls.secretName | default dict -}}
{{- $managedHere := and $existing (eq (dig "metadata" "annotations" "meta.helm.sh/release-name" "" $existing) .Release.Name) (eq (dig "metadata" "annotations" "meta.helm.sh/release-namespace" "" $existing) .Release.Namespace) -}}
{{- if or $tls.cert $tls.key -}}
{{- if not (and $tls.cert $tls.key) -}}
{{- fail "tls.cert and tls.key go together" -}}
{{- end -}}
{{- $_ := set $state "mode" "provided" -}}
{{- $_ = set $state "crt" $tls.cert -}}
{{- $_ = set $state "key" $tls.key -}}
{{- $_ = set $state "secret" true -}}
{{- else if and $existing (not $managedHere) -}}
{{- $_ := set $state "mode" "existing" -}}
{{- if not $state.ca -}}
{{- $_ = set $state "ca" (dig "data" "ca.crt" "" $existing | b64dec) -}}
{{- end -}}
{{- else if $tls.generate.enabled -}}
{{- $fullname := include "yurt-tunnel-server.fullname" . -}}
{{- $dns := list -}}
{{- range $service := list $fullname (printf "%s-headless" $fullname) -}}
{{- $dns = concat $dns (list $service (printf "%s.%s" $service $.Release.Namespace) (printf "%s.%s.svc" $service $.Release.Namespace) (printf "%s.%s.svc.%s" $service $.Release.Namespace $tls.generate.clusterDomain)) -}}
{{- end -}}
{{- $dns = concat $dns ($tls.generate.extraDNSNames | default list) | uniq -}}
{{- $ips := $tls.generate.extraIPs | default list | uniq -}}
{{- $sans := join "," (concat $dns $ips) -}}
{{- $days := int $tls.generate.validityDays -}}
{{- $data := dig "data" dict $existing -}}
{{- $reusable := and $managedHere (eq (dig "metadata" "annotations" "yurt-edge.io/generated-tls" "" $existing) "true") (index $data "tls.crt") (index $data "tls.key") (index $data "ca.crt") (index $data "ca.key") -}}
{{- $_ := set $state "mode" "generated" -}}
{{- $_ = set $state "secret" true -}}
{{- $_ = set $state "sans" $sans -}}
{{- if and $reusable (eq (dig "metadata" "annotations" "yurt-edge.io/tls-sans" "" $existing) $sans) -}}
{{- $_ = set $state "crt" (index $data "tls.crt" | b64dec) -}}
{{- $_ = set $state "key" (index $data "tls.key" | b64dec) -}}
{{- $_ = set $state "ca" (index $data "ca.crt" | b64dec) -}}
{{- $_ = set $state "caKey" (index $data "ca.key" | b64dec) -}}
{{- else -}}
{{- $ca := dict -}}
{{- if $reusable -}}
{{- $ca = buildCustomCert (index $data "ca.crt") (index $data "ca.key") -}}
{{- else -}}
{{- $ca = genCAWithKey (printf "%s-ca" $fullname) $days (genPrivateKey "ecdsa") -}}
{{- end -}}
{{- $cert := genSignedCertWithKey $fullname $ips $dns $days $ca (genPrivateKey "ecdsa") -}}
{{- $_ = set $state "crt" $cert.Cert -}}
{{- $_ = set $state "key" $cert.Key -}}
{{- $_ = set $state "ca" $ca.Cert -}}
{{- $_ = set $state "caKey" $ca.Key -}}
{{- end -}}
{{- end -}}
{{- $_ := set .Values "__yurtTunnelServerTLS" $state -}}
{{- end -}}
{{- toJson (get .Values "__yurtTunnelServerTLS") -}}
{{- end -}}
