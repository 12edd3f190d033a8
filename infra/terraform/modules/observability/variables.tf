variable "project_id" {
  description = "Project being monitored."
  type        = string
}

variable "environment" {
  description = "Environment name shown in alert titles (stage, prod)."
  type        = string
}

variable "api_host" {
  description = "Public host name of the API; the uptime check calls https://HOST/health."
  type        = string
}

variable "notification_emails" {
  description = "E-mail notification channels by stable label."
  type        = map(string)
}

variable "cloudsql_instance_name" {
  description = "Primary Cloud SQL instance (CPU and storage alerts)."
  type        = string
}

variable "cloudsql_replica_names" {
  description = "Cross-region replicas (replication lag alert; empty for none)."
  type        = list(string)
  default     = []
}

variable "dead_letter_subscriptions" {
  description = "Dead-letter subscriptions whose backlog must stay at zero, by stable label."
  type        = map(string)

  validation {
    condition     = length(var.dead_letter_subscriptions) > 0
    error_message = "At least one dead-letter subscription is needed for the backlog alert."
  }
}

variable "error_rate_threshold" {
  description = "Fraction of load balancer responses that may be 5xx over 5 minutes before alerting."
  type        = number
  default     = 0.01
}

variable "latency_p95_threshold_ms" {
  description = "p95 backend latency (ms) over 5 minutes that alerts."
  type        = number
  default     = 200
}

variable "log_retention_days" {
  description = "Retention of the _Default log bucket and of the BigQuery log tables' partitions."
  type        = number
}

variable "bigquery_location" {
  description = "Location of the log-analytics dataset."
  type        = string
}

variable "bigquery_kms_key_id" {
  description = "CMEK for the log dataset; the BigQuery service agent needs encrypter/decrypter on it."
  type        = string
}

variable "log_sink_filter" {
  description = "Logs exported to BigQuery: the service's containers and every audit log."
  type        = string
}

variable "data_access_audit_services" {
  description = "Services whose DATA_READ/DATA_WRITE audit logs are turned on (ADMIN_READ too)."
  type        = list(string)
  default = [
    "cloudkms.googleapis.com",
    "iam.googleapis.com",
    "secretmanager.googleapis.com",
    "sqladmin.googleapis.com",
    "sts.googleapis.com",
  ]
}

variable "labels" {
  description = "Labels on the dataset and the alert policies."
  type        = map(string)
  default     = {}
}
