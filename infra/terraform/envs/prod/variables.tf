variable "project_id" {
  description = "Project of this environment (one project per environment)."
  type        = string
}

variable "region" {
  description = "Primary region."
  type        = string
  default     = "us-central1"
}

variable "dr_region" {
  description = "Region of the Cloud SQL cross-region replica."
  type        = string
  default     = "us-east1"
}

variable "billing_account" {
  description = "Billing account id (XXXXXX-XXXXXX-XXXXXX) for the budget."
  type        = string
}

variable "domain" {
  description = "Domain delegated to this environment's Cloud DNS zone, without trailing dot; the API is api.DOMAIN, assets assets.DOMAIN."
  type        = string
}

variable "alert_emails" {
  description = "Alert and budget e-mail recipients by stable label."
  type        = map(string)
}

variable "master_authorized_networks" {
  description = "CIDR blocks allowed to reach the GKE control plane (VPN egress, CI)."
  type = list(object({
    cidr_block   = string
    display_name = string
  }))
}

variable "ci_principal_set" {
  description = "GitHub Actions identity from bootstrap (principalSet://iam.googleapis.com/projects/N/locations/global/workloadIdentityPools/github/attribute.repository/OWNER/REPO): pushes images, signs attestations, publishes static assets."
  type        = string
}

variable "iap_accessors" {
  description = "Members allowed through Identity-Aware Proxy (admin UI), by stable label, e.g. { admins = \"group:bro-ai-admins@example.com\" }."
  type        = map(string)
  default     = {}
}

variable "cdn_signed_requests" {
  description = "Set to true once a signed URL key was added to the static backend bucket (gcloud compute backend-buckets add-signed-url-key): grants the Cloud CDN fill agent read on the private static bucket."
  type        = bool
  default     = false
}
