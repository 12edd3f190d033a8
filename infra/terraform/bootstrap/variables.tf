variable "admin_project_id" {
  description = "Project that holds Terraform state and the CI identities (not an environment project)."
  type        = string
}

variable "region" {
  description = "Region of the state bucket and its KMS key."
  type        = string
  default     = "us-central1"
}

variable "environments" {
  description = "Environment name => its project id. Each gets a state prefix envs/NAME, a read-only plan identity and an apply identity."
  type        = map(string)
}

variable "billing_account" {
  description = "Billing account the environments use; the apply identities get budget management on it."
  type        = string
}

variable "github_repository" {
  description = "OWNER/REPO allowed to use the Workload Identity pool."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository must be OWNER/REPO."
  }
}

variable "apply_roles" {
  description = "Roles of the apply identities on their environment project: what the modules create, no basic roles."
  type        = list(string)
  default = [
    "roles/artifactregistry.admin",
    "roles/bigquery.admin",
    "roles/binaryauthorization.attestorsAdmin",
    "roles/binaryauthorization.policyEditor",
    "roles/cloudkms.admin",
    "roles/cloudkms.publicKeyViewer",
    "roles/cloudsql.admin",
    "roles/compute.admin",
    "roles/container.admin",
    "roles/containeranalysis.admin",
    "roles/dns.admin",
    "roles/iam.serviceAccountAdmin",
    "roles/iam.serviceAccountUser",
    "roles/logging.configWriter",
    "roles/monitoring.admin",
    "roles/pubsub.admin",
    "roles/redis.admin",
    "roles/resourcemanager.projectIamAdmin",
    "roles/secretmanager.admin",
    "roles/servicenetworking.networksAdmin",
    "roles/serviceusage.serviceUsageAdmin",
    "roles/storage.admin",
  ]
}

variable "plan_roles" {
  description = "Roles of the read-only plan identities on their environment project."
  type        = list(string)
  default = [
    "roles/cloudkms.publicKeyViewer",
    "roles/iam.securityReviewer",
    "roles/secretmanager.viewer",
    "roles/serviceusage.serviceUsageConsumer",
    "roles/viewer",
  ]
}
