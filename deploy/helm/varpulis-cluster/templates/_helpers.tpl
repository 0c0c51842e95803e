{{/* SPDX-License-Identifier: Apache-2.0 */}}
{{/*
The templates keep to a small part of Go template syntax (define, include, if/else, pipelines of
Helm functions) so that tests/py/helm_render.py can render them where helm is not installed.
*/}}

{{/* The name every object starts with: the release name (StatefulSet <fullname>-worker). */}}
{{- define "varpulis.fullname" -}}
{{- .Values.fullnameOverride | default .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{- define "varpulis.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
app.kubernetes.io/name: varpulis
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "varpulis.selectorLabels" -}}
app.kubernetes.io/name: varpulis
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "varpulis.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{- define "varpulis.secretName" -}}
{{- include "varpulis.fullname" . }}-secrets
{{- end -}}

{{/* The coordinator's Service, which workers register with. */}}
{{- define "varpulis.coordinatorUrl" -}}
http://{{ include "varpulis.fullname" . }}-coordinator:{{ .Values.coordinator.port }}
{{- end -}}

{{- define "varpulis.headlessService" -}}
{{- include "varpulis.fullname" . }}-worker-headless
{{- end -}}

{{- define "varpulis.joinToken" -}}
{{- .Values.joinToken | default (printf "varpulis-join-token:%s:%s" .Release.Name .Values.coordinator.apiKey | sha256sum) -}}
{{- end -}}

{{/* Pod and container security settings shared by the coordinator and the workers. */}}
{{- define "varpulis.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "varpulis.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
{{- end -}}

{{/* Environment of every varpulis container: logging, then the join token. */}}
{{- define "varpulis.commonEnv" -}}
- name: VARPULIS_JOIN_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ include "varpulis.secretName" . }}
      key: join-token
- name: VARPULIS_LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
- name: VARPULIS_LOG_FORMAT
  value: {{ .Values.logFormat | quote }}
{{- end -}}

{{- define "varpulis.scheduling" -}}
{{- if .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml .Values.imagePullSecrets | nindent 2 }}
{{- end }}
{{- if .Values.nodeSelector }}
nodeSelector:
  {{- toYaml .Values.nodeSelector | nindent 2 }}
{{- end }}
{{- if .Values.tolerations }}
tolerations:
  {{- toYaml .Values.tolerations | nindent 2 }}
{{- end }}
{{- end -}}
