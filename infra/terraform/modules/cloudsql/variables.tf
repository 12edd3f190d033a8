variable "project_id" {
  description = "Project that hosts the instance."
  type        = string
}

variable "name" {
  description = "Instance name. Cloud SQL keeps a deleted name reserved for a week."
  type        = string
}

variable "region" {
  description = "Region of the primary instance."
  type        = string
}

variable "tier" {
  description = "Machine tier, e.g. db-custom-2-4096 or db-f1-micro."
  type        = string
}

variable "availability_type" {
  description = "REGIONAL (HA with automatic failover) or ZONAL."
  type        = string

  validation {
    condition     = contains(["REGIONAL", "ZONAL"], var.availability_type)
    error_message = "availability_type must be REGIONAL or ZONAL."
  }
}

variable "disk_type" {
  description = "PD_SSD or PD_HDD."
  type        = string

  validation {
    condition     = contains(["PD_SSD", "PD_HDD"], var.disk_type)
    error_message = "disk_type must be PD_SSD or PD_HDD."
  }
}

variable "disk_size_gb" {
  description = "Initial disk size; the disk grows automatically up to disk_autoresize_limit_gb."
  type        = number
}

variable "disk_autoresize_limit_gb" {
  description = "Upper bound for automatic disk growth (0 means no limit)."
  type        = number
  default     = 0
}

variable "backup_retention_count" {
  description = "Number of daily automated backups kept (days of retention)."
  type        = number
}

variable "transaction_log_retention_days" {
  description = "Days of write-ahead log kept for point-in-time recovery (1-7)."
  type        = number
  default     = 7

  validation {
    condition     = var.transaction_log_retention_days >= 1 && var.transaction_log_retention_days <= 7
    error_message = "transaction_log_retention_days must be between 1 and 7."
  }
}

variable "backup_start_time" {
  description = "HH:MM (UTC) when the daily backup starts."
  type        = string
  default     = "02:00"
}

variable "network_id" {
  description = "VPC id for the private IP."
  type        = string
}

variable "allocated_ip_range" {
  description = "Name of the private services access range to draw the IP from."
  type        = string
}

variable "kms_key_id" {
  description = "CMEK for the primary instance; the Cloud SQL service agent needs encrypter/decrypter on it."
  type        = string
}

variable "deletion_protection" {
  description = "Refuse deletion, both in Terraform and in the Cloud SQL API."
  type        = bool
  default     = true
}

variable "database_name" {
  description = "Database the service uses."
  type        = string
  default     = "bro_ai"
}

variable "iam_users" {
  description = "Service account emails that log in with IAM database authentication (no passwords in Terraform)."
  type        = map(string)
  default     = {}
}

variable "extra_database_flags" {
  description = "Database flags added to, or overriding, the module's audit and logging flags."
  type        = map(string)
  default     = {}
}

variable "replica" {
  description = "Optional cross-region read replica (disaster recovery). Its CMEK key must live in the replica's region."
  type = object({
    region     = string
    kms_key_id = string
    tier       = optional(string)
  })
  default = null
}

variable "labels" {
  description = "User labels on the instances."
  type        = map(string)
  default     = {}
}
