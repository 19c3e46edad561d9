{{/* The chart's name, and the release's full name (63 characters at most, as DNS labels). */}}
{{- define "stile.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "stile.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "stile.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "stile.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "stile.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "stile.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector labels of one component (server or agent): pass (list $ "server"). */}}
{{- define "stile.selectorLabels" -}}
{{- $ := index . 0 -}}
app.kubernetes.io/name: {{ include "stile.name" $ }}
app.kubernetes.io/instance: {{ $.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "stile.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "stile.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "stile.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "stile.scheme" -}}
{{- if .Values.tls.existingSecret -}}https{{- else -}}http{{- end -}}
{{- end -}}

{{/* The Secrets holding the data key and the admin token: given, or the chart's. */}}
{{- define "stile.dataKeySecret" -}}
{{- default (printf "%s-data-key" (include "stile.fullname" .)) .Values.dataKey.existingSecret -}}
{{- end -}}

{{- define "stile.adminTokenSecret" -}}
{{- default (printf "%s-admin-token" (include "stile.fullname" .)) .Values.adminToken.existingSecret -}}
{{- end -}}

{{/* The server's config file: the chart's settings, then the user's (server.config). */}}
{{- define "stile.serverConfig" -}}
listen: {{ printf ":%d" (int .Values.server.port) | quote }}
data: /var/lib/stile
key-file: /etc/stile/key/{{ .Values.dataKey.key }}
admin-token-file: /etc/stile/token/{{ .Values.adminToken.key }}
{{- if .Values.tls.existingSecret }}
tls-cert: /etc/stile/tls/tls.crt
tls-key: /etc/stile/tls/tls.key
{{- end }}
{{- if .Values.pgListener.enabled }}
pg-listen: {{ printf ":%d" (int .Values.pgListener.port) | quote }}
{{- end }}
{{- if .Values.metrics.enabled }}
metrics-listen: {{ printf ":%d" (int .Values.metrics.port) | quote }}
{{- end }}
{{- if and .Values.ingress.enabled (not (hasKey .Values.server.config "public-url")) }}
public-url: {{ include "stile.publicURL" . | quote }}
{{- end }}
{{- with .Values.server.config }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/*
The web app's URL through the Ingress: https on its first host (the server takes no other
public URL off loopback; a controller without the host in ingress.tls serves its default
certificate).
*/}}
{{- define "stile.publicURL" -}}
{{- printf "https://%s" (first .Values.ingress.hosts) -}}
{{- end -}}

{{- define "stile.agentURL" -}}
{{- if .Values.agent.url -}}
{{- .Values.agent.url -}}
{{- else -}}
{{- printf "%s://%s.%s.svc:%d" (include "stile.scheme" .) (include "stile.fullname" .) .Release.Namespace (int .Values.server.port) -}}
{{- end -}}
{{- end -}}

{{- define "stile.agentConfig" -}}
url: {{ include "stile.agentURL" . | quote }}
token-file: /etc/stile/agent-token/{{ .Values.agent.token.key }}
{{- if or .Values.agent.ca.existingSecret .Values.agent.ca.existingConfigMap }}
ca: /etc/stile/ca/{{ .Values.agent.ca.key }}
{{- end }}
{{- with .Values.agent.config }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/*
What the chart refuses, each with the value to change. Rendered once (validate.yaml) so
that `helm template` and `helm install` stop before anything is made.
*/}}
{{- define "stile.validate" -}}
{{- $v := .Values -}}
{{- if not (or $v.server.enabled $v.agent.enabled) -}}
{{- fail "nothing to deploy: enable server.enabled, agent.enabled or both" -}}
{{- end -}}
{{- if $v.server.enabled -}}
{{- if and (gt (int $v.server.replicas) 1) (eq $v.store.type "sqlite") -}}
{{- fail (printf "server.replicas is %d: more than one replica needs the PostgreSQL store (store.type: postgres with store.postgres.existingSecret); the SQLite store lives on one pod's volume" (int $v.server.replicas)) -}}
{{- end -}}
{{- if and (eq $v.store.type "postgres") (not $v.store.postgres.existingSecret) -}}
{{- fail "store.type is postgres: name the Secret holding the store's URL in store.postgres.existingSecret (key store.postgres.key)" -}}
{{- end -}}
{{- if and $v.ingress.enabled (not $v.ingress.hosts) -}}
{{- fail "ingress.enabled: list the host names people reach stile at in ingress.hosts" -}}
{{- end -}}
{{- if and $v.pgListener.enabled (not $v.tls.existingSecret) -}}
{{- fail "pgListener.enabled: the PostgreSQL listener speaks TLS only off loopback; set tls.existingSecret to a kubernetes.io/tls Secret" -}}
{{- end -}}
{{- range $k, $_ := $v.server.config -}}
{{- if has $k (list "listen" "data" "key-file" "admin-token-file" "tls-cert" "tls-key" "pg-listen" "metrics-listen" "store" "replica-id" "advertise-url" "config" "print-config") -}}
{{- fail (printf "server.config.%s: the chart sets %s itself; see values.yaml (server.port, tls, pgListener, metrics, store, dataKey, adminToken)" $k $k) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if $v.agent.enabled -}}
{{- if not $v.agent.token.existingSecret -}}
{{- fail "agent.enabled: name the Secret holding the agent's token (stile agents create NAME) in agent.token.existingSecret" -}}
{{- end -}}
{{- if and (not $v.server.enabled) (not $v.agent.url) -}}
{{- fail "agent.enabled without the server: set agent.url to the server's URL" -}}
{{- end -}}
{{- if and $v.agent.ca.existingSecret $v.agent.ca.existingConfigMap -}}
{{- fail "agent.ca: set existingSecret or existingConfigMap, not both" -}}
{{- end -}}
{{- range $k, $_ := $v.agent.config -}}
{{- if has $k (list "url" "token-file" "ca" "config" "print-config") -}}
{{- fail (printf "agent.config.%s: the chart sets %s itself; see values.yaml (agent.url, agent.token, agent.ca)" $k $k) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
