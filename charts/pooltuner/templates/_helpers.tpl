{{/* The chart's name, or nameOverride: app.kubernetes.io/name and the default full name's suffix. */}}
{{- define "pooltuner.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Every object's name (and the ServiceAccount's and Lease's by default): fullnameOverride, else
"<release>-<name>", or the release name alone when it already contains the name. */}}
{{- define "pooltuner.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "pooltuner.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "pooltuner.labels" -}}
app.kubernetes.io/name: {{ include "pooltuner.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end -}}

{{- define "pooltuner.selectorLabels" -}}
app.kubernetes.io/name: {{ include "pooltuner.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end -}}

{{- define "pooltuner.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "pooltuner.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "pooltuner.leaseName" -}}
{{- default (include "pooltuner.fullname" .) .Values.leaderElection.leaseName -}}
{{- end -}}

{{/* The controller's rules on workloads, for a ClusterRole or a Role per watched namespace. */}}
{{- define "pooltuner.workloadRules" -}}
- apiGroups: ["apps"]
  resources: ["deployments", "statefulsets"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["autoscaling"]
  resources: ["horizontalpodautoscalers"]
  verbs: ["get", "list", "watch"]
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["list"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
{{- end -}}

{{/*
The namespaces the controller watches, as JSON: watchNamespaces when set; else, when every database lists its
namespaces (and none lists "*"), their union, so RBAC is a Role per namespace; else [] (all: a ClusterRole).
*/}}
{{- define "pooltuner.watchNamespaces" -}}
{{- $ns := list -}}
{{- if .Values.watchNamespaces -}}
{{- $ns = .Values.watchNamespaces -}}
{{- else -}}
{{- $all := false -}}
{{- range .Values.databases -}}
{{- $listed := .namespaces | default list -}}
{{- if or (empty $listed) (has "*" $listed) -}}
{{- $all = true -}}
{{- end -}}
{{- $ns = concat $ns $listed -}}
{{- end -}}
{{- if $all -}}
{{- $ns = list -}}
{{- end -}}
{{- end -}}
{{- $ns | uniq | toJson -}}
{{- end -}}
