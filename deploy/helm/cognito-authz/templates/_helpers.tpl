{{/* The chart name, or nameOverride. */}}
{{- define "cognito-authz.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The name of every resource: the release name, with the chart name unless it holds it. */}}
{{- define "cognito-authz.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "cognito-authz.selectorLabels" -}}
app.kubernetes.io/name: {{ include "cognito-authz.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "cognito-authz.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "cognito-authz.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "cognito-authz.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion }}
{{- if .Values.image.digest }}
{{- printf "%s:%s@%s" .Values.image.repository $tag .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{- define "cognito-authz.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "cognito-authz.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Where the pods mount the configuration (the whole ConfigMap, a directory) and the TLS Secret. */}}
{{- define "cognito-authz.configDir" -}}/etc/cognito-authz{{- end }}
{{- define "cognito-authz.configFile" -}}cognito-authz.yaml{{- end }}
{{- define "cognito-authz.tlsDir" -}}/etc/cognito-authz-tls{{- end }}

{{/*
The configuration file: .Values.config with the keys the chart owns laid over it (listen addresses
from the ports, tls from .Values.tls), as YAML.
*/}}
{{- define "cognito-authz.config" -}}
{{- $cfg := deepCopy .Values.config }}
{{- range $key := list "listen" "admin_listen" "http_listen" "tls" }}
{{- if hasKey $cfg $key }}
{{- fail (printf "config.%s is set by the chart: use %s" $key (get (dict "listen" "ports.grpc" "admin_listen" "ports.admin" "http_listen" "forwardAuth" "tls" "tls") $key)) }}
{{- end }}
{{- end }}
{{- $_ := set $cfg "listen" (printf ":%d" (int .Values.ports.grpc)) }}
{{- $_ = set $cfg "admin_listen" (printf ":%d" (int .Values.ports.admin)) }}
{{- if .Values.forwardAuth.enabled }}
{{- $_ = set $cfg "http_listen" (printf ":%d" (int .Values.forwardAuth.port)) }}
{{- end }}
{{- if .Values.tls.enabled }}
{{- if not .Values.tls.secretName }}
{{- fail "tls.enabled needs tls.secretName: a Secret of type kubernetes.io/tls" }}
{{- end }}
{{- $dir := include "cognito-authz.tlsDir" . }}
{{- $tls := dict "cert_file" (printf "%s/tls.crt" $dir) "key_file" (printf "%s/tls.key" $dir) }}
{{- if .Values.tls.clientAuth }}
{{- $_ = set $tls "client_ca_file" (printf "%s/%s" $dir .Values.tls.clientCAKey) }}
{{- end }}
{{- $_ = set $cfg "tls" $tls }}
{{- end }}
{{- toYaml $cfg }}
{{- end }}
