{{/*
The static pod manifest. A static pod cannot use ServiceAccounts, ConfigMaps or Secrets, so everything it
needs comes from the host: the cache folder, the CA bundle and the node's credentials. Placeholders that
`yurtctl node convert` replaces on the node: __APISERVER_URLS__ (without .Values.servers) and
__BOOTSTRAP_TOKEN__ (bootstrapToken mode without .Values.credentials.bootstrapToken).
*/}}
{{- define "yurthub.staticPod" -}}
{{- $c := .Values.credentials -}}
{{- $priorities := dict "system-node-critical" 2000001000 "system-cluster-critical" 2000000000 -}}
apiVersion: v1
kind: Pod
metadata:
  name: {{ .Values.staticPod.name }}
  namespace: {{ .Values.staticPod.namespace }}
  # Plain labels: the mirror pod is the kubelet's, not a Helm release's.
  labels:
    k8s-app: yurt-hub
    app.kubernetes.io/name: yurthub
    app.kubernetes.io/component: yurthub
    app.kubernetes.io/part-of: yurt-edge
    app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
  {{- if .Values.metrics.podAnnotations }}
  annotations:
    prometheus.io/scrape: "true"
    prometheus.io/port: {{ .Values.metrics.port | quote }}
    prometheus.io/path: /metrics
  {{- end }}
spec:
  hostNetwork: true
  dnsPolicy: Default
  {{- with .Values.priorityClassName }}
  priorityClassName: {{ . }}
  {{- if hasKey $priorities . }}
  priority: {{ get $priorities . }}
  {{- end }}
  {{- end }}
  {{- with include "yurthub.imagePullSecrets" . }}
  {{- . | nindent 2 }}
  {{- end }}
  securityContext:
    {{- toYaml .Values.podSecurityContext | nindent 4 }}
  containers:
    - name: yurthub
      image: {{ include "yurthub.image" . | quote }}
      imagePullPolicy: {{ include "yurthub.imagePullPolicy" . }}
      command: [yurthub]
      ports:
        # On the host network: the node's port; named for a PodMonitor.
        - name: metrics
          containerPort: {{ .Values.metrics.port }}
          protocol: TCP
      args:
        - --server={{ if .Values.servers }}{{ join "," .Values.servers }}{{ else }}__APISERVER_URLS__{{ end }}
        - --node-name=$(NODE_NAME)
        {{- if eq $c.mode "bootstrapToken" }}
        - --bootstrap-token={{ $c.bootstrapToken | default "__BOOTSTRAP_TOKEN__" }}
        - --ca-file={{ $c.caFile }}
        {{- else if eq $c.mode "kubeletCertificate" }}
        - --client-cert={{ $c.kubeletCertificate }}
        - --client-key={{ $c.kubeletCertificate }}
        - --ca-file={{ $c.caFile }}
        {{- else }}
        - --kubeconfig={{ $c.kubeconfig }}
        {{- end }}
        - --bind-address={{ .Values.bindAddress }}
        - --port={{ .Values.port }}
        - --cache-dir={{ .Values.cacheDir }}
        - --cache-agents={{ join "," .Values.cacheAgents }}
        - --lb-mode={{ .Values.lbMode }}
        - --health-check-period={{ .Values.healthCheckPeriod }}
        - --log-level={{ .Values.logLevel }}
        - --metrics-bind-address={{ .Values.metrics.bindAddress }}
        - --metrics-port={{ .Values.metrics.port }}
        {{- with .Values.inCluster }}{{ if .enabled }}
        - --secure-bind-address={{ .address }}
        - --secure-port={{ .port }}
        - --serving-cert={{ .certDir }}/hub-serving.crt
        - --serving-key={{ .certDir }}/hub-serving.key
        {{- end }}{{ end }}
        {{- if .Values.ota.enabled }}
        - --static-pod-dir={{ dir .Values.staticPod.manifestPath }}
        {{- end }}
        {{- range .Values.extraArgs }}
        - {{ . | quote }}
        {{- end }}
      env:
        - name: NODE_NAME
          valueFrom:
            fieldRef:
              fieldPath: spec.nodeName
      livenessProbe:
        {{- include "yurthub.probe" (list .Values.livenessProbe (int .Values.port)) | nindent 8 }}
      readinessProbe:
        {{- include "yurthub.probe" (list .Values.readinessProbe (int .Values.port)) | nindent 8 }}
      resources:
        {{- toYaml .Values.resources | nindent 8 }}
      securityContext:
        {{- toYaml .Values.securityContext | nindent 8 }}
      volumeMounts:
        - name: cache
          mountPath: {{ .Values.cacheDir }}
        {{- if ne $c.mode "kubeconfig" }}
        - name: ca
          mountPath: {{ $c.caFile }}
          readOnly: true
        {{- end }}
        {{- if eq $c.mode "kubeletCertificate" }}
        - name: kubelet-pki
          mountPath: {{ dir $c.kubeletCertificate }}
          readOnly: true
        {{- else if eq $c.mode "kubeconfig" }}
        - name: kubeconfig
          mountPath: {{ $c.kubeconfig }}
          readOnly: true
        {{- end }}
        {{- if .Values.inCluster.enabled }}
        - name: serving
          mountPath: {{ .Values.inCluster.certDir }}
          readOnly: true
        {{- end }}
        {{- if .Values.ota.enabled }}
        - name: static-pods
          mountPath: {{ dir .Values.staticPod.manifestPath }}
        {{- end }}
        - name: tmp
          mountPath: /tmp
  volumes:
    - name: cache
      hostPath:
        path: {{ .Values.cacheDir }}
        type: DirectoryOrCreate
    {{- if ne $c.mode "kubeconfig" }}
    - name: ca
      hostPath:
        path: {{ $c.caFile }}
        type: File
    {{- end }}
    {{- if eq $c.mode "kubeletCertificate" }}
    - name: kubelet-pki
      hostPath:
        path: {{ dir $c.kubeletCertificate }}
        type: Directory
    {{- else if eq $c.mode "kubeconfig" }}
    - name: kubeconfig
      hostPath:
        path: {{ $c.kubeconfig }}
        type: File
    {{- end }}
    {{- if .Values.inCluster.enabled }}
    - name: serving
      hostPath:
        path: {{ .Values.inCluster.certDir }}
        type: Directory
    {{- end }}
    {{- if .Values.ota.enabled }}
    - name: static-pods
      hostPath:
        path: {{ dir .Values.staticPod.manifestPath }}
        type: Directory
    {{- end }}
    - name: tmp
      emptyDir:
        sizeLimit: 16Mi
{{- end -}}
