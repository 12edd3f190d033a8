variable "project_id" {
  description = "Project that hosts the cluster."
  type        = string
}

variable "name" {
  description = "Cluster name."
  type        = string
}

variable "region" {
  description = "Region of the regional cluster (control plane and nodes spread over its zones)."
  type        = string
}

variable "node_locations" {
  description = "Zones for the nodes; null lets GKE pick the region's default zones."
  type        = list(string)
  default     = null
}

variable "network" {
  description = "VPC self link or id."
  type        = string
}

variable "subnetwork" {
  description = "Subnet self link of the nodes."
  type        = string
}

variable "pods_range_name" {
  description = "Secondary range name for pods."
  type        = string
}

variable "services_range_name" {
  description = "Secondary range name for services."
  type        = string
}

variable "master_ipv4_cidr_block" {
  description = "The /28 used by the control plane's private endpoint."
  type        = string

  validation {
    condition     = endswith(var.master_ipv4_cidr_block, "/28")
    error_message = "The control plane range must be a /28."
  }
}

variable "master_authorized_networks" {
  description = "CIDR blocks allowed to reach the control plane's public endpoint (VPN, CI runners). 0.0.0.0/0 is refused."
  type = list(object({
    cidr_block   = string
    display_name = string
  }))

  validation {
    condition     = alltrue([for n in var.master_authorized_networks : n.cidr_block != "0.0.0.0/0"])
    error_message = "The control plane must not be open to 0.0.0.0/0."
  }
}

variable "enable_private_endpoint" {
  description = "Serve the control plane on its private endpoint only (then CI must run inside the VPC)."
  type        = bool
  default     = false
}

variable "database_encryption_key" {
  description = "KMS key id for application-layer encryption of Kubernetes Secrets; the GKE service agent needs encrypter/decrypter on it."
  type        = string
}

variable "node_tag" {
  description = "Network tag on every node (firewall rules target it)."
  type        = string
}

variable "node_pools" {
  description = "Autoscaling node pools by name. min/max are totals across the region's zones."
  type = map(object({
    machine_type      = string
    min_nodes         = number
    max_nodes         = number
    disk_size_gb      = number
    disk_type         = string
    spot              = optional(bool, false)
    max_surge         = optional(number, 1)
    labels            = optional(map(string), {})
    taints            = optional(list(object({ key = string, value = string, effect = string })), [])
    image_type        = optional(string, "COS_CONTAINERD")
    max_pods_per_node = optional(number, 110)
  }))

  validation {
    condition     = alltrue([for p in values(var.node_pools) : p.min_nodes <= p.max_nodes && contains(["pd-standard", "pd-balanced", "pd-ssd"], p.disk_type)])
    error_message = "Each pool needs min_nodes <= max_nodes and disk_type pd-standard, pd-balanced or pd-ssd."
  }
}

variable "maintenance_start_time" {
  description = "Start of the recurring maintenance window (RFC 3339; only the time of day and weekday matter)."
  type        = string
  default     = "2024-01-06T02:00:00Z"
}

variable "maintenance_end_time" {
  description = "End of the first occurrence of the window; with the recurrence it must give GKE at least 48 hours in any 32 days, in windows of at least 4 hours."
  type        = string
  default     = "2024-01-06T08:00:00Z"
}

variable "maintenance_recurrence" {
  description = "RFC 5545 recurrence of the window. Default: Saturday and Sunday, 6 hours each (about 52 hours in 32 days)."
  type        = string
  default     = "FREQ=WEEKLY;BYDAY=SA,SU"
}

variable "deletion_protection" {
  description = "Refuse terraform destroy of the cluster."
  type        = bool
  default     = true
}

variable "labels" {
  description = "Labels on the cluster and its nodes."
  type        = map(string)
  default     = {}
}
