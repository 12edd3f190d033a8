# What differs between environments. Names deploy/ relies on derive from
# environment and kubernetes_namespace; the rest of the composition is fixed.

variable "environment" {
  description = "Short environment name (prod, stage): resource names bro-ai-ENV, the environment label, display names."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,9}$", var.environment))
    error_message = "environment must be 2-10 lower-case letters and digits, starting with a letter."
  }
}

variable "kubernetes_namespace" {
  description = "Namespace deploy/ installs Bro AI into (bro-ai-production, bro-ai-staging). Its KSAs are bound to the Google service accounts, and it names the Ingress static IP (NAMESPACE-ip) and the Cloud Armor policy (NAMESPACE-armor) that deploy/ refers to."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,51}[a-z0-9]$", var.kubernetes_namespace))
    error_message = "kubernetes_namespace must be a DNS label short enough for NAMESPACE-armor (at most 53 characters)."
  }
}

variable "project_id" {
  description = "The environment's project; also the prefix of the bucket names."
  type        = string
}

variable "region" {
  description = "Primary region of every regional resource (us-central1)."
  type        = string
}

variable "billing_account" {
  description = "Billing account id the budget is created on."
  type        = string
}

variable "domain" {
  description = "The environment's domain without trailing dot: Cloud DNS zone; the API answers at api.DOMAIN, static assets at assets.DOMAIN."
  type        = string
}

variable "alert_emails" {
  description = "Recipients of alerts and budget notices, by stable label."
  type        = map(string)
}

variable "master_authorized_networks" {
  description = "The only CIDR blocks that reach the GKE control plane (the gke module rejects 0.0.0.0/0)."
  type = list(object({
    cidr_block   = string
    display_name = string
  }))
}

variable "ci_principal_set" {
  description = "Workload Identity principal set of GitHub Actions (bootstrap output ci_principal_set): image pushes, attestation signing, static asset uploads."
  type        = string
}

variable "iap_accessors" {
  description = "Identity-Aware Proxy users of the admin UI by stable label (IAM members)."
  type        = map(string)
  default     = {}
}

variable "cdn_signed_requests" {
  description = "True once a signed-URL key exists on the static backend bucket: the Cloud CDN fill agent may then read the private static bucket."
  type        = bool
  default     = false
}

variable "cidrs" {
  description = "Address plan of the VPC: public subnet (GKE nodes) with secondary ranges pods and services, private subnet, private services access range (Cloud SQL, Memorystore), and the /28 of the GKE control plane."
  type = object({
    public_subnet          = string
    private_subnet         = string
    pods                   = string
    services               = string
    private_service_access = string
    gke_control_plane      = string
  })

  validation {
    condition     = alltrue([for c in values(var.cidrs) : can(cidrhost(c, 0))])
    error_message = "Every entry of cidrs must be an IPv4 CIDR block."
  }
}

variable "flow_log_sampling" {
  description = "Fraction (0-1] of VPC flow log records kept on both subnets."
  type        = number
}

variable "gke" {
  description = "GKE sizing: node_locations (zones of the nodes; null lets GKE pick the region's default zones) and autoscaling node pools by name (min/max are totals across the zones; disk_type pd-standard, pd-balanced or pd-ssd; spot for Spot VMs)."
  type = object({
    node_locations = list(string)
    node_pools = map(object({
      machine_type = string
      min_nodes    = number
      max_nodes    = number
      disk_size_gb = number
      disk_type    = string
      spot         = bool
    }))
  })
}

variable "cloudsql" {
  description = "Cloud SQL sizing: tier, availability_type (REGIONAL or ZONAL), disk_type (PD_SSD or PD_HDD), initial disk size and autoresize limit in GB, daily backups kept, and replica_region: the region of a cross-region read replica with its own key ring there, or null for none."
  type = object({
    tier                     = string
    availability_type        = string
    disk_type                = string
    disk_size_gb             = number
    disk_autoresize_limit_gb = number
    backup_retention_count   = number
    replica_region           = string
  })
}

variable "redis" {
  description = "Memorystore sizing: memory in GB, and RDB persistence period (e.g. TWELVE_HOURS) or null for none."
  type = object({
    memory_size_gb = number
    persistence    = string
  })
}

variable "backup_retention_days" {
  description = "Days an object stays in the backups bucket before deletion."
  type        = number
}

variable "log_retention_days" {
  description = "Retention of the _Default log bucket and of the BigQuery log sink's partitions, in days."
  type        = number
}

variable "budget_amount" {
  description = "Monthly budget of the project in USD; alerts at 50, 80 and 100 % (and 100 % forecast)."
  type        = number
}

variable "deletion_protection" {
  description = "Deletion protection of the GKE cluster and of Cloud SQL (in Terraform and in the API). True in prod."
  type        = bool
}
