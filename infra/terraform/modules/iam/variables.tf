variable "project_id" {
  description = "Project of the service accounts."
  type        = string
}

variable "workload_identity_pool" {
  description = "GKE Workload Identity pool, PROJECT.svc.id.goog (gke module output, so the bindings wait for the cluster)."
  type        = string
}

variable "namespace" {
  description = "Kubernetes namespace of the service's ServiceAccounts (bro-ai-staging, bro-ai-production)."
  type        = string
}

variable "workloads" {
  description = "Google service accounts by account id, each bound to the Kubernetes ServiceAccounts ksas in var.namespace and given project_roles. Resource-level grants (buckets, topics, secrets, keys) are made by the resource modules."
  type = map(object({
    display_name  = string
    ksas          = list(string)
    project_roles = list(string)
  }))

  validation {
    condition = alltrue(flatten([
      for w in values(var.workloads) : [for r in w.project_roles : !contains(["roles/owner", "roles/editor", "roles/viewer"], r)]
    ]))
    error_message = "Basic roles (owner, editor, viewer) are not allowed for workloads."
  }
}

variable "iap_accessors" {
  description = "IAM members (by stable label) allowed through Identity-Aware Proxy to IAP-protected backends (admin UI)."
  type        = map(string)
  default     = {}
}
